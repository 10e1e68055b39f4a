"""The ``specc`` command line.

Exit codes: 0 success; 1 the spec (or a model) has errors; 2 usage error; 3 specc itself
failed (a bug: the note says how to report it); 130 interrupted.
Heavy backends (torch, onnx, onnxruntime) are imported inside the verbs that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import Terminated, terminate_cleanly
from .diagnostics import dumps_json, render_github, render_sarif, render_text, source_lines, use_colour

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPT, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class UsageError(Exception):
    pass


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


# -- shared pieces ---------------------------------------------------------------------------------

def _load(path: str, overrides: list[str] | None, ignore: list[str] | None = None) -> Any:
    from .pipeline import load

    if not Path(path).is_file():
        raise UsageError(f"no such spec file: {path}")
    from .validate.naming import silenceable_list, split_silenceable

    codes, unknown = split_silenceable(c.strip() for item in ignore or [] for c in item.split(",") if c.strip())
    if unknown:
        raise UsageError(f"--ignore {', '.join(str(c).upper() for c in unknown)}: only warnings can be silenced "
                         f"({silenceable_list()})")
    return load(path, overrides, codes)


def print_diagnostics(spec: Any, fmt: str = "text", stream: Any = None) -> None:
    stream = stream or sys.stderr
    colour = use_colour(stream)
    lines = source_lines(spec.text)
    for d in spec.diagnostics:
        if fmt == "github":
            stream.write(render_github(d) + "\n")
        else:
            source = lines if d.loc and d.loc.file == spec.path else None
            stream.write(render_text(d, colour, source) + "\n")


def _require_ok(spec: Any, fmt: str = "text") -> bool:
    """Print the spec's diagnostics; True when it has no errors."""
    if spec.diagnostics:
        print_diagnostics(spec, "github" if fmt == "github" else "text")
    if not spec.ok:
        n = len(spec.errors)
        _err(f"{spec.path}: {n} error{'s' if n != 1 else ''}; nothing was written")
    return spec.ok


# -- verbs --------------------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    reports = []
    checked = []
    worst = EXIT_OK
    for path in args.specs:
        spec = _load(path, args.set, args.ignore)
        failed = not spec.ok or (args.strict and spec.diagnostics)
        worst = EXIT_SPEC if failed else worst
        if args.format == "json":
            reports.append(spec.check())
            continue
        if args.format == "sarif":
            checked.append((path, spec.diagnostics))
            continue
        if args.format == "github":
            print_diagnostics(spec, "github", sys.stdout)
            continue
        print_diagnostics(spec, "text", sys.stdout)
        if not args.quiet:
            n_err = len(spec.errors)
            n_warn = len(spec.diagnostics) - n_err
            if spec.ok and spec.graph is not None:
                counts = spec.summary()
                params = f"{counts.total_params:,} params"
                if counts.lora_params:
                    others = counts.trainable_params - counts.lora_params
                    params += (f" ({counts.lora_params:,} in LoRA adapters, which train with {others:,} of layers "
                               "marked trainable: true)" if others else
                               f" ({counts.lora_params:,} in LoRA adapters, the only ones that train)")
                outs = ", ".join(f"{n} {spec.graph.value(s)}" for n, s in spec.graph.outputs)
                tail = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
                _out(f"{path}: ok — {params}, outputs {outs}{tail}")
            else:
                _out(f"{path}: {n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''}")
    if args.format == "json":
        _out(dumps_json(reports[0] if len(reports) == 1 else reports))
    if args.format == "sarif":
        _out(dumps_json(render_sarif(checked, __version__)))
    return worst


def cmd_summary(args: argparse.Namespace) -> int:
    spec = _load(args.spec, args.set)
    if args.format == "json":
        payload = spec.summary().to_json()
        payload["ok"] = spec.ok
        payload["diagnostics"] = [d.to_json() for d in spec.diagnostics]
        _out(dumps_json(payload))
        return EXIT_OK if spec.ok else EXIT_SPEC
    ok = _require_ok(spec)
    if spec.graph is not None:
        _out(spec.summary().render())
    return EXIT_OK if ok else EXIT_SPEC


def cmd_layers(args: argparse.Namespace) -> int:
    from .layers import ALIASES, REGISTRY

    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    if args.format == "json":
        _out(dumps_json([{"type": n, "aliases": aliases.get(n, []), "summary": k.summary,
                          "params": k.Params.model_json_schema().get("properties", {})}
                         for n, k in sorted(REGISTRY.items())]))
        return EXIT_OK
    width = max(len(n) for n in REGISTRY)
    for name, kind in sorted(REGISTRY.items(), key=lambda kv: kv[0].lower()):
        extra = f"  (also: {', '.join(aliases[name])})" if name in aliases else ""
        _out(f"{name.ljust(width)}  {kind.summary}{extra}")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from .codes import CODES

    if args.all or not args.code:
        width = max(len(c.name) for c in CODES.values())
        for c in CODES.values():
            _out(f"{c.code}  {c.name.ljust(width)}  {c.summary}")
        return EXIT_OK
    code = CODES.get(args.code.upper()) or next((c for c in CODES.values() if c.name == args.code), None)
    if code is None:
        raise UsageError(f"unknown code {args.code!r}; codes are listed by `specc explain --all`")
    _out(f"{code.code} ({code.name}): {code.summary}")
    for title, body in (("Why is this bad", code.why), ("Example", code.example), ("Fix", code.fix)):
        if body:
            _out(f"\n{title}:\n  " + body.replace("\n", "\n  "))
    return EXIT_OK


def _backend(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    """A verb implemented in a heavy module, imported only when the verb runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return importlib.import_module(module, __package__).__dict__[func](args)

    return run


# -- parser --------------------------------------------------------------------------------------------

def _spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="override a variable from vars: (or a key path such as train.epochs=3); repeatable")


def _training_verbs(sub: Any) -> None:
    p = sub.add_parser("train", help="train a spec: a run folder with checkpoints, curves and a report",
                       description="Train with specc's loop. The data is checked against the model before the "
                                   "first epoch; everything goes into a run folder, resumable with --resume.")
    p.add_argument("spec", metavar="SPEC", nargs="?")
    p.add_argument("--run", "--run-dir", dest="run", metavar="DIR",
                   help="run folder (default: runs/<spec file name>); under torchrun write --run-dir, since "
                        "torchrun takes --run for its own --run-path")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start over in a --run folder that holds a run")
    p.add_argument("--init-from", metavar="CKPT", help="start from these weights (.safetensors or a run folder)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the spec's train.device")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke tests)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one JSON line per epoch, then the report")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.train.cli", "cmd_train"))

    p = sub.add_parser("predict", help="predict with a trained run: raw inputs in, original units out")
    p.add_argument("target", metavar="SPEC_OR_RUN")
    p.add_argument("--input", required=True, metavar="X", help="a .npy, .npz or .csv file, or a literal: '[[60]]'")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.train.cli", "cmd_predict"))

    p = sub.add_parser("evaluate", help="the task's metrics of a trained run on a data source")
    p.add_argument("target", metavar="SPEC_OR_RUN")
    p.add_argument("--data", metavar="SOURCE", help="a data source (default: the run's validation data)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.train.cli", "cmd_evaluate"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specc",
        description="Compile declarative YAML model specs: check shapes, summarise, emit PyTorch, export ONNX.",
        epilog="Exit codes: 0 ok, 1 the spec has errors, 2 usage error, 3 specc failed (please report).")
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    p = sub.add_parser("check", help="check specs for errors and shape mismatches (fast; no torch)",
                       description="Check one or more specs. Prints every problem as file:line:col.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                   help="json for machines, github for Actions annotations, sarif for code scanning")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--ignore", action="append", default=[], metavar="CODE[,CODE]",
                   help="silence these warning codes (e.g. L004); errors cannot be silenced")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    _spec_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("summary", help="layer table: output shapes, parameters, MACs",
                       description="Print a torchinfo-style table of the model.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("compile", help="write readable, standalone PyTorch source for a spec")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the module (default: stdout)")
    p.add_argument("--train", action="store_true", help="also write a runnable training script")
    _spec_options(p)
    p.set_defaults(func=_backend(".emit.cli", "cmd_compile"))

    p = sub.add_parser("export", help="export a spec to a verified ONNX model")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE", help="ONNX file to write (default: <name>.onnx)")
    p.add_argument("--weights", metavar="FILE", help="load weights from a .safetensors checkpoint")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the spec's export.opset, else 18)")
    p.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), help="torch exporter to use")
    p.add_argument("--no-verify", action="store_true", help="skip checker, shape and ONNX Runtime verification")
    p.add_argument("--triton", metavar="DIR", help="also write a Triton model-repository entry under DIR")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.cli", "cmd_export"))

    p = sub.add_parser("run", help="run an ONNX model (or a spec) on ONNX Runtime")
    p.add_argument("model", metavar="MODEL", help="a .onnx file, or a spec (exported first)")
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input array; or one .npz holding every input; random data when omitted")
    p.add_argument("-o", "--output", metavar="FILE.npz", help="write outputs to this .npz file")
    p.add_argument("--batch", type=int, default=1, help="batch size for random inputs (default 1)")
    p.add_argument("--size", action="append", default=[], metavar="SYM=N", help="size for another symbolic dim")
    p.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when it really loads, else CPU; cuda: fail if CUDA cannot run")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.cli", "cmd_run"))

    p = sub.add_parser("bench", help="latency and throughput: PyTorch eager, torch.compile, ONNX Runtime")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--batch", default="1,64", help="comma-separated batch sizes (default 1,64)")
    p.add_argument("--runs", type=int, default=50, help="timed runs per measurement")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--threads", type=int, help="CPU threads for PyTorch and ONNX Runtime (default: physical cores)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _spec_options(p)
    p.set_defaults(func=_backend(".backends.cli", "cmd_bench"))

    from .scaffold import SCAFFOLDS

    p = sub.add_parser("init", help="write a commented starting spec for a task",
                       description="Scaffold a spec that checks clean and trains on bundled or synthetic data.")
    p.add_argument("--task", choices=list(SCAFFOLDS), help="what the model is for")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the spec (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--list", action="store_true", help="list the tasks")
    p.set_defaults(func=_backend(".scaffold", "cmd_init"))

    p = sub.add_parser("doctor", help="report versions, CUDA and ONNX Runtime providers, thread counts",
                       description="What specc finds in this environment, and why CUDA is or is not usable.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_backend(".backends.doctor", "cmd_doctor"))

    _training_verbs(sub)

    p = sub.add_parser("layers", help="list the layer types specc knows")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("explain", help="explain a diagnostic code (e.g. specc explain S001)")
    p.add_argument("code", nargs="?", help="a code such as S001, or its name such as size-mismatch")
    p.add_argument("--all", action="store_true", help="list every code")
    p.set_defaults(func=cmd_explain)

    from .cli_editor import add_verbs  # graph, schema, lsp

    add_verbs(sub, _spec_options, _backend)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        _err(f"specc {args.verb}: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        _err(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}; no partial output was left behind")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("SPECC_DEBUG"):
            raise
        _err(f"specc {args.verb}: internal error: {type(exc).__name__}: {exc}\n"
             "This is a bug in specc, not in your spec. Please report it with the spec attached "
             "(set SPECC_DEBUG=1 to see the traceback).")
        return EXIT_CRASH


def entry() -> None:
    terminate_cleanly()  # SIGTERM unwinds like Ctrl-C, so no writer leaves a temp file behind
    code = main()
    if not any(m in sys.modules for m in ("torch", "onnx", "onnxruntime")):
        # Nothing here needs a clean interpreter teardown, which costs a sixth of a fast
        # `specc check` (freeing every Pydantic schema); mypy exits the same way. Backends that
        # own threads or files (torch, ONNX Runtime) get the normal exit.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BrokenPipeError, OSError):  # `specc check … | head`: the reader left
                stream.flush()
        os._exit(code)
    sys.exit(code)
