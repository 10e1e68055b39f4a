"""Regenerate the generated parts of docs/spec.md from specc itself, so they cannot drift.

- the layer catalogue, from the layer registry (``specc.layers.REGISTRY``);
- the keys of the loss, optimizer, scheduler, train and export sections, from the
  Pydantic models in ``specc/validate/document.py``;
- the table of lint rules, from each rule's docstring (``specc.lint.RULES``).

Each part sits between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``.

    python scripts/gen_layer_docs.py          # rewrite docs/spec.md in place
    python scripts/gen_layer_docs.py --check  # exit 1 when docs/spec.md is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "spec.md"
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from specc.codes import CODES  # noqa: E402
from specc.layers import ALIASES, REGISTRY  # noqa: E402
from specc.lint import RULES  # noqa: E402
from specc.lint import rules as _rules  # noqa: E402, F401  (registration on import)
from specc.validate import document  # noqa: E402

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n).*?(<!-- END GENERATED: \2 -->)", re.S)


# -- values and types, written the way a spec author reads them ----------------------------------

def _yaml(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v else '""'
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_yaml(x)}" for k, x in v.items()) + "}"
    return str(v)


def _bounds(metadata: list[Any]) -> str:
    parts = []
    for m in metadata:
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(m, attr, None)
            if value is not None and not isinstance(value, bool):
                parts.append(f"{sym} {_yaml(value)}")
        if getattr(m, "min_length", None):
            parts.append(f"at least {m.min_length} item{'s' if m.min_length > 1 else ''}")
    return ", ".join(parts)


def _type(tp: Any) -> str:
    """'int > 0', 'number in [0, 1]', 'one of mean, sum, none'… from a type annotation."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = get_args(tp)
        base = _type(inner)
        bounds = _bounds([m for m in meta if not isinstance(m, FieldInfo)] +
                         [x for m in meta if isinstance(m, FieldInfo) for x in m.metadata])
        return f"{base} {bounds}" if bounds else base
    if origin is Literal:
        choices = get_args(tp)
        return f"`{_yaml(choices[0])}`" if len(choices) == 1 else "one of " + ", ".join(
            f"`{_yaml(c)}`" for c in choices)
    if origin in (typing.Union, types.UnionType):
        parts = [_type(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = " or ".join(dict.fromkeys(_type(a) for a in args)) if args else "values"
        return f"list of {inner}"
    if origin is dict:
        key, value = get_args(tp)
        return f"mapping of {_type(key)} to {_type(value)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping (see below)"
    return {bool: "true/false", int: "int", float: "number", str: "text"}.get(tp, getattr(tp, "__name__", str(tp)))


def _field_type(info: FieldInfo) -> str:
    base = _type(info.annotation)
    bounds = _bounds(info.metadata)
    return f"{base} {bounds}" if bounds else base


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "(see below)" if isinstance(value, BaseModel) else f"`{_yaml(value)}`"
    return "" if info.default is PydanticUndefined else f"`{_yaml(info.default)}`"


def _aliases(name: str, info: FieldInfo) -> list[str]:
    choices = getattr(info.validation_alias, "choices", None) or []
    return [c for c in choices if isinstance(c, str) and c != name]


# -- the layer catalogue ---------------------------------------------------------------------------

def _inputs(kind: Any) -> str:
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
        shape = f"{n_min} to {n_max} inputs: {shape}"
    return shape


def _layer_params(kind: Any) -> str:
    parts = []
    for name, info in kind.Params.model_fields.items():
        alias = "/".join(_aliases(name, info))
        label = f"{name} ({alias})" if alias else name
        if info.is_required():
            parts.append(f"**{label}**")
        else:
            default = info.default_factory() if info.default_factory is not None else info.default
            parts.append(f"{label}=`{_yaml(default)}`")
    return ", ".join(parts) if parts else "—"


def render_layers() -> str:
    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    lines = [
        f"{len(REGISTRY)} layer types. Parameters in **bold** are required; the others show their default. "
        "A name in parentheses is an accepted Keras-style spelling of the same key.",
        "",
        "| type | input | parameters | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for name, kind in sorted(REGISTRY.items(), key=lambda kv: kv[0].lower()):
        also = f" (also {', '.join(sorted(aliases[name]))})" if name in aliases else ""
        summary = kind.summary.replace("|", "\\|")
        lines.append(f"| `{name}`{also} | {_inputs(kind)} | {_layer_params(kind)} | {summary} |")
    return "\n".join(lines) + "\n"


# -- the document sections -------------------------------------------------------------------------

def _union_members(tp: Any) -> list[type[BaseModel]]:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return [m for m in get_args(tp) if isinstance(m, type) and issubclass(m, BaseModel)]


def _model_table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["| key | value | default |", "| --- | --- | --- |"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        lines.append(f"| `{name}` | {_field_type(info)} | {_default(info)} |")
    return lines


def _kinds(title: str, union: Any) -> list[str]:
    lines = [f"#### {title}", ""]
    for member in _union_members(union):
        type_name = get_args(member.model_fields["type"].annotation)[0]
        keys = [f"`{n}`: {_default(i).strip('`') or 'required'}" if not i.is_required() else f"**`{n}`**"
                for n, i in member.model_fields.items() if n != "type"]
        lines.append(f"- **{type_name}** — " + (", ".join(keys) if keys else "no other keys"))
    return [*lines, ""]


def render_sections() -> str:
    out: list[str] = []
    out += _kinds("`loss:` types", document.Loss)
    out += _kinds("`optimizer:` types", document.Optimizer)
    out += _kinds("`scheduler:` types", document.Scheduler)
    for title, model in (("`train:`", document.Train), ("`train.data:`", document.DataSpec),
                         ("`train.preprocess:`", document.Preprocess),
                         ("`train.early_stopping:`", document.EarlyStopping), ("`export:`", document.Export),
                         ("an input (`inputs.NAME:`)", document.InputSpec)):
        out += [f"#### {title}", "", *_model_table(model), ""]
    out.append(f"Bundled data sets for `train.data.source`: {', '.join(f'`{d}`' for d in document.BUILTIN_DATASETS)}"
               "; anything else is a path: a `.npz`, `.npy` or `.csv` file, or a folder of images (write it "
               "with a slash, `images/`). Early stopping can monitor "
               f"{', '.join(f'`{m}`' for m in document.METRICS)}.")
    return "\n".join(out) + "\n"


# -- the lint rules ---------------------------------------------------------------------------------

def render_lint() -> str:
    lines = ["| code | name | warns about |", "| --- | --- | --- |"]
    for code in (c for c in CODES if c in RULES):
        r = RULES[code]
        headline = r.headline.replace("|", "\\|")
        lines.append(f"| `{code}` | {r.docs.name} | {headline} |")
    return "\n".join(lines) + "\n"


GENERATORS = {"layers": render_layers, "sections": render_sections, "lint": render_lint}


def regenerate(text: str) -> str:
    found = set()

    def fill(m: re.Match[str]) -> str:
        found.add(m.group(2))
        return m.group(1) + GENERATORS[m.group(2)]() + m.group(3)

    new = _BLOCK.sub(fill, text)
    missing = set(GENERATORS) - found
    if missing:
        raise SystemExit(f"{DOC} lacks the markers for: {', '.join(sorted(missing))}")
    return new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/spec.md is out of date; write nothing")
    args = ap.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = regenerate(text)
    if args.check:
        if new != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python scripts/gen_layer_docs.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
