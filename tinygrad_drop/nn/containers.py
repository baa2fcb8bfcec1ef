"""Containers: ``Sequential`` (modules applied in order) and ``ModuleList`` (a registered list
of modules), with PyTorch's indexing, editing, naming (``0.weight``) and printing."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module, block, indent


def _module(value: Any, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{where}: {type(value).__name__} is not a Module subclass")
    return value


class _Indexed(Module):
    """Children numbered '0', '1', ... that can be indexed (negative counts back), appended,
    inserted, deleted and popped; the names stay contiguous as PyTorch keeps them for lists."""

    def _index(self, index: Any) -> str:
        """The child name at integer position ``index``; IndexError when out of range."""
        i = operator.index(index)
        if not -len(self) <= i < len(self):
            raise IndexError(f"{type(self).__name__}: index {i} is out of range for "
                             f"{len(self)} modules")
        return list(self._modules)[i]

    def _renumber(self, modules: list[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self._add_module(str(i), module)

    @classmethod
    def _holding(cls, items: Iterable[tuple[str, Module]]) -> Any:
        """A new container of ``cls`` holding ``(name, module)`` pairs as they are: a slice or
        a sum shares its modules with the originals, whose tensors keep their names."""
        made = cls.__new__(cls)
        Module.__init__(made)
        made._modules.update(items)
        return made

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __setitem__(self, index: int, module: Module) -> None:
        self._add_module(self._index(index), _module(module, type(self).__name__))

    def __delitem__(self, index: int | slice) -> None:
        """Delete by position (a slice deletes several) and renumber the rest 0, 1, ... as
        PyTorch does, whatever the names were (an OrderedDict's included)."""
        modules = list(self._modules.values())
        if not isinstance(index, slice):
            self._index(index)  # the range check
            index = operator.index(index)
        del modules[index]
        self._renumber(modules)

    def append(self, module: Module) -> _Indexed:
        """Add ``module`` at the end; returns self."""
        self._add_module(str(len(self)), _module(module, f"{type(self).__name__}.append"))
        return self

    def extend(self, modules: Iterable[Module]) -> _Indexed:
        """Append every module of ``modules``; returns self."""
        where = f"{type(self).__name__}.extend"
        if not isinstance(modules, Iterable):
            raise TypeError(f"{where} should be called with an iterable, but got "
                            f"{type(modules).__name__}")
        checked = [_module(m, where) for m in modules]  # all checked before any is added
        for module in checked:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as ``list.insert``: negative counts
        back, past the end appends)."""
        modules = list(self._modules.values())
        modules.insert(operator.index(index), _module(module, f"{type(self).__name__}.insert"))
        self._renumber(modules)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index`` (default the last)."""
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules: Iterable[Module]) -> _Indexed:
        return self.extend(modules)


class Sequential(_Indexed):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` or, with names,
    ``Sequential(OrderedDict(conv=..., relu=...))``. Indexable (``model[0]``; a slice is a
    Sequential keeping the children's names, as PyTorch), iterable, editable like a list."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, _module(module, f"Sequential: {name!r}"))
            return
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, "
                                "not a Module")
            self._add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential._holding(list(self._modules.items())[index])
        return self._modules[self._index(index)]

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``, -len(self) <= index <= len(self) (a
        negative index counts back; anything else is an IndexError, as PyTorch's); returns
        self."""
        i = operator.index(index)
        if not -len(self) <= i <= len(self):
            raise IndexError(f"Sequential.insert: index {i} is out of range for "
                             f"{len(self)} modules")
        super().insert(i, module)
        return self

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential of this one's modules then ``other``'s (shared, numbered 0, 1,
        ...)."""
        if not isinstance(other, Sequential):
            raise ValueError("add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return Sequential._holding((str(i), m) for i, m in enumerate([*self, *other]))

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError("add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return self.extend(list(other))


class ModuleList(_Indexed):
    """A list of modules registered as children ``'0'``, ``'1'``, ..., so ``parameters()``,
    ``state_dict()`` (``layers.0.weight``), ``.to`` and ``train``/``eval`` reach them. Supports
    indexing (a slice is a ModuleList), ``len``, iteration, ``append``, ``extend``, ``insert``,
    ``pop``, ``del`` and ``+``; it has no ``forward``."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            modules = list(self._modules.values())[index]
            return ModuleList._holding((str(i), m) for i, m in enumerate(modules))
        return self._modules[self._index(index)]

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        modules = [_module(m, "ModuleList +") for m in [*self, *other]]
        return ModuleList._holding((str(i), m) for i, m in enumerate(modules))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ModuleList is not callable; iterate over it in the parent's forward."""
        raise NotImplementedError("ModuleList has no forward(): call its modules, e.g. "
                                  "`for layer in self.layers: x = layer(x)`")

    def __repr__(self) -> str:
        """PyTorch's form: runs of identical modules collapse to ``(0-2): 3 x Linear(...)``."""
        runs: list[list[Any]] = []  # [first, last, repr]
        for i, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = [indent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}")
                 for a, b, text in runs]
        return block(type(self).__name__, [], lines)
