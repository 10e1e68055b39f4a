"""The light verbs: `specc check`, `specc summary`, `specc layers`, `specc explain`.

They run on every save and in pre-commit, so they import no backend (tests/test_no_torch.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..diagnostics import dumps_json, render_sarif
from ..version import __version__
from .common import (
    EXIT_OK,
    EXIT_SPEC,
    UsageError,
    Verb,
    load_spec,
    out,
    print_diagnostics,
    require_ok,
    spec_options,
)


def cmd_check(args: argparse.Namespace) -> int:
    reports = []
    checked = []
    worst = EXIT_OK
    for path in args.specs:
        spec = load_spec(path, args.set, args.ignore, data=not args.no_data)
        failed = not spec.ok or (args.strict and spec.diagnostics)
        worst = EXIT_SPEC if failed else worst
        if args.format == "json":
            reports.append(spec.check(args.macs))
            continue
        if args.format == "sarif":
            checked.append((spec.path, spec.diagnostics))
            continue
        if args.format == "github":
            print_diagnostics(spec, "github", sys.stdout)
            continue
        print_diagnostics(spec, "text", sys.stdout)
        if not args.quiet:
            out(_verdict(spec.path, spec))
    if args.format == "json":
        out(dumps_json(reports[0] if len(reports) == 1 else reports))
    if args.format == "sarif":
        from ..lint.docs import catalogue

        out(dumps_json(render_sarif(checked, __version__, catalogue())))
    return worst


def _verdict(path: str, spec: Any) -> str:
    """The line after a spec's diagnostics: ok with its size and outputs, or its counts."""
    n_err = len(spec.errors)
    n_warn = len(spec.diagnostics) - n_err
    if not (spec.ok and spec.graph is not None):
        return f"{path}: {n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''}"
    total, trainable, lora = spec.param_counts()
    params = f"{total:,} params"
    if lora:
        others = trainable - lora
        params += (f" ({lora:,} in LoRA adapters, which train with {others:,} of layers "
                   "marked trainable: true)" if others else
                   f" ({lora:,} in LoRA adapters, the only ones that train)")
    graph = spec.graph
    outs = ", ".join(f"{n} {graph.value(s)}" for n, s in graph.outputs)
    tail = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
    return f"{path}: ok — {params}, outputs {outs}{tail}"


def cmd_summary(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.set)
    if args.format == "json":
        payload = spec.summary(args.macs).to_json()
        payload["ok"] = spec.ok
        payload["diagnostics"] = [d.to_json() for d in spec.diagnostics]
        out(dumps_json(payload))
        return EXIT_OK if spec.ok else EXIT_SPEC
    ok = require_ok(spec, outcome="the table shows what could be inferred" if spec.graph is not None
                    else "no table")
    if spec.graph is not None:
        out(spec.summary(args.macs).render())
    return EXIT_OK if ok else EXIT_SPEC


def cmd_layers(args: argparse.Namespace) -> int:
    if args.kind:
        return _layer(args.kind, args.format)
    from ..layers import ALIASES, REGISTRY

    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    if args.format == "json":
        out(dumps_json([{"type": n, "aliases": aliases.get(n, []), "summary": k.summary,
                         "params": k.Params.model_json_schema().get("properties", {})}
                        for n, k in sorted(REGISTRY.items())]))
        return EXIT_OK
    width = max(len(n) for n in REGISTRY)
    for name, kind in sorted(REGISTRY.items(), key=lambda kv: kv[0].lower()):
        extra = f"  (also: {', '.join(aliases[name])})" if name in aliases else ""
        out(f"{name.ljust(width)}  {kind.summary}{extra}")
    return EXIT_OK


def _layer(asked: str, fmt: str) -> int:
    """One layer type: what it reads, each parameter with its type and default, its other spellings
    (only its own family imported)."""
    from ..layers.base import lookup, suggest
    from ..layers.describe import default_text, field_aliases, field_type, inputs_text

    found = suggest(asked)  # the name in any letter case, else the nearest one
    kind = lookup(found) if found is not None and found.lower() == asked.lower() else None
    if kind is None:
        hint = f"did you mean {found}? " if found else ""
        raise UsageError(f"unknown layer type {asked!r}; {hint}`specc layers` lists them all")
    name, aliases = kind.type_name, list(kind.aliases)
    fields = kind.Params.model_fields
    if fmt == "json":
        out(dumps_json({"type": name, "aliases": aliases, "summary": kind.summary,
                        "input": inputs_text(kind), "params": kind.Params.model_json_schema().get("properties", {}),
                        "required": [k for k, f in fields.items() if f.is_required()]}))
        return EXIT_OK
    also = f" (also {', '.join(sorted(aliases))})" if aliases else ""
    out(f"{name}{also}: {kind.summary}")
    out(f"  input: {inputs_text(kind)}")
    if not fields:
        out("  parameters: none")
        return EXIT_OK
    rows = []
    for key, info in fields.items():
        spellings = field_aliases(key, info)
        rows.append((key + (f" ({'/'.join(spellings)})" if spellings else ""), field_type(info).replace("`", ""),
                     "required" if info.is_required() else "default " + default_text(info).strip("`")))
    widths = [max(len(r[i]) for r in rows) for i in (0, 1)]
    out("  parameters:")
    for label, typ, default in rows:
        out(f"    {label.ljust(widths[0])}  {typ.ljust(widths[1])}  {default}")
    required = ", ".join(f"{k}: ..." for k, f in fields.items() if f.is_required())
    out(f"  use: - {{type: {name}{', ' + required if required else ''}}}")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from ..lint.docs import catalogue

    codes = catalogue()
    if args.all or not args.code:
        width = max(len(c.name) for c in codes)
        for c in codes:
            out(f"{c.code}  {c.name.ljust(width)}  {c.summary}")
        return EXIT_OK
    code = next((c for c in codes if c.code == args.code.upper() or c.name == args.code), None)
    if code is None:
        from ..layers.base import suggest

        # `specc explain Conv2d` is a natural thing to try: send a layer type where it is described
        found = suggest(args.code)
        if found is not None and found.lower() == args.code.lower():
            raise UsageError(f"{args.code!r} is a layer type, not a code: `specc layers {found}` describes it")
        raise UsageError(f"unknown code {args.code!r}; codes are listed by `specc explain --all`")
    out(f"{code.code} ({code.name}): {code.summary}")
    for title, body in (("Why is this bad", code.why), ("Example", code.example), ("Fix", code.fix)):
        if body:
            out(f"\n{title}:\n  " + body.replace("\n", "\n  "))
    return EXIT_OK


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Check one or more specs. Prints every problem as file:line:col."
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files; - reads one from standard input")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                   help="json for machines, github for Actions annotations, sarif for code scanning")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--ignore", action="append", default=[], metavar="CODE[,CODE]",
                   help="silence these warning codes (e.g. L004); errors cannot be silenced")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.add_argument("--no-data", action="store_true",
                   help="do not read the data files train: names (by default check reads them as specc train "
                        "would, and reports what does not fit the model)")
    _macs_argument(p)
    spec_options(p)


def _macs_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--macs", choices=("specc", "torchinfo", "fvcore"), default="specc",
                   help="count MACs as specc does (default), or as torchinfo's Mult-Adds or fvcore's "
                        "FlopCountAnalysis count them, to compare with those tools")


def _summary_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Print a torchinfo-style table of the model."
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _macs_argument(p)
    spec_options(p)


def _layers_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="?", metavar="TYPE",
                   help="one layer type (or a Keras-style alias): its input, parameters, types and defaults")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("code", nargs="?", help="a code such as S001, or its name such as size-mismatch")
    p.add_argument("--all", action="store_true", help="list every code")


VERBS = {
    "check": Verb(_check_arguments, cmd_check),
    "summary": Verb(_summary_arguments, cmd_summary),
    "layers": Verb(_layers_arguments, cmd_layers),
    "explain": Verb(_explain_arguments, cmd_explain),
}
