"""Build frozen dataclasses from TOML tables, rejecting unknown keys and wrong types by name."""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal


class SchemaError(Exception):
    """A TOML table does not fit its dataclass; the message names where and what."""


def build_section(cls: type, table: object, where: str, section: str, error: type[SchemaError] = SchemaError) -> Any:
    """Build one dataclass from a TOML table, checking unknown keys, missing keys and types."""
    try:
        return _build(cls, table, where, section)
    except SchemaError as exc:
        raise error(str(exc)) from None


def _build(cls: type, table: object, where: str, section: str) -> Any:
    if not isinstance(table, dict):
        raise SchemaError(f"{where}: [{section}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key in table:
        if key not in names:
            raise SchemaError(f"{where}: [{section}] unknown key {key!r}; known keys: {', '.join(sorted(names))}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in table:
            values[f.name] = coerce(table[f.name], hints[f.name], f"{where}: [{section}] {f.name}")
        elif f.default is f.default_factory:  # dataclasses.MISSING on both: required
            raise SchemaError(f"{where}: [{section}] missing required key {f.name!r}")
    return cls(**values)


def coerce(value: object, hint: Any, where: str) -> Any:
    """Check a TOML value against a type hint, converting paths and lists."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            choices = " | ".join(f'"{a}"' for a in args)
            raise SchemaError(f"{where} must be one of {choices}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise SchemaError(f"{where} must be a list, not {type(value).__name__}")
        return tuple(coerce(item, args[0], f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"{where} must be a table, not {type(value).__name__}")
        return value
    if hint is Path:
        return Path(str(coerce(value, str, where))).expanduser()
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise SchemaError(f"{where} must be an integer, not a boolean")
    if not isinstance(value, hint):
        raise SchemaError(f"{where} must be {_type_name(hint)}, not {type(value).__name__} ({value!r})")
    return value


def _type_name(hint: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )
