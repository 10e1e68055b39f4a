"""Entry points: `specc train` (TrainRequest), `specc.train(...)`, and the generated script's main."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import numpy as np
import torch

from ...data import read as data_mod
from ...data.read import DataError
from ...lint.run_length import schedule_warnings
from ...validate.train_config import classes_at, head, train_config
from . import metrics as metrics_mod
from .loop import Log, Options, Result, Trainer, TrainError, fit, plain_log


@dataclass
class TrainRequest:
    spec: Any
    options: Options = field(default_factory=Options)  # run folder, resume, device… (base is set here)
    overrides: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def spec_base(spec: Any) -> Path:
    path = Path(spec.path)
    return path.parent.resolve() if path.is_file() else Path.cwd()


def run_training(req: TrainRequest) -> Result:
    from ...targets.torch.emit import compile_source
    from ..torch_build import generated_module

    spec = req.spec.require_ok()
    req.config = cfg = train_config(spec)
    if cfg["loss"] is None or spec.document.optimizer is None:
        missing = "loss" if cfg["loss"] is None else "optimizer"
        raise TrainError(f"{spec.path} has no {missing} section; add one to train it "
                         "(e.g. loss: {type: CrossEntropyLoss} and optimizer: {type: Adam, lr: 0.001})")
    from ..finetune import torch_support_problems

    for problem in torch_support_problems(spec):  # e.g. Adafactor on a torch that has none: before any epoch
        raise DataError(problem.code, problem.message, problem.hint or "", "optimizer")
    opts = req.options
    opts.base = base = spec_base(spec)
    if opts.run is not None and not opts.resume:
        started = {"device": opts.device, "epochs": opts.epochs, "seed": opts.seed,
                   "init_from": str(opts.init_from) if opts.init_from else None}
        opts.extra_files = {"spec.yaml": spec.text, "model.py": compile_source(spec),
                            "run.json": json.dumps({"spec": spec.path, "base": str(base), "overrides": req.overrides,
                                                    "spec_sha256": spec.sha256, "options": started},
                                                   indent=2) + "\n"}
    if opts.resume and opts.run is not None:
        # a resumed run goes on as it was started (the same epochs, seed and device), unless told otherwise
        meta = json.loads((opts.run / "run.json").read_text(encoding="utf-8"))
        opts.base = Path(meta.get("base", base))
        started = meta.get("options", {})
        opts.device = opts.device or started.get("device")
        opts.epochs = opts.epochs or started.get("epochs")
        opts.seed = opts.seed if opts.seed is not None else started.get("seed")
        opts.init_from = None  # the checkpoint replaces whatever the run started from
    if opts.memory is None and spec.graph is not None:
        from ...graph.memory import spec_memory

        opts.memory = (lambda amp, device: spec_memory(spec, amp, device), dict(spec.graph.inputs))
    opts.schedule_notes = lambda steps, epochs: [f"{d.message}; {d.hint} ({d.code})"
                                                 for d in schedule_warnings(spec, steps, epochs)]
    return fit(generated_module(spec), cfg, opts)


def train(spec: Any, run: str | Path | None = None, *, overrides: list[str] | None = None, resume: bool = False,
          init_from: str | Path | None = None, device: str | None = None, epochs: int | None = None,
          seed: int | None = None, log: Log | None = None) -> Result:
    """Train a spec (a Spec or a path) with specc's loop; ``run`` is the run folder (None: keep nothing).

    Raises SpecInvalid for a spec with errors, DataError for data that does not fit the model
    (``.code``, ``.message``, ``.hint``), TrainError for a request that cannot run."""
    from ...pipeline import load
    from ...spec import Spec

    # 0 would read as "not given" (the spec's epochs) and a negative count as no epoch at all
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise TrainError(f"epochs must be a positive whole number, got {epochs!r}; leave it out to train for the "
                         "spec's train.epochs")
    if not isinstance(spec, Spec):
        spec = load(spec, overrides, data=False)  # the loop reads the data, and raises DataError
    opts = Options(run=Path(run) if run is not None else None, resume=resume,
                   init_from=Path(init_from) if init_from else None, device=device, epochs=epochs, seed=seed, log=log)
    return run_training(TrainRequest(spec=spec, options=opts, overrides=list(overrides or [])))


def evaluate_trained(trained: Any, source: str | None, base: Path | None = None) -> dict[str, Any]:
    """Metrics of a trained run on ``source`` (default: the validation data it was trained with)."""
    cfg = trained.cfg
    base = base or Path.cwd()
    seed = cfg["train"]["seed"] if cfg["train"]["seed"] is not None else 0
    rng = np.random.default_rng(seed)
    # other data is read as the run's training data was: its classes' numbers, columns, size (a
    # validation file that lacks a class numbers the others as training did)
    known = {k: v for k, v in {"classes": trained.classes, "columns": trained.columns,
                               "images": trained.images}.items() if v is not None}
    if source is not None:
        d = data_mod.load(source, cfg, base, rng, validation=True, known=known)
    else:
        dcfg = cfg["train"]["data"]
        if dcfg["val_source"]:
            d = data_mod.load(dcfg["val_source"], cfg, base, rng, validation=True, known=known)
        else:
            full = data_mod.load(dcfg["source"], cfg, base, rng)
            _, va = data_mod.split(cfg, full, seed)
            d = full.take(va) if len(va) else full
    xs = [torch.from_numpy(v) for v in trained.pre.apply_inputs(d.inputs).values()]
    bs = cfg["train"]["batch_size"]
    with torch.no_grad():
        batches = [trained.model(*[x[i:i + bs] for x in xs]) for i in range(0, len(d), bs)]
    batches = [b if isinstance(b, tuple) else (b,) for b in batches]
    result: dict[str, Any] = {"samples": len(d)}
    names = list(cfg["outputs"])
    for name in cfg.get("heads") or names[:1]:  # a loss per output: each output scored on its own task
        one = head(cfg, name) if cfg.get("heads") else cfg
        out = torch.cat([b[names.index(name)].float() for b in batches]).numpy()
        y = d.targets[name] if isinstance(d.targets, dict) else d.targets
        if one["task"] == "regression":
            out = trained.pre.invert_outputs(out, name if cfg.get("heads") else None)
        prefix = f"{name}_" if cfg.get("heads") else ""
        if one["task"] in ("classification", "binary", "regression"):
            scores = metrics_mod.compute(one["task"], out, y, one["threshold"], classes_at(one))
            result.update({prefix + k: v for k, v in scores.items()})
    return result


def script_main(module: ModuleType | Callable[..., Any], cfg: dict[str, Any], argv: list[str] | None = None
                ) -> dict[str, Any]:
    """The `__main__` of a `specc compile --train` script: specc's loop on the generated module,
    given as the module or as a function defined in it (its namespace is the module's)."""
    if not isinstance(module, ModuleType):
        module = cast(ModuleType, SimpleNamespace(**module.__globals__))
    p = argparse.ArgumentParser(description=f"Train {cfg['model']} (generated by specc) with specc's training loop.")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--run", default=None, help="a run folder for checkpoints, curves and the report")
    p.add_argument("--resume", action="store_true", help="continue the run in --run from its last checkpoint")
    p.add_argument("--init-from", default=None, help="start from these weights (.safetensors)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    args = p.parse_args(argv)
    opts = Options(run=Path(args.run) if args.run else None, resume=args.resume,
                   init_from=Path(args.init_from) if args.init_from else None, device=args.device,
                   epochs=args.epochs, seed=args.seed, max_steps=args.max_steps, log=plain_log())
    script = getattr(module, "__file__", None)
    if script:  # the compiled data paths lead from the script's folder, wherever it is run from
        opts.base = Path(script).resolve().parent
    try:
        result = Trainer(module, cfg, opts).fit()
    except data_mod.DataError as exc:
        loc = cfg["locs"].get(exc.where) or cfg["locs"].get("data")
        where = f"{loc[0]}:{loc[1]}:{loc[2]}: " if loc else ""
        raise SystemExit(f"{where}error {exc.code}: {exc.message}\n  hint: {exc.hint}\nnothing was trained") from None
    except TrainError as exc:
        raise SystemExit(f"error: {exc}") from None
    return {"history": result.history, "report": result.report, "device": result.report["device"]}
