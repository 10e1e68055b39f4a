"""The heavy verbs: ``specc export``, ``specc run``, ``specc bench``.

specc/cli/dispatch.py imports this module only when one of them runs.
A problem the user can fix (a spec error, weights that do not fit, a model that fails
verification, CUDA asked for but absent) prints one clear message and returns 1; bad
arguments return 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..backends.errors import BackendError, InputError
from ..diagnostics import dumps_json
from ..spec import SpecInvalid
from .common import EXIT_OK, EXIT_SPEC, EXIT_USAGE, UsageError, Verb, err, load_spec, out, require_ok, spec_options


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _fail(verb: str, exc: BaseException, fmt: str = "text", unwritable: bool = False) -> int:
    # an output that cannot be written is the command line's to fix (exit 2, as compile and graph say it)
    code = EXIT_USAGE if unwritable or isinstance(exc, InputError) else EXIT_SPEC
    if fmt == "json":
        out(dumps_json({"ok": False, "error": str(exc)}))
    err(f"specc {verb}: error: {exc}")
    return code


def _spec_failed(spec: Any, fmt: str) -> int:
    if fmt == "json":
        out(dumps_json({"ok": False, "diagnostics": [d.to_json() for d in spec.diagnostics]}))
    return EXIT_SPEC


# -- export ---------------------------------------------------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    from ..backends.routes import export

    kinds = _variant_kinds(args)
    if kinds and args.output is None and args.triton is not None:
        raise UsageError("--optimize, --quantize and --precision write files beside the .onnx file; give -o FILE")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be a positive integer")
    spec = load_spec(args.spec, args.set)
    if not require_ok(spec):
        return _spec_failed(spec, args.format)
    output = args.output
    if output is None and args.triton is None:
        output = f"{Path(args.spec).stem}.onnx"
    if output is not None and Path(output).is_dir():
        raise UsageError(f"-o {output} is a folder; give a file name such as {Path(output) / 'model.onnx'}")
    try:
        result = export(spec, output, via=args.via, compare=args.compare, weights=args.weights, opset=args.opset,
                        exporter=args.exporter, verify_model=False if args.no_verify else None, triton=args.triton)
    except SpecInvalid:
        return _spec_failed(spec, args.format)
    except BackendError as exc:
        return _fail("export", exc, args.format)
    except OSError as exc:  # an unwritable folder, a full disk: the user's to fix, not a crash
        # named by the output asked for: the file that failed is a temporary one beside it
        return _fail("export", BackendError(f"cannot write {output or args.triton}: {exc.strerror or exc}"),
                     args.format, unwritable=True)
    try:
        variants = _make_variants(args, spec, result.path, kinds)
    except BackendError as exc:
        return _fail("export", BackendError(f"{exc} (the float model {result.path} was written)"), args.format)
    except OSError as exc:  # a full disk
        return _fail("export", BackendError(f"cannot write a variant of {result.path}: {exc.strerror or exc}"),
                     args.format, unwritable=True)
    if args.format == "json":
        out(dumps_json({"ok": True, **result.to_json(), "variants": [v.to_json() for v in variants]}))
        return EXIT_OK
    for note in result.notes:
        err(f"note: {note}")
    where = [str(p) for p in (result.path, result.triton) if p is not None]
    how = "direct target (no torch)" if result.exporter == "direct" else f"{result.exporter} exporter"
    out(f"wrote {' and '.join(where)} ({_size(result.size_bytes)}): {spec.name}, {how} "
         f"in {result.seconds:.2f} s, opset {result.opset}")
    g = spec.graph
    out("  inputs:  " + ", ".join(f"{n} {t} {t.dtype}" for n, t in g.inputs.items()))
    out("  outputs: " + ", ".join(f"{n} {g.value(s)} {g.value(s).dtype}" for n, s in g.outputs))
    if result.requirements:
        out("  needs:   " + "; ".join(result.requirements))
    if result.verification is not None:
        out(f"  verified: {result.verification.text()}")
    else:
        out("  not verified (--no-verify)")
    for v in variants:
        out("\n".join(v.lines()))
    return EXIT_OK


def _variant_kinds(args: argparse.Namespace) -> list[str]:
    return [k for k, on in (("optimized", args.optimize), ("int8", args.quantize == "int8"),
                            ("fp16", args.precision == "fp16")) if on]


def _make_variants(args: argparse.Namespace, spec: Any, path: Path | None, kinds: list[str]) -> list[Any]:
    """The --optimize, --quantize and --precision files beside the verified float model."""
    if not kinds or path is None:
        return []
    from ..backends import variants as var

    samples, notes = var.spec_samples(spec, args.weights) if "int8" in kinds else (None, [])
    return [var.make_variant(path, kind, samples=samples, threads=args.threads,
                             notes=notes if kind == "int8" else ()) for kind in kinds]


# -- run -----------------------------------------------------------------------------------------------------------

def _parse_sizes(items: list[str]) -> dict[str, int]:
    sizes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit() or int(value) < 1:
            raise UsageError(f"--size {item}: write --size SYMBOL=N with a positive integer N (e.g. --size T=32)")
        sizes[name.strip()] = int(value)
    return sizes


def cmd_run(args: argparse.Namespace) -> int:
    from ..backends import ort as rt

    if args.batch < 1:
        raise UsageError("--batch must be a positive integer")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be a positive integer")
    sizes = _parse_sizes(args.size)
    model_arg = Path(args.model)
    if not model_arg.is_file():
        raise UsageError(f"no such model or spec: {args.model}")
    with tempfile.TemporaryDirectory(prefix="specc-run-") as tmp:
        try:
            rt.select_providers(args.provider)  # first: a missing GPU is the news, not the inputs
            if model_arg.suffix.lower() in (".yaml", ".yml"):
                from ..backends.routes import export

                spec = load_spec(args.model, args.set)
                if not require_ok(spec):
                    return _spec_failed(spec, args.format)
                result = export(spec, Path(tmp) / "model.onnx", verify_model=False)
                assert result.path is not None
                model_path = result.path
                if args.format == "text":
                    how = "the direct target" if result.exporter == "direct" else f"the {result.exporter} exporter"
                    err(f"exported {args.model} with {how} in {result.seconds:.2f} s "
                         "(not verified; `specc export` verifies)")
            else:
                model_path = model_arg
            model = rt.load_untrusted(model_path)
            infos = rt.model_inputs(model)
            names = [i.name for i in infos]
            meta = rt.metadata(model)
            given = rt.load_arrays(args.input, names, rt.json_list(meta, "specc_columns"),
                                   rt.image_shapes(meta, infos))
            feeds, random = rt.prepare_inputs(model, given, batch=args.batch, sizes=sizes)
            sess = rt.create_session(model_path, args.provider, checked=True, threads=args.threads,
                                     half=rt.holds_half(model))
            started = time.perf_counter()
            outputs = rt.run(sess, feeds)
            seconds = time.perf_counter() - started
        except SpecInvalid as exc:
            return _spec_failed(exc.spec, args.format)
        except BackendError as exc:
            return _fail("run", exc, args.format)
    if args.output:
        try:
            _save_npz(args.output, outputs)
        except OSError as exc:
            return _fail("run", BackendError(f"cannot write {args.output}: {exc.strerror or exc}"), args.format,
                         unwritable=True)
    provider = rt.ran_on(sess)
    # a trained export names its classes: each sample's best one, by name
    named = {k: found for k, names_ in rt.class_names(meta, list(outputs)).items()
             if (found := rt.labels(outputs[k], names_)) is not None}
    if args.format == "json":
        out(dumps_json({"ok": True, "provider": provider, "providers": sess.get_providers(),
                         "seconds": round(seconds, 6), "random_inputs": random,
                         "inputs": {k: rt.describe(v) for k, v in feeds.items()},
                         "outputs": {k: rt.describe(v) for k, v in outputs.items()},
                         "labels": named, "written": args.output}))
        return EXIT_OK
    out(f"ran {model_arg.name} on {provider} in {seconds * 1000:.1f} ms "
         f"(session providers: {', '.join(sess.get_providers())})")
    for name, array in feeds.items():
        origin = "random" if name in random else "given"
        out(f"  input  {name}: {tuple(array.shape)} {array.dtype} ({origin})")
    for name, array in outputs.items():
        d = rt.describe(array)
        stats = f"  min {d['min']:.4g} max {d['max']:.4g} mean {d['mean']:.4g}" if "mean" in d else ""
        out(f"  output {name}: {tuple(array.shape)} {array.dtype}{stats}")
        if name in named:
            shown = named[name]
            out(f"    labels: {', '.join(shown[:10])}{', …' if len(shown) > 10 else ''}")
    if args.output:
        out(f"wrote {args.output}")
    return EXIT_OK


def _save_npz(path: str, arrays: dict[str, Any]) -> None:
    import numpy as np

    from ..atomic import atomic_write

    if not path.endswith(".npz"):
        raise UsageError(f"-o {path}: outputs are written as .npz; give a file name ending in .npz")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


# -- bench ----------------------------------------------------------------------------------------------------------

def cmd_bench(args: argparse.Namespace) -> int:
    from ..backends.bench import bench_spec

    try:
        batches = [int(b) for b in args.batch.split(",") if b.strip()]
    except ValueError:
        batches = []
    if not batches or any(b < 1 for b in batches):
        raise UsageError(f"--batch {args.batch}: give comma-separated positive batch sizes, e.g. 1,64")
    if args.runs < 1:
        raise UsageError("--runs must be a positive integer")
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise UsageError("--threads must be a positive integer")
    spec = load_spec(args.spec, args.set)
    if not require_ok(spec):
        return _spec_failed(spec, args.format)
    progress = sys.stderr.isatty() and args.format == "text"
    try:
        report = bench_spec(spec, batches=batches, runs=args.runs, compile=not args.no_compile, threads=threads,
                            progress=_progress if progress else None)
    except BackendError as exc:
        return _fail("bench", exc, args.format)
    finally:
        if progress:
            sys.stderr.write("\r\033[K")
    if args.format == "json":
        out(json.dumps(report.to_json(), indent=2))
    else:
        out(report.render())
    return EXIT_OK


def _progress(text: str) -> None:
    with contextlib.suppress(OSError):
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE", help="ONNX file to write (default: <name>.onnx)")
    p.add_argument("--weights", metavar="FILE", help="load weights from a .safetensors checkpoint")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the spec's export.opset, else 18)")
    p.add_argument("--via", choices=("auto", "direct", "torch"), default="auto",
                   help="direct: write ONNX from the spec without torch; torch: trace the PyTorch module; "
                        "auto (default): direct when it can write every layer, else torch")
    p.add_argument("--compare", choices=("auto", "torch", "shapes"), default="auto",
                   help="what a direct model's outputs are verified against: torch (the PyTorch target with the "
                        "same weights), shapes (the spec's output shapes only), auto: torch when installed")
    p.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"),
                   help="torch exporter to use (implies --via torch)")
    p.add_argument("--no-verify", action="store_true", help="skip checker, shape and ONNX Runtime verification")
    p.add_argument("--triton", metavar="DIR", help="also write a Triton model-repository entry under DIR")
    p.add_argument("--optimize", action="store_true",
                   help="also write ONNX Runtime's optimised graph beside the model (<name>.opt.onnx)")
    p.add_argument("--quantize", choices=("int8",),
                   help="also write an int8 model (<name>.int8.onnx): static for convolutions, calibrated on the "
                        "spec's data; dynamic otherwise; reports the accuracy change (give trained --weights)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="fp16: also write a half-precision model for GPUs (<name>.fp16.onnx)")
    p.add_argument("--threads", type=int, help="CPU threads for timing the variants (default: physical cores)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    spec_options(p)


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a .onnx file, or a spec (exported first)")
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input array (.npy), a .csv of samples or an image file; or one .npz holding every "
                   "input; random data when omitted")
    p.add_argument("-o", "--output", metavar="FILE.npz", help="write outputs to this .npz file")
    p.add_argument("--batch", type=int, default=1, help="batch size for random inputs (default 1)")
    p.add_argument("--size", action="append", default=[], metavar="SYM=N", help="size for another symbolic dim")
    p.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when it really loads, else CPU; cuda: fail if CUDA cannot run")
    p.add_argument("--threads", type=int, help="ONNX Runtime's CPU threads (default: the physical cores)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    spec_options(p)


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--batch", default="1,64", help="comma-separated batch sizes (default 1,64)")
    p.add_argument("--runs", type=int, default=50, help="timed runs per measurement")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--threads", type=int, help="CPU threads for PyTorch and ONNX Runtime (default: physical cores)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    spec_options(p)


VERBS = {
    "export": Verb(_export_arguments, cmd_export),
    "run": Verb(_run_arguments, cmd_run),
    "bench": Verb(_bench_arguments, cmd_bench),
}
