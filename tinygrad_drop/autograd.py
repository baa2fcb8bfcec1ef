"""Reverse-mode autograd: the Op base class, graph recording, backward, no_grad, unbroadcast.

An op node records, for each input, either the op that produced it or the leaf Tensor (or None
where no gradient is wanted) plus the input's shape, dtype, array namespace and name. It does
not hold the input tensors themselves, so intermediate activations are freed as soon as
nothing but the graph refers to them; an op keeps only what its backward needs, in
``self.saved``, and its attributes (axis, p, ...) as plain attributes that outlive backward
for the graph drawing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor
else:
    Tensor = None  # bound by tensor.py, which imports this module (a cycle otherwise)


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside ``no_grad``)."""
    return _grad_mode.enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph and outputs need no grad."""

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack: a decorated function may recurse

    def __enter__(self) -> no_grad:
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self._previous.pop()


class Op:
    """One recorded operation. Subclasses define ``forward`` (raw backend arrays in, one array
    out; save what backward needs on ``self``) and ``backward`` (the output's gradient in, one
    gradient or None per input out). Gradients may come back in the broadcast shape: the engine
    sums them back to each input's shape (``unbroadcast``), so ops never do.
    """

    __slots__ = ("backend", "parents", "input_meta", "out_shape", "out_dtype", "freed", "saved",
                 "__dict__")
    name = "op"

    def forward(self, *arrays: Any) -> Any:
        """Compute the output array from the input arrays; put what backward needs in
        ``self.saved``."""
        raise NotImplementedError

    def backward(self, grad: Any) -> Sequence[Any]:
        """Gradients with respect to each input (None where not needed)."""
        raise NotImplementedError

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether a gradient flows to it (skip work for the others)."""
        return tuple(parent is not None for parent in self.parents)

    def attributes(self) -> dict[str, Any]:
        """Attributes worth showing in a graph drawing or an error (overridden by ops)."""
        return {}

    def release(self) -> None:
        """Drop what backward needed; a later backward through this node is an error."""
        self.saved = None
        self.freed = True

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attributes().items())
        shape = getattr(self, "out_shape", "?")
        return f"<{self.name}{'(' + attrs + ')' if attrs else ''} -> {shape}>"

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> Tensor:
        """Run the op on Tensors (and Python scalars), recording it when a gradient is needed."""
        op = cls.__new__(cls)
        if attrs:
            op.__dict__.update(attrs)
        backend = None
        arrays = []
        record = False
        for x in inputs:
            if isinstance(x, Tensor):
                if backend is None:
                    backend = x._backend
                elif x._backend is not backend:
                    raise TypeError(f"{cls.name}: cannot mix backends {backend.name!r} and "
                                    f"{x._backend.name!r}; move one with .to()")
                arrays.append(x.data)
                record = record or x.requires_grad
            else:
                arrays.append(x)
        op.backend = backend
        if record and _grad_mode.enabled:
            # Edges point at the producing op or the leaf itself, never at intermediate
            # tensors; forward may consult needs_input_grad to save less.
            parents, meta = [], []
            for x in inputs:
                if isinstance(x, Tensor):
                    parents.append((x.grad_fn or x) if x.requires_grad else None)
                    meta.append((x.data.shape, x.data.dtype, x._backend.xp, x.name))
                else:
                    parents.append(None)
                    meta.append(None)
            op.parents, op.input_meta = tuple(parents), tuple(meta)
        else:
            record, op.parents = False, ()
        try:
            out = op.forward(*arrays)  # may change op.backend (.to())
        except (ValueError, TypeError, IndexError) as exc:
            if str(exc).startswith(f"{cls.name}:"):
                raise
            raise type(exc)(f"{cls.name}: {exc}; inputs: {describe_inputs(inputs)}") from exc
        if not record:
            return Tensor._wrap(out, op.backend, False, None)
        op.out_shape, op.out_dtype, op.freed = out.shape, out.dtype, False
        return Tensor._wrap(out, op.backend, True, op)


def describe_inputs(inputs: Sequence[Any]) -> str:
    """One line naming each input's shape, dtype and backend (or its Python value)."""
    return ", ".join(
        f"Tensor(shape={x.shape}, dtype={x.dtype_name}, backend={x.backend})"
        if isinstance(x, Tensor) else repr(x) for x in inputs)


def unbroadcast(xp: Any, grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` (shaped like a broadcast result) back to ``shape``: the one place where
    broadcasting is undone."""
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if axes:
        grad = xp.sum(grad, axis=axes, keepdims=True)
    return xp.reshape(grad, shape) if grad.shape != shape else grad


def topological_order(root: Op) -> list[Op]:
    """Ops reachable from ``root``, each after every op that consumes its output (iterative, so
    graphs of any depth work)."""
    order: list[Op] = []
    visited = {id(root)}
    stack = [(root, iter(root.parents))]
    while stack:
        op, parents = stack[-1]
        for parent in parents:
            if isinstance(parent, Op) and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(op)
    order.reverse()
    return order


def run_backward(root: Tensor, grad: Any, retain_graph: bool) -> None:
    """Propagate ``grad`` (a backend array shaped like ``root``) to every leaf ``root`` depends on,
    accumulating into the leaves' ``.grad``; free the graph unless ``retain_graph``."""
    delivered = {id(grad)}  # arrays a leaf must not own: the caller's, and those already taken
    if root.grad_fn is None:
        _accumulate_leaf(root, grad, delivered)
        return
    order = topological_order(root.grad_fn)
    for op in order:  # check first, so a failing call changes no gradient
        if op.freed:
            raise RuntimeError(
                f"backward through the graph a second time: {op.name} was freed by an earlier "
                "backward(). Pass retain_graph=True to the first backward() to keep the graph")
    pending: dict[int, Any] = {id(root.grad_fn): grad}
    for op in order:
        out_grad = pending.pop(id(op), None)
        if out_grad is None:  # every path to it returned None: nothing flows through it
            if not retain_graph:
                op.release()
            continue
        in_grads = op.backward(out_grad)
        for parent, meta, g in zip(op.parents, op.input_meta, in_grads, strict=True):
            if parent is None or g is None:
                continue
            shape, dtype, xp, _ = meta
            if g.shape != shape:
                g = unbroadcast(xp, g, shape)
            if g.dtype != dtype:
                g = xp.astype(g, dtype)
            if isinstance(parent, Op):
                key = id(parent)
                pending[key] = pending[key] + g if key in pending else g
            else:
                _accumulate_leaf(parent, g, delivered)
        if not retain_graph:
            op.release()


def _accumulate_leaf(leaf: Tensor, grad: Any, delivered: set[int]) -> None:
    if leaf.grad is None:
        # Pass-through ops (add, reshape) hand the same array on; two leaves must not share it.
        backend = leaf._backend
        grad = backend.xp.asarray(grad, copy=True) if id(grad) in delivered else backend.owned(grad)
        delivered.add(id(grad))
        leaf.grad = Tensor._wrap(grad, leaf._backend, False, None)
    else:
        leaf.grad = Tensor._wrap(leaf.grad.data + grad, leaf._backend, False, None)
