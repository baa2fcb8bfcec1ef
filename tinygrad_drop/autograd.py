"""Reverse-mode autograd: the Op base class, graph recording, backward, no_grad, unbroadcast.

An op node records, for each input, either the op that produced it or the leaf Tensor (or None
where no gradient is wanted) and, for the inputs without one, their shape, dtype, array
namespace and name (for drawings; the others' come from their op or leaf). It does not hold the
input tensors themselves, so intermediate activations are freed as soon as nothing but the
graph refers to them; an op keeps only what its backward needs, in ``self.saved``, and its
declared attributes (axis, p, ...), which outlive backward for the graph drawing. Each recorded
op gets a creation number; backward walks the ops newest first.

The engine knows tensors only as ``TensorBase`` (data, backend, gradient, the op that made
them); ``tensor.Tensor`` builds the user-facing class on it, so this module imports nothing of
the package above it.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import operator
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()
# Numbers recorded ops in the order they were made: an op is always made after the ops that
# produced its inputs, so decreasing numbers are a valid order for backward (as in PyTorch).
_creation_order = itertools.count()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside ``no_grad``)."""
    return _grad_mode.enabled


class _GradModeSwitch(contextlib.ContextDecorator):
    """A context manager and decorator that sets recording to ``mode`` inside and restores
    the previous setting after."""

    mode: bool = False

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack: one instance may be entered recursively

    def _recreate_cm(self) -> _GradModeSwitch:
        # Each call of a decorated function gets its own instance: threads calling it at once
        # must not push and pop one shared stack (one could be left with recording off).
        fresh = object.__new__(type(self))
        fresh.mode, fresh._previous = self.mode, []
        return fresh

    def __enter__(self) -> _GradModeSwitch:
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self._previous.pop()


class no_grad(_GradModeSwitch):
    """Context manager and decorator (``@td.no_grad()`` or ``@td.no_grad``): ops inside
    record no graph and outputs need no grad."""

    mode = False

    def __new__(cls, func: Any = None) -> Any:
        if callable(func):  # @td.no_grad, without parentheses
            return super().__new__(cls)(func)
        return super().__new__(cls)

    def __init__(self, func: Any = None) -> None:
        super().__init__()


class enable_grad(no_grad):
    """Context manager and decorator: recording on inside (e.g. within a ``no_grad`` block)."""

    mode = True


class set_grad_enabled(_GradModeSwitch):
    """``td.set_grad_enabled(mode)``: sets recording on or off at once; as a context manager
    or decorator it restores the previous setting after (PyTorch's semantics)."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._before_call = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __call__(self, func: Any) -> Any:
        _grad_mode.enabled = self._before_call  # decorating sets nothing by itself
        return super().__call__(func)

    def __enter__(self) -> set_grad_enabled:
        before = getattr(self, "_before_call", None)  # None in a decorated call's instance
        if before is not None:  # `with set_grad_enabled(m):` restores the mode before the call
            self._before_call = None
            self._previous.append(before)
        else:
            self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return self


class TensorBase:
    """What the engine needs of a tensor: its native array, backend, gradient, whether it
    requires one, the op that made it, and a name for drawings. ``Tensor`` adds the rest."""

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "name", "_backend", "__weakref__")

    @classmethod
    def _wrap(cls, data: Any, backend: Any, requires_grad: bool, grad_fn: Op | None) -> Any:
        """Fast internal constructor around an existing native array (no copy, no checks)."""
        t = object.__new__(cls)
        t.data, t._backend, t.requires_grad, t.grad_fn = data, backend, requires_grad, grad_fn
        t.grad = t.name = None
        return t


def format_value(value: Any) -> str:
    """An attribute value as a drawing or an error shows it (floats short, arrays by shape,
    types such as ``numpy.float32`` by name)."""
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array{tuple(value.shape)}"
    if isinstance(value, tuple):
        return ("(" + ", ".join(format_value(v) for v in value) + ("," if len(value) == 1 else "")
                + ")")
    return str(value)


class Op:
    """One recorded operation.

    A subclass declares its attributes as annotated class fields (a default makes one
    optional); ``apply`` takes them by keyword and refuses any other. It defines ``forward``
    (raw backend arrays in, one array out; save what backward needs in ``self.saved``) and
    ``backward`` (the output's gradient in, one gradient or None per input out). Gradients may
    come back in the broadcast shape: the engine sums them back to each input's shape
    (``unbroadcast``), so ops never do. An op whose ``extra_outputs`` names more outputs returns
    them after the main one from ``forward`` and gets them, without gradient, from ``apply``.
    Backend-specific work goes through ``self.kernels``, the backend's kernels of the op's
    ``kernel_family``.
    """

    __slots__ = ("backend", "parents", "input_meta", "out_shape", "out_dtype", "freed", "saved",
                 "seq", "__dict__")
    name: ClassVar[str] = "op"
    style: ClassVar[str] = "op"  # how a graph drawing shows it (see viz.STYLES)
    kernel_family: ClassVar[str] = ""
    extra_outputs: ClassVar[tuple[str, ...]] = ()
    shown: ClassVar[tuple[str, ...] | None] = None  # attributes to show; None: all declared
    declared: ClassVar[tuple[str, ...]] = ()  # made from the annotations by __init_subclass__
    _declared_set: ClassVar[frozenset[str]] = frozenset()
    _required: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for field, annotation in inspect.get_annotations(klass).items():
                if "ClassVar" not in str(annotation) and field not in names:
                    names.append(field)
        cls.declared, cls._declared_set = tuple(names), frozenset(names)
        cls._required = frozenset(field for field in names if not hasattr(cls, field))

    def forward(self, *arrays: Any) -> Any:
        """Compute the output array from the input arrays; put what backward needs in
        ``self.saved``."""
        raise NotImplementedError

    def backward(self, grad: Any) -> Sequence[Any]:
        """Gradients with respect to each input (None where not needed)."""
        raise NotImplementedError

    @property
    def kernels(self) -> Any:
        """The backend's kernels for this op's family (``backends.kernels``)."""
        try:  # Backend.kernels' cache, read here: one call less on every use
            return self.backend._kernels[self.kernel_family]
        except (AttributeError, KeyError):  # first use: Backend.kernels makes them
            return self.backend.kernels(self.kernel_family)

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether a gradient flows to it (skip work for the others)."""
        return tuple(map(operator.is_not, self.parents, itertools.repeat(None)))  # all in C

    def attributes(self) -> dict[str, Any]:
        """The attributes worth showing in a drawing, an error or a repr: the declared ones
        (those in ``shown`` where an op narrows them); ops may add what forward measured."""
        return {field: getattr(self, field) for field in
                (self.declared if self.shown is None else self.shown)}

    def describe(self) -> list[str]:
        """The lines a graph drawing shows for this op: its name, then its attributes."""
        attrs = self.attributes()
        details = ", ".join(f"{k}={format_value(v)}" for k, v in attrs.items())
        return [self.name, details] if details else [self.name]

    def release(self) -> None:
        """Drop what backward needed; a later backward through this node is an error."""
        self.saved = None
        self.freed = True

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attributes().items())
        shape = getattr(self, "out_shape", "?")
        return f"<{self.name}{'(' + attrs + ')' if attrs else ''} -> {shape}>"

    @classmethod
    def _refuse(cls, attrs: dict[str, Any]) -> None:
        unknown = [k for k in attrs if k not in cls._declared_set]
        missing = [k for k in cls._required if k not in attrs]
        problems = [f"{what} attribute(s) {', '.join(map(repr, names))}"
                    for what, names in (("unexpected", unknown), ("missing", missing)) if names]
        declared = ", ".join(cls.declared) or "none"
        raise TypeError(f"{cls.name}: {'; '.join(problems)} (declared: {declared})")

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> Any:
        """Run the op on Tensors (and Python scalars), recording it when a gradient is needed.
        Returns the output Tensor (with ``extra_outputs``, a tuple: it, then the extras)."""
        op = cls.__new__(cls)
        if attrs or cls._required:
            if not (attrs.keys() <= cls._declared_set
                    and (not cls._required or cls._required <= attrs.keys())):
                cls._refuse(attrs)
            op.__dict__.update(attrs)
        # The inputs' arrays and, while recording, the edges (to the producing op or the leaf
        # itself, never to intermediate tensors) and metadata: spelled out for one or two
        # Tensors, the common case (about 0.3 us less per op than the general loop).
        if (len(inputs) == 2 and isinstance(inputs[0], TensorBase)
                and isinstance(inputs[1], TensorBase)):
            if inputs[1]._backend is not inputs[0]._backend:
                cls._refuse_backends(inputs[0]._backend, inputs[1]._backend)
            return op._run_pair(inputs[0], inputs[1])
        if len(inputs) == 1 and isinstance(inputs[0], TensorBase):
            return op._run_one(inputs[0])
        backend, tensor_type, arrays, record = cls._gather(op, inputs)
        op.backend = backend
        if record:  # forward may consult needs_input_grad to save less
            op.seq = next(_creation_order)
        else:
            op.parents = ()
        try:  # forward may change op.backend (.to()); a call without * is faster
            if len(arrays) == 2:
                out = op.forward(arrays[0], arrays[1])
            else:
                out = op.forward(*arrays)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            op._explain(exc, inputs)
        return op._output(out, record, tensor_type)

    @classmethod
    def apply_one(cls, x: Any) -> Any:
        """``apply(x)`` for one Tensor and an op that requires no attributes: what unary
        methods (relu, sum over everything) call (~0.15 us less than ``apply``)."""
        if cls._required:
            cls._refuse({})
        return cls.__new__(cls)._run_one(x)

    def _run_one(self, x: Any) -> Any:
        """``apply``'s work for one Tensor, ``self`` made and given its attributes."""
        record = x.requires_grad and _grad_mode.enabled
        if record:
            self.parents, self.input_meta = (x.grad_fn or x,), (None,)
            self.seq = next(_creation_order)
        else:
            self.parents = ()
        self.backend = x._backend
        try:
            out = self.forward(x.data)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            self._explain(exc, (x,))
        return self._output(out, record, type(x))

    @classmethod
    def apply_pair(cls, x: Any, y: Any) -> Any:
        """``apply(x, y)`` for two Tensors the caller knows share a backend, for an op that
        requires no attributes: what the binary operators call (~0.2 us less than ``apply``)."""
        if cls._required:
            cls._refuse({})
        return cls.__new__(cls)._run_pair(x, y)

    def _run_pair(self, x: Any, y: Any) -> Any:
        """``apply``'s work for two Tensors on one backend, ``self`` made and given its
        attributes."""
        a, b = x.data, y.data
        record = False
        if (x.requires_grad or y.requires_grad) and _grad_mode.enabled:
            record = True
            if x.requires_grad and y.requires_grad:
                self.parents, self.input_meta = (x.grad_fn or x, y.grad_fn or y), (None, None)
            elif x.requires_grad:
                self.parents = (x.grad_fn or x, None)
                self.input_meta = (None, (b.shape, b.dtype, x._backend.xp, y.name))
            else:
                self.parents = (None, y.grad_fn or y)
                self.input_meta = ((a.shape, a.dtype, x._backend.xp, x.name), None)
            self.seq = next(_creation_order)
        else:
            self.parents = ()
        self.backend = x._backend
        try:
            out = self.forward(a, b)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            self._explain(exc, (x, y))
        return self._output(out, record, type(x))

    def _output(self, out: Any, record: bool, tensor_type: type) -> Any:
        """The output Tensor (a tuple with the extra outputs), this op's if ``record``."""
        if self.extra_outputs:
            return self._with_extras(tensor_type, record, *out)
        t = object.__new__(tensor_type)  # TensorBase._wrap, inlined: it runs once per op
        t.data, t._backend, t.grad = out, self.backend, None
        t.name = None
        if record:
            self.out_shape, self.out_dtype, self.freed = out.shape, out.dtype, False
            t.requires_grad, t.grad_fn = True, self
        else:
            t.requires_grad, t.grad_fn = False, None
        return t

    def _explain(self, exc: Exception, inputs: Sequence[Any]) -> NoReturn:
        """Raise ``exc`` from forward again, naming the op and the inputs unless it does."""
        if str(exc).startswith(f"{self.name}:"):
            raise exc
        raise type(exc)(f"{self.name}: {exc}; inputs: {describe_inputs(inputs)}") from exc

    @classmethod
    def _gather(cls, op: Op, inputs: tuple[Any, ...]) -> tuple[Any, type, list[Any], bool]:
        """``apply``'s general case (Python numbers among the inputs, or three or more): the
        backend, the Tensor class and the arrays, and whether the op is recorded (then its
        edges and metadata are set on ``op``)."""
        backend = tensor_type = xp = None
        arrays: list[Any] = []
        parents: list[Any] = []
        meta: list[Any] = []
        record = False
        for x in inputs:
            if isinstance(x, TensorBase):
                data = x.data
                if backend is None:
                    backend, tensor_type = x._backend, type(x)
                    xp = backend.xp
                elif x._backend is not backend:
                    cls._refuse_backends(backend, x._backend)
                arrays.append(data)
                if x.requires_grad:
                    record = True
                    parents.append(x.grad_fn or x)
                    meta.append(None)
                else:
                    parents.append(None)
                    meta.append((data.shape, data.dtype, xp, x.name))
            else:
                arrays.append(x)
                parents.append(None)
                meta.append(None)
        record = record and _grad_mode.enabled
        if record:
            op.parents, op.input_meta = tuple(parents), tuple(meta)
        return backend, tensor_type, arrays, record

    @classmethod
    def _refuse_backends(cls, first: Any, other: Any) -> None:
        raise TypeError(f"{cls.name}: cannot mix backends {first.name!r} and {other.name!r}; "
                        "move one with .to()")

    def _with_extras(self, tensor_type: type, record: bool, out: Any,
                     *extras: Any) -> tuple[Any, ...]:
        """The main output (recorded if ``record``) and the extra ones, without gradient."""
        if record:
            self.out_shape, self.out_dtype, self.freed = out.shape, out.dtype, False
        wrap = tensor_type._wrap
        return (wrap(out, self.backend, record, self if record else None),
                *(None if e is None else wrap(e, self.backend, False, None) for e in extras))


def describe_inputs(inputs: Sequence[Any]) -> str:
    """One line naming each input's shape, dtype and backend (or its Python value)."""
    return ", ".join(
        f"Tensor(shape={x.shape}, dtype={x.dtype_name}, backend={x.backend})"
        if isinstance(x, TensorBase) else repr(x) for x in inputs)


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
    """Ops reachable from ``root``, each after every op that consumes its output: breadth first
    where each op feeds one other, else newest first by the number ``apply`` gave each recorded
    op (iterative, so graphs of any depth work)."""
    return _ordered(root, False)


def _ordered(root: Op, refuse_freed: bool) -> list[Op]:
    """``topological_order``; with ``refuse_freed``, a RuntimeError if any op was freed (before
    any gradient is computed, so a failing backward changes none)."""
    order = [root]
    seen = {root}
    shared = False  # whether some op feeds two others: then breadth-first is not enough
    for op in order:  # grows while it is walked: every reachable op is appended once
        if refuse_freed and op.freed:
            raise RuntimeError(
                f"backward through the graph a second time: {op.name} was freed by an earlier "
                "backward(). Pass retain_graph=True to the first backward() to keep the graph")
        for parent in op.parents:
            if parent is not None and isinstance(parent, Op):
                if parent in seen:
                    shared = True
                else:
                    seen.add(parent)
                    order.append(parent)
    # In a tree each op is appended after its one consumer, so the walk's order is already
    # valid; where an op is shared, one of its consumers may come later: sort, newest first.
    if shared:
        order.sort(key=_creation_number, reverse=True)
    return order


_creation_number = operator.attrgetter("seq")


def run_backward(root: TensorBase, grad: Any, retain_graph: bool) -> None:
    """Propagate ``grad`` (a backend array shaped like ``root``) to every leaf ``root`` depends on,
    accumulating into the leaves' ``.grad``; free the graph unless ``retain_graph``."""
    delivered = {id(grad)}  # arrays a leaf must not own: the caller's, and those already taken
    if root.grad_fn is None:
        _accumulate_leaf(root, grad, delivered)
        return
    order = _ordered(root.grad_fn, True)
    pending: dict[Op, Any] = {root.grad_fn: grad}
    for op in order:
        out_grad = pending.pop(op, None)
        if out_grad is not None:  # else every path to it returned None: nothing flows
            in_grads, parents = op.backward(out_grad), op.parents
            if len(in_grads) != len(parents):  # zip(strict=True) says less and costs 0.1 us
                raise ValueError(f"{op.name}: backward returned {len(in_grads)} gradients for "
                                 f"{len(parents)} inputs")
            for parent, g in zip(parents, in_grads):  # noqa: B905 (lengths checked above)
                if parent is None or g is None:
                    continue
                if isinstance(parent, Op):  # the input's shape and dtype are its output's
                    if g.shape != parent.out_shape:
                        g = unbroadcast(parent.backend.xp, g, parent.out_shape)
                    if g.dtype != parent.out_dtype:
                        g = parent.backend.xp.astype(g, parent.out_dtype)
                    earlier = pending.get(parent)
                    pending[parent] = g if earlier is None else earlier + g
                    continue
                data = parent.data  # a leaf's (in-place updates keep its shape and dtype)
                if g.shape != data.shape:
                    g = unbroadcast(parent._backend.xp, g, data.shape)
                if g.dtype != data.dtype:
                    g = parent._backend.xp.astype(g, data.dtype)
                _accumulate_leaf(parent, g, delivered)
        if not retain_graph:
            op.saved, op.freed = None, True  # release(), inlined: it runs for every op


def _accumulate_leaf(leaf: TensorBase, grad: Any, delivered: set[int]) -> None:
    if leaf.grad is None:
        # Pass-through ops (add, reshape) hand the same array on; two leaves must not share it.
        backend = leaf._backend
        grad = backend.xp.asarray(grad, copy=True) if id(grad) in delivered else backend.owned(grad)
        delivered.add(id(grad))
        leaf.grad = leaf._wrap(grad, backend, False, None)
    else:
        _add_to_grad(leaf, grad)


def _add_to_grad(leaf: TensorBase, grad: Any) -> None:
    """``leaf.grad += grad`` in place, as PyTorch accumulates (a reference to the old ``.grad``
    sees the sum, and the array keeps its address, which a step replayed by ``td.jit`` needs);
    into a new array where the ``.grad`` a user assigned cannot take it (another shape or
    dtype, read-only)."""
    held = leaf.grad.data
    if held.shape == grad.shape and held.dtype == grad.dtype:
        try:
            held += grad
            return
        except (ValueError, TypeError):  # read-only (a broadcast view, a frozen array)
            pass
    leaf.grad = leaf._wrap(held + grad, leaf._backend, False, None)
