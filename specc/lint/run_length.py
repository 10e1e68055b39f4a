"""What the run's length makes of the lr schedule and the training split, where check knows it.

T019: a schedule whose lr is 0 (or under a millionth of the optimizer's lr) for epochs of the run:
a LinearLR to end_factor 0 over fewer iterations than the run, a CosineAnnealingLR with eta_min 0
whose T_max ends before the run, an ExponentialLR or StepLR that decays to nothing. T020: a warmup,
or a LinearLR ramp, longer than the run, so the lr never reaches the value written. T007 where the
data's size and classes are known without reading it (the bundled scikit-learn sets); T008 for a
training split of one sample into a BatchNorm. The lr of each step is PyTorch's closed form of each
scheduler (the schedulers' docs), computed here without torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic
from ..shapes.dims import runs
from ..validate.document import DATASET_SHAPES
from ..validate.run_size import (
    BUNDLED_SAMPLES,
    ONE_SAMPLE_HINT,
    known_samples,
    known_training_samples,
    no_validation,
    one_sample_message,
    steps_per_epoch,
    too_few_to_train,
)
from ..validate.training import class_dim, classification

if TYPE_CHECKING:
    from ..spec import Spec
    from .view import Leaf

ZERO = 1e-6  # an lr below this share of the optimizer's moves no weight in any number of epochs


def check_run_length(spec: Spec, pairs: list[Any], leaves: list[Leaf]) -> list[Diagnostic]:
    doc = spec.document
    if doc is None or doc.train is None:
        return []
    return _too_few(spec, pairs) + _no_validation(spec) + _one_sample(spec, leaves) + schedule_warnings(spec)


def _one_sample(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T008 where the training split is one sample: every batch is that sample, whose statistics a
    trainable BatchNorm normalises with. Training refuses it by the same rule (any trainable
    BatchNorm, not only one of a value per channel, where PyTorch itself stops)."""
    n = known_training_samples(spec.document.train)  # type: ignore[union-attr]
    if n is None or spec.document.lora is not None:  # type: ignore[union-attr]
        return []
    norm = next((leaf for leaf in leaves if leaf.type.startswith("BatchNorm") and leaf.node.trainable), None)
    if n != 1 or norm is None:
        return []
    return [Diagnostic("T008", one_sample_message(norm.who()), spec.locations.nearest("train", "data", "val_split"),
                       ONE_SAMPLE_HINT, layer=norm.node.path)]


def scheduler_steps(spec: Spec) -> tuple[int, int | None]:
    """(the epochs, the optimizer steps of an epoch where the data's size is known, else None)."""
    train = spec.document.train  # type: ignore[union-attr]
    n = known_training_samples(train)
    return train.epochs, steps_per_epoch(n, train.batch_size, train.accumulate) if n is not None else None


def main_factor(sched: Any, base_lr: float, t: int) -> float | None:
    """The lr, as a share of the optimizer's, after ``t`` steps of the scheduler (warmup aside);
    None for one that follows a metric (ReduceLROnPlateau) or lays its cycle out itself (OneCycleLR)."""
    kind = sched.type
    if kind == "StepLR":
        return float(sched.gamma ** (t // sched.step_size))
    if kind == "MultiStepLR":
        return float(sched.gamma ** sum(m <= t for m in sched.milestones))
    if kind == "ExponentialLR":
        return float(sched.gamma ** t)
    if kind == "LinearLR":
        return sched.start_factor + (sched.end_factor - sched.start_factor) * min(t, sched.total_iters) / \
            sched.total_iters
    floor = min(getattr(sched, "eta_min", 0.0) / base_lr, 1.0) if base_lr > 0 else 0.0
    if kind == "CosineAnnealingLR":  # periodic past T_max: PyTorch's recursive form climbs back
        return floor + (1 - floor) * (1 + math.cos(math.pi * t / sched.T_max)) / 2
    if kind == "CosineAnnealingWarmRestarts":
        period, cur = sched.T_0, t
        while cur >= period:
            cur, period = cur - period, period * sched.T_mult
        return floor + (1 - floor) * (1 + math.cos(math.pi * cur / period)) / 2
    return None


def schedule_warnings(spec: Spec, counted: int | None = None, run_epochs: int | None = None) -> list[Diagnostic]:
    """T019 and T020 of the spec's schedule; ``counted`` (the steps of an epoch) and ``run_epochs``
    where training knows them (its data read, its --epochs), in place of what check knows."""
    doc = spec.document
    if doc is None or doc.train is None:
        return []
    sched, opt = doc.scheduler, doc.optimizer
    if sched is None or opt is None or sched.type in ("ReduceLROnPlateau", "OneCycleLR"):
        return []
    epochs, per_epoch = scheduler_steps(spec)
    epochs, per_epoch = run_epochs or epochs, counted or per_epoch
    per_step = sched.interval == "step"
    if per_step and per_epoch is None:
        return []  # the data's size, so the run's steps, is known to training only
    unit, per = ("step", per_epoch or 1) if per_step else ("epoch", 1)
    total = epochs * per
    warmup = sched.warmup.steps if per_step and sched.warmup else sched.warmup.epochs if sched.warmup else 0
    warmup = warmup or 0
    run = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f" of {per_epoch} steps ({total} steps)" if per_step else "")
    if warmup >= total:
        return [_at(spec, "T020", f"the warmup lasts {warmup} {unit}s, but the run has {run}: "
                f"the lr ramps from {sched.warmup.start_factor:g} x lr and never reaches lr, and the {sched.type} "
                "never starts", ("warmup",), f"use warmup: {{{unit}s: {max(1, total // 10)}}} (a tenth of the run)")]
    main = total - warmup  # the scheduler's own steps
    base = float(opt.lr)
    if sched.type == "LinearLR" and sched.end_factor > sched.start_factor and sched.total_iters > main:
        reached = main_factor(sched, base, main - 1) or 0.0
        return [_at(spec, "T020", f"LinearLR ramps the lr up over total_iters: {sched.total_iters} {unit}s, but it "
                    f"steps {main} times in the run: the lr reaches {reached:.3g} x lr, not end_factor "
                    f"{sched.end_factor:g} x lr", ("total_iters",), f"use total_iters: {max(1, main - 1)}")]
    dead: list[int] = []  # the epochs (from 1) whose every step of the scheduler's own is at lr 0
    exact = True
    for epoch in range(epochs):
        span = range(max(epoch * per, warmup), (epoch + 1) * per)
        top = 0.0
        for s in span:  # stops at the first step that trains: a live epoch costs a step or two
            top = max(top, main_factor(sched, base, s - warmup) or 0.0)
            if top > ZERO:
                break
        if span and top <= ZERO:
            dead.append(epoch + 1)
            exact = exact and top == 0
    if not dead:
        return []
    level = "0" if exact else f"under {ZERO:g} x lr"
    where = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs(dead))
    key, hint = _fit(sched, main, unit)
    return [_at(spec, "T019", f"{sched.type} holds the lr at {level} for {len(dead)} of the {epochs} epochs "
                f"(epoch{'s' if len(dead) > 1 else ''} {where}): those epochs train nothing", (key,), hint)]


def _fit(sched: Any, main: int, unit: str) -> tuple[str, str]:
    """(the key to change, a hint with the value that keeps the lr above 0 to the run's end)."""
    kind = sched.type
    if kind == "LinearLR":
        return "total_iters", f"use total_iters: {main} (the {unit}s it runs: the lr reaches 0 as the run ends)"
    if kind == "CosineAnnealingLR":
        return "T_max", f"use T_max: {main} (the {unit}s it runs: the lr reaches eta_min as the run ends)"
    if kind == "ExponentialLR":
        gamma = math.floor(10 ** (-3 / max(1, main - 1)) * 1000) / 1000  # lr / 1000 by the last step
        return "gamma", f"use gamma: {gamma:g} (the lr falls to a thousandth of itself over the run)"
    if kind == "StepLR":
        size = next((s for s in range(1, main + 1) if sched.gamma ** ((main - 1) // s) >= 1e-3), main)
        return "step_size", f"use step_size: {size} (the lr falls to no less than a thousandth of itself)"
    if kind == "MultiStepLR":
        drops = max(1, sum(m < main for m in sched.milestones))
        gamma = math.floor(1e-3 ** (1 / drops) * 1000) / 1000
        return "gamma", f"use gamma: {gamma:g} (the lr falls to a thousandth of itself over the milestones)"
    return "type", "fit the schedule to the run's length"


def _too_few(spec: Spec, pairs: list[Any]) -> list[Diagnostic]:
    """T007 at check for data whose size is known without reading it: training's own rule."""
    train = spec.document.train  # type: ignore[union-attr]
    n = BUNDLED_SAMPLES.get(train.data.source)  # xor's and synthetic data's labels are drawn: a draw's count
    if n is None or train.data.val_source is not None:
        return []
    classes = 1
    for _, loss, _, out in pairs:
        if out is None or getattr(loss, "type", None) is None or not classification(loss, out):
            continue
        dim = class_dim(loss, out)
        if dim is None or out.rank != 2:  # one label per sample: what the split counts classes of
            continue
        width = DATASET_SHAPES.get(train.data.source, (0, None))[1]
        if isinstance(width, int):
            classes = width
        break
    found = too_few_to_train(n, train.data.val_split, classes)
    if found is None:
        return []
    return [Diagnostic("T007", found[0], spec.locations.nearest("train", "data", "val_split"), found[1])]


def _no_validation(spec: Spec) -> list[Diagnostic]:
    """V020 where the data's size is known and val_split keeps none of it for early stopping to watch;
    training finds it in a data file by the same rule (and check, reading the file)."""
    train = spec.document.train  # type: ignore[union-attr]
    n = known_samples(train)
    if n is None or train.early_stopping is None or train.data.val_source is not None:
        return []
    found = no_validation(n, train.data.val_split, train.early_stopping.monitor)
    if found is None:
        return []
    return [Diagnostic("V020", found[0], spec.locations.nearest("train", "data", "val_split"), found[1])]


def _at(spec: Spec, code: str, message: str, keys: tuple[str, ...], hint: str) -> Diagnostic:
    return Diagnostic(code, message, spec.locations.nearest("scheduler", *keys), hint, "warning")
