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
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "spec.md"
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from specc.codes import CODES  # noqa: E402
from specc.layers import ALIASES, REGISTRY  # noqa: E402
from specc.layers.describe import (  # noqa: E402
    default_text,
    field_type,
    inputs_text,
    params_inline,
)
from specc.lint import RULES  # noqa: E402
from specc.lint import rules as _rules  # noqa: E402, F401  (registration on import)
from specc.validate import document  # noqa: E402

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n).*?(<!-- END GENERATED: \2 -->)", re.S)


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
        lines.append(f"| `{name}`{also} | {inputs_text(kind)} | {params_inline(kind)} | {summary} |")
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
        lines.append(f"| `{name}` | {field_type(info)} | {default_text(info)} |")
    return lines


def _kinds(title: str, union: Any) -> list[str]:
    lines = [f"#### {title}", ""]
    for member in _union_members(union):
        type_name = get_args(member.model_fields["type"].annotation)[0]
        keys = [f"`{n}`: {default_text(i).strip('`') or 'required'}" if not i.is_required() else f"**`{n}`**"
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
