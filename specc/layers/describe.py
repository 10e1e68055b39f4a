"""A layer kind's inputs and parameters written the way a spec author reads them: types with
their bounds (``int > 0``, ``one of mean, sum``), defaults as YAML, Keras-style spellings.

One place for the layer catalogue of docs/spec.md (scripts/gen_layer_docs.py) and for
``specc layers KIND``."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def yaml_text(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v else '""'
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(yaml_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {yaml_text(x)}" for k, x in v.items()) + "}"
    return str(v)


def bounds(metadata: list[Any]) -> str:
    parts = []
    for m in metadata:
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(m, attr, None)
            if value is not None and not isinstance(value, bool):
                parts.append(f"{sym} {yaml_text(value)}")
        if getattr(m, "min_length", None):
            parts.append(f"at least {m.min_length} item{'s' if m.min_length > 1 else ''}")
    return ", ".join(parts)


def type_text(tp: Any) -> str:
    """'int > 0', 'number in [0, 1]', 'one of mean, sum, none'… from a type annotation."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = get_args(tp)
        base = type_text(inner)
        limits = bounds([m for m in meta if not isinstance(m, FieldInfo)] +
                        [x for m in meta if isinstance(m, FieldInfo) for x in m.metadata])
        return f"{base} {limits}" if limits else base
    if origin is Literal:
        choices = get_args(tp)
        return f"`{yaml_text(choices[0])}`" if len(choices) == 1 else "one of " + ", ".join(
            f"`{yaml_text(c)}`" for c in choices)
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = " or ".join(dict.fromkeys(type_text(a) for a in args)) if args else "values"
        return f"list of {inner}"
    if origin is dict:
        key, value = get_args(tp)
        return f"mapping of {type_text(key)} to {type_text(value)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping (see below)"
    return {bool: "true/false", int: "int", float: "number", str: "text"}.get(tp, getattr(tp, "__name__", str(tp)))


def field_type(info: FieldInfo) -> str:
    base = type_text(info.annotation)
    limits = bounds(info.metadata)
    return f"{base} {limits}" if limits else base


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "(see below)" if isinstance(value, BaseModel) else f"`{yaml_text(value)}`"
    return "" if info.default is PydanticUndefined else f"`{yaml_text(info.default)}`"


def field_aliases(name: str, info: FieldInfo) -> list[str]:
    choices = getattr(info.validation_alias, "choices", None) or []
    return [c for c in choices if isinstance(c, str) and c != name]


def inputs_text(kind: Any) -> str:
    if kind.layout:
        shape = kind.layout
    elif kind.ranks:
        shape = "rank " + " or ".join(map(str, kind.ranks))
    else:
        shape = "any rank"
    if kind.accepts == "int":
        shape += ", integer ids"
    n_min, n_max = kind.min_inputs, kind.max_inputs
    if n_max is None:
        shape = f"{n_min} or more inputs: {shape}"
    elif n_max > 1:
        shape = f"{n_min} inputs: {shape}" if n_min == n_max else f"{n_min} to {n_max} inputs: {shape}"
    return shape


def params_inline(kind: Any) -> str:
    parts = []
    for name, info in kind.Params.model_fields.items():
        alias = "/".join(field_aliases(name, info))
        label = f"{name} ({alias})" if alias else name
        if info.is_required():
            parts.append(f"**{label}**")
        else:
            default = info.default_factory() if info.default_factory is not None else info.default
            parts.append(f"{label}=`{yaml_text(default)}`")
    return ", ".join(parts) if parts else "—"
