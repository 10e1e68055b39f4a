"""`specc train`, `specc predict` and `specc evaluate`.

A spec or data problem found before the first epoch is a located diagnostic (exit 1) and
nothing is trained; a wrong command line (a missing run folder, CUDA where there is none) is a
usage error (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..data.probe import locate, settle_warnings
from ..data.read import DataError
from ..diagnostics import Diagnostic, Location, dumps_json, render_text, use_colour
from .common import (
    EXIT_OK,
    EXIT_SPEC,
    EXIT_USAGE,
    SpecFailed,
    UsageError,
    Verb,
    err,
    load_spec,
    out,
    require_ok,
    spec_options,
)


def data_diagnostic(cfg: dict[str, Any], exc: DataError) -> Diagnostic:
    return Diagnostic(exc.code, exc.message, locate(cfg, exc.where), exc.hint)


def report_data_error(cfg: dict[str, Any], exc: DataError, fmt: str = "text",
                      outcome: str = "nothing was trained") -> int:
    d = data_diagnostic(cfg, exc)
    if fmt == "json":
        out(dumps_json({"ok": False, "diagnostics": [d.to_json()]}))
    else:
        source = None
        if d.loc and Path(d.loc.file).is_file():
            source = Path(d.loc.file).read_text(encoding="utf-8").splitlines()
        sys.stderr.write(render_text(d, use_colour(sys.stderr), source) + f"\n{outcome}\n")
    return EXIT_SPEC


def _json_log(rec: dict[str, Any]) -> None:
    sys.stdout.write(dumps_json(rec, indent=None) + "\n")
    sys.stdout.flush()


def pick_log(fmt: str) -> Any:
    from ..backends.train.loop import plain_log
    from ..backends.train.progress import rich_log

    if fmt == "json":
        return _json_log
    if sys.stderr.isatty():
        return rich_log()
    return plain_log(sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from ..atomic import file_in_the_way
    from ..backends.errors import WeightsError
    from ..backends.train.api import TrainRequest, run_training
    from ..backends.train.loop import Diverged, Options, TrainError

    for flag, value in (("--epochs", args.epochs), ("--max-steps", args.max_steps)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be a positive integer")
    if args.resume:
        run = Path(args.resume)
        if not (run / "run.json").is_file():
            raise UsageError(f"--resume {run}: not a run folder (it has no run.json)")
        if args.set:  # the run goes on as it started; a changed spec is a new run
            raise UsageError(f"--set does not apply with --resume (the run keeps the spec it started with); use "
                             f"--epochs N to train {run} longer, or train the changed spec into a new --run folder")
        try:
            spec, meta = _run_spec(run)
        except WeightsError as exc:
            raise UsageError(f"--resume {run}: {exc}") from None
        overrides = meta.get("overrides", [])
        # the folder the run read its data from, as training reads it on resuming (run.json's base),
        # wherever this is run from and wherever the spec has moved since
        data_base: Path | None = Path(meta["base"]) if isinstance(meta.get("base"), str) else None
    else:
        if not args.spec:
            raise UsageError("give a SPEC to train, or --resume RUN")
        spec = load_spec(args.spec, args.set)
        overrides = list(args.set)
        run = Path(args.run) if args.run else Path("runs") / Path(args.spec).stem
        if (run / "run.json").is_file() and not args.overwrite:
            raise UsageError(f"{run} already holds a run; continue it with --resume {run}, or pass --overwrite "
                             "(or --run NEW_FOLDER)")
        data_base = None
    if data_base is None and spec.path and Path(spec.path).is_file():
        data_base = Path(spec.path).resolve().parent
    if data_base is not None:  # the data's say on the warnings, as check has it
        settle_warnings(spec, data_base)
    if not require_ok(spec, "text", "nothing was trained"):
        if args.format == "json":
            out(dumps_json({"ok": False, "diagnostics": [d.to_json() for d in spec.diagnostics]}))
        return EXIT_SPEC
    doc = spec.document
    if doc is not None and (doc.loss is None or doc.optimizer is None):
        missing = " and no ".join(k for k, v in (("loss", doc.loss), ("optimizer", doc.optimizer)) if v is None)
        d = Diagnostic("V021", f"this spec cannot be trained: it has no {missing} section", Location(spec.path, 1, 1),
                       "add it, e.g. loss: {type: CrossEntropyLoss} and optimizer: {type: Adam, lr: 0.001}")
        sys.stderr.write(render_text(d, use_colour(sys.stderr)) + "\nnothing was trained\n")
        return EXIT_SPEC
    opts = Options(run=run, resume=bool(args.resume), init_from=Path(args.init_from) if args.init_from else None,
                   device=args.device, epochs=args.epochs, seed=args.seed, max_steps=args.max_steps,
                   log=pick_log(args.format), ignore_memory=bool(getattr(args, "ignore_memory", False)))
    if (blocker := file_in_the_way(run)) is not None:  # before any epoch, not after the first
        raise UsageError(f"--run {run}: {blocker} is a file, not a folder; choose another --run folder")
    request = TrainRequest(spec=spec, options=opts, overrides=overrides)
    from ..backends.train.memory import MemoryRefused

    try:
        run_training(request)
    except MemoryRefused as exc:  # the machine, not the spec: a usage error, located at batch_size
        report_data_error(request.config, exc, args.format)
        return EXIT_USAGE
    except DataError as exc:
        return report_data_error(request.config, exc, args.format)
    except Diverged as exc:  # the spec's settings or data, not how specc was called
        err(f"specc train: error: {exc}")
        return EXIT_SPEC
    except TrainError as exc:
        raise UsageError(str(exc)) from None
    except WeightsError as exc:  # a damaged checkpoint to resume from
        raise UsageError(str(exc)) from None
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return EXIT_OK
    if args.format == "json":  # JSON lines: the epochs' records, then the report on one line of its own
        from ..backends.run_folder import read_json_object

        # as report.json holds it: a confusion matrix is named, not a 1000-class run's 11 MB line
        _json_log({"event": "report", "ok": True, "run": str(run), **read_json_object(run / "report.json")})
    else:
        out((run / "report.txt").read_text(encoding="utf-8").rstrip())
        out(f"run folder: {run}")
    return EXIT_OK


def _run_spec(run: Path) -> tuple[Any, dict[str, Any]]:
    """The spec a run folder was trained from (its own copy, with its overrides) and its run.json."""
    from ..backends.errors import WeightsError
    from ..backends.run_folder import read_json_object
    from ..pipeline import loads

    meta = read_json_object(run / "run.json")
    if not isinstance(meta.get("spec"), str) or not isinstance(meta.get("overrides", []), list):
        raise WeightsError(f"{run / 'run.json'} does not name the run's spec; train the run again")
    try:
        text = (run / "spec.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{run / 'spec.yaml'}, the spec the run was trained from, is not readable "
                           f"({getattr(exc, 'strerror', None) or exc}); train the run again") from None
    # under the spec's own file name: a spec without a name: takes its model's name from it
    return loads(text, meta["spec"], meta.get("overrides", []), data=False), meta


def _trained(target: str, overrides: list[str]) -> tuple[Any, Path]:
    """(Trained, the folder its data paths are read from): a run folder, or a spec's runs/<name>."""
    from ..backends.errors import WeightsError

    try:
        return _trained_or_raise(target, overrides)
    except WeightsError as exc:  # runs/<name> of another spec, or a damaged run
        if Path(target).is_dir():  # the message already says to train the run again
            raise UsageError(str(exc)) from None
        raise UsageError(f"{exc}; pass the run folder itself, or retrain with `specc train {target}`") from None


def _trained_or_raise(target: str, overrides: list[str]) -> tuple[Any, Path]:
    from ..backends.torch_build import generated_module
    from ..backends.train.predict import load_run

    path = Path(target)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UsageError(f"{path} is not a run folder (no config.json); train one with `specc train SPEC`")
        if overrides:  # a run answers with the model it trained; --set would be silently ignored
            raise UsageError("--set does not apply to a run folder (its model is the one it trained); pass the "
                             "spec with --set to use its run, or train the changed spec")
        spec, meta = _run_spec(path)
        if not require_ok(spec, outcome=f"the run's copy of it, {path / 'spec.yaml'}, cannot be used; train the run "
                                        "again"):
            raise SpecFailed
        return load_run(path, generated_module(spec)), Path(meta.get("base", "."))
    spec = load_spec(target, overrides)
    if not require_ok(spec):
        raise SpecFailed
    run = Path("runs") / path.stem
    if not (run / "config.json").is_file():
        raise UsageError(f"{target} has not been trained yet (no run folder {run}); run `specc train {target}` "
                         "or pass the run folder")
    return load_run(run, generated_module(spec)), path.resolve().parent


def cmd_predict(args: argparse.Namespace) -> int:
    from ..backends.train.predict import image_inputs, parse_input, predict

    trained, _ = _trained(args.target, args.set)
    shown: list[str] | None = None  # what each answer is for, where the input names it (image files)
    try:
        images = image_inputs(args.input, trained)
        if images is not None:
            raw, shown = images
        else:
            raw = parse_input(args.input, list(trained.cfg["inputs"]), trained.columns)
        result = predict(trained, raw)
        if shown is not None:
            result["inputs"] = shown
    except ValueError as exc:
        raise UsageError(f"--input: {exc}") from None
    except DataError as exc:
        raise UsageError(f"--input: {exc.message}; {exc.hint}") from None
    if args.format == "json":
        out(dumps_json(result))
        return EXIT_OK
    # a loss per output answers per output: one line per sample and output
    answers = result["outputs"] if result.get("task") == "multi" else {"": result}
    for name, answer in answers.items():
        rows = answer.get("class") or answer.get("label") or answer.get("prediction") or []
        for i, row in enumerate(rows):
            line = f"{shown[i] if shown else i}: {name + ' ' if name else ''}{_short(row)}"
            if "probabilities" in answer:
                line += f"  (probabilities {_probabilities(answer['probabilities'][i], answer.get('classes'))})"
            out(line)
    return EXIT_OK


def _probabilities(row: Any, classes: list[str] | None) -> str:
    """One sample's probabilities, each named by its class when the data named them (the highest
    five of many classes)."""
    if not classes or not isinstance(row, list) or len(row) != len(classes) or not all(
            isinstance(p, float) for p in row):
        return _short(row)
    pairs = list(zip(classes, row))
    if len(pairs) > 10:
        top = sorted(pairs, key=lambda pair: -pair[1])[:5]
        return "top 5: " + ", ".join(f"{c} {_short(p)}" for c, p in top)
    return ", ".join(f"{c} {_short(p)}" for c, p in pairs)


def _short(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], list):
        return _summary(v)
    if isinstance(v, list):
        return _first_ten(v)
    if isinstance(v, float):
        return f"{v:.6g}" if v == v else "n/a"  # NaN: a metric with no value (AUC of one class)
    return str(v)


def _first_ten(v: list[Any]) -> str:
    return "[" + ", ".join(_short(x) for x in v[:10]) + (", …" if len(v) > 10 else "") + "]"


def _summary(v: list[Any]) -> str:
    """A map or a sequence of vectors, one line: its shape, first values and range (the whole of
    it, nested ten deep at ten a level, filled screens; --format json gives every value)."""
    import numpy as np

    try:
        a = np.asarray(v, dtype=np.float64)
    except (ValueError, TypeError):  # ragged or not numbers: as it comes, ten at a level
        return _first_ten(v)
    if a.size <= 10:
        return "[" + ", ".join(_short(x) for x in v) + "]"
    flat = a.ravel()
    shown = ", ".join(_short(float(x)) for x in flat[:6])
    finite = flat[np.isfinite(flat)]
    spread = (f"; min {_short(float(finite.min()))}, mean {_short(float(finite.mean()))}, "
              f"max {_short(float(finite.max()))}") if finite.size else ""
    return f"{'x'.join(map(str, a.shape))} values [{shown}, …]{spread} (--format json: all)"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..backends.train.api import evaluate_trained

    trained, base = _trained(args.target, args.set)
    try:
        # --data is the user's path (from here); the run's own sources are read where it read them
        metrics = evaluate_trained(trained, args.data) if args.data else evaluate_trained(trained, None, base)
    except DataError as exc:
        if args.data:  # the user's --data, not the spec's source line, is what to fix
            raise UsageError(f"--data {args.data}: {exc.message}; {exc.hint}") from None
        return report_data_error(trained.cfg, exc, args.format, "nothing was evaluated")
    classes = trained.classes
    if classes:
        metrics["classes"] = classes  # the order of the confusion matrix's rows and columns
    if args.format == "json":
        out(dumps_json(metrics))
        return EXIT_OK
    for k, v in metrics.items():
        if k.endswith("confusion_matrix") and isinstance(v, list):
            head = k.removesuffix("confusion_matrix").removesuffix("_")
            names = classes.get(head) if isinstance(classes, dict) else classes
            for line in _confusion_table(v, names if names and len(names) == len(v) else None):
                out(line)
        elif k != "classes":
            out(f"{k}: {_short(v) if not isinstance(v, list) else v}")
    return EXIT_OK


# Past this many classes a table is not read but scrolled: the most confused pairs and the classes
# recalled least say what it would, and --format json keeps the whole matrix.
TABLE_CLASSES = 20
SHOWN = 10


def _confusion_table(matrix: list[list[int]], names: list[str] | None) -> list[str]:
    """The confusion matrix as a table (rows: the true class, columns: the predicted one) and each
    class's precision, recall and support, as scikit-learn's classification_report gives them; past
    TABLE_CLASSES classes, the most confused pairs and the classes recalled least."""
    labels = names or [str(i) for i in range(len(matrix))]
    if len(matrix) > TABLE_CLASSES:
        return _confusion_summary(matrix, labels)
    width = max(len("precision"), *(len(n) for n in labels), *(len(str(c)) for row in matrix for c in row))
    lines = ["confusion matrix (rows: true class, columns: predicted):",
             "  " + " " * width + "  " + "  ".join(f"{n:>{width}}" for n in labels)]
    lines += ["  " + f"{n:<{width}}" + "  " + "  ".join(f"{c:>{width}}" for c in row) for n, row in zip(labels, matrix)]
    lines.append("  " + " " * width + "  " + "  ".join(f"{h:>{width}}" for h in ("precision", "recall", "support")))
    for i, n in enumerate(labels):
        predicted, support = sum(row[i] for row in matrix), sum(matrix[i])
        precision = f"{matrix[i][i] / predicted:.3f}" if predicted else "n/a"
        recall = f"{matrix[i][i] / support:.3f}" if support else "n/a"
        lines.append("  " + f"{n:<{width}}" + "  " + "  ".join(f"{v:>{width}}" for v in (precision, recall, support)))
    return lines


def _confusion_summary(matrix: list[list[int]], labels: list[str]) -> list[str]:
    pairs = sorted(((c, i, j) for i, row in enumerate(matrix) for j, c in enumerate(row) if i != j and c),
                   key=lambda p: (-p[0], p[1], p[2]))[:SHOWN]
    lines = [f"confusion matrix: {len(matrix)} classes, too many for a table (the whole matrix: --format json)"]
    if pairs:
        lines.append("  most confused (true class -> predicted: samples):")
        lines += [f"    {labels[i]} -> {labels[j]}: {c}" for c, i, j in pairs]
    else:
        lines.append("  no sample was confused")
    recall = sorted(((row[i] / sum(row), i) for i, row in enumerate(matrix) if sum(row)), key=lambda r: (r[0], r[1]))
    if recall:
        lines.append("  lowest recall (class: recall of support):")
        lines += [f"    {labels[i]}: {r:.3f} of {sum(matrix[i])}" for r, i in recall[:SHOWN]]
    return lines


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Train with specc's loop. The data is checked against the model before the "
                     "first epoch; everything goes into a run folder, resumable with --resume.")
    p.add_argument("spec", metavar="SPEC", nargs="?")
    p.add_argument("-o", "--run", "--run-dir", dest="run", metavar="DIR",
                   help="run folder (default: runs/<spec file name>; -o as for the other commands' outputs); "
                        "under torchrun write --run-dir, since torchrun takes --run for its own --run-path")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start over in a --run folder that holds a run")
    p.add_argument("--init-from", metavar="CKPT", help="start from these weights (.safetensors or a run folder)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the spec's train.device")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke tests)")
    p.add_argument("--ignore-memory", action="store_true",
                   help="train even where one step's memory estimate exceeds what the device has free (T080); "
                        "also SPECC_IGNORE_MEMORY=1")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one JSON line per epoch, then the report")
    spec_options(p)


def _predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="SPEC_OR_RUN")
    p.add_argument("--input", required=True, metavar="X",
                   help="a .npy, .npz or .csv file, an image or a folder of images, or a literal: '[[60]]'")
    p.add_argument("--format", choices=("text", "json"), default="text")
    spec_options(p)


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="SPEC_OR_RUN")
    p.add_argument("--data", metavar="SOURCE", help="a data source (default: the run's validation data)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    spec_options(p)


VERBS = {
    "train": Verb(_train_arguments, cmd_train),
    "predict": Verb(_predict_arguments, cmd_predict),
    "evaluate": Verb(_evaluate_arguments, cmd_evaluate),
}
