"""A SHA-256 of the pactx code and data a function depends on.

:func:`code_fingerprint` starts from some functions or classes and follows every global name
their code uses, into other pactx modules too: functions and classes enter with their source
text, data (compiled patterns, tables, enums, constants) with a stable rendering of its
value. Names outside pactx (the standard library, third-party packages) are not followed.
The fingerprint therefore changes when a cue pattern, a grammar helper or a table it reads
changes, whoever edits it and whatever helper they add, and it never depends on file paths
or line numbers, so it is the same for a checkout and for an installed wheel. When the
source is not available (a bytecode-only install) the code object's instructions, constants
and names stand in for it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import re
import types
from typing import Any

__all__ = ["code_fingerprint"]

_PACKAGE = "pactx"


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == _PACKAGE or module.startswith(_PACKAGE + ".")


def _code_text(code: types.CodeType) -> str:
    """Path- and line-free rendering of a code object (the fallback for missing source)."""
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return f"{code.co_code.hex()}|{consts}|{code.co_names}"


_SOURCES: dict[Any, str] = {}
"""Source texts found so far, by code object or class (an edited function is a new object)."""


def _source(obj: Any) -> str:
    key = getattr(obj, "__code__", obj)
    if key not in _SOURCES:
        try:
            _SOURCES[key] = inspect.getsource(obj)
        except (OSError, TypeError):
            code = getattr(obj, "__code__", None)
            # a bytecode-only install: the instructions; a class: its attribute names
            _SOURCES[key] = _code_text(code) if code is not None else ",".join(sorted(vars(obj)))
    return _SOURCES[key]


def _generated(obj: Any) -> bool:
    """A method written by a decorator (dataclass ``__init__``, ``__eq__``): the class source covers it."""
    code = getattr(obj, "__code__", None)
    return code is not None and code.co_filename.startswith("<")


def _names(code: types.CodeType) -> set[str]:
    """Every global or attribute name a code object, and the code nested in it, uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _functions_of(cls: type) -> list[Any]:
    found: list[Any] = []
    for value in vars(cls).values():
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        elif isinstance(value, property):
            found += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            continue
        elif isinstance(value, functools.cached_property):
            value = value.func
        if inspect.isfunction(value):
            found.append(value)
    return found


def _render(value: Any, follow: list[Any], depth: int = 0) -> str:
    """A stable text for a data value; functions and classes in it are queued in ``follow``."""
    if depth > 8:
        return "..."
    if isinstance(value, re.Pattern):
        return f"re({value.pattern!r}, {int(value.flags)})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_render(v, follow, depth + 1) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_render(v, follow, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(
            (_render(k, follow, depth + 1), _render(v, follow, depth + 1)) for k, v in value.items()
        )
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return f"{type(value).__qualname__}{_render(fields, follow, depth + 1)}"
    if inspect.isfunction(value) or inspect.isclass(value):
        if _ours(value):
            follow.append(value)
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    return f"<{type(value).__qualname__}>"  # no address or other per-run detail


def code_fingerprint(*roots: Any, extra: str = "") -> str:
    """SHA-256 over ``extra`` and the pactx code and data reachable from ``roots``."""
    entries: dict[str, str] = {}
    pending = [inspect.unwrap(root) for root in roots]
    seen: set[int] = set()
    while pending:
        obj = inspect.unwrap(pending.pop())
        if id(obj) in seen or not _ours(obj) or _generated(obj):
            continue
        seen.add(id(obj))
        entries[f"{obj.__module__}.{obj.__qualname__}"] = _source(obj)
        if inspect.isclass(obj):
            pending += _functions_of(obj)
            continue
        if not inspect.isfunction(obj):
            continue
        scopes: list[dict[str, Any]] = [obj.__globals__]
        owner = obj.__globals__.get(obj.__qualname__.split(".")[0]) if "." in obj.__qualname__ else None
        if inspect.isclass(owner) and "<locals>" not in obj.__qualname__:
            scopes.append(dict(vars(owner)))  # methods reached through ``self``
        module = obj.__globals__.get("__name__", "?")
        for name in sorted(_names(obj.__code__)):
            for scope in scopes:
                if name not in scope or (name.startswith("__") and name.endswith("__")):
                    continue
                value = scope[name]
                if inspect.ismodule(value):
                    continue
                if isinstance(value, (classmethod, staticmethod)):
                    value = value.__func__
                if isinstance(value, functools.cached_property):
                    value = value.func
                if inspect.isfunction(value) or inspect.isclass(value) or callable(getattr(value, "__wrapped__", None)):
                    pending.append(value)
                elif not callable(value):
                    owner_name = module if scope is obj.__globals__ else f"{module}.{obj.__qualname__.split('.')[0]}"
                    entries[f"{owner_name}.{name}"] = _render(value, pending)
        for cell in obj.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if inspect.isfunction(contents) or inspect.isclass(contents):
                pending.append(contents)
    digest = hashlib.sha256(extra.encode("utf-8"))
    for key in sorted(entries):
        digest.update(f"\0{key}\0{entries[key]}".encode())
    return digest.hexdigest()
