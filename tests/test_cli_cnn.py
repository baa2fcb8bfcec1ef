"""`tinygrad-drop train --model cnn` and `compare --model cnn` on a small generated dataset
(never the network): a few batches of the seed's CNN, and bad flags refused before training."""

import json

import pytest
from idx_files import write_dataset

import tinygrad_drop as td
from tinygrad_drop import cli, models


@pytest.fixture
def cnn_data(tmp_path, monkeypatch):
    """A learnable generated Fashion-MNIST of 64 training and 32 test images, in tmp_path."""
    monkeypatch.setenv("TINYGRAD_DROP_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data" / "fashion-mnist", n_train=64, n_test=32)
    return tmp_path


def test_train_cnn_reports_an_epoch_and_saves_the_seed_networks_weights(cnn_data, capsys):
    path = cnn_data / "cnn.npz"
    assert cli.main(["train", "--model", "cnn", "--epochs", "1", "--limit", "64",
                     "--batch-size", "32", "--no-progress", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("train acc") == 1 and "epoch   1" in out and "saved the weights" in out
    model = models.cnn()
    model.load_state_dict(td.load(path))  # the seed's network, by PyTorch's state_dict names
    assert list(td.load(path)) == [n for n, _ in model.named_parameters()]


def test_compare_cnn_writes_two_runs_with_the_seeds_settings(cnn_data, capsys):
    out_dir = cnn_data / "results"
    assert cli.main(["compare", "--model", "cnn", "--epochs", "1", "--limit", "32",
                     "--batch-size", "16", "--out-dir", str(out_dir), "--no-progress"]) == 0
    runs = json.loads((out_dir / "compare.json").read_text())
    assert [r["config"]["name"] for r in runs] == ["no dropout", "dropout 0.25,0.5"]
    assert runs[0]["config"]["dropout"] == [0.0, 0.0]
    assert runs[1]["config"]["dropout"] == [0.25, 0.5]
    for run in runs:
        config = run["config"]
        assert config["model"] == "cnn" and config["lr"] == 1.0 and config["limit"] == 32
        assert config["batch_size"] == 16 and config["epochs"] == 1
        assert config["train_eval_size"] == 10_000  # the train accuracy on <= 10 000 images
        (record,) = run["history"]
        for key in ("train_accuracy", "test_accuracy"):
            assert 0.0 <= record[key] <= 1.0
        assert record["train_loss"] > 0 and record["test_loss"] > 0 and record["seconds"] > 0
        assert run["summary"]["best_test_accuracy"] == record["test_accuracy"]
    out = capsys.readouterr().out
    assert "the seed's CNN, Adadelta lr 1, rho 0.95, eps 1e-7, batch 16, 1 epochs" in out
    pytest.importorskip("matplotlib")
    assert (out_dir / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cnn_defaults_are_the_seeds_and_mlp_defaults_stay():
    cnn = cli.build_parser().parse_args(["train", "--model", "cnn"])
    mlp = cli.build_parser().parse_args(["compare"])
    assert cli._resolve(cnn) is None and cli._resolve(mlp) is None
    assert (cnn.dropout, cnn.epochs, cnn.batch_size, cnn.lr) == ((0.25, 0.5), 12, 128, 1.0)
    assert (mlp.dropout, mlp.epochs, mlp.batch_size, mlp.lr, mlp.hidden) == (
        (0.2, 0.5), 10, 256, 0.5, (256, 256))
    one = cli.build_parser().parse_args(["train", "--model", "cnn", "--dropout", "0.3"])
    assert cli._resolve(one) is None and one.dropout == (0.3, 0.3)
    config = cli._config(one)
    model, optimizer = td.experiment.build(config)
    assert type(optimizer).__name__ == "Adadelta"
    assert (optimizer.rho, optimizer.eps, optimizer.lr) == (0.95, 1e-7, 1.0)


@pytest.mark.parametrize("flags, message", [
    (["--dropout", "0.25,0.5,0.1"],
     "--dropout needs one rate or two (conv block, dense head), got 0.25,0.5,0.1"),
    (["--dropout", "1.5"], "--dropout rates must be in [0, 1), got 1.5"),
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--limit", "0"], "--limit must be a positive integer, got 0"),
    (["--hidden", "32"], "--hidden is for --model mlp (the cnn's layers are fixed), got 32"),
    (["--bn"], "--bn is for --model mlp (the cnn has no batchnorm)"),
    (["--momentum", "0.9"],
     "--momentum is for --optimizer sgd (this run uses adadelta), got 0.9"),
])
def test_bad_cnn_flags_are_refused_before_training(flags, message, cnn_data, capsys,
                                                   monkeypatch):
    monkeypatch.setattr(td.experiment, "load", lambda *a: pytest.fail("loaded the data"))
    assert cli.main(["train", "--model", "cnn", *flags]) == 2
    assert capsys.readouterr().err == f"tinygrad-drop train: {message}\n"


def test_unwritable_out_dir_is_refused_for_compare(cnn_data, capsys):
    blocker = cnn_data / "file"
    blocker.write_text("")
    assert cli.main(["compare", "--model", "cnn", "--out-dir", str(blocker / "r")]) == 2
    assert capsys.readouterr().err == (f"tinygrad-drop compare: --out-dir {blocker / 'r'}: "
                                       f"{blocker} is not a folder\n")
