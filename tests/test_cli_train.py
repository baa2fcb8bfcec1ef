"""`tinygrad-drop train` and `compare` on a small generated dataset (never the network)."""

import json

import pytest
from idx_files import write_dataset

import tinygrad_drop as td
from tinygrad_drop import cli, models


@pytest.fixture
def small_data(tmp_path, monkeypatch):
    write_dataset(tmp_path / "data" / "fashion-mnist", n_train=400, n_test=100)
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path / "data"))
    return tmp_path


def test_train_prints_epochs_and_saves_a_loadable_checkpoint(small_data, capsys):
    path = small_data / "model.npz"
    assert cli.main(["train", "--epochs", "2", "--hidden", "32,16", "--lr", "0.1",
                     "--batch-size", "50", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("train acc") == 2 and "epoch   2" in out and "saved the weights" in out
    model = models.mlp(hidden=(32, 16))
    model.load_state_dict(td.load(path))
    assert list(td.load(path)) == [n for n, _ in model.named_parameters()]


def test_compare_writes_curves_json_and_a_table(small_data, capsys):
    out_dir = small_data / "results"
    assert cli.main(["compare", "--epochs", "3", "--hidden", "32,32", "--lr", "0.1",
                     "--batch-size", "50", "--also", "l2,l1,early,bn", "--out-dir",
                     str(out_dir), "--no-progress"]) == 0
    runs = json.loads((out_dir / "compare.json").read_text())
    names = [r["config"]["name"] for r in runs]
    assert names == ["no dropout", "dropout 0.2,0.5", "L2 (weight decay 5e-4)", "L1 (1e-5)",
                     "early stopping (3)", "dropout + batchnorm"]
    assert runs[0]["config"]["dropout"] == [0.0, 0.0] and runs[1]["config"]["dropout"] == [
        0.2, 0.5]
    assert runs[2]["config"]["weight_decay"] == 5e-4 and runs[5]["config"]["batchnorm"]
    for run in runs:
        history = run["history"]
        assert 1 <= len(history) <= 3 and [r["epoch"] for r in history] == list(
            range(1, len(history) + 1))
        for record in history:
            for key in ("train_accuracy", "test_accuracy"):
                assert 0.0 <= record[key] <= 1.0
            assert record["train_loss"] > 0 and record["seconds"] > 0
        best = max(r["test_accuracy"] for r in history)
        assert run["summary"]["best_test_accuracy"] == best
    assert max(r["history"][-1]["test_accuracy"] for r in runs) > 0.5  # the data is learnable
    pytest.importorskip("matplotlib")
    assert (out_dir / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "best test (epoch)" in table and "dropout + batchnorm" in table


def test_compare_shows_progress_bars_and_rejects_unknown_runs(small_data, capsys):
    assert cli.main(["compare", "--epochs", "1", "--hidden", "16,16", "--out-dir",
                     str(small_data / "r")]) == 0
    assert "no dropout 1/1" in capsys.readouterr().err  # tqdm writes to stderr
    assert cli.main(["compare", "--also", "dropconnect"]) == 2
    assert capsys.readouterr().err == (
        "tinygrad-drop compare: --also must be names from l2, l1, early, bn separated by "
        "commas, got dropconnect\n")


def test_train_with_missing_data_explains_how_to_get_it(tmp_path, monkeypatch, capsys):
    from tinygrad_drop import data
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_ROOT", tmp_path / "debian")
    monkeypatch.setattr(data, "FASHION_MNIST", data.DatasetInfo(
        "fashion-mnist", (tmp_path / "offline").as_uri() + "/", data.FASHION_MNIST.md5,
        "dataset-fashion-mnist"))
    assert cli.main(["train", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-drop train: fashion-mnist: train-images-idx3-ubyte.gz was "
                          "not")
    assert "apt-get install dataset-fashion-mnist" in err and "Traceback" not in err


@pytest.mark.parametrize("bn, batches", [(True, 1), (False, 2)])
def test_batchnorm_training_drops_a_last_batch_of_one(small_data, monkeypatch, capsys, bn,
                                                      batches):
    """257 rows in batches of 256: with --bn the batch of one is left out (batchnorm cannot
    train on it); without, every row is used as before."""
    from tinygrad_drop import data, experiment

    seen = []

    class Recording(data.DataLoader):
        def __iter__(self):
            for batch in super().__iter__():
                seen.append(batch[0].shape[0])
                yield batch
    monkeypatch.setattr(experiment.data, "DataLoader", Recording)
    assert cli.main(["train", "--limit", "257", "--epochs", "2", "--hidden", "16,16",
                     "--no-progress", *(["--bn"] if bn else [])]) == 0
    assert seen == ([256] if bn else [256, 1]) * 2 and len(seen) == 2 * batches
    assert capsys.readouterr().out.count("train acc") == 2


def test_batchnorm_with_fewer_rows_than_a_batch_is_refused(small_data):
    with pytest.raises(ValueError, match="batchnorm needs a full batch of 256 rows to train, "
                                         "and only 100 training rows are left"):
        td.experiment.run(td.experiment.Config(batchnorm=True, hidden=(8, 8), epochs=1),
                          td.experiment.load("fashion-mnist", 100))


def test_optimizer_and_schedule_flags_reach_the_training(small_data):
    """Each epoch records the lr it trained with: StepLR halves it every epoch, cosine follows
    PyTorch's closed form over --epochs; AdamW takes PyTorch's weight decay 1e-2 by default."""
    import math

    out_dir = small_data / "r"
    assert cli.main(["compare", "--epochs", "3", "--hidden", "16,16", "--batch-size", "50",
                     "--optimizer", "adamw", "--schedule", "step:1:0.5", "--out-dir",
                     str(out_dir), "--no-progress"]) == 0
    runs = json.loads((out_dir / "compare.json").read_text())
    for run in runs:
        assert (run["config"]["optimizer"], run["config"]["lr"], run["config"]["weight_decay"],
                run["config"]["schedule"]) == ("adamw", 1e-3, 1e-2, "step:1:0.5")
        assert [r["lr"] for r in run["history"]] == [1e-3, 5e-4, 2.5e-4]
    assert cli.main(["compare", "--epochs", "4", "--hidden", "16,16", "--batch-size", "50",
                     "--lr", "0.2", "--schedule", "cosine:0.02", "--out-dir", str(out_dir),
                     "--no-progress"]) == 0
    run = json.loads((out_dir / "compare.json").read_text())[0]
    assert run["config"]["optimizer"] == "sgd" and run["config"]["weight_decay"] == 0.0
    expected = [0.02 + 0.18 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert [r["lr"] for r in run["history"]] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name, kind, options", [
    ("sgd", "SGD", dict(lr=0.5, momentum=0.9)), ("adam", "Adam", dict(lr=1e-3)),
    ("adamw", "AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    ("adadelta", "Adadelta", dict(lr=1.0, rho=0.95, eps=1e-7))])
def test_the_optimizer_is_built_with_the_options_given(name, kind, options):
    config = td.experiment.Config(optimizer=name, hidden=(8, 8), **{
        k: v for k, v in options.items() if k in ("lr", "momentum", "weight_decay")})
    _, optimizer = td.experiment.build(config)
    assert type(optimizer).__name__ == kind
    for key, value in options.items():
        assert optimizer.param_groups[0][key] == value


def test_momentum_with_another_optimizer_is_refused():
    with pytest.raises(ValueError, match="momentum 0.9 is for SGD, not adam"):
        td.experiment.build(td.experiment.Config(optimizer="adam", momentum=0.9))
