"""The nested structures ``td.save`` writes beside arrays: dicts (str or int keys), lists,
tuples, arrays and Python scalars (bool, int, float, str, None), as JSON that names the arrays.

Every value is a JSON node of exactly one reading, so ``load`` gives back the same Python types:

==================  =============================================================
None, True, False   ``null``, ``true``, ``false``
str                 a JSON string
int                 ``{"int": "-0x1f"}`` (hexadecimal: any size, read in linear time)
float               ``{"float": "3ff0000000000000"}`` (the IEEE 754 bits, so -0.0,
                    inf and every NaN come back bit for bit)
array               ``{"array": "array3"}``, the archive member holding it
list, tuple         ``{"list": [...]}``, ``{"tuple": [...]}``
dict                ``{"dict": [[key, value], ...]}`` in order, a key a string or an int node
==================  =============================================================

JSON numbers never occur (a float in JSON loses NaN and -0.0, an int its size). The document is
``{"format": FORMAT, "version": "1", "root": node}``. Decoding checks the whole document
(types, nesting at most ``MAX_DEPTH``, no key twice in a dict) before anything is built.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

FORMAT = "tinygrad_drop.tree"
VERSION = 1
MAX_DEPTH = 100  # nested containers; JSON's own recursion stays far below Python's limit
SCALARS = (type(None), bool, int, float, str)
INT = re.compile(r"-?0x[0-9a-f]+")
FLOAT_BITS = re.compile(r"[0-9a-f]{16}")
CONTAINERS = ("list", "tuple", "dict")


class MalformedTree(ValueError):
    """A structure document that is not one ``encode`` could have written."""


def where(path: tuple[Any, ...]) -> str:
    """A key path as Python would index it: ``['optimizer']['state'][0]``."""
    return "".join(f"[{key!r}]" for key in path) or "the top level"


def encode(root: Any, is_array: Callable[[Any], bool],
           add_array: Callable[[Any, tuple[Any, ...]], str]) -> bytes:
    """``root`` as the JSON document (UTF-8, ASCII only). ``is_array`` says which values are
    arrays; ``add_array(value, path)`` stores one and returns its member name. Raises
    ``TypeError`` naming the key path for a value or key of any other type, ``ValueError`` for
    a structure that contains itself or nests deeper than ``MAX_DEPTH``."""
    active: set[int] = set()

    def node(value: Any, path: tuple[Any, ...]) -> Any:
        kind = type(value)
        if kind in SCALARS:
            if kind is int:
                return {"int": hex(value)}
            if kind is float:
                return {"float": struct.pack(">d", value).hex()}
            return value
        if isinstance(value, (Mapping, list, tuple)):
            if len(path) >= MAX_DEPTH:
                raise ValueError(f"save: the structure nests deeper than {MAX_DEPTH} containers "
                                 f"at {where(path)}")
            if id(value) in active:
                raise ValueError(f"save: the structure contains itself at {where(path)}")
            active.add(id(value))
            try:
                if isinstance(value, Mapping):
                    return {"dict": [[key_node(k, path), node(v, (*path, k))]
                                     for k, v in value.items()]}
                label = "tuple" if isinstance(value, tuple) else "list"
                return {label: [node(v, (*path, i)) for i, v in enumerate(value)]}
            finally:
                active.discard(id(value))
        if is_array(value):
            return {"array": add_array(value, path)}
        hint = ("; save its state_dict() instead"
                if callable(getattr(value, "state_dict", None)) else "")
        raise TypeError(f"save: cannot save a value of type {kind.__name__} at {where(path)}: "
                        "only dicts, lists, tuples, arrays, Tensors, bool, int, float, str and "
                        f"None are saved{hint}")

    def key_node(key: Any, path: tuple[Any, ...]) -> Any:
        if type(key) is str:
            return key
        if type(key) is int:
            return {"int": hex(key)}
        raise TypeError(f"save: dict key {key!r} (type {type(key).__name__}) at {where(path)}: "
                        "keys must be str or int")

    document = {"format": FORMAT, "version": str(VERSION), "root": node(root, ())}
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _no_numbers(text: str) -> Any:
    raise MalformedTree(f"it holds the bare JSON number {text[:40]!r} (numbers are written as "
                        "{'int': ...} or {'float': ...} nodes)")


def parse(data: bytes) -> tuple[Any, list[str]]:
    """Check the document ``data`` entirely; its root node and the array members it names, in
    order. Raises ``MalformedTree`` saying what is wrong and where."""
    try:
        document = json.loads(data.decode("utf-8"), parse_int=_no_numbers,
                              parse_float=_no_numbers, parse_constant=_no_numbers)
    except RecursionError:
        raise MalformedTree("its JSON nests too deeply to read") from None
    except UnicodeDecodeError as exc:
        raise MalformedTree(f"it is not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MalformedTree(f"it is not valid JSON: {exc}") from None
    if (not isinstance(document, dict) or set(document) != {"format", "version", "root"}
            or document["format"] != FORMAT):
        raise MalformedTree(f"it is not a {FORMAT} document (expected an object with "
                            "'format', 'version' and 'root')")
    if document["version"] != str(VERSION):  # a JSON number would have been refused: a string
        raise MalformedTree(f"it has version {document['version']!r}; this td.load reads "
                            f"version {VERSION}")
    names: list[str] = []
    _check(document["root"], (), names)
    return document["root"], names


def _kind(node: Any, path: tuple[Any, ...]) -> tuple[str, Any]:
    """The one key of an object node and its payload, checked to be a known kind."""
    if not isinstance(node, dict) or len(node) != 1:
        raise MalformedTree(f"{where(path)} is {json.dumps(node)[:60]}, not a value node")
    (kind, payload), = node.items()
    if kind in ("int", "float", "array"):
        if not isinstance(payload, str):
            raise MalformedTree(f"at {where(path)}: an {kind!r} node holds "
                                f"{json.dumps(payload)[:40]}, not a string")
        if kind == "int" and not INT.fullmatch(payload):
            raise MalformedTree(f"at {where(path)}: {payload[:40]!r} is not a hexadecimal int")
        if kind == "float" and not FLOAT_BITS.fullmatch(payload):
            raise MalformedTree(f"at {where(path)}: {payload[:40]!r} is not 16 hex digits of a "
                                "float's bits")
        return kind, payload
    if kind in CONTAINERS:
        if not isinstance(payload, list):
            raise MalformedTree(f"at {where(path)}: a {kind!r} node holds "
                                f"{type(payload).__name__}, not a list")
        if len(path) >= MAX_DEPTH:
            raise MalformedTree(f"it nests deeper than {MAX_DEPTH} containers at {where(path)}")
        return kind, payload
    raise MalformedTree(f"{where(path)} is a node of unknown kind {kind[:40]!r}")


def _key(node: Any, path: tuple[Any, ...]) -> Any:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and list(node) == ["int"] and isinstance(node["int"], str) \
            and INT.fullmatch(node["int"]):
        return int(node["int"], 16)
    raise MalformedTree(f"at {where(path)}: the dict key {json.dumps(node)[:60]} is neither a "
                        "string nor an int node")


def _check(node: Any, path: tuple[Any, ...], names: list[str]) -> None:
    if node is None or isinstance(node, (bool, str)):
        return
    kind, payload = _kind(node, path)
    if kind == "array":
        names.append(payload)
    elif kind in ("list", "tuple"):
        for i, item in enumerate(payload):
            _check(item, (*path, i), names)
    elif kind == "dict":
        keys = set()
        for entry in payload:
            if not isinstance(entry, list) or len(entry) != 2:
                raise MalformedTree(f"at {where(path)}: a dict entry is "
                                    f"{json.dumps(entry)[:60]}, not a [key, value] pair")
            key = _key(entry[0], path)
            if key in keys:
                raise MalformedTree(f"at {where(path)}: the dict holds the key {key!r} twice")
            keys.add(key)
            _check(entry[1], (*path, key), names)


def build(node: Any, arrays: Mapping[str, Any]) -> Any:
    """The Python value of a node that ``parse`` checked, arrays taken from ``arrays``."""
    if node is None or isinstance(node, (bool, str)):
        return node
    (kind, payload), = node.items()
    if kind == "int":
        return int(payload, 16)
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(payload))[0]
    if kind == "array":
        return arrays[payload]
    if kind == "dict":
        return {_key(k, ()): build(v, arrays) for k, v in payload}
    items = [build(item, arrays) for item in payload]
    return tuple(items) if kind == "tuple" else items
