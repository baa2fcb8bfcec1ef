"""Graph drawings: the DOT source for known models, real rendering, and the errors."""

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import host

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, cli, nn, viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def small_step(backend, train=True):
    """Linear -> ReLU -> Dropout(0.5) -> Linear -> cross-entropy on a batch of 6."""
    td.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, backend=backend), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(3, 2, backend=backend))
    model.train(train)
    x = Tensor.randn(6, 4, backend=backend)
    x.name = "x"
    return model, F.cross_entropy(model(x), [0, 1, 0, 1, 1, 0])


def nodes_and_edges(dot):
    body = dot.split("subgraph cluster_legend")[0]
    nodes = re.findall(r"^  (\w+) \[label=\"(.*?)\", ", body, re.M)
    edges = re.findall(r"^  (\w+) -> (\w+);", body, re.M)
    return dict(nodes), edges


def test_dot_of_a_small_training_step(backend):
    _, loss = small_step(backend)
    nodes, edges = nodes_and_edges(viz.to_dot(viz.graph_spec(loss)))
    labels = list(nodes.values())
    # 5 ops, 4 parameters, 2 inputs (x and the targets); 3 + 1 + 1 + 3 + 2 edges
    assert len(nodes) == 11 and len(edges) == 10
    assert sorted(label.split("\\n")[0] for label in labels) == sorted(
        ["linear", "relu", "dropout", "linear", "cross_entropy", "0.weight", "0.bias",
         "3.weight", "3.bias", "x", "input"])
    dropout = next(label for label in labels if label.startswith("dropout"))
    assert "p=0.5, inverted" in dropout and "train: dropped" in dropout
    assert "(6, 3) float32" in dropout
    assert any(label.startswith(f"0.weight\\n(3, 4) float32 {backend}") for label in labels)
    assert any("in_features=4, out_features=3" in label for label in labels)
    assert "legend_stochastic" in viz.to_dot(viz.graph_spec(loss))


def test_node_kinds_are_visually_distinct(backend):
    _, loss = small_step(backend)
    spec = viz.graph_spec(loss)
    kinds = {label.split("\n")[0]: kind for _, label, kind in spec.nodes}
    assert kinds["dropout"] == "stochastic" and kinds["cross_entropy"] == "loss"
    assert kinds["0.weight"] == "parameter" and kinds["x"] == "input"
    assert len({str(viz.STYLES[k]) for k in viz.STYLES}) == len(viz.STYLES)


def test_inference_graph_has_no_dropout_node(backend):
    _, loss = small_step(backend, train=False)
    nodes, edges = nodes_and_edges(viz.to_dot(viz.graph_spec(loss)))
    assert len(nodes) == 10 and len(edges) == 9
    assert not any(label.startswith("dropout") for label in nodes.values())


def test_batchnorm_and_vanilla_eval_dropout_labels(backend):
    bn = nn.BatchNorm1d(3, backend=backend)
    x = Tensor.randn(5, 3, backend=backend, requires_grad=True)
    label = viz.graph_spec(bn(x)).nodes[0][1]
    assert label.startswith("batch_norm\nmomentum=0.1, eps=1e-05\ntrain: batch statistics")
    bn.eval()
    assert "eval: running stats" in viz.graph_spec(bn(x)).nodes[0][1]
    vanilla = F.dropout(x, 0.25, training=False, mode="vanilla")
    assert "p=0.25, vanilla\neval: x * keep" in viz.graph_spec(vanilla).nodes[0][1]


def test_show_grads_adds_gradient_norms_after_backward(backend):
    model, loss = small_step(backend)
    loss.backward()
    spec = viz.graph_spec(loss, show_grads=True)
    label = next(label for _, label, _ in spec.nodes if label.startswith("3.weight"))
    norm = float(np.linalg.norm(host(model[3].weight.grad)))
    assert f"|grad| = {norm:.3g}" in label
    assert not any("|grad|" in label for _, label, _ in viz.graph_spec(loss).nodes)


def test_draw_graph_returns_a_digraph_of_the_same_source(backend):
    graphviz = pytest.importorskip("graphviz")
    _, loss = small_step(backend)
    graph = td.draw_graph(loss, rankdir="LR")
    assert isinstance(graph, graphviz.Digraph)
    assert graph.source.split("\n", 1)[1] == viz.to_dot(viz.graph_spec(loss), rankdir="LR"
                                                          ).split("\n", 1)[1]


@needs_dot
@pytest.mark.parametrize("extension, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"),
                                               ("pdf", b"%PDF")])
def test_save_graph_renders_for_real(extension, magic, tmp_path):
    _, loss = small_step("numpy")
    path = td.save_graph(loss, tmp_path / f"graph.{extension}")
    content = open(path, "rb").read()
    assert content.startswith(magic)
    if extension == "svg":
        assert b"dropout" in content and b"0.weight" in content
    assert sorted(os.listdir(tmp_path)) == [f"graph.{extension}"]


def test_without_dot_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    _, loss = small_step("numpy")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError) as info:
        td.save_graph(loss, tmp_path / "graph.svg")
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert hint in message
    td.save_graph(loss, tmp_path / "graph.dot")  # .dot needs nothing
    assert (tmp_path / "graph.dot").read_text().startswith("digraph tinygrad_drop {")
    with pytest.raises(ValueError, match="unknown format 'jpg'"):
        td.save_graph(loss, tmp_path / "graph.jpg")


@needs_dot
def test_save_graph_never_uses_a_shell(tmp_path, monkeypatch):
    calls = []
    real_run = subprocess.run

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(viz.subprocess, "run", spy)
    _, loss = small_step("numpy")
    td.save_graph(loss, tmp_path / "g.svg")
    (command,), kwargs = calls[0]
    assert isinstance(command, list) and not kwargs.get("shell", False)


def test_environment_variable_saves_the_first_backward(tmp_path):
    script = ("import tinygrad_drop as td\n"
              "x = td.Tensor([1.0, 2.0], requires_grad=True)\n"
              "(x * x).sum().backward()\n"
              "x.exp().sum().backward()\n")
    path = tmp_path / "first.dot"
    env = dict(os.environ, TINYGRAD_DROP_GRAPH=str(path))
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    dot = path.read_text()
    assert "mul" in dot and "exp" not in dot.split("subgraph")[0]


@pytest.mark.parametrize("flags, present, absent", [
    ([], ["dropout", "p=0.2", "p=0.5", "train: dropped"], ["batch_norm"]),
    (["--eval"], ["linear"], ["dropout"]),
    (["--bn"], ["batch_norm", "train: batch statistics", "dropout"], []),
    (["--bn", "--eval"], ["eval: running stats"], ["dropout"])])
def test_cli_graph_draws_train_and_eval_graphs(flags, present, absent, tmp_path, capsys):
    out = tmp_path / "graph.dot"
    assert cli.main(["graph", "--out", str(out), *flags]) == 0
    body = out.read_text().split("subgraph cluster_legend")[0]
    for text in present:
        assert text in body
    for text in absent:
        assert text not in body
    assert "0.weight\\n(256, 784) float32" in body and "wrote the" in capsys.readouterr().out


@needs_dot
def test_a_200_node_graph_renders_and_repeated_blocks_stay_distinct(tmp_path):
    blocks = 40  # each: linear (+ weight, bias), relu, dropout -> 5 nodes
    layers = []
    for _ in range(blocks):
        layers += [nn.Linear(8, 8), nn.ReLU(), nn.Dropout(0.1)]
    model = nn.Sequential(*layers)
    loss = model(Tensor.randn(4, 8)).sum()
    spec = viz.graph_spec(loss)
    assert len(spec.nodes) == 5 * blocks + 2  # + the input and the final sum
    start = time.perf_counter()
    td.save_graph(loss, tmp_path / "big.svg")
    elapsed = time.perf_counter() - start
    assert (tmp_path / "big.svg").read_bytes().count(b"class=\"node\"") >= 5 * blocks + 2
    assert elapsed < 30, f"rendering took {elapsed:.1f} s"  # a runaway guard, not a benchmark


def test_every_op_draws_from_its_own_description(backend):
    x = Tensor.randn(4, 3, backend=backend, dtype="float64", requires_grad=True)
    bn = nn.BatchNorm1d(3, momentum=None, dtype="float64", backend=backend).eval()
    out = (bn(x).astype("float32").exp().sqrt() ** 2).sum(axis=1)
    labels = [label for _, label, _ in viz.graph_spec(out).nodes]
    assert "batch_norm\nmomentum=None, eps=1e-05\neval: running stats\n-> (4, 3) float64" \
        in labels
    assert "astype\ndtype=float32\n-> (4, 3) float32" in labels
    assert "sum\naxis=1, keepdims=False\n-> (4,) float32" in labels
    assert "sqrt\n-> (4, 3) float32" in labels and "pow\nexponent=2\n-> (4, 3) float32" in labels


def test_a_new_op_is_drawn_with_no_change_to_the_drawing_code(backend):
    from tinygrad_drop.autograd import Op

    class Scale(Op):
        """x * factor."""

        name = "scale"
        style = "stochastic"
        factor: float

        def forward(self, a):
            return a * self.factor

        def backward(self, g):
            return (g * self.factor,)

    x = Tensor.ones(2, backend=backend, requires_grad=True)
    spec = viz.graph_spec(Scale.apply(x, factor=2.5).sum())
    assert ("scale\nfactor=2.5\n-> (2,) float32", "stochastic") in [
        (label, kind) for _, label, kind in spec.nodes]
