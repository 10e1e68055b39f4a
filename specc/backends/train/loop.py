"""The one training loop, used by `specc train`, `specc.train(...)` and `specc compile --train`.

Reproducible by construction: the data order of epoch e comes from its own generator seeded
with (seed, e), and every epoch ends with a checkpoint holding the weights, the optimizer,
scheduler and scaler state and the RNG states of torch, NumPy and Python. A run resumed from
that checkpoint on CPU ends bit-identical to one never interrupted.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from ...atomic import atomic_write, make_folder
from ...data.checks import data_warnings, training_data
from ...data.read import Data, DataError
from ...shapes.dims import runs
from ...validate.document import better
from ...validate.run_size import ONE_SAMPLE_HINT, one_sample_message
from ...validate.train_config import classes_at, head
from ...validate.training import unreduced
from . import distributed
from . import metrics as metrics_mod
from .preprocess import Preprocessing
from .run import (
    load_tensors,
    read_json,
    save_tensors,
    sweep,
    write_checkpoint,
    write_curves,
    write_history,
    write_json,
    write_report,
)
from .state import flatten, rng_state, set_rng_state, unflatten

Log = Callable[[dict[str, Any]], None]


class TrainError(Exception):
    """A problem with how training was asked for (not a spec or data error): exit 2."""


# What makes a model answer nan on some inputs whatever its lr
_NAN_CAUSES = ("an attention row whose every key is masked (a sample of only padding under a -inf fill: fill with a "
               "finite value such as -1e9, or leave such samples out), a division by zero, or a log of 0")


def _nan_loss(loss: float, epoch: int, batch: int, step: int, first: float = math.nan,
              peak: float = math.nan) -> str:
    """Why the training loss is not a number: a batch that made it before any update was made so by its
    inputs through the model as built (a padding row with nothing left to attend to), which no lr fixes."""
    where = f"the training loss became {loss} in epoch {epoch}"
    if batch < 0:  # not one batch's loss: their sum overflowed
        return f"{where}; lower the lr, set grad_clip, or check the targets against the loss"
    if step == 0:
        return (f"{where}, first in batch {batch + 1}, before any update: the model as built answers nan or inf "
                f"on those inputs, so a lower lr will not help: look for {_NAN_CAUSES} in the model or the loss")
    if batch > 0 and math.isfinite(first) and math.isfinite(peak) and peak <= 2 * abs(first):
        return (f"{where}, first in batch {batch + 1} after {step} updates whose losses stayed numbers, at most "
                f"{peak:.4g} against the first's {first:.4g} (a diverging run's grow first): those inputs likely "
                f"make the model answer nan or inf: {_NAN_CAUSES}; else lower the lr or set grad_clip")
    return (f"{where}, first in batch {batch + 1} after {step} updates: lower the lr, set grad_clip, or check the "
            "targets against the loss; or those inputs make the model answer nan (an attention row whose every "
            "key is masked as padding, a division by zero)")


class Diverged(TrainError):
    """The model's loss stopped being a number (training diverged, or the model answers nan or
    inf on some samples): the spec's settings or its data are at fault, exit 1."""


@dataclass
class Options:
    run: Path | None = None
    resume: bool = False
    init_from: Path | None = None
    device: str | None = None
    epochs: int | None = None
    seed: int | None = None
    max_steps: int | None = None
    base: Path = field(default_factory=Path.cwd)
    log: Log | None = None
    extra_files: dict[str, str] = field(default_factory=dict)  # written into a new run folder
    # what the lr schedule does over the run's epochs of this many steps (check's T019, T020 where it
    # could not count the steps), for the report's notes
    schedule_notes: Callable[[int, int], list[str]] | None = None
    # the step's memory estimate under mixed precision or not on a device type ("cpu", "cuda"), and the
    # model's inputs (their symbols are sized from the data): checked against the device's free memory
    # before the model is built (T080); None, or ignore_memory, skips it
    memory: tuple[Callable[[bool, str], Any], dict[str, Any]] | None = None
    ignore_memory: bool = False


@dataclass
class Result:
    history: list[dict[str, Any]]
    report: dict[str, Any]
    model: nn.Module
    preprocessing: Preprocessing
    run: Path | None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainError(f"--device {name} was asked for, but CUDA is not available here; use --device cpu")
    return torch.device(name)


def precision(device: torch.device, mixed: bool) -> tuple[bool, str, str | None]:
    """(autocast on, label, note). Mixed precision (fp16 autocast + GradScaler) runs on CUDA only;
    on CPU the run stays fp32 and the report says so."""
    if not mixed:
        return False, "fp32", None
    if device.type != "cuda":
        return False, "fp32", f"mixed_precision asks for CUDA; this run is on {device.type}, so it ran in fp32"
    return True, "fp16 mixed (autocast + GradScaler)", None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batch_order(n: int, epoch: int, seed: int, cfg: dict[str, Any], labels: np.ndarray | None) -> torch.Tensor:
    """The sample order of one epoch, from a generator of its own: resuming at any epoch replays it."""
    dcfg = cfg["train"]["data"]
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if dcfg["sampler"] == "balanced" and labels is not None:
        counts = np.bincount(labels)
        weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.float64)
        return torch.multinomial(weights, n, replacement=True, generator=gen)
    if not dcfg["shuffle"]:
        return torch.arange(n)
    return torch.randperm(n, generator=gen)


def balanced_weights(labels: np.ndarray, classes: int) -> torch.Tensor:
    """scikit-learn's 'balanced': n / (classes · count); a class absent from training gets 1."""
    counts = np.bincount(labels.reshape(-1)[labels.reshape(-1) >= 0], minlength=classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (classes * np.maximum(counts, 1)), 1.0)
    return torch.as_tensor(w, dtype=torch.float32)


def init_from(model: nn.Module, path: Path) -> dict[str, Any]:
    """Load what fits of a safetensors checkpoint (a run folder: its final weights) with
    finetune.load_init, so a base model's weights load into its LoRA version with only the
    adapters missing; the run's report keeps what was loaded, missing, unexpected or mismatched."""
    from ..errors import WeightsError
    from ..finetune import load_init

    if path.is_dir():
        path = path / "model.safetensors"
    try:
        found = load_init(model, path)
    except WeightsError as exc:
        raise TrainError(str(exc)) from None
    return {"path": found.path, "loaded": len(found.loaded), "missing": found.missing,
            "unexpected": found.unexpected,
            "mismatched": [{"key": k, "checkpoint": list(have), "model": list(want)}
                           for k, have, want in found.mismatched],
            "adapters_only": bool(found.missing) and found.missing_adapters_only,
            "text": found.describe()}


def signal_hook() -> tuple[int, int, int] | None:
    """(signal, epoch, batch) from SPECC_TRAIN_SIGNAL_AT=KILL@2:5 (or INT@…): the loop sends itself
    that signal after that batch. Tests use it to interrupt a run at a known point with a real
    SIGKILL or Ctrl-C, instead of racing a timer against the epochs."""
    text = os.environ.get("SPECC_TRAIN_SIGNAL_AT")
    if not text:
        return None
    name, _, at = text.partition("@")
    epoch, _, batch = at.partition(":")
    return int(getattr(signal, f"SIG{name.upper()}")), int(epoch), int(batch)


def _epochs(epochs: list[int]) -> str:
    """Epoch numbers for a note: 1-3, 5."""
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs(epochs))


def plateau_metric(record: dict[str, Any], mode: str) -> float:
    """What ReduceLROnPlateau watches: the validation loss (mode min), or with mode max the
    validation accuracy (R² for a regressor), as docs/spec.md says; the training loss without
    validation data."""
    keys = ("val_accuracy", "val_r2") if mode == "max" else ("val_loss",)
    for key in keys:
        if isinstance(record.get(key), float) and math.isfinite(record[key]):
            return float(record[key])
    return -record["loss"] if mode == "max" else record["loss"]


class Trainer:
    def __init__(self, module: ModuleType, cfg: dict[str, Any], opts: Options):
        self.module, self.cfg, self.opts = module, cfg, opts
        tcfg = cfg["train"]
        self.seed = opts.seed if opts.seed is not None else (tcfg["seed"] if tcfg["seed"] is not None else 0)
        self.epochs = opts.epochs or tcfg["epochs"]
        self.device = pick_device(opts.device or tcfg["device"])
        self.dist = distributed.setup(self.device)
        if self.dist.on and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.amp, self.precision, note = precision(self.device, tcfg["mixed_precision"])
        self.notes = [note] if note else []
        self.log = opts.log if opts.log is not None and self.dist.main else (lambda rec: None)
        self.task = cfg["task"]
        self.heads: list[str] = list(cfg.get("heads") or [])  # the outputs of a per-output loss

    # -- data -------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        cfg = self.cfg
        seed_everything(self.seed)
        full, train, val = training_data(cfg, self.opts.base, self.seed)
        self.classes = full.classes
        # how the data was read, for predict to read its own input alike: a CSV's feature columns
        # (picked by name), an image folder's channels and size
        self.reading = {k: v for k, v in full.reading().items() if k != "classes"}
        self.notes += full.meta.get("notes", [])
        self.notes += [f"{message}; {hint} ({code})" for code, message, hint, _ in data_warnings(full, val)]
        self.pre = Preprocessing.fit(cfg, train.inputs, train.targets)
        self.train_data, self.val_data = train, val
        self.train_t = self._tensors(train)
        self.val_t = self._tensors(val) if len(val) else None

    def _tensors(self, d: Data) -> tuple[list[torch.Tensor], Any, torch.Tensor | None]:
        xs = [torch.from_numpy(np.ascontiguousarray(v)) for v in self.pre.apply_inputs(d.inputs).values()]
        scaled = self.pre.apply_targets(d.targets)
        y: Any = ({n: torch.from_numpy(np.ascontiguousarray(v)) for n, v in scaled.items()}
                  if isinstance(scaled, dict) else torch.from_numpy(np.ascontiguousarray(scaled)))
        lengths = torch.from_numpy(d.lengths.astype(np.int64)) if d.lengths is not None else None
        return xs, y, lengths

    # -- model ------------------------------------------------------------------------------------------
    def check_memory(self) -> None:
        """T080 where one step's estimate does not fit in what the device has free."""
        if self.opts.memory is None or self.opts.ignore_memory:
            return
        from .memory import check_fits, estimate_sizes

        estimate, inputs = self.opts.memory
        est = estimate(self.amp, self.device.type)
        if est is None:
            return
        shapes = {k: tuple(v.shape) for k, v in self.train_data.inputs.items()}
        # a batch is never more than the samples there are (a batch_size past them trains on them all)
        per_rank = max(1, min(self.cfg["train"]["batch_size"] // self.dist.world,
                              math.ceil(len(self.train_data) / self.dist.world)))
        note = check_fits(est, estimate_sizes(inputs, shapes), per_rank, self.device, self.dist.world)
        if note:
            self.notes.append(note)

    def build(self) -> None:
        torch.manual_seed(self.seed)
        self.model = getattr(self.module, self.cfg["model"])()
        self.init_report = init_from(self.model, self.opts.init_from) if self.opts.init_from else None
        self.model.to(self.device)
        self.net: nn.Module = self.model  # what the training steps call: the model, or its DDP wrapper
        if self.dist.on:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.loss_fn = self.module.build_loss()
        if self.cfg["train"]["class_weights"] == "auto":
            inner = getattr(self.loss_fn, "loss", self.loss_fn)  # inside ClassesAt for class_dim: -1
            # FocalLoss weighs the classes with alpha, PyTorch's losses with weight
            key = "alpha" if type(inner).__name__ == "FocalLoss" else "weight"
            if self.task != "classification" or not hasattr(inner, key):
                raise TrainError("class_weights: auto needs a classification loss with class weights "
                                 "(CrossEntropyLoss, NLLLoss, FocalLoss)")
            width = next(iter(self.cfg["outputs"].values()))[classes_at(self.cfg)]
            setattr(inner, key, balanced_weights(self.train_data.targets, int(width)))
            labels = np.asarray(self.train_data.targets).reshape(-1)
            absent = sorted(set(range(int(width))) - set(labels[labels >= 0].tolist()))
            if absent:  # scikit-learn's compute_class_weight refuses these; the run trains on without them
                many = len(absent) > 1
                self.notes.append(f"class_weights: auto: the training split has no sample of class"
                                  f"{'es' if many else ''} {_epochs(absent)} (of {width}), weighted 1; no sample "
                                  f"trains {'their outputs' if many else 'its output'}")
        self.loss_fn.to(self.device)
        try:
            self.optimizer = self.module.build_optimizer(self.model)
        except RuntimeError as exc:  # the generated check: an optimizer this torch lacks (Adafactor before 2.5)
            raise TrainError(f"{exc}; install a newer torch, or use another optimizer such as AdamW") from None
        # what each group trains with, before a scheduler or warmup moves the lr (optimizer: param_groups)
        self.groups = [{"name": g.get("name", "all"), "tensors": len(g["params"]),
                        "parameters": sum(p.numel() for p in g["params"]), "lr": g["lr"],
                        "weight_decay": g.get("weight_decay", 0.0)} for g in self.optimizer.param_groups]
        self.batch_size = max(1, self.cfg["train"]["batch_size"] // self.dist.world)  # per process
        per_rank = math.ceil(len(self.train_data) / self.dist.world)
        # A batch of one sample gives BatchNorm one value per channel (PyTorch stops: "Expected more
        # than 1 value per channel when training") or statistics of a single sample: such a last batch
        # is left out of each epoch, as drop_last would, and only then. Shuffled, no sample is always the one.
        self.drop_single = per_rank > 1 and per_rank % self.batch_size == 1 and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.model.modules())
        if self.drop_single:
            self.notes.append(f"{len(self.train_data)} training samples in batches of {self.batch_size} leave a "
                              "last batch of one sample, which BatchNorm cannot normalise; it is left out of each "
                              "epoch (a different sample each epoch when shuffled); a batch_size that leaves no "
                              "single sample over trains on all of them")
        # a frozen BatchNorm (trainable: false, or under lora:) has parameters none of which trains
        norm = next((m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                     and not (list(m.parameters()) and not any(p.requires_grad for p in m.parameters()))), None)
        if per_rank == 1 and norm is not None:  # check says so where it knows the samples
            raise DataError("T008", one_sample_message(f"a {type(norm).__name__}"), ONE_SAMPLE_HINT,
                            "source" if self.cfg["train"]["data"]["val_source"] else "val_split")
        batches = math.ceil(per_rank / self.batch_size) - self.drop_single
        self.steps_per_epoch = steps = max(1, math.ceil(batches / self.cfg["train"]["accumulate"]))
        if self.opts.schedule_notes is not None:
            self.notes += self.opts.schedule_notes(steps, self.epochs)
        build_sched = getattr(self.module, "build_scheduler", None)
        self.scheduler = build_sched(self.optimizer, self.epochs, steps) if build_sched else None
        self.sched_interval = getattr(self.module, "SCHEDULER_INTERVAL", "epoch")
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and self.sched_interval != "epoch":
            # it steps on an epoch's validation metric, which a batch does not have
            self.sched_interval = "epoch"
            self.notes.append("ReduceLROnPlateau steps once per epoch, on the validation metric; interval: step "
                              "was ignored")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    # -- one step ---------------------------------------------------------------------------------------
    def outputs(self, out: Any) -> Any:
        """The model's answer as the loss reads it: the first output, or (a loss per output) every
        output by name."""
        if self.heads:
            return dict(zip(self.cfg["outputs"], out if isinstance(out, tuple) else (out,)))
        return out[0] if isinstance(out, tuple) else out

    def loss_of(self, out: Any, y: Any, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.heads:
            self.terms = self.loss_fn.terms(out, y)  # each output's own loss, for the log
            return self.loss_fn.total(self.terms)
        if self.task == "ctc":
            shape = next(iter(self.cfg["outputs"].values()))
            batch_first = shape[0] == next(iter(self.cfg["inputs"].values()))["shape"][0] and shape[0] != shape[1]
            log_probs = out.transpose(0, 1) if batch_first else out  # CTCLoss reads (T, B, C)
            t, b = log_probs.shape[0], log_probs.shape[1]
            in_len = torch.full((b,), t, dtype=torch.long, device=out.device)
            assert lengths is not None
            return self.loss_fn(log_probs.float(), y, in_len, lengths)
        return self.loss_fn(out, y)

    def share(self, name: str, rows: int) -> int:
        """How many times a batch's loss value counts in the epoch's sum, which divided by the samples is
        the per-sample loss that history, report and early stopping read: the batch's rows for a mean,
        once for reduction: sum (already the rows' sum; ``name`` is an output, "_" the one loss)."""
        loss = self.cfg["heads"][name]["loss"] if self.heads and name != "_" else self.cfg["loss"]
        return 1 if (loss or {}).get("reduction") == "sum" else rows

    def weighted(self, terms: dict[str, float]) -> float:
        """The per-output losses' sums weighed as the MultiLoss weighs its terms."""
        return sum(float(self.loss_fn.weights[k]) * v for k, v in terms.items())

    def evaluate(self, tensors: tuple[list[torch.Tensor], Any, torch.Tensor | None]) -> dict[str, Any]:
        xs, y, lengths = tensors
        n = len(xs[0]) if xs else 0
        if self.dist.on:  # each rank scores its share; the pieces are gathered below
            part = torch.arange(self.dist.rank, n, self.dist.world)
            xs, y = [x[part] for x in xs], _rows(y, part)
            lengths = lengths[part] if lengths is not None else None
            n = len(part)
        self.model.eval()
        bs = self.cfg["train"]["batch_size"]
        names = self.heads or ["_"]
        total, terms = 0.0, dict.fromkeys(self.heads, 0.0)
        outs: dict[str, list[torch.Tensor]] = {k: [] for k in names}
        with torch.no_grad():
            for i in range(0, n, bs):
                xb = [x[i:i + bs].to(self.device) for x in xs]
                yb = _to(_rows(y, slice(i, i + bs)), self.device)
                lb = lengths[i:i + bs].to(self.device) if lengths is not None else None
                out = self.outputs(self.model(*xb))
                rows = len(xb[0])
                total += float(self.loss_of(out, yb, lb)) * self.share("_", rows)
                for k in self.heads:
                    terms[k] += float(self.terms[k]) * self.share(k, rows)
                for k in names:
                    outs[k].append((out[k] if self.heads else out).float().cpu())
        o = {k: torch.cat(v).numpy() if v else np.zeros((0,), dtype=np.float32) for k, v in outs.items()}
        t = {k: v.numpy() for k, v in y.items()} if self.heads else {"_": y.numpy()}
        if self.dist.on:
            pieces = distributed.gather((total, n, o, t, terms), self.dist)
            total = sum(p[0] for p in pieces)
            count = sum(p[1] for p in pieces)
            o = {k: np.concatenate([p[2][k] for p in pieces if p[1]]) for k in names}
            t = {k: np.concatenate([p[3][k] for p in pieces if p[1]]) for k in names}
            terms = {k: sum(p[4][k] for p in pieces) for k in self.heads}
        else:
            count = n
        if self.heads:  # each term summed by its own reduction, then weighed as the loss weighs them
            total = self.weighted(terms)
        result: dict[str, Any] = {"loss": total / max(count, 1)}
        for k in names:
            task = self.cfg["heads"][k]["task"] if self.heads else self.task
            prefix = f"{k}_" if self.heads else ""
            if self.heads:
                result[f"{k}_loss"] = terms[k] / max(count, 1)
            if task in ("classification", "binary", "regression"):
                ok, tk = o[k], t[k]
                if not np.all(np.isfinite(ok)):
                    # the model answers nan or inf (the last update diverged): the loss says so and the callers
                    # stop the run as diverged; scikit-learn's metrics would raise on it
                    result["loss"] = math.nan
                    continue
                if task == "regression":  # metrics in the targets' own units
                    ok = self.pre.invert_outputs(ok, k if self.heads else None)
                    tk = self.pre.invert_outputs(tk, k if self.heads else None)
                threshold = self.cfg["heads"][k]["threshold"] if self.heads else self.cfg["threshold"]
                one = head(self.cfg, k) if self.heads else self.cfg
                result.update({prefix + m: v for m, v in
                               metrics_mod.compute(task, ok, tk, threshold, classes_at(one)).items()})
        return result

    # -- checkpoints ------------------------------------------------------------------------------------
    def _state(self, epoch: int, history: list[dict[str, Any]],
               partial: dict[str, Any] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The checkpoint of ``epoch`` whole epochs; ``partial`` (the next epoch's batches done, their
        summed losses and samples) where --max-steps stopped inside an epoch."""
        tensors: dict[str, torch.Tensor] = {}
        meta = {
            "epoch": epoch, "step": self.step, "seed": self.seed, "history": history,
            "partial": {k: flatten(v, f"partial.{k}", tensors) for k, v in partial.items()}
            if partial is not None else None,
            "best": self.best, "best_epoch": self.best_epoch, "patience_left": self.patience_left,
            "optimizer": flatten(self.optimizer.state_dict(), "optimizer", tensors),
            "scheduler": flatten(self.scheduler.state_dict(), "scheduler", tensors) if self.scheduler else None,
            "scaler": flatten(self.scaler.state_dict(), "scaler", tensors),
            "rng": flatten(rng_state(), "rng", tensors),
        }
        return tensors, meta

    def _partial(self, epoch: int, cut: int, running: torch.Tensor, terms: dict[str, torch.Tensor], seen: int,
                 history: list[dict[str, Any]]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The checkpoint of an epoch stopped after batch ``cut``: the epochs before it whole, and this
        one's batches done with their summed losses (every rank's), for a resume to finish it."""
        sums = (float(running), {k: float(v) for k, v in terms.items()}, seen)
        if self.dist.on:
            pieces = distributed.gather(sums, self.dist)
            sums = (sum(p[0] for p in pieces), {k: sum(p[1][k] for p in pieces) for k in terms},
                    sum(p[2] for p in pieces))
        return self._state(epoch - 1, list(history), {
            "batch": cut, "seen": sums[2], "loss": torch.tensor(sums[0], dtype=torch.float32),
            "terms": {k: torch.tensor(v, dtype=torch.float32) for k, v in sums[1].items()}})

    def _restore(self, ckpt: Path) -> tuple[int, list[dict[str, Any]], dict[str, Any] | None]:
        meta = read_json(ckpt / "state.json")
        if meta.get("seed", self.seed) != self.seed:
            # the seed chose the validation split: another one would train on samples validated on so far
            raise TrainError(f"--seed {self.seed} does not apply with --resume: the run started with seed "
                             f"{meta['seed']}, which chose its validation split and each epoch's data order; leave "
                             f"--seed out, or train with --seed {self.seed} into a new --run folder")
        tensors = load_tensors(ckpt / "state.safetensors")
        self.model.load_state_dict(load_tensors(ckpt / "model.safetensors"))
        self.optimizer.load_state_dict(unflatten(meta["optimizer"], tensors))
        if self.scheduler is not None and meta["scheduler"] is not None:
            planned = getattr(self.scheduler, "total_steps", None)  # OneCycleLR: laid out for this run's epochs
            self.scheduler.load_state_dict(unflatten(meta["scheduler"], tensors))
            laid_out = getattr(self.scheduler, "total_steps", None)
            if planned is not None and laid_out is not None and planned > laid_out:
                # its state holds the run's first plan; stepping past that plan's end is PyTorch's ValueError
                raise TrainError(
                    f"{type(self.scheduler).__name__} was laid out for {laid_out} steps "
                    f"({laid_out // self.steps_per_epoch} epochs) when this run started, and {self.epochs} epochs "
                    f"need {planned}: its cycle cannot be stretched mid-run; resume without --epochs, or start a "
                    f"new run with --epochs {self.epochs} (--init-from {ckpt.parent} starts it from these weights)")
        self.scaler.load_state_dict(unflatten(meta["scaler"], tensors))
        set_rng_state(unflatten(meta["rng"], tensors))
        self.step, self.best, self.best_epoch = meta["step"], meta["best"], meta["best_epoch"]
        self.patience_left = meta["patience_left"]
        partial = {k: unflatten(v, tensors) for k, v in meta["partial"].items()} if meta.get("partial") else None
        return int(meta["epoch"]), list(meta["history"]), partial

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self) -> Result:
        started = time.perf_counter()
        if (found := unreduced(self.cfg["loss"])) is not None:  # check says so where the spec has a train section
            raise DataError("T018", found[1], found[2], "loss")
        self.prepare()
        self.check_memory()
        self.build()
        tcfg, run = self.cfg["train"], (self.opts.run if self.dist.main else None)  # rank 0 alone writes
        stopper = tcfg["early_stopping"]
        has_val = self.val_t is not None
        monitor = stopper["monitor"] if stopper else ("val_loss" if has_val else "loss")
        direction = better(monitor, stopper["mode"] if stopper else "auto")
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.patience_left = stopper["patience"] if stopper else None
        self.step = 0
        history: list[dict[str, Any]] = []
        undefined: list[int] = []  # epochs whose monitored metric had no value
        first, stopped = 1, None
        partial: dict[str, Any] | None = None  # where --max-steps stopped inside an epoch
        if run is not None:
            make_folder(run)
            sweep(run)
            if not self.opts.resume:
                self._write_start(run)
        if self.opts.resume and self.opts.run is not None and (self.opts.run / "last").exists():
            done, history, partial = self._restore(self.opts.run / "last")
            first = done + 1
            if stopper and self.patience_left is not None and self.patience_left <= 0 and done < self.epochs:
                # a run that had stopped early is finished: resuming it must not train on, and its
                # report still says why it stopped
                first = self.epochs + 1
                stopped = self._stopped_why(monitor, stopper, done)
        labels = self.train_data.targets if tcfg["data"]["sampler"] == "balanced" else None
        xs, y, lengths = self.train_t
        n_train = len(xs[0])
        bs, accumulate = self.batch_size, tcfg["accumulate"]
        batch_events = getattr(self.log, "batches", False)
        hook = signal_hook()
        max_steps = self.opts.max_steps if self.opts.max_steps is not None else math.inf
        if self.step >= max_steps:
            self.notes.append(f"the run had taken {self.step} steps already, --max-steps {self.opts.max_steps} "
                              "or more: nothing more was trained; resume without --max-steps to train on")
        for epoch in range(first, self.epochs + 1):
            if self.step >= max_steps:  # reached by a whole epoch, or by the run resumed
                break
            t0 = time.perf_counter()
            self.model.train()
            order = distributed.shard(batch_order(n_train, epoch, self.seed, self.cfg, labels), self.dist)
            running = torch.zeros((), device=self.device)  # summed on the device: no sync per batch
            running_terms = {k: torch.zeros((), device=self.device) for k in self.heads}
            seen, start, cut = 0, 0, None
            # the first batch whose loss is not a number, and the updates taken before it, kept on the
            # device (no sync per batch): at step 0 the model as built answers nan, not an lr too high
            first_bad = torch.full((2,), -1, dtype=torch.long, device=self.device)
            # the first loss of the epoch and the largest before that batch: a diverging run's grow first
            losses_before = torch.full((2,), math.nan, device=self.device)
            if partial is not None:
                # the rest of an epoch --max-steps stopped in: its order replayed from the next batch, its
                # sums so far (every rank's, kept by rank 0) carried on, as in a run never stopped
                start, seen = int(partial["batch"]), int(partial["seen"]) if self.dist.main else 0
                if self.dist.main:
                    running.copy_(partial["loss"])
                    for k in self.heads:
                        running_terms[k].copy_(partial["terms"][k])
                partial = None
            n_batches = math.ceil(len(order) / bs) - (self.drop_single and len(order) % bs == 1)
            self.optimizer.zero_grad(set_to_none=True)
            for b in range(start, n_batches):
                if self.step >= max_steps:  # after an optimizer step: no gradient is pending
                    cut = b
                    break
                idx = order[b * bs:(b + 1) * bs]
                xb = [x[idx].to(self.device, non_blocking=True) for x in xs]
                yb = _to(_rows(y, idx), self.device)
                lb = lengths[idx].to(self.device) if lengths is not None else None
                with torch.autocast(self.device.type, enabled=self.amp):
                    out = self.outputs(self.net(*xb))
                    loss = self.loss_of(out, yb, lb)
                # the last group of an epoch may be short: weigh each batch by its share of it
                group = min(accumulate, n_batches - (b // accumulate) * accumulate)
                self.scaler.scale(loss / group).backward()
                now = loss.detach().float()
                running.add_(now, alpha=self.share("_", len(idx)))
                bad = (first_bad[0] < 0) & ~torch.isfinite(now)
                first_bad[0:1].masked_fill_(bad, b)
                first_bad[1:2].masked_fill_(bad, self.step)
                before = first_bad[0] < 0
                losses_before[0] = torch.where(losses_before[0].isnan() & before, now, losses_before[0])
                losses_before[1] = torch.where(before, torch.fmax(losses_before[1], now), losses_before[1])
                for k in self.heads:
                    running_terms[k].add_(self.terms[k].detach().float(), alpha=self.share(k, len(idx)))
                seen += len(idx)
                if (b + 1) % accumulate == 0 or b + 1 == n_batches:
                    if tcfg["grad_clip"]:
                        self.scaler.unscale_(self.optimizer)
                        nn.utils.clip_grad_norm_(self.model.parameters(), tcfg["grad_clip"])
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.step += 1
                    if self.scheduler is not None and self.sched_interval == "step":
                        self.scheduler.step()
                if batch_events and (b % 10 == 9 or b + 1 == n_batches):  # a progress bar's ticks
                    self.log({"event": "batch", "epoch": epoch, "epochs": self.epochs, "batch": b + 1,
                              "batches": n_batches, "loss": float(loss.detach())})
                if hook is not None and (epoch, b + 1) == hook[1:]:
                    os.kill(os.getpid(), hook[0])
            if cut is not None:  # taken before validating, whose batches could move no RNG of training
                held = self._partial(epoch, cut, running, running_terms, seen, history)
            sums = {"loss": self.weighted({k: float(v) for k, v in running_terms.items()}) if self.heads
                    else float(running), **{f"{k}_loss": float(v) for k, v in running_terms.items()}}
            if self.dist.on:  # the training loss over every rank's samples
                pieces = distributed.gather((sums, seen), self.dist)
                sums = {k: sum(p[0][k] for p in pieces) for k in sums}
                seen = sum(p[1] for p in pieces)
            record: dict[str, Any] = {"epoch": epoch, **{k: v / max(seen, 1) for k, v in sums.items()}}
            if not math.isfinite(record["loss"]):
                raise Diverged(_nan_loss(record["loss"], epoch, *first_bad.tolist(), *losses_before.tolist()))
            if has_val:
                assert self.val_t is not None
                record.update({f"val_{k}": v for k, v in self.evaluate(self.val_t).items()
                               if not k.endswith("confusion_matrix")})
                if not math.isfinite(record.get("val_loss", 0.0)):
                    # the model itself answers nan or inf on some validation samples: early stopping
                    # and the best checkpoint would be chosen on nothing
                    raise Diverged(f"the validation loss is {record['val_loss']} in epoch {epoch} while the "
                                     f"training loss is {record['loss']:.4g}: the model returns nan or inf for some "
                                     "validation samples: the epoch's last updates diverged (lower the lr, set "
                                     "grad_clip), or those inputs make it (an attention row whose every key is masked "
                                     "as padding, a division by zero, an overflow)")
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            record["seconds"] = time.perf_counter() - t0
            if cut is not None:
                # the epoch is not over: no epoch scheduler step and no early-stopping verdict on part of it;
                # its checkpoint says where it stopped, and --resume trains the rest of it
                history.append(record)
                self.notes.append(f"--max-steps {self.opts.max_steps} stopped epoch {epoch} after {cut} of its "
                                  f"{n_batches} batches: its loss and metrics are of the model at that step; "
                                  "--resume trains the rest of the epoch")
                self.log({"event": "epoch", "epochs": self.epochs, **record})
                if run is not None:
                    write_checkpoint(run, epoch, self.weights(), *held, ("last",))
                    write_history(run, history)
                break
            if self.scheduler is not None and self.sched_interval == "epoch":
                if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    self.scheduler.step(plateau_metric(record, self.scheduler.mode))
                else:
                    self.scheduler.step()
            history.append(record)
            value = record.get(monitor)
            if value is None:
                raise TrainError(f"early stopping monitors {monitor}, which a {self.task} run does not compute; "
                                 "monitor val_loss")
            delta = (stopper or {}).get("min_delta", 0.0)
            if not metrics_mod.defined(value):  # e.g. the AUC of a validation split with one class
                undefined.append(epoch)
                improved = self.best_epoch is None  # the first epoch stands until a value is defined
            else:
                improved = self.best is None or (value < self.best - delta if direction == "min"
                                                 else value > self.best + delta)
            if improved:
                self.best, self.best_epoch = (float(value) if metrics_mod.defined(value) else None), epoch
                if stopper:
                    self.patience_left = stopper["patience"]
            elif stopper:
                self.patience_left -= 1
            self.log({"event": "epoch", "epochs": self.epochs, **record})
            if run is not None:
                tensors, meta = self._state(epoch, history)
                # best first: killed between the two, `last` still names the epoch before, which a
                # resume re-runs (pointing both again), never a best epoch that `best` does not hold
                write_checkpoint(run, epoch, self.weights(), tensors, meta,
                                 ("best", "last") if improved else ("last",))
                write_history(run, history)
            if stopper and self.patience_left <= 0 and epoch < self.epochs:
                # patience spent at the last epoch stops nothing: the run trained every epoch it had
                stopped = self._stopped_why(monitor, stopper, epoch)
                break
        if undefined:
            self.notes.append(f"{monitor} was undefined (n/a) in {len(undefined)} of {len(history)} epochs "
                              f"({_epochs(undefined)}): a split with one class has no {monitor.removeprefix('val_')}; "
                              "those epochs did not count as improvements")
        distributed.barrier(self.dist)  # rank 0's last checkpoint is on disk for every rank
        best = self.opts.run / "best" if self.opts.run is not None else None
        if stopper and stopper["restore_best"] and best is not None and best.exists():
            self.model.load_state_dict(load_tensors(best / "model.safetensors"))
        elif stopper and stopper["restore_best"] and best is None and self.best_epoch != len(history):
            self.notes.append("restore_best needs a run folder to keep the best weights; the last ones are kept")
        final = self.evaluate(self.val_t) if has_val and self.val_t is not None else self.evaluate(self.train_t)
        if not math.isfinite(final["loss"]):
            # The epoch's training loss is taken before each update: the last update can still make the
            # weights (or BatchNorm's running statistics, which eval mode normalises with) blow up.
            split = "validation" if has_val else "training"
            last = f"; the last epoch's training loss was {history[-1]['loss']:.4g}" if history else ""
            raise Diverged(f"after training, the model returns nan or inf for some {split} samples (loss "
                           f"{final['loss']}{last}): the last updates diverged; lower the lr, set grad_clip, or "
                           "use a larger batch_size (BatchNorm's running statistics come from the training batches)")
        report = {
            "model": self.cfg["model"], "spec": self.cfg["spec"], "task": self.task, "device": str(self.device),
            "precision": self.precision, "seed": self.seed, "epochs_run": len(history),
            "seconds": time.perf_counter() - started, "stopped_early": stopped,
            "monitor": monitor, "best_epoch": self.best_epoch, "best": self.best,
            "data": {"source": tcfg["data"]["source"], "val_source": tcfg["data"]["val_source"],
                     "train_samples": len(self.train_data), "val_samples": len(self.val_data),
                     "classes": self.classes},
            "preprocess": self.pre.describe(), "param_groups": self.groups,
            "final": {("val_" if has_val else "train_") + k: v for k, v in final.items()},
            "init_from": self.init_report, "notes": self.notes,
            "distributed": {"world_size": self.dist.world, "batch_per_process": self.batch_size}
            if self.dist.on else None,
        }
        if run is not None:
            save_tensors(run / "model.safetensors", self.weights(), {"model": self.cfg["model"]})
            write_history(run, history)
            write_curves(run, history)
            write_report(run, report)
        if tcfg.get("checkpoint") and self.dist.main:
            path = Path(tcfg["checkpoint"])
            save_tensors(path if path.is_absolute() else self.opts.base / path, self.weights(),
                         {"model": self.cfg["model"]})
        distributed.teardown(self.dist)
        return Result(history, report, self.model, self.pre, run)

    @staticmethod
    def _stopped_why(monitor: str, stopper: dict[str, Any], epoch: int) -> str:
        return f"{monitor} did not improve for {stopper['patience']} epochs (after epoch {epoch})"

    def _write_start(self, run: Path) -> None:
        for name, text in self.opts.extra_files.items():
            atomic_write(run / name, text)
        # the seed the run used (--seed over the spec's): evaluate splits off the same validation samples
        write_json(run / "config.json", {**self.cfg, "train": {**self.cfg["train"], "seed": self.seed}})
        arrays = {k: torch.from_numpy(v) for k, v in self.pre.arrays().items()}
        save_tensors(run / "preprocess.safetensors", arrays or {"_empty": torch.zeros(0)})  # safetensors needs one
        write_json(run / "preprocess.json", {**self.pre.meta(), "classes": self.classes, **self.reading})


def _rows(y: Any, idx: Any) -> Any:
    """Rows ``idx`` of the targets: one tensor, or one per output."""
    return {k: v[idx] for k, v in y.items()} if isinstance(y, dict) else y[idx]


def _to(y: Any, device: torch.device) -> Any:
    return {k: v.to(device, non_blocking=True) for k, v in y.items()} if isinstance(y, dict) else \
        y.to(device, non_blocking=True)


def fit(module: ModuleType, cfg: dict[str, Any], opts: Options) -> Result:
    return Trainer(module, cfg, opts).fit()


def plain_log(stream: Any = None) -> Log:
    stream = stream or sys.stdout

    def log(rec: dict[str, Any]) -> None:
        if rec.get("event") != "epoch":
            return
        parts = [f"epoch {rec['epoch']}/{rec['epochs']}", f"loss {rec['loss']:.4f}"]
        parts += [f"{k} {metrics_mod.shown(v, '.4f')}" for k, v in rec.items()
                  if k.startswith("val_") and isinstance(v, float)]
        parts.append(f"({rec['seconds']:.1f}s)")
        stream.write("  ".join(parts) + "\n")
        stream.flush()

    return log


__all__ = ["Options", "Result", "TrainError", "fit", "plain_log"]
