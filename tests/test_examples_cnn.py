"""The CNN dropout examples (placement, keep_prob per layer, weight norms, loss increases)
measure what they say, on a small generated dataset: tiny widths, few images, few epochs."""

import importlib.util
import pathlib

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.data  # noqa: F401  (read_idx)
from tinygrad_drop import nn

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
TINY = (4, 8, 16)  # conv1 channels, conv2 channels, hidden units


@pytest.fixture
def example(monkeypatch):
    """Load an example script as a module (its directory on sys.path for cnn_common)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name):
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def generated_fashion(tmp_path, monkeypatch):
    """512 training and 200 test images of an easy 10-class problem, in place of the real data."""
    from idx_files import write_dataset
    write_dataset(tmp_path / "fashion-mnist", n_train=512, n_test=200)
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path))


@pytest.fixture
def noisy_fashion(tmp_path, monkeypatch):
    """1 024 training images of the easy problem with 30% of their labels redrawn at random:
    fitting every label needs large weights, the overfitting that dropout and L2 resist (and,
    with more images than pixels, no linear model separates them). Test labels stay right."""
    from idx_files import write_dataset, write_idx
    folder = tmp_path / "fashion-mnist"
    write_dataset(folder, n_train=1024, n_test=200)
    labels = td.data.read_idx(folder / "train-labels-idx1-ubyte.gz").copy()
    rng = np.random.default_rng(0)
    redrawn = rng.random(len(labels)) < 0.3
    labels[redrawn] = rng.integers(0, 10, int(redrawn.sum()))
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path))


def test_conv_net_is_the_seed_cnn_with_the_chosen_dropout_in_its_slots(example):
    common = example("cnn_common")
    seed = common.conv_net(common.SEED_WIDTHS, 0.25, 0.5)
    reference = td.models.cnn((0.25, 0.5))
    assert {k: v.shape for k, v in seed.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    assert [type(m) for m in seed] == [type(m) for m in reference]
    narrow = common.conv_net(TINY, 0.25, 0.5, spatial=True)
    assert type(narrow[5]) is nn.Dropout2d and narrow[5].p == 0.25
    assert type(narrow[9]) is nn.Dropout and narrow[9].p == 0.5
    assert narrow(td.Tensor(np.zeros((3, 784), np.float32))).shape == (3, 10)
    assert type(common.conv_net(TINY)[5]) is nn.Identity
    assert common.widths_argument("8,16,32") == (8, 16, 32)
    with pytest.raises(ValueError, match="three positive integers"):
        common.widths_argument("8,16")
    # spatial dropout in slot [5] drops whole channels of the pooled maps: each (sample,
    # channel) map is all zeros or all 1/keep
    narrow.train()
    maps = narrow[5](td.Tensor(np.ones((64, 8, 12, 12), np.float32))).numpy()
    per_map = maps.reshape(64 * 8, -1)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1))
    assert set(np.unique(per_map).tolist()) == {0.0, np.float32(1 / 0.75)}


def test_placement_example_trains_all_six_placements(example, generated_fashion, capsys):
    results = example("cnn_dropout_placement").main(images=256, epochs=15, seeds=1,
                                                    widths=TINY, test_images=200)
    names = list(results)
    assert len(names) == 6 and names[0] == "no dropout"
    assert sum("Dropout2d(0.25)" in name for name in names) == 2
    out = capsys.readouterr().out
    assert "vs row 1, per seed" in out and "+0.0000 +0.0000" in out  # no dropout against itself
    for name, runs in results.items():
        assert name in out
        assert len(runs["test_accuracy"]) == 1
        for accuracy in runs["train_accuracy"] + runs["test_accuracy"]:
            assert 0.0 <= accuracy <= 1.0
    # the generated classes are easy: without dropout 15 epochs (30 steps) are far above
    # chance (0.1); 200 test images put the standard error of an accuracy below 0.036
    assert results["no dropout"]["test_accuracy"][0] > 0.5


def test_keep_prob_example_sets_keep_prob_per_slot_and_counts_parameters(example,
                                                                        generated_fashion,
                                                                        capsys):
    module = example("cnn_keep_prob_per_layer")
    model = module.with_keep_probs(TINY, 0.9, 0.5)
    assert model[5].keep_prob == 0.9 and model[9].keep_prob == 0.5
    assert type(module.with_keep_probs(TINY, 1.0, 0.5)[5]) is nn.Identity
    # convs: 1*4*9 + 4 and 4*8*9 + 8; dense [7]: (8*12*12)*16 + 16
    assert module.parameter_counts(TINY) == (40 + 296, 18448)
    assert module.parameter_counts((32, 64, 128)) == (320 + 18496, 1179776)
    keeps = ((1.0, 1.0), (0.9, 0.5))
    results = module.main(images=256, epochs=15, seeds=2, widths=TINY, keeps=keeps,
                          test_images=200)
    assert list(results) == ["keep [5] 1, [9] 1 (no dropout)",
                             "keep [5] 0.9, [9] 0.5 (per layer, lower on the dense layer)"]
    for runs in results.values():
        assert len(runs["test_accuracy"]) == 2
        assert all(0.0 <= a <= 1.0 for a in runs["train_accuracy"] + runs["test_accuracy"])
        # 30 steps learn the easy generated classes far above chance (0.1) with either
        # setting and seed (standard error of an accuracy on 200 images below 0.036)
        assert min(runs["test_accuracy"]) > 0.5
    out = capsys.readouterr().out
    assert "(336 parameters)" in out and "(18448 parameters)" in out


def test_weight_norm_example_measures_sums_of_squares(example, noisy_fashion, capsys):
    module = example("dropout_weight_norms")
    model = example("cnn_common").conv_net(TINY)
    norms = module.squared_norms(model)
    state = model.state_dict()
    for layer in ("0", "2", "7", "10"):
        assert norms[layer] == pytest.approx(float((state[f"{layer}.weight"] ** 2).sum()),
                                             rel=1e-5)
    assert norms["total"] == pytest.approx(sum(norms[k] for k in ("0", "2", "7", "10")))
    results = module.main(images=1024, epochs=2, widths=TINY, linear_steps=300,
                          test_images=200)
    assert list(results["cnn"]) == ["adadelta", "sgd"]
    for optimizer, decay in (("adadelta", "0.01"), ("sgd", "0.001")):
        cnn = results["cnn"][optimizer]
        assert list(cnn) == ["initial weights", "no dropout", "dropout 0.25, 0.5",
                             f"L2 (weight_decay {decay})"]
        # L2 pulls every layer below the unregularised run, from the same start and batches
        for layer in ("0", "2", "7", "10", "total"):
            assert cnn[f"L2 (weight_decay {decay})"]["norms"][layer] < \
                cnn["no dropout"]["norms"][layer], (optimizer, layer)
    linear = results["linear"]
    # softmax regression: dropout on the input acts as L2 and shrinks the weights (measured
    # here 22.6 against 33.8; the margin asked is half that)
    plain = linear["no dropout"]["norms"]["weight"]
    assert linear["dropout 0.5 on the input"]["norms"]["weight"] < 0.85 * plain
    assert linear["L2 (weight_decay 0.001)"]["norms"]["weight"] < plain
    assert linear["dropout 0.5 on the input"]["test_accuracy"] > 0.5
    out = capsys.readouterr().out
    assert "sum w^2 [7]" in out and "dropout 0.5 on the input" in out and ", sgd, " in out


def test_loss_example_counts_increases_only_with_dropout_on_a_fixed_batch(example,
                                                                          generated_fashion,
                                                                          capsys):
    module = example("dropout_loss_not_monotonic")
    assert module.increases([3.0, 2.0, 2.5, 1.0, 1.5, 1.5]) == 2
    results = module.main(batch=128, steps=15, lr=0.01, images=256, epochs=2, widths=TINY)
    fixed = results["fixed batch"]
    plain, dropout = fixed["no dropout"], fixed["dropout 0.25, 0.5"]
    assert len(plain["training loss"]) == 15
    # gradient descent with a small step on one batch: the loss falls at every step
    assert module.increases(plain["training loss"]) == 0
    assert module.increases(plain["inference loss"]) == 0
    # with fresh masks every step the loss it trains on rises again and again: the masks'
    # noise outweighs such small steps, so about half the steps rise (6 of 14 when written);
    # at least 2 are asked
    assert module.increases(dropout["training loss"]) >= 2
    mini = results["mini-batches"]
    assert all(len(run["step loss"]) == 2 * 2 and len(run["epoch inference loss"]) == 2
               for run in mini.values())
    out = capsys.readouterr().out
    assert "0 of 14" in out and "increases: step loss" in out


REAL_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_on_real_data_input_dropout_shrinks_a_softmax_regression_like_l2(example, monkeypatch):
    monkeypatch.delenv("TINYGRAD_DROP_DATA", raising=False)
    module = example("dropout_weight_norms")
    arrays = example("cnn_common").load("fashion-mnist", 1000, 2000)
    runs = module.linear_runs(arrays, 500, 0.5, 1e-3)
    plain, dropout, l2 = (run["norms"]["weight"] for run in runs.values())
    assert dropout < 0.8 * plain and l2 < plain  # measured: 105.2 and 131.1 against 160.0
    assert min(run["test_accuracy"] for run in runs.values()) > 0.7  # chance: 0.1
