"""Pydantic models of the whole spec document (everything but the layers, which each
layer kind validates with its own model).

Names follow PyTorch: ``CrossEntropyLoss`` and ``label_smoothing``, ``AdamW`` and
``weight_decay``, ``CosineAnnealingLR`` and ``T_max``.
"""

# No ``from __future__ import annotations`` here: Pydantic would evaluate each of the ~190
# annotations of these ~54 models from its text when the class is defined, 15 M instructions of a
# ResNet-18 check (callgrind).  Written as objects, they are read as they are.

import itertools
import math
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..shapes.tensor import DTYPES, MAX_DIM, MAX_ELEMENTS
from .errors import did_you_mean, invalid
from .naming import identifier_problem, silenceable_list, split_silenceable

NonNegFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
# A running average's decay (Adam's betas, momentum, RMSprop's alpha): PyTorch refuses a beta of 1
# when it builds the optimizer, and a momentum or alpha of 1 or more never forgets a step, so the
# update grows without bound (alpha: 1 keeps the squared average at 0 and divides by eps).
Decay = Annotated[float, Field(ge=0, lt=1)]
Reduction = Literal["mean", "sum", "none"]


class Strict(BaseModel):
    # No section takes nan or inf (an lr or weight_decay of .inf passed check and trained to NaN).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True, allow_inf_nan=False)


# -- inputs ------------------------------------------------------------------------------------

Dimension = Annotated[Union[PositiveInt, str],
                      Field(description="a positive whole number or a symbol such as B or T")]


class InputSpec(Strict):
    shape: list[Dimension] = Field(min_length=1)
    dtype: Literal[DTYPES] = "float32"  # type: ignore[valid-type]
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return {"shape": v} if isinstance(v, list) else v

    @field_validator("shape")
    @classmethod
    def _dims(cls, dims: list[Dimension]) -> list[Dimension]:
        for d in dims:
            if isinstance(d, int) and d > MAX_DIM:
                raise invalid(f"dimension {d:,} is over {MAX_DIM:,} (2**31 - 1), the largest size specc allows "
                              "for one dimension", "write the size you mean, or a symbol such as T for a size "
                              "that varies")
            if isinstance(d, str) and identifier_problem(d):
                raise invalid(f"dimension {d!r} is neither a positive whole number nor a symbol: it "
                              f"{identifier_problem(d)}",
                              "write a number such as 32, or a symbol (letters, digits, _) such as B or T")
        if math.prod(d for d in dims if isinstance(d, int)) > MAX_ELEMENTS:
            raise invalid(f"the input holds {math.prod(d for d in dims if isinstance(d, int)):,} elements, over "
                          f"{MAX_ELEMENTS:,} (2**63 - 1), more than any framework can allocate",
                          "write the sizes you mean")
        return dims


# -- loss --------------------------------------------------------------------------------------

class _Loss(Strict):
    reduction: Reduction = "mean"


class _ClassLoss(_Loss):
    # specc's addition: where the classes are in the model's output.  PyTorch's classification
    # losses read them at dim 1 ((B, C) or (B, C, d1, ...)); a (B, T, K) tagger has them last.
    class_dim: int = 1


class CrossEntropyLoss(_ClassLoss):
    type: Literal["CrossEntropyLoss"]
    weight: list[PositiveFloat] | None = None
    ignore_index: int = -100
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0  # 1 spreads every target evenly: nothing to learn


class NLLLoss(_ClassLoss):
    type: Literal["NLLLoss"]
    weight: list[PositiveFloat] | None = None
    ignore_index: int = -100


class FocalLoss(_ClassLoss):
    """Lin et al. 2017: cross-entropy scaled by (1 - p_t)^gamma, so easy examples count less.

    ``mode: binary`` reads each output element as one yes/no logit (sigmoid; also multi-label),
    ``multiclass`` reads a softmax over the class dim; by default binary when that dim has
    width 1, else multiclass.  ``alpha`` weights the positive class (binary, in [0, 1]) or
    each class (multiclass, one weight per class)."""

    type: Literal["FocalLoss"]
    gamma: NonNegFloat = 2.0
    alpha: Probability | list[PositiveFloat] | None = None
    mode: Literal["binary", "multiclass"] | None = None
    ignore_index: int = -100

    @model_validator(mode="after")
    def _alpha(self) -> "FocalLoss":
        if self.mode == "binary" and isinstance(self.alpha, list):
            raise invalid("a binary focal loss takes one alpha, the weight of the positive class",
                          "write alpha: 0.25 (a number in [0, 1]), or mode: multiclass for one weight per class")
        return self


class BCELoss(_Loss):
    type: Literal["BCELoss"]
    weight: list[PositiveFloat] | None = None


class BCEWithLogitsLoss(_Loss):
    type: Literal["BCEWithLogitsLoss"]
    weight: list[PositiveFloat] | None = None
    pos_weight: list[PositiveFloat] | PositiveFloat | None = None


class MSELoss(_Loss):
    type: Literal["MSELoss"]


class L1Loss(_Loss):
    type: Literal["L1Loss"]


class SmoothL1Loss(_Loss):
    type: Literal["SmoothL1Loss"]
    beta: NonNegFloat = 1.0


class HuberLoss(_Loss):
    type: Literal["HuberLoss"]
    delta: PositiveFloat = 1.0


class KLDivLoss(_Loss):
    """PyTorch's KLDivLoss reads the model's output as log-probabilities.  ``from_logits:
    true`` is specc's addition: the generated loss applies log_softmax over ``class_dim``
    first, so the model can end in its raw logits."""

    type: Literal["KLDivLoss"]
    log_target: bool = False
    reduction: Literal["mean", "sum", "none", "batchmean"] = "batchmean"
    from_logits: bool = False
    class_dim: int = 1


class CTCLoss(_Loss):
    type: Literal["CTCLoss"]
    blank: Annotated[int, Field(ge=0)] = 0
    zero_infinity: bool = False


Loss = Annotated[Union[CrossEntropyLoss, NLLLoss, FocalLoss, BCELoss, BCEWithLogitsLoss, MSELoss, L1Loss, SmoothL1Loss,
                       HuberLoss, KLDivLoss, CTCLoss], Field(discriminator="type")]


# -- a loss per output -------------------------------------------------------------------------
# `loss: {species: {type: CrossEntropyLoss}, size: {type: MSELoss, weight: 0.5}}` trains every output
# on its own loss; the number ``weight`` scales that output's term in the sum.  A list ``weight``
# stays what it is in the single form, the loss's class (or element) weights, and the term weighs 1.
LOSS_CLASSES: tuple[type[_Loss], ...] = typing.get_args(typing.get_args(Loss)[0])  # every loss of the single form


def _term_weight(v: Any) -> Any:
    if isinstance(v, list):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise invalid(f"an output's weight must be a finite number ≥ 0, not {v!r}",
                      "write weight: 0.5 (1 is the default; 0 leaves the output untrained)", "V026")
    return float(v)


def _per_output(cls: type[_Loss]) -> type[_Loss]:
    own = cls.model_fields.get("weight")
    weight: Any = float if own is None else Union[own.annotation, float]  # type: ignore[name-defined]
    default = 1.0 if own is None else None
    check = field_validator("weight", mode="before")(_term_weight)
    return type(cls.__name__, (cls,), {"__annotations__": {"weight": weight}, "weight": default,
                                       "_term_weight": check, "__module__": __name__, "__doc__": cls.__doc__})


OutputLoss = Annotated[Union[tuple(_per_output(c) for c in LOSS_CLASSES)],  # type: ignore[misc]
                       Field(discriminator="type")]
PER_OUTPUT = "per output"


def loss_form(v: Any) -> str | None:
    """The single form's tag is its ``type``; a mapping of outputs to losses is the per-output form."""
    if isinstance(v, dict) and "type" not in v and v and all(isinstance(x, dict) for x in v.values()):
        return PER_OUTPUT
    if isinstance(v, dict):
        return v.get("type") if isinstance(v.get("type"), str) else None
    return v.type if isinstance(v, _Loss) else None


AnyLoss = Annotated[Union[tuple([*(Annotated[c, Tag(c.model_fields["type"].annotation.__args__[0])]
                                   for c in LOSS_CLASSES),
                                 Annotated[dict[str, OutputLoss], Tag(PER_OUTPUT)]])],  # type: ignore[misc]
                    Discriminator(loss_form)]


def term_weight(loss: Any) -> float:
    """The weight of one output's term in the summed loss (1 unless a number is given)."""
    w = getattr(loss, "weight", None)
    return float(w) if isinstance(w, (int, float)) else 1.0


def class_weights(loss: Any) -> list[float] | None:
    """The loss's own weights (classes, elements): a list ``weight``, never the term's number."""
    w = getattr(loss, "weight", None)
    return w if isinstance(w, list) else None


# -- optimizer ---------------------------------------------------------------------------------

Betas = tuple[Decay, Decay]


def _names(v: Any) -> Any:
    """One name written alone is a list of one (``no_decay: bias``)."""
    return [v] if isinstance(v, str) else v


class ParamGroup(BaseModel):
    """One of ``param_groups``: the parameters it takes (state-dict names, globs, layer types,
    layer paths, ``bias``, ``norm``, ``1d``) and the optimizer settings it overrides. Its other
    keys are checked against its optimizer once the model is known (specc.graph.groups: V115)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
    params: Annotated[list[str], Field(min_length=1)]
    name: str | None = None

    _one = field_validator("params", mode="before")(_names)


class _Grouped(Strict):
    # specc's keys of every optimizer: parameters left out of weight decay, and parameter groups
    # with their own settings (what torch.optim takes as a list of dicts); see specc.graph.groups.
    no_decay: list[str] | None = None
    param_groups: list[ParamGroup] | None = None

    _one = field_validator("no_decay", mode="before")(_names)


class SGD(_Grouped):
    type: Literal["SGD"]
    lr: PositiveFloat = 1e-3
    momentum: Decay = 0.0
    dampening: NonNegFloat = 0.0
    weight_decay: NonNegFloat = 0.0
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov(self) -> "SGD":
        if self.nesterov and self.dampening != 0:
            # dampening scales each new gradient by (1 - dampening): PyTorch refuses it beside nesterov
            raise invalid(f"nesterov momentum needs dampening: 0, but dampening is {self.dampening:g}",
                          "set dampening: 0 (momentum is the running average's factor; dampening would shrink "
                          "each new gradient), or nesterov: false")
        if self.nesterov and self.momentum <= 0:
            raise invalid("nesterov momentum needs momentum > 0, but momentum is 0 (the default)",
                          "set momentum: 0.9, or nesterov: false")
        return self


class Adam(_Grouped):
    type: Literal["Adam"]
    lr: PositiveFloat = 1e-3
    betas: Betas = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.0
    amsgrad: bool = False


class AdamW(Adam):
    type: Literal["AdamW"]  # type: ignore[assignment]
    weight_decay: NonNegFloat = 1e-2


class NAdam(Adam):
    type: Literal["NAdam"]  # type: ignore[assignment]
    lr: PositiveFloat = 2e-3  # PyTorch's default for NAdam
    amsgrad: Literal[False] = False


class RAdam(NAdam):
    type: Literal["RAdam"]  # type: ignore[assignment]
    lr: PositiveFloat = 1e-3


class Adamax(NAdam):
    type: Literal["Adamax"]  # type: ignore[assignment]
    lr: PositiveFloat = 2e-3


class RMSprop(_Grouped):
    type: Literal["RMSprop"]
    lr: PositiveFloat = 1e-2
    alpha: Decay = 0.99
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.0
    momentum: Decay = 0.0
    centered: bool = False


class Adagrad(_Grouped):
    type: Literal["Adagrad"]
    lr: PositiveFloat = 1e-2
    lr_decay: NonNegFloat = 0.0
    weight_decay: NonNegFloat = 0.0
    eps: PositiveFloat = 1e-10


class Adadelta(_Grouped):
    type: Literal["Adadelta"]
    lr: PositiveFloat = 1.0
    rho: Probability = 0.9
    eps: PositiveFloat = 1e-6
    weight_decay: NonNegFloat = 0.0


class Adafactor(_Grouped):
    """torch.optim.Adafactor (PyTorch 2.5 and later): factored second moments, little memory."""

    type: Literal["Adafactor"]
    lr: PositiveFloat = 1e-2
    beta2_decay: Annotated[float, Field(le=0)] = -0.8
    eps: tuple[PositiveFloat | None, PositiveFloat] = (None, 1e-3)
    d: PositiveFloat = 1.0
    weight_decay: NonNegFloat = 0.0
    maximize: bool = False


# Optimizers that are not in every PyTorch specc supports: the first version that has them.
MIN_TORCH = {"Adafactor": "2.5"}

Optimizer = Annotated[Union[SGD, Adam, AdamW, NAdam, RAdam, Adamax, RMSprop, Adagrad, Adadelta, Adafactor],
                      Field(discriminator="type")]

# -- scheduler ---------------------------------------------------------------------------------


class Warmup(Strict):
    """A linear ramp of the learning rate before the scheduler starts: from start_factor × lr
    to lr over ``epochs`` epochs (interval: epoch) or ``steps`` batches (interval: step)."""

    epochs: PositiveInt | None = None
    steps: PositiveInt | None = None
    start_factor: Annotated[float, Field(gt=0, le=1)] = 0.1

    @model_validator(mode="after")
    def _one_length(self) -> "Warmup":
        if (self.epochs is None) == (self.steps is None):
            raise invalid("warmup needs its length: epochs or steps, one of them",
                          "write warmup: {epochs: 5} (the scheduler steps per epoch) or warmup: {steps: 500} "
                          "(interval: step)")
        return self


class _Sched(Strict):
    # specc's additions: whether the scheduler steps once per epoch or per batch, and an
    # optional linear warmup before it.
    interval: Literal["epoch", "step"] = "epoch"
    warmup: Warmup | None = None

    @model_validator(mode="after")
    def _warmup_unit(self) -> "_Sched":
        w = self.warmup
        if w is None:
            return self
        if getattr(self, "type", "") in ("ReduceLROnPlateau", "OneCycleLR"):
            own = "pct_start" if self.type == "OneCycleLR" else None  # type: ignore[attr-defined]
            raise invalid(f"warmup cannot precede {self.type}",  # type: ignore[attr-defined]
                          f"OneCycleLR warms up by itself: set {own} instead" if own else
                          "ReduceLROnPlateau steps on a metric, not on a schedule: use a scheduler such as "
                          "CosineAnnealingLR after the warmup, or drop warmup")
        unit = "epochs" if self.interval == "epoch" else "steps"
        if getattr(w, unit) is None:
            other = "steps" if unit == "epochs" else "epochs"
            # the number does not carry over: 500 steps are 500 / (batches per epoch) epochs
            n = getattr(w, other)
            per = f"{n} / the batches per epoch" if unit == "epochs" else f"{n} x the batches per epoch"
            raise invalid(f"warmup counts {other}, but this scheduler steps once per {self.interval}",
                          f"give the warmup in the scheduler's unit, warmup: {{{unit}: N}} with N = {per}; or set "
                          f"interval: {'step' if unit == 'epochs' else 'epoch'}, so that warmup and scheduler "
                          f"both count {other}")
        return self


class StepLR(_Sched):
    type: Literal["StepLR"]
    step_size: PositiveInt
    gamma: PositiveFloat = 0.1


class MultiStepLR(_Sched):
    type: Literal["MultiStepLR"]
    milestones: list[PositiveInt] = Field(min_length=1)
    gamma: PositiveFloat = 0.1

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError(f"milestones must be strictly increasing, the epochs at which the lr is multiplied by "
                             f"gamma in order; write milestones: {sorted(set(v))}")
        return v


class ExponentialLR(_Sched):
    type: Literal["ExponentialLR"]
    gamma: PositiveFloat


class CosineAnnealingLR(_Sched):
    type: Literal["CosineAnnealingLR"]
    T_max: PositiveInt
    eta_min: NonNegFloat = 0.0


class CosineAnnealingWarmRestarts(_Sched):
    type: Literal["CosineAnnealingWarmRestarts"]
    T_0: PositiveInt
    T_mult: PositiveInt = 1
    eta_min: NonNegFloat = 0.0


class ReduceLROnPlateau(_Sched):
    type: Literal["ReduceLROnPlateau"]
    mode: Literal["min", "max"] = "min"
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.1
    patience: Annotated[int, Field(ge=0)] = 10
    threshold: NonNegFloat = 1e-4
    cooldown: Annotated[int, Field(ge=0)] = 0
    min_lr: NonNegFloat = 0.0


class OneCycleLR(_Sched):
    type: Literal["OneCycleLR"]
    max_lr: PositiveFloat
    pct_start: Annotated[float, Field(gt=0, lt=1)] = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    div_factor: PositiveFloat = 25.0
    final_div_factor: PositiveFloat = 1e4
    interval: Literal["step"] = "step"


class LinearLR(_Sched):
    type: Literal["LinearLR"]
    start_factor: Annotated[float, Field(gt=0, le=1)] = 1 / 3
    end_factor: Annotated[float, Field(ge=0, le=1)] = 1.0
    total_iters: PositiveInt = 5


Scheduler = Annotated[Union[StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
                            ReduceLROnPlateau, OneCycleLR, LinearLR], Field(discriminator="type")]

# -- train and export ---------------------------------------------------------------------------

# scikit-learn's bundled sets (no download), random data of the declared shapes, and XOR's
# four corners with noise.
SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")
BUILTIN_DATASETS = (*SKLEARN_DATASETS, "synthetic", "xor")
# What check knows of the sets of fixed shape: the values each sample holds and, for a
# classification set, its classes (None: real-valued targets).
DATASET_SHAPES: dict[str, tuple[int, int | None]] = {
    "digits": (64, 10), "iris": (4, 3), "wine": (13, 3), "breast_cancer": (30, 2), "diabetes": (10, None),
    "xor": (2, 2)}
DATA_FILES = (".npz", ".npy", ".csv")
# Metrics early stopping can watch; the loop computes those that fit the task (docs/spec.md).
METRICS = ("val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc",
           "val_token_accuracy", "val_mae", "val_rmse", "val_r2")
Scaling = Literal["auto", "standardize", "minmax", "none"]
LOWER_IS_BETTER = ("loss", "mae", "rmse")


def better(monitor: str, mode: str = "auto") -> str:
    """min or max for an early-stopping monitor: val_f1, or a per-output val_size_rmse, whose
    metric is its last part."""
    if mode != "auto":
        return mode
    metric = monitor.removeprefix("val_")  # "loss" when there is no validation data
    return "min" if any(metric == m or metric.endswith(f"_{m}") for m in LOWER_IS_BETTER) else "max"


def _data_path(v: str) -> str:
    # A bare word is a bundled set (a typo gets a suggestion); anything with a dot or a slash is
    # a file (.npz, .npy, .csv) or a folder of images, one sub-folder per class.
    if v not in BUILTIN_DATASETS and "/" not in v and "." not in v:
        guess = did_you_mean(v, list(BUILTIN_DATASETS))
        raise invalid(f"unknown data source {v!r}",
                      f"did you mean '{guess}'?" if guess else
                      f"use one of {', '.join(BUILTIN_DATASETS)}, a .npz, .npy or .csv file, or a folder of "
                      "images (one sub-folder per class)", code="V008")
    return v


class DataSpec(Strict):
    source: str = "synthetic"  # a bundled data set, a .npz/.npy/.csv file or a folder of images
    val_source: str | None = None  # an explicit validation file (then val_split is not used)
    val_split: Annotated[float, Field(ge=0, lt=1)] = 0.2
    stratify: bool = True  # classification: each class keeps its share in the validation split
    shuffle: bool = True
    sampler: Literal["random", "balanced"] = "random"  # balanced: each class drawn equally often
    num_samples: PositiveInt = 512  # for source: synthetic and xor
    # .npz keys: one key, or a mapping of model input name to key for several inputs
    x_key: str | dict[str, str] = "x"
    y_key: str | dict[str, str] = "y"  # several outputs: a mapping of output name to key
    lengths_key: str = "y_lengths"  # CTC: the true length of each padded target sequence
    targets: str | None = None  # a .npy source: the file holding the targets
    features: list[str] | None = None  # CSV: feature columns (default: every column but the target)
    # CSV: the target column (default: the last column); several outputs: one column per output, as a
    # mapping of output name to column or a list in the order of outputs:
    target: str | list[str] | dict[str, str] | None = None

    @field_validator("source", "val_source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        return None if v is None else _data_path(v)

    @field_validator("target")
    @classmethod
    def _target_not_a_feature(cls, v: str | list[str] | dict[str, str] | None,
                              info: ValidationInfo) -> str | list[str] | dict[str, str] | None:
        # the answer fed in as an input: the model copies it, validation scores look perfect,
        # and predict (where the column is absent or unknown) gives noise
        features = info.data.get("features") or []
        targets = [v] if isinstance(v, str) else list(v.values()) if isinstance(v, dict) else v or []
        leaked = [t for t in targets if t in features]
        if leaked:
            kept = [f for f in features if f not in leaked]
            raise invalid(f"the target column {leaked[0]!r} is also listed in features:, so the model is given the "
                          "answer it should predict", "leave it out: write features: [" + ", ".join(kept) + "]",
                          code="V065")
        return v

    def files(self) -> dict[str, str]:
        """The data files and folders named (source, val_source: what check reads), not the bundled sets."""
        return {k: v for k, v in (("source", self.source), ("val_source", self.val_source))
                if v is not None and v not in BUILTIN_DATASETS}


class Preprocess(Strict):
    # auto: standardise float inputs of shape [B, features] (none for images, sequences and integer
    # ids); standardise regression targets (never class labels). Fitted on the training split only.
    inputs: Scaling = "auto"
    targets: Scaling = "auto"


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"  # auto: min for val_loss, val_mae, val_rmse; else max
    patience: PositiveInt = 5
    min_delta: NonNegFloat = 0.0
    restore_best: bool = True  # end with the weights of the best epoch

    @field_validator("monitor")
    @classmethod
    def _monitor(cls, v: str) -> str:
        per_output = v.startswith("val_") and "_" in v[4:]  # val_<output>_<metric>: V023 checks it against the loss
        if v not in METRICS and not per_output:
            guess = did_you_mean(v, list(METRICS))
            raise invalid(f"early stopping cannot monitor {v!r}",
                          f"did you mean '{guess}'?" if guess else f"monitor one of {', '.join(METRICS)}")
        return v

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str, info: ValidationInfo) -> str:
        # Keras habit: mode: min copied onto an accuracy monitor keeps the worst epoch, and with
        # restore_best ends training on those weights, with no error anywhere.
        monitor = info.data.get("monitor")
        if v != "auto" and isinstance(monitor, str) and v != better(monitor):
            worst = "lowest" if v == "min" else "highest"
            raise invalid(f"early stopping with mode: {v} keeps the epoch of the {worst} {monitor}, the worst one, "
                          "and stops while it improves",
                          f"write mode: auto ({better(monitor)} for {monitor}), or mode: {better(monitor)}")
        return v


class Train(Strict):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    seed: int | None = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataSpec = Field(default_factory=DataSpec)
    preprocess: Preprocess = Field(default_factory=Preprocess)
    grad_clip: PositiveFloat | None = None
    accumulate: PositiveInt = 1  # optimizer step every N batches (gradient accumulation)
    mixed_precision: bool = False  # CUDA only (autocast + GradScaler); CPU runs stay fp32
    class_weights: Literal["auto"] | None = None  # auto: balanced weights from the training labels
    early_stopping: EarlyStopping | None = None
    checkpoint: str | None = None  # also copy the final weights to this .safetensors path
    log_every: PositiveInt = 10

    @model_validator(mode="after")
    def _stopping_needs_validation(self) -> "Train":
        if self.early_stopping and self.data.val_split == 0 and self.data.val_source is None:
            raise invalid("early stopping watches validation data, but val_split is 0 and there is no val_source",
                          "set data: {val_split: 0.2} or data: {val_source: val.npz}, or remove early_stopping",
                          code="V020")
        return self


class Export(Strict):
    opset: Annotated[int, Field(ge=9, le=23)] = 18
    exporter: Literal["auto", "torchscript", "dynamo"] = "auto"
    batch_size: PositiveInt = 2  # example batch used to trace the model
    sizes: dict[str, PositiveInt] = Field(default_factory=dict)  # example sizes for other symbols
    verify: bool = True
    rtol: PositiveFloat = 1e-3
    atol: PositiveFloat = 1e-5


class LintSettings(Strict):
    # Warning codes silenced for the whole spec.  Not ``default_factory=list``: Pydantic reads a
    # factory's signature, and a builtin's is parsed with the tokenizer, whose patterns compile on
    # first use, 14 M instructions of every check (callgrind).
    ignore: list[str] = Field(default_factory=lambda: [])

    @field_validator("ignore")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        out, bad = split_silenceable(v)
        if bad:
            raise ValueError(f"{', '.join(str(c).upper() for c in bad)} cannot be silenced: only warnings can "
                             f"({silenceable_list()})")
        return out


class Lora(Strict):
    """Low-rank adapters (Hu et al. 2021): each target weight W becomes W + (alpha / rank) · B·A,
    with A (rank × in) and B (out × rank, zeros at first) the only parameters that train."""

    rank: PositiveInt = 8
    alpha: PositiveFloat = 16.0
    targets: list[str] = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        twice = sorted({t for t in v if v.count(t) > 1})
        if twice:
            raise invalid(f"lora target {twice[0]!r} is listed twice", "list each layer once")
        return v


class Document(Strict):
    specc: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Annotated[InputSpec, Field(description="a shape such as [B, 3, 32, 32], or a mapping "
                                                              "such as {shape: [B, T], dtype: int64}")]] = \
        Field(min_length=1)
    blocks: dict[str, Any] = Field(default_factory=dict)
    layers: list[Any] = Field(min_length=1)
    outputs: Annotated[list[str] | dict[str, str] | str | None,
                       Field(description="a layer name, a list of layer names, or a mapping of output name "
                                         "to layer name")] = None
    loss: AnyLoss | None = None
    optimizer: Optimizer | None = None
    scheduler: Scheduler | None = None
    lora: Lora | None = None
    train: Train | None = None
    export: Export = Field(default_factory=Export)
    lint: LintSettings | None = None
    # layer type, block name or layer path -> what its parameters start from (graph.init checks it)
    init: Annotated[dict[str, Any] | None,
                    Field(description="initialisers by layer type, block or layer path, e.g. {Linear: {weight: "
                                      "{normal: {std: 0.02}}, bias: zeros}}")] = None
