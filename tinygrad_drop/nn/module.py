"""The Module base class: parameters, buffers and sub-modules with PyTorch's names, traversal,
train/eval modes, state dicts, and moving or casting a whole model in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import backends, dtypes
from .._grads import zero_grads
from ..tensor_core import Tensor, _is_dtype
from .state import IncompatibleKeys, StateDictError, stage

__all__ = ["IncompatibleKeys", "Module", "StateDictError"]


class Module:
    """Base class of layers and models. Tensors that require grad assigned as attributes are
    parameters, ``register_buffer`` adds state such as running statistics, and modules assigned
    as attributes are children; names follow PyTorch (``0.weight``, ``1.running_mean``).

    Assigning to the name of a parameter, buffer or child keeps it one: a parameter or buffer
    takes a Tensor or None (we have no Parameter class, so any Tensor assigned over a
    parameter becomes the parameter, requiring grad or not as it does; PyTorch insists on a
    Parameter), a child takes a Module or None; anything else is PyTorch's TypeError."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 "super().__init__() before assigning attributes")
        trainable = isinstance(value, Tensor) and value.requires_grad  # PyTorch's Parameter
        if not (trainable or isinstance(value, Module)):
            for table, kind, allowed in ((self._parameters, "parameter", Tensor),
                                         (self._modules, "child module", Module),
                                         (self._buffers, "buffer", Tensor)):
                if name in table:
                    if value is not None and not isinstance(value, allowed):
                        raise TypeError(f"cannot assign {type(value).__name__!r} object as "
                                        f"{kind} {name!r} ({allowed.__name__} or None "
                                        "expected)")
                    table[name] = value
                    if value is not None:
                        value.name = name
                    return
        if isinstance(value, Module):
            self._forget(name, keep=self._modules)  # a replaced child keeps its place
            self._add_module(name, value)
        elif trainable:
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
            value.name = name
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        """Drop ``name`` from every table but ``keep`` (where it is about to be replaced, in
        place, so the order of children and parameters stays PyTorch's)."""
        for table in (self._parameters, self._buffers, self._modules, self.__dict__):
            if table is not keep:
                table.pop(name, None)
        self._non_persistent.discard(name)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def _add_module(self, name: str, module: Module) -> None:
        """Register a child and name its tensors by their path from here (``0.weight``), so
        graph drawings show where each parameter lives."""
        self._modules[name] = module
        for path, t in module._state_tensors(persistent_only=False).items():
            t.name = f"{name}.{path}"

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child called ``name`` (as ``setattr``, for names that are
        not identifiers, e.g. ``'0'``)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"add_module: module name must be a non-empty string without '.', "
                           f"got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if module is None:
            self._modules[name] = None
        else:
            self._add_module(name, module)

    register_module = add_module

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Non-trainable state that moves with the model (running statistics, counters, a
        loss's class weights) and is saved in ``state_dict`` unless ``persistent=False``;
        ``None`` registers the name without a value."""
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"buffer name must be non-empty and without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__!r} object to buffer "
                            f"{name!r} (Tensor or None required)")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        if tensor is not None:
            tensor.name = name

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal (PyTorch's orders: pre-order, each module's own tensors first) -------
    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, pre-order, with dotted names ('' for self); a
        module reached twice is listed once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                path = f"{prefix}.{name}" if prefix else name
                yield from module.named_modules(memo, path, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, pre-order."""
        return (module for _, module in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their names, each module once."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        return (module for _, module in self.named_children())

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted name (each tensor once unless
        ``remove_duplicate=False``; only this module's own with ``recurse=False``)."""
        return self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every parameter, each tensor once."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name, in the order of ``named_parameters``."""
        return self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (running statistics and the like), each tensor once."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    def _named(self, table: str, prefix: str, recurse: bool,
               remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for path, module in modules:
            for name, t in getattr(module, table).items():
                if t is None or id(t) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(t))
                yield (f"{path}.{name}" if path else name), t

    # -- state ----------------------------------------------------------------------------
    def _state_tensors(self, persistent_only: bool = True) -> dict[str, Tensor]:
        """Parameters and (persistent) buffers by name, each module's parameters then its
        buffers, a shared module under each of its names (PyTorch's state_dict keys)."""
        state: dict[str, Tensor] = {}
        for prefix, module in self.named_modules(remove_duplicate=False):
            for table in (module._parameters, module._buffers):
                for name, t in table.items():
                    if t is not None and not (persistent_only and table is module._buffers
                                              and name in module._non_persistent):
                        state[f"{prefix}.{name}" if prefix else name] = t
        return state

    def state_dict(self) -> dict[str, Any]:
        """Name -> host NumPy copy of every parameter and persistent buffer (running statistics
        included), with PyTorch's key names, e.g. ``0.weight``, ``1.running_mean``."""
        return {name: t.numpy() for name, t in self._state_tensors().items()}

    def load_state_dict(self, state_dict: Mapping[str, Any],
                        strict: bool = True) -> IncompatibleKeys:
        """Copy the numbers in ``state_dict`` (name -> our Tensors, NumPy arrays, any backend's
        arrays, or anything with ``__array__``/``__dlpack__`` such as torch tensors) into the
        parameters and buffers. Every name, shape and dtype is checked, and every value
        converted, before anything changes; with ``strict`` a missing or unexpected key is an
        error too. Unlike PyTorch, a dtype that differs is an error, not a silent cast. Every
        problem is listed in one ``StateDictError`` (PyTorch's RuntimeError; also a KeyError,
        ValueError and TypeError). Returns the missing and unexpected keys."""
        staged, result = stage(type(self).__name__, self._state_tensors(), state_dict, strict)
        for t, data in staged:  # nothing above changed the model; nothing here can fail
            try:  # into the arrays, as PyTorch copies: a step td.jit captured reads them
                t.data[...] = data
            except (TypeError, ValueError):  # a read-only array (or a NumPy scalar): replaced
                t.data = data
        return result

    # -- moving and casting ---------------------------------------------------------------
    def to(self, backend: Any = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to ``backend`` and/or cast the floating-point ones
        to the floating ``dtype``, as PyTorch does: parameters (and their gradients) in place,
        the same Tensor objects getting new data, so an optimizer made before keeps stepping
        them; a buffer that changes is replaced by a new Tensor, so a tensor passed in (a
        loss's class weights) is left as it was. ``model.to('strict')``,
        ``model.to(td.float64)``. Returns self."""
        if dtype is None and _is_dtype(backend):
            backend, dtype = None, backend
        name = None if dtype is None else backends.dtype_name(dtype)
        if name is not None and not dtypes.is_floating(name):
            raise TypeError(f"Module.to only accepts floating-point dtypes, got dtype {name}")
        target = None if backend is None else backends.get(backend)

        def change(t: Tensor) -> tuple[Any, Any] | None:
            be, data = t._backend, t.data
            move = target is not None and target is not be
            cast = (name is not None and t.dtype_name != name
                    and dtypes.is_floating(t.dtype_name))
            if not (move or cast):
                return None
            if move:
                be, data = target, target.asarray(be.to_numpy(data))
            if cast:
                data = be.xp.astype(data, be.dtype(name))
            return be, data

        return self._convert(change)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 in place (integer buffers such
        as ``num_batches_tracked`` stay as they are); returns self."""
        return self.to(dtype="float64")

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32 in place; returns self."""
        return self.to(dtype="float32")

    def _convert(self, change: Callable[[Tensor], tuple[Any, Any] | None]) -> Module:
        """Give every parameter and its gradient, in place, the (backend, data) ``change``
        returns (None: unchanged), and replace every buffer it changes by a new Tensor (one per
        buffer shared between modules); all are computed before any is assigned, so a failure
        changes nothing."""
        staged, buffers, made = [], [], {}
        for module in self.modules():
            for p in module._parameters.values():
                for t in (p, None if p is None else p.grad):
                    if t is not None and id(t) not in made:
                        made[id(t)] = change(t)
                        if made[id(t)] is not None:
                            staged.append((t, made[id(t)]))
            for key, b in module._buffers.items():
                if b is not None:
                    if id(b) not in made:
                        made[id(b)] = change(b)
                    if made[id(b)] is not None:
                        buffers.append((module, key, b))
        for t, (be, data) in staged:
            t._backend, t.data = be, data
        fresh: dict[int, Tensor] = {}
        for module, key, b in buffers:
            if id(b) not in fresh:
                be, data = made[id(b)]
                fresh[id(b)] = Tensor._wrap(data, be, b.requires_grad, None)
                fresh[id(b)].name = b.name
            module._buffers[key] = fresh[id(b)]
        return self

    # -- modes, gradients, visiting -------------------------------------------------------
    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first, recursively) and then on self, as
        PyTorch does (e.g. to initialise weights); returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True, *, flag: bool | None = None) -> Module:
        """Set ``requires_grad`` on every parameter (``False`` freezes them); returns self.
        ``flag=`` is the same argument under the name API.md gives it."""
        if flag is not None:
            requires_grad = flag
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout samples, batchnorm uses batch statistics) recursively;
        ``mode`` must be a bool, as PyTorch insists."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Set inference mode recursively (the same as ``train(False)``)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``.grad = None`` (PyTorch's default), or zeros
        in place with ``set_to_none=False``."""
        zero_grads(self.parameters(), set_to_none)

    # -- printing -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown in this module's repr."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {indent(repr(child))}"
                       for name, child in self._modules.items()]
        return block(type(self).__name__, extra_lines, child_lines)


def indent(text: str, spaces: int = 2) -> str:
    """Indent every line of ``text`` but the first (nested reprs, as PyTorch's)."""
    return text.replace("\n", "\n" + " " * spaces)


def block(head: str, extra_lines: list[str], child_lines: list[str]) -> str:
    """``Head(extra)`` on one line, or the extra and child lines indented below, as PyTorch
    prints a module."""
    lines = extra_lines + child_lines
    if not lines:
        return f"{head}()"
    if len(extra_lines) == 1 and not child_lines:
        return f"{head}({extra_lines[0]})"
    return f"{head}(\n  " + "\n  ".join(lines) + "\n)"
