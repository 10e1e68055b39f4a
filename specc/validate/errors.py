"""Turn Pydantic's validation errors into located, hinted diagnostics."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from ..diagnostics import Diagnostic, Location
from ..load.yaml_loader import PosDict, PosList


def _locate(root: Any, path: tuple[Any, ...], key_only: bool = False) -> tuple[Any, Location | None]:
    """Walk ``path`` through positioned data; return the value's container and location."""
    node, loc = root, getattr(root, "loc", None)
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, PosDict):
            if seg not in node:
                # Tagged unions put the tag in the path ('optimizer', 'Adam', 'lr'); skip it.
                if isinstance(seg, str) and node.get("type") == seg:
                    continue
                return node, loc
            loc = node.key_loc(seg) if (last and key_only) else node.value_loc(seg)
            node = node[seg]
        elif isinstance(node, PosList) and isinstance(seg, int) and 0 <= seg < len(node):
            loc = node.item_loc(seg)
            node = node[seg]
        else:
            return node, loc
    return node, loc


def _fields(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    names: list[str] = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.extend(c for c in choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.append(alias)
        else:
            names.append(info.alias or name)
    return names


def _model_at(model: type[BaseModel] | None, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The sub-model a path lands in, for 'did you mean' suggestions."""
    for seg in path:
        if model is None or not isinstance(seg, str) or seg not in model.model_fields:
            if model is not None and isinstance(seg, (int,)):
                continue
            return model if not isinstance(seg, str) else None
        ann = model.model_fields[seg].annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else _first_model(ann)
    return model


def _first_model(ann: Any) -> type[BaseModel] | None:
    for a in getattr(ann, "__args__", ()) or ():
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        inner = _first_model(a)
        if inner is not None:
            return inner
    return None


def did_you_mean(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return close[0] if close else None


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def pydantic_diagnostics(exc: ValidationError, root: Any, model: type[BaseModel] | None = None,
                         prefix: tuple[Any, ...] = (), what: str = "", layer: str | None = None) -> list[Diagnostic]:
    """One diagnostic per Pydantic error; ``root`` is the positioned data that was validated."""
    out: list[Diagnostic] = []
    seen: set[tuple] = set()
    for err in exc.errors(include_url=False):
        path = tuple(err["loc"])
        kind = err["type"]
        where = what or ".".join(str(p) for p in prefix)
        if kind == "extra_forbidden":
            key = path[-1]
            _, loc = _locate(root, path, key_only=True)
            options = _fields(_model_at(model, path[:-1]))
            guess = did_you_mean(str(key), options)
            hint = f"did you mean '{guess}'?" if guess else (
                f"allowed keys: {', '.join(options)}" if options else "remove it")
            d = Diagnostic("V001", f"unknown key '{key}'{f' in {where}' if where else ''}", loc, hint, layer=layer)
        elif kind == "union_tag_invalid":
            _, loc = _locate(root, (*path, "type"))
            ctx = err.get("ctx") or {}
            tag = str(ctx.get("tag", ""))
            options = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
            guess = did_you_mean(tag, options)
            section = ".".join(str(p) for p in path) or what
            hint = f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(options)}"
            d = Diagnostic("V008", f"unknown {section} type '{tag}'", loc, hint, layer=layer)
        elif kind == "union_tag_not_found":
            _, loc = _locate(root, path)
            section = ".".join(str(p) for p in path) or what
            d = Diagnostic("V002", f"{section} needs a type", loc, f"e.g. {section}: {{type: ...}}", layer=layer)
        elif kind == "missing":
            key = path[-1]
            _, loc = _locate(root, path[:-1])
            d = Diagnostic("V002", f"missing required field '{key}'{f' in {where}' if where else ''}", loc,
                           f"add {key}: <value>", layer=layer)
        else:
            # Union members each report; keep the first error per location.
            shown = tuple(p for p in path if not (isinstance(p, str) and p[:1].isupper() and "[" in p)
                          and not (isinstance(p, str) and p.startswith(("function-", "literal[", "tuple["))))
            key_path = tuple(p for p in shown if not isinstance(p, str) or p not in (
                "int", "str", "float", "bool", "list", "dict", "none", "constrained-int", "constrained-float"))
            if key_path in seen:
                continue
            seen.add(key_path)
            _, loc = _locate(root, key_path)
            field_name = ".".join(str(p) for p in key_path) or where or "value"
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            hint = _hint_for(kind, err)
            d = Diagnostic("V003", f"{field_name}: {msg[:1].lower() + msg[1:]} (got {_show(err.get('input'))})",
                           loc, hint, layer=layer)
        out.append(d)
    return out


def _hint_for(kind: str, err: dict) -> str:
    ctx = err.get("ctx") or {}
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), None)
        return f"use a value {kind.replace('_', ' ').replace('equal', 'or equal to')} {bound}"
    if kind == "literal_error":
        return f"use one of {ctx.get('expected', '')}"
    if kind.startswith("int"):
        return "use a whole number"
    if kind.startswith("bool"):
        return "use true or false"
    if kind.startswith("float"):
        return "use a number such as 0.001"
    if kind.startswith(("string", "str")):
        return "use text"
    if kind in ("tuple_type", "list_type"):
        return "use a list such as [3, 3]"
    return "see `specc layers` and docs/spec.md for the allowed values"
