"""Every bad flag is refused before any work starts: one line on stderr naming the program, the
flag and the value, exit status 2, no traceback, well under a second (issue 17)."""

import argparse
import os
import subprocess
import sys
import time

import pytest

from tinygrad_drop import backends, cli, cli_checks

MISSING = "/nonexistent-folder-for-tinygrad-drop-tests"


def run_cli(*argv, tmp_path, env=None):
    """Run ``python -m tinygrad_drop ARGV`` with no data reachable (an empty data folder and
    cache), so a command that got past validation into loading data would fail differently."""
    environ = {k: v for k, v in os.environ.items() if k != "TINYGRAD_DROP_BACKEND"}
    environ.update(TINYGRAD_DROP_DATA=str(tmp_path / "no-data"),
                   XDG_CACHE_HOME=str(tmp_path / "no-cache"), **(env or {}))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tinygrad_drop", *argv], capture_output=True,
                            text=True, env=environ, cwd=tmp_path, timeout=60)
    return result, time.perf_counter() - start


CASES = [
    (["train", "--epochs", "0"], "train: --epochs must be a positive integer, got 0"),
    (["train", "--epochs", "-3"], "train: --epochs must be a positive integer, got -3"),
    (["train", "--epochs", "2.5"], "train: --epochs must be a positive integer, got 2.5"),
    (["train", "--limit", "0"], "train: --limit must be a positive integer, got 0"),
    (["train", "--limit", "-5"], "train: --limit must be a positive integer, got -5"),
    (["compare", "--epochs", "0"], "compare: --epochs must be a positive integer, got 0"),
    (["train", "--batch-size", "0"],
     "train: --batch-size must be a positive integer, got 0"),
    (["train", "--hidden", "0,0"],
     "train: --hidden must be positive integers separated by commas (e.g. 256,256), got 0,0"),
    (["train", "--hidden", "abc"],
     "train: --hidden must be positive integers separated by commas (e.g. 256,256), got abc"),
    (["graph", "--batch", "0"], "graph: --batch must be a positive integer, got 0"),
    (["graph", "--batch", "1", "--bn"],
     "graph: --batch must be at least 2 with --bn (batchnorm trains on a batch's statistics; "
     "or draw --eval), got 1"),
    (["train", "--dropout", "abc"],
     "train: --dropout must be drop rates in [0, 1) separated by commas (e.g. 0.2,0.5), "
     "got abc"),
    (["train", "--dropout", "-0.1,0.5"],
     "train: --dropout needs a value (one that starts with '-' is written --dropout=VALUE)"),
    (["train", "--dropout=-0.1,0.5"], "train: --dropout rates must be in [0, 1), got -0.1,0.5"),
    (["train", "--dropout", "1.5"], "train: --dropout rates must be in [0, 1), got 1.5"),
    (["train", "--dropout", "nan"], "train: --dropout rates must be in [0, 1), got nan"),
    (["train", "--hidden", "8,8", "--dropout", "0.1,0.2,0.3"],
     "train: --dropout needs one rate or 2 (one per hidden layer), got 0.1,0.2,0.3"),
    (["train", "--model", "cnn", "--dropout", "0.1,0.2,0.3"],
     "train: --dropout needs one rate or two (conv block, dense head), got 0.1,0.2,0.3"),
    (["train", "--lr", "0"], "train: --lr must be a finite number > 0, got 0"),
    (["train", "--lr=-1"], "train: --lr must be a finite number > 0, got -1"),
    (["train", "--lr", "inf"], "train: --lr must be a finite number > 0, got inf"),
    (["train", "--momentum", "1"], "train: --momentum must be a number in [0, 1), got 1"),
    (["train", "--weight-decay=-1e-4"],
     "train: --weight-decay must be a finite number >= 0, got -1e-4"),
    (["train", "--l1", "x"], "train: --l1 must be a finite number >= 0, got x"),
    (["train", "--early-stopping=-1"],
     "train: --early-stopping must be an integer >= 0, got -1"),
    (["train", "--seed=-1"], "train: --seed must be an integer >= 0, got -1"),
    (["train", "--mode", "x"], "train: --mode must be one of inverted, vanilla, got x"),
    (["train", "--model", "cnn", "--hidden", "5"],
     "train: --hidden is for --model mlp (the cnn's layers are fixed), got 5"),
    (["train", "--model", "cnn", "--bn"],
     "train: --bn is for --model mlp (the cnn has no batchnorm)"),
    (["compare", "--model", "cnn", "--also", "bn"],
     "compare: --also bn is for --model mlp (the cnn has no batchnorm)"),
    (["compare", "--also", "dropconnect"],
     "compare: --also must be names from l2, l1, early, bn separated by commas, "
     "got dropconnect"),
    (["train", "--bn", "--limit", "100"],
     "train: --limit 100 leaves 100 training rows, fewer than one batch of --batch-size 256, "
     "which batchnorm needs (a short last batch is dropped)"),
    (["compare", "--also", "bn", "--limit", "280", "--early-stopping", "2"],
     "compare: --limit 280 leaves 252 training rows, fewer than one batch of --batch-size 256, "
     "which batchnorm needs (a short last batch is dropped)"),
    (["train", "--optimizer", "lbfgs"],
     "train: --optimizer must be one of sgd, adam, adamw, adadelta, got lbfgs"),
    (["train", "--optimizer", "adam", "--momentum", "0.9"],
     "train: --momentum is for --optimizer sgd (this run uses adam), got 0.9"),
    (["train", "--model", "cnn", "--momentum", "0.5"],
     "train: --momentum is for --optimizer sgd (this run uses adadelta), got 0.5"),
    *[(["train", "--schedule", text],
       "train: --schedule must be none, step:STEP_SIZE[:GAMMA] or cosine[:ETA_MIN] "
       f"(STEP_SIZE a positive integer, GAMMA > 0, ETA_MIN >= 0), got {text}")
      for text in ("step", "step:0", "step:2:0", "step:2:0.5:1", "cosine:x", "linear")],
    (["train", "--schedule=cosine:-1"],
     "train: --schedule must be none, step:STEP_SIZE[:GAMMA] or cosine[:ETA_MIN] "
     "(STEP_SIZE a positive integer, GAMMA > 0, ETA_MIN >= 0), got cosine:-1"),
    (["train", "--backend", "tpu"],
     f"train: --backend must be one of {', '.join(backends.known())}, got tpu"),
    (["gradcheck", "--backend", "tpu"],
     f"gradcheck: --backend must be one of {', '.join(backends.known())}, got tpu"),
    (["train", "--save", f"{MISSING}/w.npz"],
     f"train: --save {MISSING}/w.npz: the folder {MISSING} does not exist"),
    (["train", "--save", "/proc/w.npz"],
     "train: --save /proc/w.npz: cannot write in /proc (No such file or directory)"),
    (["graph", "--out", "/proc/g.svg"],
     "graph: --out /proc/g.svg: cannot write in /proc (No such file or directory)"),
    (["compare", "--out-dir", "/proc/x"],
     "compare: --out-dir /proc/x: cannot write in /proc (No such file or directory)"),
    (["bench", "--json", "/proc/b.json"],
     "bench: --json /proc/b.json: cannot write in /proc (No such file or directory)"),
    (["bench", "--json", f"{MISSING}/b.json"],
     f"bench: --json {MISSING}/b.json: the folder {MISSING} does not exist"),
]


@pytest.mark.parametrize(("argv", "line"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_bad_flag_is_one_line_and_exit_status_2_before_any_work(argv, line, tmp_path):
    if "/proc/" in " ".join(argv) and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc")
    result, seconds = run_cli(*argv, tmp_path=tmp_path)
    assert (result.returncode, result.stderr, result.stdout) == (
        2, f"tinygrad-drop {line}\n", "")
    # no dataset load, no training: the interpreter's start and the import dominate
    assert seconds < 3.0


def test_an_unavailable_backend_says_why(tmp_path):
    missing = backends.unavailable()
    if not missing:
        pytest.skip("every known backend runs here")
    name, reason = next(iter(missing.items()))
    reason = reason.removeprefix(f"backend {name!r} is not available: ")
    result, _ = run_cli("train", "--backend", name, tmp_path=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, f"tinygrad-drop train: --backend {name} is not available here: {reason}\n")


def test_a_bad_default_backend_names_the_environment_variable(tmp_path):
    result, _ = run_cli("train", tmp_path=tmp_path, env={"TINYGRAD_DROP_BACKEND": "tpu"})
    assert (result.returncode, result.stderr) == (
        2, f"tinygrad-drop train: $TINYGRAD_DROP_BACKEND must be one of "
           f"{', '.join(backends.known())}, got tpu\n")


def test_a_folder_given_as_a_file_and_a_file_given_as_a_folder(tmp_path):
    (tmp_path / "plain").write_text("x")
    result, _ = run_cli("train", "--save", str(tmp_path), tmp_path=tmp_path)
    assert result.stderr == (f"tinygrad-drop train: --save {tmp_path}: is a folder, give a "
                             f"file name\n")
    result, _ = run_cli("compare", "--out-dir", str(tmp_path / "plain" / "sub"),
                        tmp_path=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, f"tinygrad-drop compare: --out-dir {tmp_path / 'plain' / 'sub'}: "
           f"{tmp_path / 'plain'} is not a folder\n")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's /sys")
def test_a_place_nobody_may_write_is_refused_even_for_root(tmp_path):
    result, _ = run_cli("graph", "--out", "/sys/kernel/g.svg", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr in {
        f"tinygrad-drop graph: --out /sys/kernel/g.svg: cannot write in /sys/kernel ({why})\n"
        for why in ("Permission denied", "Read-only file system")}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root may write into a folder without write permission")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result, _ = run_cli("train", "--save", str(locked / "w.npz"), tmp_path=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, f"tinygrad-drop train: --save {locked / 'w.npz'}: cannot write in {locked} "
           f"(Permission denied)\n")


def test_permission_denied_names_the_users_path(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".tmp-abc"))
    monkeypatch.setattr(cli_checks.tempfile, "TemporaryFile", refuse)
    # a folder of its own: where the main job has run, ./results exists and is named instead
    monkeypatch.chdir(tmp_path)
    assert cli_checks.output_problem("--out-dir", "results/run1", folder=True) == (
        f"--out-dir results/run1: cannot write in {os.getcwd()} (Permission denied)")


def test_help_shows_the_defaults_and_ranges():
    text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    text = " ".join(text.split())
    for piece in ("(default: mlp 10, cnn 12)",
                  "(default: sgd 0.5 for the mlp, 0.01 for the cnn; adam and adamw 0.001; "
                  "adadelta 1.0)", "default: mlp sgd, cnn adadelta",
                  "none (default), step:STEP_SIZE[:GAMMA] (StepLR, GAMMA default 0.1)",
                  "(default: mlp 256, cnn 128)", "SGD momentum in [0, 1) (default 0)",
                  "L2 regularisation >= 0 (AdamW: decoupled weight decay) (default 0; adamw "
                  "0.01", ">= 0 (default 0)",
                  "(default 0: off)", "--seed SEED an integer >= 0 (default 0)",
                  "drop rates in [0, 1): one for every layer (0.3 means 0.3 in each)"):
        assert piece in text, piece


@pytest.mark.parametrize(("argv", "expected"), [
    (["train", "--dropout", "0.3"], (0.3, 0.3)),
    (["train", "--hidden", "8,8,8", "--dropout", "0.3"], (0.3, 0.3, 0.3)),
    (["train", "--model", "cnn", "--dropout", "0.1"], (0.1, 0.1)),
    (["train", "--hidden", "8,8,8"], None),
])
def test_one_dropout_rate_means_that_rate_for_every_layer(argv, expected):
    args = cli.build_parser().parse_args(argv)
    if expected is None:  # the default (0.2, 0.5) is for two layers
        assert cli._resolve(args) == ("--hidden 8,8,8 has 3 layers: give --dropout one rate "
                                      "or 3 (the default 0.2,0.5 is for 2)")
        return
    assert cli._resolve(args) is None and args.dropout == expected


def test_a_late_file_error_names_the_users_path_not_a_temporary_one(tmp_path, monkeypatch,
                                                                    capsys):
    from tinygrad_drop import _files

    target = tmp_path / "weights.npz"

    def full_disk(temporary):
        raise OSError(28, "No space left on device", temporary)
    with pytest.raises(OSError) as caught:
        _files.atomic_write(target, full_disk)
    assert caught.value.filename == str(target) and caught.value.errno == 28
    assert os.listdir(tmp_path) == []  # the temporary file is gone

    monkeypatch.setattr(cli, "graph", lambda args: _files.atomic_write(args.out, full_disk))
    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["graph"].set_defaults(run=cli.graph)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["graph", "--out", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"tinygrad-drop graph: {target}: No space left on device\n")


def test_the_converters_refuse_what_argparse_would_let_through():
    for convert, text in ((cli_checks.positive_int, "0x10"), (cli_checks.positive_float, "nan"),
                          (cli_checks.fraction, "-0.0001"), (cli_checks.widths, "8,,8"),
                          (cli_checks.rates, "0.5,")):
        with pytest.raises(argparse.ArgumentTypeError):
            convert(text)
    assert cli_checks.widths("8, 16") == (8, 16) and cli_checks.rates("0,0.5") == (0.0, 0.5)
