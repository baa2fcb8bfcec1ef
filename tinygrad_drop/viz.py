"""The computation graph as a picture: graph -> plain node/edge description -> DOT -> Graphviz.

``graph_spec`` and ``to_dot`` are pure functions (testable without Graphviz). ``draw_graph``
returns a ``graphviz.Digraph``; ``save_graph`` writes .dot itself and runs the ``dot`` program
(never through a shell) for .svg, .png and .pdf.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from . import backends
from ._files import atomic_write
from .autograd import Op, TensorBase, topological_order

INSTALL_HINT = ("install Graphviz's 'dot' program: apt-get install graphviz (Debian/Ubuntu), "
                "brew install graphviz (macOS), or conda install graphviz")

# How each kind of node looks; the legend shows every entry.
STYLES = {
    "parameter": dict(shape="box", style="filled", fillcolor="#cfe2ff"),
    "input": dict(shape="box", style="filled,dashed", fillcolor="#f2f2f2"),
    "op": dict(shape="box", style="rounded,filled", fillcolor="#ffffff"),
    "stochastic": dict(shape="box", style="rounded,filled,bold", fillcolor="#ffd8a8",
                       color="#e8590c"),
    "normalisation": dict(shape="box", style="rounded,filled", fillcolor="#d3f9d8"),
    "loss": dict(shape="box", style="rounded,filled,bold", fillcolor="#ffc9c9",
                 color="#c92a2a"),
}
LEGEND = {"parameter": "parameter (trained)", "input": "input (no gradient)",
          "op": "operation", "stochastic": "stochastic op (dropout)",
          "normalisation": "normalisation (batchnorm)", "loss": "loss / output"}


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is needed for this format and is not on PATH."""


@dataclass
class GraphSpec:
    """Nodes (id, label, kind) and edges (from id, to id) of a drawing."""

    nodes: list[tuple[str, str, str]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _shape_label(shape: tuple[int, ...], dtype: Any, backend: str | None = None) -> str:
    text = f"{tuple(shape)} {backends.dtype_name(dtype)}"
    return f"{text} {backend}" if backend else text


def _op_label(op: Op, show_shapes: bool) -> str:
    lines = op.describe()
    if show_shapes:
        lines.append("-> " + _shape_label(op.out_shape, op.out_dtype))
    return "\n".join(lines)


def _grad_norm(t: TensorBase) -> str:
    xp = t._backend.xp
    g = xp.astype(t.grad.data, t._backend.dtype("float64"))
    return f"|grad| = {math.sqrt(float(xp.sum(g * g))):.3g}"


def graph_spec(root: TensorBase, *, show_shapes: bool = True,
               show_grads: bool = False) -> GraphSpec:
    """Describe everything ``root`` depends on: one node per op, per leaf tensor (parameters,
    named by module path) and per plain input, with edges in the direction of data flow."""
    spec = GraphSpec()
    ids: dict[int, str] = {}

    def leaf_node(t: TensorBase) -> str:
        if id(t) not in ids:
            ids[id(t)] = node_id = f"t{len(ids)}"
            lines = [t.name or "leaf"]
            if show_shapes:
                lines.append(_shape_label(t.shape, t.dtype, t.backend))
            if show_grads and t.grad is not None:
                lines.append(_grad_norm(t))
            spec.nodes.append((node_id, "\n".join(lines), "parameter"))
        return ids[id(t)]

    if root.grad_fn is None:
        leaf_node(root)
        return spec
    order = _ops_in_order(root.grad_fn)
    for op in order:
        ids[id(op)] = f"op{len(ids)}"
    for op in order:
        kind = "loss" if op is root.grad_fn else op.style
        spec.nodes.append((ids[id(op)], _op_label(op, show_shapes), kind))
        for slot, (parent, meta) in enumerate(zip(op.parents, op.input_meta, strict=True)):
            if isinstance(parent, Op):
                source = ids[id(parent)]
            elif isinstance(parent, TensorBase):
                source = leaf_node(parent)
            elif meta is not None:  # a tensor that needs no gradient: data, targets
                source = f"{ids[id(op)]}_in{slot}"
                shape, dtype, _, name = meta
                label = (name or "input") + ("\n" + _shape_label(shape, dtype) if show_shapes
                                             else "")
                spec.nodes.append((source, label, "input"))
            else:
                continue  # a Python number or None
            spec.edges.append((source, ids[id(op)]))
    return spec


def _ops_in_order(root: Op) -> list[Op]:
    """Ops from the inputs to ``root`` (iterative: deep graphs are fine)."""
    return list(reversed(topological_order(root)))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def to_dot(spec: GraphSpec, *, rankdir: str = "TB", legend: bool = True) -> str:
    """The DOT source of a drawing, with a legend of the node kinds."""
    lines = ["digraph tinygrad_drop {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [color="#495057"];']
    for node_id, label, kind in spec.nodes:
        lines.append(f"  {node_id} [label={_quote(label)}, {_attrs(STYLES[kind])}];")
    for source, target in spec.edges:
        lines.append(f"  {source} -> {target};")
    if legend:
        lines += ["  subgraph cluster_legend {", '    label="legend"; fontname="Helvetica";',
                  '    style="dashed"; color="#adb5bd";']
        names = [f"legend_{kind}" for kind in LEGEND]
        for name, (kind, text) in zip(names, LEGEND.items(), strict=True):
            lines.append(f"    {name} [label={_quote(text)}, {_attrs(STYLES[kind])}];")
        lines.append("    " + " -> ".join(names) + " [style=invis];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(root: TensorBase, *, show_shapes: bool = True, show_grads: bool = False,
               rankdir: str = "TB") -> Any:
    """A ``graphviz.Digraph`` of everything ``root`` depends on (needs the graphviz package:
    pip install 'tinygrad_drop[viz]')."""
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError("draw_graph needs the graphviz Python package: pip install "
                          "'tinygrad_drop[viz]' (or pip install graphviz)") from exc
    spec = graph_spec(root, show_shapes=show_shapes, show_grads=show_grads)
    body = to_dot(spec, rankdir=rankdir).splitlines()[1:-1]  # the Digraph adds the braces
    return graphviz.Digraph("tinygrad_drop", body=[line + "\n" for line in body])


def save_graph(root: TensorBase, path: str | os.PathLike, **kw: Any) -> str:
    """Write the drawing to ``path``; the format comes from the extension (.dot/.gv always
    works; .svg, .png and .pdf need Graphviz's ``dot``). Returns the path."""
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    rankdir = kw.pop("rankdir", "TB")
    source = to_dot(graph_spec(root, **kw), rankdir=rankdir)
    if extension in ("dot", "gv"):
        def write_text(temporary: str) -> None:
            with open(temporary, "w") as f:
                f.write(source)
        return atomic_write(path, write_text)
    if extension not in ("svg", "png", "pdf"):
        raise ValueError(f"save_graph: unknown format {extension!r} in {path!r}; use .svg, "
                         ".png, .pdf or .dot")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(f"save_graph: cannot write {path!r}: {INSTALL_HINT}; "
                           "or save a .dot file, which needs nothing")

    def render(temporary: str) -> None:
        result = subprocess.run([dot, f"-T{extension}", "-o", temporary], input=source.encode(),
                                capture_output=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"save_graph: dot failed on {path!r}: "
                               f"{result.stderr.decode(errors='replace').strip()}")

    return atomic_write(path, render)
