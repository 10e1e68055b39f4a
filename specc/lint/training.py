"""Errors about the loss against the model's output, and about the LoRA targets.

Unlike the lint rules these are errors (T05x, V03x): each one names a spec that trains
nonsense, NaN or a traceback after ``check`` said ok.  They run on the shaped graph, after
the lint rules, and read it through the same view (blocks and repeats seen through).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic, Location
from ..graph import groups, lora
from ..layers.catalogue import FAMILY_OF
from ..shapes.dims import evaluate, product
from ..shapes.rules import made_sizes, nearest_fit, size_rules
from ..shapes.tensor import TensorType
from ..validate.document import DATASET_SHAPES
from ..validate.run_size import BUNDLED_CLASS_RUNS, SHUFFLE_FIX, unshuffled_sorted, validation_count
from ..validate.training import BOUNDED, THRESHOLD_OF, class_dim, classification, focal_mode, task_of, unreduced
from . import context
from .run_length import check_run_length
from .view import Leaf, arg, removal

if TYPE_CHECKING:
    from ..spec import Spec

LOG_SPACE = ("LogSoftmax", "LogSigmoid")
PROBABILITIES = ("Softmax", "Sigmoid", "Hardsigmoid")
# Families that change no value: the layer that produced the values is found through them.
PASS_THROUGH = ("dropout", "reshape")
# Families that keep every dim where it is: the layer that laid the dims out is found through them.
SAME_LAYOUT = ("activation", "dropout", "norm")
# Families whose output holds its features in the last dim: (B, T, K) after one of them
# has the classes last, whatever dim 1 is.
LAST_DIM_FEATURES = ("linear", "recurrent", "attention", "embedding")
# Families whose output holds its channels at dim 1: (B, C, ...) after one of them.
CHANNELS_FIRST = ("conv", "pool")


def check_training(spec: Spec) -> list[Diagnostic]:
    diags = lora.plan(spec)[1] + groups.plan(spec)[1] + _learning_rate(spec) + _peak_lr(spec) + \
        _weight_decay(spec) + _group_settings(spec) + _betas(spec) + _summed_loss_step(spec) + \
        _growing_schedule(spec) + _idle_scheduler(spec) + _unreduced(spec) + _split_reversed(spec)
    ctx = context(spec)
    diags += _single_sample_batches(spec, ctx.view.leaves if ctx is not None else [])
    diags += _accumulated_batchnorm(spec, ctx.view.leaves if ctx is not None else [])
    diags += _post_ln_without_warmup(spec, ctx.view.leaves if ctx is not None else [])
    diags += _fill_under_autocast(spec, ctx.view.leaves if ctx is not None else [])
    diags += _rows_with_no_key(ctx.view.leaves if ctx is not None else [])
    diags += _window_past_the_keys(ctx.view.leaves if ctx is not None else [], ctx.graph if ctx is not None else None)
    diags += _sparse_gradients(spec, ctx.view.leaves if ctx is not None else [])
    loss = ctx.loss_section if ctx is not None else None
    if ctx is None or loss is None:
        return diags
    steps = dict(ctx.view.outputs)
    # The value each output returns (one part of a Split is not the Split's first part).
    values = {name: ctx.graph.value(src) for name, src in ctx.graph.outputs}
    first = ctx.graph.outputs[0][0] if ctx.graph.outputs else None
    # The single loss trains the first output; a per-output loss each output it names.
    pairs = ([(name, loss[name], steps.get(name), values.get(name)) for name in loss] if isinstance(loss, dict)
             else [(None, loss, ctx.view.main_output, values.get(first) if first is not None else None)])
    trained: list[Leaf] = []
    off_dim0 = _samples_first(spec, [out for *_, out in pairs if out is not None])
    diags += off_dim0 + _bundled_data(spec, pairs) + check_run_length(spec, pairs, ctx.view.leaves)
    for key, one, last, out in pairs:
        if not isinstance(last, Leaf) or out is None:
            continue
        if not out.is_float:
            diags.append(_located(spec, "V034", f"{one.type} trains the output {out}, but it holds {out.dtype} "
                                  f"values (made by {last.who()}), and no gradient flows through integers",
                                  f"end the model in a float layer: drop the Cast to {out.dtype} or move it after "
                                  "training (predict can round)" if last.type == "Cast" else
                                  "end the model in a float layer (a Cast to float32 gives values but no gradient "
                                  "to what is before the integers)", output=key))
            continue
        trained.append(last)
        # With the samples off dim 0 of an input, the batch read back from the outputs is not the
        # inputs'. An output whose dim 0 is not the batch is said once, at the step that moved it:
        # the loss's own checks would read the batch where its classes or steps belong (T051).
        moved = [] if off_dim0 else _batch_kept(spec, [(key, one, last, out)])
        diags += (moved or _check_one(spec, one, last, out, key)) + _threshold_units(spec, one, last, key)
    if trained and spec.document is not None and spec.document.lora is None:  # LoRA trains its adapters
        diags += _cut_off(spec, trained)
    return diags



def _samples_first(spec: Spec, outs: list[TensorType]) -> list[Diagnostic]:
    """T003 for an input whose samples are not along dim 0: training takes each batch from dim 0
    of every input (data files hold one sample per row), so a sequence-first (T, B, F) input was
    cut along T, and the batch met its targets only to crash."""
    batch = {d.shape[0] for d in outs if d.rank and not isinstance(d.shape[0], int)}
    if len(batch) != 1:
        return []
    (b,) = batch
    diags = []
    for name, t in spec.graph.inputs.items():
        if t.rank and b not in t.shape and any(u.rank and u.shape[0] == b for u in spec.graph.inputs.values()):
            diags.append(_no_samples(spec, name, t, b))
        elif t.rank >= 2 and t.shape[0] != b and b in t.shape[1:]:
            at = t.shape.index(b)
            dims = [at, *(i for i in range(t.rank) if i != at)]
            back = [dims.index(i) for i in range(t.rank)]
            shape = ", ".join(str(t.shape[i]) for i in dims)
            diags.append(Diagnostic("T003", f"training takes each batch from dim 0 of every input, but input {name!r} "
                                    f"{t} holds its samples ({b}) at dim {at}", spec.locations.value("inputs", name),
                                    f"declare {name}: [{shape}] and add - {{type: Permute, from: {name}, dims: "
                                    f"{back}}} where the model reads it, to keep its layers' layout"))
    return diags


def _no_samples(spec: Spec, name: str, t: TensorType, b: Any) -> Diagnostic:
    """T003 for an input without the batch, one tensor for every sample (a causal mask [T, T]):
    training cut it along dim 0 as if it held samples, and the model met a slice of it."""
    attention = next((n for n in spec.graph.leaves() if name in n.inputs and FAMILY_OF.get(n.type) == "attention"),
                     None)
    fill = next((n for n in spec.graph.leaves() if n.type == "MaskedFill" and name in n.inputs[1:]), None)
    if t.dtype == "bool" and attention is not None:
        hint = (f"for a causal mask, drop input {name} and give {attention.type} '{attention.path}' (and the other "
                "attention layers that read it) causal: true in place of the mask")
    elif t.dtype == "bool" and fill is not None and t.rank == 2:
        hint = (f"for a causal mask, drop input {name} and compute it from the scores' lengths: - {{type: "
                f"CausalMask, from: {fill.inputs[0]}, name: {name}}}")
    else:
        hint = (f"declare {name}: [{b}, {', '.join(map(str, t.shape))}], one per sample, or make it part of the "
                "model (a LearnedTokens parameter, or a layer that computes it)")
    return Diagnostic("T003", f"training takes each sample from dim 0 of every input, but input {name!r} {t} "
                      f"has no batch ({b}): one tensor for every sample is not data",
                      spec.locations.value("inputs", name), hint)


def _batch_kept(spec: Spec, pairs: list[Any]) -> list[Diagnostic]:
    """T003 for a trained output whose dim 0 is not the inputs' batch: a Reshape such as PyTorch's
    ``x.view(-1, N)`` with N a divisor of the values per sample folds part of each sample into the
    batch, (B, 8, 4, 4) -> (2*B, 64), and the loss met 2*B rows for B labels, a crash in training.
    Said at the step that moved dim 0 off the batch."""
    batch = {t.shape[0] for t in spec.graph.inputs.values() if t.rank}
    if len(batch) != 1:
        return []
    (b,) = batch
    if isinstance(b, int):
        return []
    diags: list[Diagnostic] = []
    seen: set[int] = set()
    for key, _, last, out in pairs:
        if not isinstance(last, Leaf) or out is None or not out.rank or out.shape[0] == b:
            continue
        step = last
        # Back to the first step whose output's dim 0 is off the batch while what it reads keeps it.
        while True:
            ins = [i.out for i in step.inputs if isinstance(i, Leaf) and i.out is not None]
            ins += [spec.graph.inputs[i] for i in step.inputs if isinstance(i, str) and i in spec.graph.inputs]
            back = next((i for i in step.inputs if isinstance(i, Leaf) and i.out is not None and i.out.rank
                         and i.out.shape[0] != b), None)
            if back is None or not all(t.rank and t.shape[0] == b for t in ins if t is not back.out):
                break
            step = back
        if id(step) in seen or step.out is None:
            continue
        seen.add(id(step))
        source = next((t for t in ins if t.rank and t.shape[0] == b), None)
        per = product(source.shape[1:]) if source is not None else None
        dims = arg(step, "dim")
        if dims == 0 or (isinstance(dims, (list, tuple)) and 0 in dims):
            hint = (f"use dim: 1 on {step.who()}: dim 0 is the batch, and {step.type} along it mixes the samples "
                    "of a batch together")
        elif step.family == "recurrent" and arg(step, "output") == "state":
            hint = (f"set output: last on {step.who()}, its last layer's final state as ({b}, features); its "
                    "states are (layers·directions, batch, hidden), with the batch at dim 1")
        elif step.type == "Reshape" and isinstance(per, int):
            shape = arg(step, "shape") or ()
            keep = f"[{b}, {per}]" if len(shape) == 2 else f"[{b}, ...]"
            hint = (f"write shape: {keep} to keep the batch {b} by name (each sample has {per} values here), "
                    "or use a Flatten")
        else:
            hint = f"keep dim 0 the batch {b}: fold no part of a sample into it, or unfold it before the output"
        at = step.node.field_locs.get("shape", step.node.loc) if step.type == "Reshape" else step.node.loc
        made = f" made by {step.who()} from {source}" if source is not None else f" made by {step.who()}"
        rows = f"{out.shape[0]} row{'' if out.shape[0] == 1 else 's'}"
        message = (f"training takes {b} samples per batch, but the trained output {out} has {rows} "
                   f"along dim 0{made}: the loss would meet {rows} for {b} labels")
        diags.append(Diagnostic("T003", (f"output {key!r}: " if key else "") + message, at, hint,
                                layer=step.node.path))
    return diags


def _classifies(pairs: list[Any]) -> bool:
    """Whether the (single) loss trains a classifier of samples from the output it scores."""
    return len(pairs) == 1 and pairs[0][3] is not None and classification(pairs[0][1], pairs[0][3])


def _bundled_data(spec: Spec, pairs: list[Any]) -> list[Diagnostic]:
    """A bundled data set against the model, as training will find it (T003, T005), at check:
    its shapes are known without loading it."""
    train = spec.document.train if spec.document is not None else None
    sources = {getattr(train.data, k) for k in ("source", "val_source")} if train is not None else set()
    diags: list[Diagnostic] = []
    runs = BUNDLED_CLASS_RUNS.get(train.data.source) if train is not None and not train.data.shuffle else None
    if runs and _classifies(pairs):
        n_val = 0 if train.data.val_source else validation_count(sum(r for _, r in runs), train.data.val_split)
        message = unshuffled_sorted(runs, n_val, train.data.sampler == "balanced")
        if message:
            diags.append(Diagnostic("T084", message.replace("the rows in the file's order",
                                                          f"the rows of {train.data.source!r} in their order"),
                                    spec.locations.value("train", "data", "shuffle"), SHUFFLE_FIX, "warning"))
    bundled = train.data.source if train is not None else None
    ignore = getattr(pairs[0][1], "ignore_index", None) if len(pairs) == 1 else None
    n_classes = DATASET_SHAPES.get(bundled, (None, None))[1] if bundled else None
    if n_classes and _classifies(pairs) and isinstance(ignore, int) and 0 <= ignore < n_classes and \
            pairs[0][3].rank == 2:
        # every bundled set has samples of each of its classes
        diags.append(Diagnostic("T088", f"ignore_index: {ignore} is class {ignore} of the {n_classes} of "
                                f"{bundled!r}: the loss leaves every sample of it out, so class {ignore} is never "
                                "learned (ignore_index marks padding positions in a tagger's targets, not a class "
                                "of a classifier)",
                                loss_loc(spec, "ignore_index", None),
                                "remove ignore_index (the default -100 leaves no class out)", "warning"))
    for source in sorted(s for s in sources if s in DATASET_SHAPES):
        features, classes = DATASET_SHAPES[source]
        if len(spec.graph.inputs) != 1:
            # training's own refusal (data/read.py), said here: check said ok and training stopped at once
            names = list(spec.graph.inputs)
            diags.append(Diagnostic("T003", f"data source {source!r} feeds one input, but the model has "
                                    f"{len(names)} ({', '.join(names)})",
                                    spec.locations.value("train", "data", "val_source" if source ==
                                                         train.data.val_source else "source"),
                                    "use a .npz file with one array per input (x_key: {input: key, ...})"))
            continue
        name, t = next(iter(spec.graph.inputs.items()))
        per = t.shape[1:]
        fits = (len(per) == 1 and (not isinstance(per[0], int) or per[0] == features)) or (
            all(isinstance(d, int) for d in per) and math.prod(per) == features)  # type: ignore[arg-type]
        if not fits:
            square = math.isqrt(features)
            image = f", or [B, 1, {square}, {square}] for its {square}x{square} images" if source == "digits" else ""
            diags.append(Diagnostic("T003", f"data source {source!r} gives {features} values per sample, but input "
                                    f"{name!r} takes {t}", spec.locations.value("inputs", name),
                                    f"declare {name}: [{t.shape[0]}, {features}]{image}"))
        for _, loss, last, out in pairs:
            if out is None or not isinstance(last, Leaf) or getattr(loss, "type", None) is None:
                continue
            dim = class_dim(loss, out) if classification(loss, out) else None
            width = out.shape[dim] if dim is not None else None
            task = task_of(loss, out)
            if classes is not None and isinstance(width, int) and width < classes:
                diags.append(_located(spec, "T005", f"data source {source!r} has {classes} classes, but it gives "
                                      f"{width} scores per sample", f"set the last layer's width to {classes}",
                                      at=last))
            elif classes is None and task in ("classification", "binary"):
                diags.append(_located(spec, "T005", f"data source {source!r} holds measured values (a regression), "
                                      f"but {loss.type} wants class labels", "use loss: {type: MSELoss} (or "
                                      "HuberLoss, L1Loss) with one output"))
            elif classes is not None and classes > 2 and task == "binary":  # labels 0..K-1 are no BCE targets
                diags.append(_located(spec, "T006", f"data source {source!r} has {classes} classes (labels 0 to "
                                      f"{classes - 1}), but {loss.type} reads yes/no targets in [0, 1]",
                                      f"use loss: {{type: CrossEntropyLoss}} and give the last layer {classes} "
                                      "outputs"))
            elif classes is not None and task in ("regression", "binary") and \
                    any(d != 1 for d in out.shape[1:]):  # one label per sample cannot fill (B, 3)
                ce = f"use loss: {{type: CrossEntropyLoss}} with the {classes} outputs"
                diags.append(_located(spec, "T003", f"data source {source!r} holds one class label (0 to "
                                      f"{classes - 1}) per sample, but {loss.type} compares it with the output "
                                      f"{out}", f"give the last layer one output (a yes/no score per sample for "
                                      f"{loss.type}), or {ce}" if task == "binary" and classes == 2 else ce))
            elif classes is not None and dim is not None and out.rank > 2 and not (
                    producer(last, SAME_LAYOUT).family in LAST_DIM_FEATURES and dim != out.rank - 1):
                # (a Linear's features away from the class dim are T051's: the classes are misplaced)
                diags.append(_one_label_many_positions(spec, source, loss, last, out, dim))
    return diags


def _one_label_many_positions(spec: Spec, source: str, loss: Any, last: Leaf, out: TensorType,
                              dim: int) -> Diagnostic:
    """T003: a bundled set's one label per sample against a class output with positions beside
    its classes, (B, 10, 1, 1) from a 1x1 convolution head: the loss wants a label per position."""
    extra = [i for i in range(1, out.rank) if i != dim]
    sizes = [out.shape[i] for i in extra]
    if all(d == 1 for d in sizes):
        fix = f"add - {{type: Flatten}} after {last.who()}, so the output is ({out.shape[0]}, {out.shape[dim]})"
    else:
        fix = (f"pool the positions away before the output (- {{type: GlobalAvgPool}} on a feature map, or a "
               f"recurrent layer's output: last), so the output is ({out.shape[0]}, {out.shape[dim]})")
    where = "dim" if len(extra) == 1 else "dims"
    return _located(spec, "T003", f"data source {source!r} holds one class label per sample, but {loss.type} on "
                    f"the output {out} (classes at dim {dim}) wants one per position of its {where} "
                    f"{', '.join(map(str, extra))}", fix, at=last)


# The largest lr each optimizer trains with, as a multiple of its PyTorch default: adaptive ones
# take steps of about lr; SGD's step is lr times the gradient, which norms keep near 1.
TOO_HIGH = 100
SGD_TOO_HIGH = 5.0  # lr: 10 on SGD diverged on digits; large-batch recipes reach about 3
TOO_LOW = 1e-4
# SGD's and Adadelta's lr scale a step that fine-tuning does not shrink as it does Adam's (1e-5, 1e-6
# of BERT and LLM recipes): on a digits MLP, 20 epochs of SGD at 1e-6 (momentum 0.9) and of Adadelta at
# 1e-3 (Keras' default; PyTorch's and the paper's is 1.0) stayed at chance, where Adadelta at 1.0 reached 97%
LOW_SCALED = {"SGD": 1e-2, "Adadelta": 1e-2}
# With grad_clip, SGD moves the weights by at most lr x grad_clip per step (/(1 - momentum) once
# momentum builds up), over all the parameters together: spread over P of them, that is about
# lr x clip / sqrt(P) each, next to weights PyTorch starts at about 1/sqrt(fan_in). A digits MLP
# (8,970 parameters) trained at 0.005 a weight (lr 2, clip 0.25) and stayed at chance from 0.013
# (lr 5); PyTorch's word_language_model (SGD lr 20, clip 0.25, about 14M parameters) takes 0.0013.
CLIPPED_STEP_TOO_HIGH = 0.01
# The largest weight_decay that still trains: coupled L2 (SGD, Adam, ...) collapsed digits to a
# constant at 0.3; AdamW's decoupled decay, lr x weight_decay per step, 100 times its default 0.01.
COUPLED_DECAY_HIGH = 0.1
DECOUPLED_DECAY_HIGH = 1.0
DECOUPLED = ("AdamW", "Adafactor")
# Adam and its kin add weight_decay to the gradient, which their per-weight step then rescales:
# from AdamW's default 0.01 up, a decay written for decoupled decay regularises far harder coupled
# (digits MLP, 30 epochs: Adam 0.05 reached 93% where AdamW 0.05 reached 97.5%, Adam 0.1 86%).
COUPLED_ADAPTIVE = ("Adam", "NAdam", "RAdam", "Adamax")
DECOUPLED_SCALE = 0.01


def _single_sample_batches(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T008: batch_size: 1 into a BatchNorm that gets one value per channel per sample (a (B, C)
    vector, or a 1x1 map): its batch statistics are of one value, and PyTorch stops at the first
    step. V072 (a warning) for batch_size: 2 there: two values per channel, normalised to +-1.
    Frozen norms stay in eval mode and read running statistics, so they are left alone, as
    are all norms under lora: (the base model's statistics are frozen)."""
    doc = spec.document
    train = doc.train if doc is not None else None
    if train is None or train.batch_size > 2 or doc.lora is not None:
        return []
    made = _synthetic_sizes(spec)
    for leaf in leaves:
        out = leaf.out
        if not leaf.type.startswith("BatchNorm") or not leaf.node.trainable or out is None:
            continue
        # a symbolic size is left alone where the data decides it (1 only for one-pixel samples); the
        # data specc makes has its sizes now (a map of H/32 rows is 1x1 at its H = 16)
        at = _sizes_at(out.shape[2:], made)
        if math.prod(at) != 1:
            continue
        named = {s for d in out.shape[2:] if not isinstance(d, int) for s in d.symbols()}
        sizes = ", ".join(f"{k} = {v}" for k, v in made.items() if k in named)
        where = f" at the synthetic data's {sizes}" if sizes else ""
        if train.batch_size == 1:
            return [Diagnostic("T008", f"batch_size: 1 gives {leaf.who()} one value per channel in each batch "
                               f"(its input {out} has one per sample{where}), and BatchNorm cannot normalise a "
                               "single value while training", spec.locations.nearest("train", "batch_size"),
                               "use batch_size: 2 or more (16 or more gives BatchNorm useful statistics), or a "
                               "LayerNorm or GroupNorm in its place", layer=leaf.node.path)]
        # two values normalise to +1 and -1 whatever they are, and the variance's gradient near a tie
        # is 1/sqrt(eps): a stack of such layers sent RegNetX-400MF's gradients to 1e20
        return [Diagnostic("V072", f"batch_size: 2 gives {leaf.who()} two values per channel in each batch "
                           f"(its input {out} has one per sample{where}): BatchNorm turns them into +1 and -1 "
                           "whatever they are, and the gradient through their variance can explode",
                           spec.locations.nearest("train", "batch_size"),
                           "use batch_size: 4 or more (16 or more gives BatchNorm useful statistics), larger "
                           "inputs, or a LayerNorm or GroupNorm in its place", "warning", layer=leaf.node.path)]
    return []


# BatchNorm's batch statistics are noisy below this many samples (Wu & He's GroupNorm paper: its
# error climbs steeply below a batch of 8), whatever accumulate makes of the gradient.
SMALL_NORM_BATCH = 8


def _fill_under_autocast(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T096: a MaskedFill of a value past float16's range (the -1e9 of many attention implementations)
    on values autocast computes in float16: masked_fill converts the value to its input's dtype and
    raises 'value cannot be converted to type at::Half without overflow' at the first batch on a GPU."""
    train = spec.document.train if spec.document is not None else None
    if train is None or not train.mixed_precision or train.device == "cpu" or \
            not any(leaf.type == "MaskedFill" for leaf in leaves):
        return []
    from ..graph.memory import AUTOCAST_HALF  # the index family is imported only where a spec uses it
    from ..layers.index import FLOAT16_MAX

    out = []
    for leaf in leaves:
        value = arg(leaf, "value") if leaf.type == "MaskedFill" else None
        if not isinstance(value, float) or not math.isfinite(value) or abs(value) <= FLOAT16_MAX:
            continue
        made = producer(leaf.inputs[0], (*PASS_THROUGH, "index")) if isinstance(leaf.inputs[0], Leaf) else None
        while made is not None and made.inputs and isinstance(made.inputs[0], Leaf) and (
                made.type in ("Scale", "Dropout") or (arg(made, "value") is not None and made.type in SCALARS)):
            made = producer(made.inputs[0], (*PASS_THROUGH, "index"))  # a score divided by sqrt(d) stays float16
        if made is None or made.type not in AUTOCAST_HALF:
            continue
        end = ("lowest", -FLOAT16_MAX) if value < 0 else ("largest", FLOAT16_MAX)
        out.append(Diagnostic(
            "T096", f"{leaf.who()}: under mixed_precision: true {made.who()} computes in float16 on the GPU, and "
            f"masked_fill cannot write {value:g} into float16 values (their {end[0]} is {end[1]:g}): training stops "
            "at the first batch with 'value cannot be converted to type at::Half without overflow'", leaf.node.loc,
            f"write value: {end[1]:g} (float16's {end[0]}; {'-' if value < 0 else ''}.inf hides the same), or set "
            "mixed_precision: false in train:", layer=leaf.node.path))
    return out


SCALARS = ("Mul", "Div", "Add", "Sub", "Multiply", "Divide", "Subtract")


def _rows_with_no_key(leaves: list[Leaf]) -> list[Diagnostic]:
    """V177: a Softmax over scores filled with -inf by a CausalMask of diagonal <= 0, or an attention
    layer given such a mask as its bool attn mask, which hides every key from the first query: exp(-inf)
    sums to 0 there and the softmax gives 0/0 = nan in that row, which the next MatMul spreads to every
    position. Forward, training and export all meet it (export then finds nothing to compare)."""
    out = []
    for leaf in leaves:
        found = _filled_mask(leaf)
        if found is None:
            continue
        reader, mask = found
        diagonal = arg(mask, "diagonal")
        if not isinstance(diagonal, int) or diagonal > 0:
            continue
        out.append(Diagnostic(
            "V177", f"{reader.who()}: {mask.who()} (diagonal: {diagonal}) hides every key from the first query, so "
            f"its row of scores is all -inf and {_softmax_of(reader)} gives nan there (0 / 0), which the next layers "
            "spread", mask.node.loc, "set diagonal: 1, so each query sees its own key, or " + _finite_fix(reader),
            layer=mask.node.path))
    return out


def _softmax_of(reader: Leaf) -> str:
    return "the Softmax" if reader.type == "MaskedFill" else "its softmax"


def _finite_fix(reader: Leaf) -> str:
    return ("fill with a finite value: value: -1.0e4" if reader.type == "MaskedFill" else
            f"give {reader.who()} causal: true in place of the mask")


def _filled_mask(leaf: Leaf) -> tuple[Leaf, Leaf] | None:
    """The layer that hides the keys a CausalMask marks, and that mask: the MaskedFill of -inf a Softmax
    reads, or an attention layer reading the mask as its bool attn mask; None for anything else."""
    masks = arg(leaf, "masks")
    if isinstance(masks, (list, tuple)) and "attn" in masks and len(leaf.inputs) >= len(masks):
        src = leaf.inputs[len(leaf.inputs) - len(masks) + list(masks).index("attn")]
        mask = producer(src) if isinstance(src, Leaf) else None
        return (leaf, mask) if mask is not None and mask.type == "CausalMask" else None
    if leaf.type != "Softmax" or not leaf.inputs or not isinstance(leaf.inputs[0], Leaf):
        return None
    fill = producer(leaf.inputs[0])
    value = arg(fill, "value") if fill.type == "MaskedFill" else None
    if not isinstance(value, float) or value != -math.inf or len(fill.inputs) < 2 or \
            not isinstance(fill.inputs[1], Leaf):
        return None
    mask = producer(fill.inputs[1])
    return (fill, mask) if mask.type == "CausalMask" else None


def _more_queries(queries: Any, keys: Any, window: int, rules: list) -> dict[str, int] | None:
    """Symbol sizes (all rules holding) at which there are window or more queries past the keys,
    queries - keys >= window, or None where no size tried gives that.  Each symbol of the two
    lengths is grown alone from the smallest sizes the rules allow: enough for lengths that are
    sums, differences and floors of symbols (a cross-attention's T and S, a cache's P + T)."""
    gap = queries - keys
    if isinstance(gap, int):
        return {} if gap >= window else None
    names = sorted(gap.symbols())
    base = dict.fromkeys(names, 1)
    base.update(nearest_fit(rules, base))

    def reaches(env: dict[str, int]) -> bool:
        return all(r.holds(env) for r in rules) and evaluate(gap, env) >= window

    for name in names:
        low, high = base[name], base[name]
        while high < 1 << 24 and not reaches({**base, name: high}):
            low, high = high, 2 * high
        if high >= 1 << 24:
            continue
        while high - low > 1:  # the smallest size that shows it, for the message
            mid = (low + high) // 2
            low, high = (low, mid) if reaches({**base, name: mid}) else (mid, high)
        return {**base, name: high}
    return None


def _window_past_the_keys(leaves: list[Leaf], graph: Any) -> list[Diagnostic]:
    """V161: a Softmax over scores filled with -inf by a CausalMask with a window, over scores with
    window or more queries past the keys at some size. Query i keeps keys max(0, i - window + 1) ..
    min(S - 1, i + diagonal - 1): with diagonal >= 1 (V177 takes the others) that is empty exactly
    where i >= S + window - 1, so T >= S + window leaves the last queries no key and their rows
    0 / 0 = nan, as V177's first row."""
    out = []
    rules = size_rules(graph) if graph is not None else []
    for leaf in leaves:
        found = _filled_mask(leaf)
        if found is None:
            continue
        fill, mask = found
        window, diagonal = arg(mask, "window"), arg(mask, "diagonal")
        src = mask.inputs[0] if mask.inputs else None
        scores = src.out if isinstance(src, Leaf) else graph.inputs.get(src) if graph is not None else None
        if not isinstance(window, int) or not isinstance(diagonal, int) or diagonal <= 0 or scores is None:
            continue
        q, k = arg(mask, "q"), arg(mask, "k")
        queries, keys = scores.shape[q], scores.shape[k]
        env = _more_queries(queries, keys, window, rules)
        if env is None:
            continue
        at = f"at {', '.join(f'{s} = {v}' for s, v in env.items())}, " if env else ""
        t_len, s_len = evaluate(queries, env), evaluate(keys, env)
        out.append(Diagnostic(
            "V161", f"{fill.who()}: {mask.who()} (window: {window}) reads scores of {queries} queries and {keys} "
            f"keys, and query i keeps only keys i - {window - 1} .. i: {at}the queries from position "
            f"{s_len + window - 1} of 0 .. {t_len - 1} are past all {s_len} keys, so their rows are all -inf and "
            f"{_softmax_of(fill)} gives nan there (0 / 0), which the next layers spread", mask.node.loc,
            "give the mask scores with as many queries as keys (its window is a self-attention's, where T = S), "
            "drop window:, or " + _finite_fix(fill), layer=mask.node.path))
    return out


# PyTorch's optimizers that step on a sparse gradient (an Embedding's with sparse: true); the rest
# raise '<Optimizer> does not support sparse gradients' at the first step.
SPARSE_STEPPERS = ("SGD", "Adagrad")


def _sparse_gradients(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T094: an Embedding with sparse: true trained where a sparse gradient stops training at its first
    step: an optimizer other than SGD or Adagrad, weight decay on it (SGD adds the dense weight to the
    sparse gradient, which PyTorch refuses; Adagrad refuses the option), or grad_clip (clip_grad_norm_
    cannot take the norm of a sparse tensor)."""
    doc = spec.document
    opt = doc.optimizer if doc is not None else None
    if opt is None or doc.loss is None or doc.lora is not None:
        return []
    sparse = [leaf for leaf in leaves if leaf.type == "Embedding" and arg(leaf, "sparse") is True
              and leaf.node.trainable]
    if not sparse:
        return []
    leaf = sparse[0]
    loc = leaf.node.field_locs.get("sparse", leaf.node.loc)
    dense = "set sparse: false (a dense gradient, which every optimizer and setting takes)"
    if opt.type not in SPARSE_STEPPERS:
        return [Diagnostic("T094", f"{leaf.who()}: sparse: true gives its weight a sparse gradient, and {opt.type} "
                           f"takes none: training stops at the first step ('{opt.type} does not support sparse "
                           "gradients')", loc, f"{dense}, or use an optimizer that steps on one (type: SGD or "
                           "Adagrad, without weight_decay)", layer=leaf.node.path)]
    decay = _weight_decay_of(spec, leaf)
    if decay:
        refusal = ("add(sparse, dense) is not supported" if opt.type == "SGD" else
                   "weight_decay option is not compatible with sparse gradients")
        return [Diagnostic("T094", f"{leaf.who()}: sparse: true gives its weight a sparse gradient, and {opt.type}'s "
                           f"weight_decay {decay:g} adds the dense weight to it: training stops at the first step "
                           f"('{refusal}')", loc, f"{dense}, or set weight_decay: 0 in optimizer:",
                           layer=leaf.node.path)]
    train = doc.train
    if train is not None and train.grad_clip is not None:
        return [Diagnostic("T094", f"{leaf.who()}: sparse: true gives its weight a sparse gradient, and grad_clip: "
                           f"{train.grad_clip:g} takes the norm of every gradient, which PyTorch cannot do for a "
                           "sparse one: training stops at the first step", loc,
                           f"{dense}, or remove grad_clip from train:", layer=leaf.node.path)]
    return []


def _weight_decay_of(spec: Spec, leaf: Leaf) -> float:
    """The weight decay the optimizer applies to ``leaf``'s parameters: its group's, else the optimizer's."""
    opt = spec.document.optimizer
    base = float(getattr(opt, "weight_decay", 0.0) or 0.0)
    plan = groups.plan(spec)[0]
    if plan is None:
        return base
    names = {p.name for p in groups.parameters(spec) if p.node is leaf.node}
    for g in [*plan.groups, plan.rest]:
        if names & set(g.params):
            return float(g.options.get("weight_decay", base) or 0.0)
    return base


def _accumulated_batchnorm(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T064: accumulate: N beside a small batch_size and a trainable BatchNorm (a warning). Accumulation
    sums the gradients of N batches into one step, but each forward still normalises by its own batch's
    statistics: batch_size 2 with accumulate 16 is an optimizer batch of 32 and a BatchNorm batch of 2."""
    doc = spec.document
    train = doc.train if doc is not None else None
    if train is None or train.accumulate <= 1 or not 1 < train.batch_size < SMALL_NORM_BATCH or doc.lora is not None:
        return []
    norms = [leaf for leaf in leaves if leaf.type.startswith("BatchNorm") and leaf.node.trainable]
    if not norms:
        return []
    b, n = train.batch_size, train.accumulate
    return [Diagnostic("T064", f"accumulate: {n} makes each optimizer step of {b * n} samples, but {norms[0].who()}"
                       f"{f' and {len(norms) - 1} more' if len(norms) > 1 else ''} normalises each forward pass by "
                       f"its own batch of {b}: accumulation does not enlarge the batch BatchNorm sees, and statistics "
                       f"of {b} samples make its outputs noisy in training and its running averages poor for eval",
                       spec.locations.nearest("train", "accumulate"),
                       f"use GroupNorm (or LayerNorm) in place of BatchNorm, or a batch_size of {SMALL_NORM_BATCH} "
                       "or more per step", "warning", layer=norms[0].node.path)]


# Post-LN Transformers (norm_first: false) that diverge under Adam without warmup (Xiong et al. 2020,
# "On Layer Normalization in the Transformer Architecture": 6 layers of width 512 at lr 5e-4 and 1e-3);
# narrow toy stacks are left alone, the paper measured none
POST_LN_LAYERS, POST_LN_LR, POST_LN_WIDTH = 6, 5e-4, 256
TRANSFORMER_LAYERS = ("TransformerEncoder", "TransformerEncoderLayer", "TransformerDecoder", "TransformerDecoderLayer")
# Adam and its kind: their first steps are lr-sized whatever the gradient (RAdam rectifies them itself)
ADAPTIVE = ("Adam", "AdamW", "NAdam", "Adamax")


def _warmed_up(spec: Spec) -> bool:
    sched = spec.document.scheduler if spec.document is not None else None
    if sched is None:
        return False
    return bool(getattr(sched, "warmup", None)) or sched.type == "OneCycleLR" or (
        sched.type == "LinearLR" and sched.start_factor < sched.end_factor)


def _post_ln_without_warmup(spec: Spec, leaves: list[Leaf]) -> list[Diagnostic]:
    """T093: a deep post-LN Transformer (norm_first: false, PyTorch's default; 6 layers or more in all,
    of width 256 or more) trained by Adam at lr 5e-4 or more from its first step (a warning). The
    post-LN layers' gradients near the output are large at initialisation, and Adam's first steps are
    lr-sized whatever the gradient: without warmup such runs diverge or stall, which is why the
    original Transformer and BERT warm up (Xiong et al. 2020). Pre-LN (norm_first: true) trains
    without it."""
    doc = spec.document
    opt = doc.optimizer if doc is not None else None
    if opt is None or opt.type not in ADAPTIVE or opt.lr < POST_LN_LR or _warmed_up(spec):
        return []
    post = [leaf for leaf in leaves if leaf.type in TRANSFORMER_LAYERS and leaf.node.trainable
            and leaf.node.result is not None and not leaf.node.result.args.get("norm_first", False)
            and leaf.out is not None and isinstance(leaf.out.shape[-1], int) and leaf.out.shape[-1] >= POST_LN_WIDTH]
    depth = sum(int(leaf.node.result.args.get("num_layers", 1)) for leaf in post)  # type: ignore[union-attr]
    if depth < POST_LN_LAYERS:
        return []
    first = post[0]
    sched = doc.scheduler if doc is not None else None
    warm = ("add warmup: {epochs: 1} to the scheduler" if sched is not None and sched.type != "ReduceLROnPlateau"
            else "add a warmup (scheduler: {type: LinearLR, start_factor: 0.01, total_iters: 1})")
    return [Diagnostic("T093", f"{depth} post-LN Transformer layers (norm_first: false, PyTorch's default; "
                       f"{first.who()}{f' and {len(post) - 1} more' if len(post) > 1 else ''}) train under {opt.type} "
                       f"at lr {opt.lr:g} from the first step, with no warmup: post-LN's gradients near the output "
                       "are large at initialisation and Adam's first steps are lr-sized, so such runs diverge or "
                       "stall (Xiong et al. 2020; the original Transformer warms up over 4000 steps)", first.node.loc,
                       f"{warm}, or set norm_first: true and norm: true on {first.who()} (pre-LN trains without "
                       "warmup)", "warning", layer=first.node.path)]


def _synthetic_sizes(spec: Spec) -> dict[str, int]:
    """The symbol sizes of the synthetic data specc makes (data.read.data_sizes' rule); none for
    data that brings its own sizes."""
    doc = spec.document
    if doc is None or doc.train is None or doc.train.data.source != "synthetic" or doc.train.data.val_source:
        return {}
    free = {s for t in spec.graph.inputs.values() for d in t.shape[1:] if not isinstance(d, int)
            for s in d.symbols()}
    return made_sizes(size_rules(spec.graph), doc.export.sizes, free)


def _sizes_at(dims: tuple[Any, ...], env: dict[str, int]) -> list[int]:
    """Each dim's size at ``env``; 2 for one it does not fix (not 1: nothing is claimed of it)."""
    out = []
    for d in dims:
        try:
            out.append(d if isinstance(d, int) else evaluate(d, env))
        except (KeyError, ZeroDivisionError):
            out.append(2)
    return out


def _learning_rate(spec: Spec, lr: float | None = None, at: tuple[Any, ...] = ("optimizer", "lr"),
                   who: str = "") -> list[Diagnostic]:
    """T058: an lr far outside what its optimizer trains with (a warning: training runs, uselessly)."""
    opt = spec.document.optimizer if spec.document is not None else None
    lr = getattr(opt, "lr", None) if lr is None else lr
    if opt is None or not isinstance(lr, (int, float)) or lr <= 0:
        return []
    default = type(opt).model_fields["lr"].default
    if not isinstance(default, (int, float)) or default <= 0:
        return []
    name = opt.type
    high = SGD_TOO_HIGH if name == "SGD" else TOO_HIGH * default
    if lr >= high and name == "SGD" and _clipped_step(spec, lr) is not None:
        step, clip, params = _clipped_step(spec, lr)
        if step < CLIPPED_STEP_TOO_HIGH:
            return []
        message = (f"optimizer SGD with lr: {lr:g} and grad_clip: {clip:g} moves the model's {params:,} weights by up "
                   f"to {step:.2g} each per step, far from the 1/sqrt(fan_in) they start at: the loss explodes or "
                   "the model collapses to a constant")
        return [Diagnostic("T058", message, spec.locations.nearest(*at),
                           f"use an lr below about {lr * CLIPPED_STEP_TOO_HIGH / step:.2g} with grad_clip: {clip:g}, "
                           "or a smaller grad_clip", "warning")]
    if lr >= high:  # Adam's lr: 0.1, SGD's carried over, left a digits MLP at 29% (97.8% at 1e-3)
        exponent = math.log10(lr)
        meant = f"; lr: {lr:g} reads like 1.0e-{round(exponent)} with its minus sign lost" \
            if lr >= 10 and exponent == round(exponent) else ""
        message = (f"optimizer {name}{who} with lr: {lr:g}, {lr / default:,.0f} times PyTorch's default {default:g}: "
                   f"steps that large make the loss explode or the model collapse to a constant")
        hint = f"use an lr near {default:g} (below about {high:g} for {name}){meant}"
        clip = _clip_for_recurrent(spec, lr) if name == "SGD" else None
        if clip is not None:
            message += (" (a recurrent model's gradients explode through its steps, and nothing clips them: "
                        "train.grad_clip is unset)")
            hint = (f"set grad_clip: {clip:g} (recurrent language models train with SGD at lr 20 only so clipped: "
                    f"PyTorch's word_language_model clips at 0.25), or {hint}")
    elif lr < LOW_SCALED.get(name, TOO_LOW) * default:
        keras = " (Keras' default for Adadelta; PyTorch's and the paper's is 1.0)" if name == "Adadelta" and \
            math.isclose(lr, 1e-3) else ""
        message = (f"optimizer {name}{who} with lr: {lr:g}{keras}, 1/{default / lr:,.0f} of PyTorch's default "
                   f"{default:g}: the weights barely move in any number of epochs")
        hint = f"use an lr near {default:g}" if name != "SGD" else "use an lr near 0.01 to 0.1 (SGD recipes' range)"
    else:
        return []
    return [Diagnostic("T058", message, spec.locations.nearest(*at), hint, "warning")]


def _split_reversed(spec: Spec) -> list[Diagnostic]:
    """T092 of a val_split above one half: the share kept for training written where the share held
    out belongs (scikit-learn's train_size: 0.8, Keras' habit of naming the training part). The model
    then trains on the smaller part and is judged on the larger."""
    doc = spec.document
    train = doc.train if doc is not None else None
    if train is None or train.data.val_source or not spec.locations.written("train", "data", "val_split"):
        return []
    split = train.data.val_split
    if split <= 0.5:
        return []
    return [Diagnostic("T092", f"val_split: {split:g} holds out {split:.0%} of the samples for validation and trains "
                       f"on {1 - split:.0%}: val_split is the share validated on, not the share trained on",
                       spec.locations.value("train", "data", "val_split"),
                       f"set val_split: {round(1 - split, 6):g} (to train on {split:.0%})", "warning")]


# OneCycleLR's usual peak: about 10 times the adaptive optimizers' default lr (fast.ai's 1e-3 to 1e-2
# for Adam), and 0.1 for SGD (Smith's super-convergence runs peak at 0.1 to 3 on CIFAR).
ONECYCLE_PEAK = {"SGD": 0.1}


def _peak_lr(spec: Spec) -> list[Diagnostic]:
    """T058 of OneCycleLR's max_lr: the lr the optimizer steps with at the cycle's peak, whatever its
    own lr says (OneCycleLR starts at max_lr / div_factor and replaces it). A max_lr of 1 for Adam
    (SGD's peak carried over) explodes at the peak as lr: 1 would."""
    doc = spec.document
    sched, opt = (doc.scheduler, doc.optimizer) if doc is not None else (None, None)
    if sched is None or opt is None or sched.type != "OneCycleLR":
        return []
    default = type(opt).model_fields["lr"].default
    if not isinstance(default, (int, float)) or default <= 0:
        return []
    peak, name = sched.max_lr, opt.type
    high = SGD_TOO_HIGH if name == "SGD" else TOO_HIGH * default
    usual = ONECYCLE_PEAK.get(name, 10 * default)
    if peak >= high:
        message = (f"OneCycleLR's max_lr: {peak:g} is the lr {name} steps with at the cycle's peak, "
                   f"{peak / default:,.0f} times PyTorch's default {default:g}: steps that large make the loss "
                   "explode or the model collapse to a constant, from the peak on")
    elif peak < TOO_LOW * default:
        message = (f"OneCycleLR's max_lr: {peak:g} is the highest lr {name} steps with, 1/{default / peak:,.0f} of "
                   f"PyTorch's default {default:g}: the weights barely move in any number of epochs")
    else:
        return _peak_below_lr(spec, peak)
    return [Diagnostic("T058", message, spec.locations.nearest("scheduler", "max_lr"),
                       f"use max_lr: {usual:g} (a usual peak for {name}; below about {high:g})", "warning")]


def _peak_below_lr(spec: Spec, peak: float) -> list[Diagnostic]:
    """T091 of a OneCycleLR max_lr below the lr written on the optimizer, which OneCycleLR replaces:
    the run starts at max_lr / div_factor and never trains at the lr written."""
    doc = spec.document
    assert doc is not None and doc.scheduler is not None and doc.optimizer is not None
    sched, lr = doc.scheduler, doc.optimizer.lr
    if not spec.locations.written("optimizer", "lr") or lr <= peak:
        return []
    start = peak / sched.div_factor
    return [Diagnostic("T091", f"OneCycleLR replaces the optimizer's lr: {lr:g}: the run starts at max_lr / div_factor "
                       f"= {start:.3g}, peaks at max_lr: {peak:g}, {lr / peak:.3g} times below the lr written, and "
                       f"ends at {start / sched.final_div_factor:.3g}; the lr {lr:g} is never used",
                       spec.locations.nearest("scheduler", "max_lr"),
                       f"set max_lr: {lr:g} (the cycle's peak is the lr the run trains at)", "warning")]


# SGD's step on a summed loss is the mean's times the terms summed: past this many times the lr
# SGD diverges at on a mean (SGD_TOO_HIGH), a summed loss explodes as that lr would.
def _summed_terms(spec: Spec) -> tuple[int, str] | None:
    """How many terms a reduction: sum loss adds per batch (the batch times each sample's positions
    the output fixes; a symbolic size counts 1, so the count is a floor), and the words for it."""
    doc = spec.document
    out = spec.graph.value(spec.graph.outputs[0][1]) if spec.graph is not None and spec.graph.outputs else None
    batch = doc.train.batch_size if doc is not None and doc.train is not None else 32
    if out is None:
        return batch, f"the {batch} samples of a batch"
    loss = doc.loss
    at = class_dim(loss, out) if classification(loss, out) else None
    per = math.prod(d for i, d in enumerate(out.shape) if i > 0 and i != at and isinstance(d, int))
    return batch * per, (f"the {batch} samples of a batch" if per == 1 else
                         f"{per:,} terms of each of the {batch} samples of a batch")


def _summed_loss_step(spec: Spec) -> list[Diagnostic]:
    """T085: reduction: sum under SGD at an lr written for the mean (a warning). The summed loss's
    gradient is the mean's times the terms summed (the batch, times the positions of a per-position
    loss), and SGD steps lr times the gradient: lr 0.1 at a batch of 256 steps as lr 25.6 on the
    mean, and the loss explodes. Adam and its kin divide the gradient by its own scale, so only SGD
    is concerned; grad_clip bounds the step, so a clipped run is left alone."""
    doc = spec.document
    if doc is None or doc.train is None or doc.optimizer is None or doc.optimizer.type != "SGD" or \
            isinstance(doc.loss, dict) or getattr(doc.loss, "reduction", "mean") != "sum" or doc.train.grad_clip:
        return []
    lr = doc.optimizer.lr
    found = _summed_terms(spec)
    if found is None or not isinstance(lr, (int, float)) or lr <= 0:
        return []
    n, terms = found
    if lr * n < SGD_TOO_HIGH:
        return []
    return [Diagnostic("T085", f"{doc.loss.type} with reduction: sum adds up {terms} instead of averaging them, so "
                       f"SGD's step at lr: {lr:g} is {n:,} times the mean loss's, as lr: {lr * n:.3g} on the mean "
                       "would be: the loss explodes", spec.locations.nearest("loss", "reduction"),
                       f"set reduction: mean to keep lr: {lr:g}, or keep the sum with lr: {lr / n:.2g} "
                       f"(lr / {n:,})", "warning")]


def _group_settings(spec: Spec) -> list[Diagnostic]:
    """T058 and T010 of each of param_groups' own lr and weight_decay, as of the optimizer's."""
    opt = spec.document.optimizer if spec.document is not None else None
    diags: list[Diagnostic] = []
    for i, g in enumerate(getattr(opt, "param_groups", None) or []):
        extra = g.model_extra or {}
        who = f" ({g.name or f'param_groups[{i}]'})"
        lr, decay = extra.get("lr"), extra.get("weight_decay")
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0:
            diags += _learning_rate(spec, lr, ("optimizer", "param_groups", i, "lr"), who)
        if isinstance(decay, (int, float)) and not isinstance(decay, bool) and math.isfinite(decay) and decay >= 0:
            diags += _weight_decay(spec, decay, ("optimizer", "param_groups", i, "weight_decay"), who)
    return diags


def _clipped_step(spec: Spec, lr: float) -> tuple[float, float, int] | None:
    """SGD's largest step per weight under train.grad_clip (see CLIPPED_STEP_TOO_HIGH), the clip and
    the number of parameters; None without clipping or parameters."""
    doc = spec.document
    clip = doc.train.grad_clip if doc is not None and doc.train is not None else None
    params = spec.graph.totals()[1] if spec.graph is not None else 0  # the frozen ones never move
    if not clip or params <= 0:
        return None
    momentum = getattr(doc.optimizer, "momentum", 0.0) or 0.0
    return lr * clip / (1 - momentum) / math.sqrt(params), clip, params


RECURRENT = ("RNN", "LSTM", "GRU")
CLIPS = (1.0, 0.5, 0.25, 0.1, 0.05, 0.01)


def _clip_for_recurrent(spec: Spec, lr: float) -> float | None:
    """The grad_clip (of a few usual ones) that keeps SGD's largest step per weight under
    CLIPPED_STEP_TOO_HIGH, for a model with a recurrent layer and no grad_clip: the clipped SGD that
    recurrent language models train with. None for another model, a clipped one, or no clip that fits."""
    doc, graph = spec.document, spec.graph
    if doc is None or graph is None or (doc.train is not None and doc.train.grad_clip) or \
            not any(n.type in RECURRENT for n in graph.leaves()):
        return None
    params = graph.totals()[1]
    momentum = getattr(doc.optimizer, "momentum", 0.0) or 0.0
    bound = CLIPPED_STEP_TOO_HIGH * math.sqrt(max(params, 1)) * (1 - momentum) / lr
    return next((c for c in CLIPS if c < bound), None)


def _weight_decay(spec: Spec, decay: float | None = None,
                  at: tuple[Any, ...] = ("optimizer", "weight_decay"), who: str = "") -> list[Diagnostic]:
    """T010: a weight_decay so large that the weights shrink to nothing (a warning: training runs, to a
    constant)."""
    opt = spec.document.optimizer if spec.document is not None else None
    decay = getattr(opt, "weight_decay", None) if decay is None else decay
    if opt is None or not isinstance(decay, (int, float)):
        return []
    name = opt.type
    if name in DECOUPLED:
        if decay <= DECOUPLED_DECAY_HIGH:
            return []
        message = (f"optimizer {name}{who} with weight_decay: {decay:g} shrinks every weight by lr x {decay:g} each "
                   "step, apart from the gradient: the weights fade faster than they learn")
        hint = f"use weight_decay: 0.01 ({name}'s usual scale, 0.01 to 0.3)"
    else:
        if name in COUPLED_ADAPTIVE and DECOUPLED_SCALE <= decay <= COUPLED_DECAY_HIGH:
            return [Diagnostic(
                "V066", f"optimizer {name}{who} with weight_decay: {decay:g} adds {decay:g} x each weight to the "
                "gradient, "
                f"which {name}'s per-weight step size rescales: {decay:g} is a decoupled decay's value (AdamW), and "
                "coupled it regularises far harder, costing accuracy",
                spec.locations.nearest(*at),
                f"use type: AdamW to decay the weights apart from the gradient (weight_decay: {decay:g} is its usual "
                f"scale), or weight_decay: 0.0001 for {name}'s L2 penalty", "warning")]
        if decay <= COUPLED_DECAY_HIGH:
            return []
        message = (f"optimizer {name}{who} with weight_decay: {decay:g} adds {decay:g} x each weight to its "
                   "gradient (an L2 penalty): that pull outweighs the loss, so the weights shrink to zero and the "
                   "model answers a constant")
        usual = "0.0005" if name == "SGD" else "0.0001"
        hint = (f"use weight_decay: {usual} (the usual scale for {name})"
                + ("; for decoupled decay use type: AdamW with weight_decay: 0.01" if name != "SGD" else ""))
    return [Diagnostic("T010", message, spec.locations.nearest(*at), hint, "warning")]


def _betas(spec: Spec) -> list[Diagnostic]:
    """T061: Adam-kin betas with beta1 above beta2, the two written in each other's place (a warning)."""
    opt = spec.document.optimizer if spec.document is not None else None
    betas = getattr(opt, "betas", None)
    if opt is None or not isinstance(betas, (list, tuple)) or len(betas) != 2:
        return []
    b1, b2 = betas
    if not (isinstance(b1, (int, float)) and isinstance(b2, (int, float))) or b1 <= b2:
        return []
    return [Diagnostic("T061", f"optimizer {opt.type} with betas: [{b1:g}, {b2:g}] averages the gradient over about "
                       f"{1 / (1 - b1):,.0f} steps but its square over about {1 / (1 - b2):,.0f}: beta1 (momentum) "
                       "above beta2 (the step size's average) reads as the two swapped, and trains slowly and "
                       "unstably", spec.locations.nearest("optimizer", "betas"),
                       f"write [{b2:g}, {b1:g}] to keep the usual order (beta1 below beta2)", "warning")]


def _growing_schedule(spec: Spec) -> list[Diagnostic]:
    """T063: a decaying scheduler (StepLR, MultiStepLR, ExponentialLR) given gamma above 1, the factor
    it multiplies the lr by, written as what it divides by (a warning: the lr grows until the loss explodes);
    a cosine schedule whose eta_min, the lr it ends at, is above the lr it starts from."""
    sched = spec.document.scheduler if spec.document is not None else None
    if sched is not None and sched.type in ("CosineAnnealingLR", "CosineAnnealingWarmRestarts"):
        lr, eta = getattr(spec.document.optimizer, "lr", None), getattr(sched, "eta_min", 0)
        if not (isinstance(lr, (int, float)) and isinstance(eta, (int, float)) and eta > lr > 0):
            return []
        # the cosine runs from each group's lr to eta_min: an eta_min above the lr is where it climbs to
        return [Diagnostic("T063", f"{sched.type} with eta_min: {eta:g} above the optimizer's lr: {lr:g}: the cosine "
                           f"runs from lr to eta_min, so the lr rises {eta / lr:.3g} times instead of decaying "
                           "(eta_min is the lr it ends at, written here for a larger lr)",
                           spec.locations.nearest("scheduler", "eta_min"),
                           f"use eta_min: 0, or a value below lr such as {lr / 100:g}", "warning")]
    gamma = getattr(sched, "gamma", None)
    if sched is None or sched.type not in ("StepLR", "MultiStepLR", "ExponentialLR") or \
            not isinstance(gamma, (int, float)) or gamma <= 1:
        return []
    every = {"StepLR": f"every {getattr(sched, 'step_size', 1)} {sched.interval}s",
             "MultiStepLR": "at each milestone", "ExponentialLR": f"every {sched.interval}"}[sched.type]
    return [Diagnostic("T063", f"{sched.type} with gamma: {gamma:g} multiplies the lr by {gamma:g} {every}: the lr "
                       "grows instead of decaying, until the loss explodes (gamma is the factor the lr is multiplied "
                       "by, not divided by)", spec.locations.nearest("scheduler", "gamma"),
                       f"use gamma: {1 / gamma:.3g} to divide the lr by {gamma:g} {every}", "warning")]


def _idle_scheduler(spec: Spec) -> list[Diagnostic]:
    """T059: a per-epoch schedule that hardly acts within the epochs trained (a warning): a StepLR
    or MultiStepLR whose first step comes after the last epoch, a CosineAnnealingLR whose T_max
    is many times the epochs (often counted in batches, where the scheduler counts epochs)."""
    doc = spec.document
    sched = doc.scheduler if doc is not None else None
    if sched is not None and doc.train is not None and getattr(sched, "interval", "") == "step" and \
            sched.type == "CosineAnnealingLR" and sched.T_max <= doc.train.epochs:
        # The converse slip: a cosine sized in epochs stepped per batch. PyTorch's cosine does not
        # stop at T_max, it climbs back, so the lr swings between lr and eta_min all run long.
        return [Diagnostic("T059", f"CosineAnnealingLR with interval: step counts T_max: {sched.T_max} in batches, "
                           f"but the run has {doc.train.epochs} epochs of batches: the lr reaches eta_min after "
                           f"{sched.T_max} batches and climbs back to lr every {2 * sched.T_max}, all run long",
                           spec.locations.nearest("scheduler", "T_max"),
                           f"use interval: epoch to count T_max: {sched.T_max} in epochs, or give T_max in batches "
                           "(epochs x batches per epoch)", "warning")]
    if sched is None or getattr(sched, "interval", "step") != "epoch" or doc.train is None:
        return []
    warmup = getattr(getattr(sched, "warmup", None), "epochs", None) or 0
    epochs = doc.train.epochs - warmup  # the scheduler starts after the warmup
    if epochs <= 0:
        return []  # T020: the warmup outlasts the run
    unit = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f" after the {warmup} of warmup" if warmup else "")
    if sched.type == "StepLR" and sched.step_size >= epochs:
        key, message = "step_size", (f"StepLR first multiplies the lr by gamma after {sched.step_size} epochs, but "
                                     f"it runs for {unit}: the lr never changes")
        hint = f"use step_size: {max(1, epochs // 3)} (the lr falls by gamma every third of the run), or drop it"
    elif sched.type == "MultiStepLR" and min(sched.milestones) >= epochs:
        key, message = "milestones", (f"MultiStepLR's first milestone is epoch {min(sched.milestones)}, but it "
                                      f"runs for {unit}: the lr never changes")
        hint = "put the milestones within the epochs trained, or drop the scheduler"
    elif sched.type == "CosineAnnealingLR" and sched.T_max >= 2 * epochs and epochs > 0:
        fallen = (1 - math.cos(math.pi * (epochs - 1) / sched.T_max)) / 2
        key, message = "T_max", (f"CosineAnnealingLR with T_max: {sched.T_max} runs for {unit}: by the last epoch "
                                 f"the lr has fallen only {fallen * 100:.2g}% of the way to eta_min (T_max counts "
                                 "epochs here, not batches)")
        hint = f"use T_max: {epochs}, the epochs it runs for (or interval: step to count batches)"
    elif sched.type == "CosineAnnealingWarmRestarts" and 2 * epochs <= sched.T_0 and epochs > 0:
        # the first cycle's cosine, as PyTorch's closed form gives it: no restart comes within the run
        fallen = (1 - math.cos(math.pi * (epochs - 1) / sched.T_0)) / 2
        key, message = "T_0", (f"CosineAnnealingWarmRestarts with T_0: {sched.T_0} runs for {unit}: by the last "
                               f"epoch the lr has fallen only {fallen * 100:.2g}% of the way to eta_min and never "
                               "restarts (T_0 counts epochs here, not batches)")
        hint = f"use T_0: {max(1, epochs // 3)} (three cycles in the run), or interval: step to count batches"
    elif sched.type == "ReduceLROnPlateau":
        return _idle_plateau(spec, sched, epochs, unit)
    else:
        return []
    return [Diagnostic("T059", message, spec.locations.nearest("scheduler", key), hint, "warning")]


def _idle_plateau(spec: Spec, sched: Any, epochs: int, unit: str) -> list[Diagnostic]:
    """T059 for ReduceLROnPlateau, which lowers the lr after patience + 1 epochs without a better
    validation loss: a run too short for that, or early stopping on the same loss with no more
    patience, which ends the run first (Keras' callbacks copied with the patiences swapped)."""
    wait = sched.patience + 1
    stopper = spec.document.train.early_stopping
    lr = getattr(spec.document.optimizer, "lr", None)
    if isinstance(lr, (int, float)) and sched.min_lr >= lr > 0:
        # PyTorch lowers to max(lr x factor, min_lr) only where that is below the lr: never, here
        return [Diagnostic("T059", f"ReduceLROnPlateau never lowers the lr below min_lr: {sched.min_lr:g}, which is at "
                           f"or above the optimizer's lr: {lr:g}: the lr never changes",
                           spec.locations.nearest("scheduler", "min_lr"),
                           f"use min_lr: 0, or a value below lr such as {lr / 1000:g}", "warning")]
    if wait >= epochs:
        message = (f"ReduceLROnPlateau lowers the lr after {wait} epochs without improvement (patience: "
                   f"{sched.patience}), but it runs for {unit}: the lr never changes")
        hint = f"use patience: {max(1, epochs // 5)}, or drop the scheduler"
    elif stopper is not None and stopper.monitor == "val_loss" and sched.mode == "min" and \
            stopper.patience <= sched.patience:
        message = (f"ReduceLROnPlateau waits {wait} epochs without a better val_loss before it lowers the lr, but "
                   f"early stopping ends the run after {stopper.patience}: the lr never falls")
        hint = f"use patience: {max(1, stopper.patience // 2)} (below early stopping's {stopper.patience})"
    else:
        return []
    return [Diagnostic("T059", message, spec.locations.nearest("scheduler", "patience"), hint, "warning")]


def _cut_off(spec: Spec, trained: list[Leaf]) -> list[Diagnostic]:
    """V035 for layers with trainable parameters that feed a trained output only through integer or
    bool values (a Cast to int64, a bool mask): no gradient reaches them, so they keep their initial
    values; and for a loss that reaches no trainable parameter at all, where training cannot start
    (PyTorch refuses the backward pass, or an optimizer of no parameters)."""
    reached: set[int] = set()  # layers a gradient reaches
    stack = list(trained)
    while stack:
        step = stack.pop()
        if id(step) in reached or step.out is None or not step.out.is_float:
            continue
        reached.add(id(step))
        stack.extend(i for i in step.inputs if isinstance(i, Leaf))
    feeding: list[tuple[Leaf, Leaf]] = []  # (a layer that feeds an output, the integer step after it)
    seen: set[int] = set()
    stack_cut = [(s, s) for s in trained]
    while stack_cut:
        step, cut = stack_cut.pop()
        if id(step) in seen:
            continue
        seen.add(id(step))
        if step.out is not None and not step.out.is_float:
            cut = step
        feeding.append((step, cut))
        stack_cut.extend((i, cut) for i in step.inputs if isinstance(i, Leaf))
    def trains(step: Leaf) -> bool:
        return bool(step.node.result is not None and step.node.result.params and step.node.trainable)

    # Freezing a cut-off layer is a fix only while another layer still trains.
    others = any(trains(step) for step, _ in feeding if id(step) in reached)
    out: list[Diagnostic] = []
    for step, cut in feeding:
        if id(step) in reached or not trains(step):
            continue
        out.append(Diagnostic(
            "V035", f"{step.who()} has {step.node.result.params:,} trainable parameters, but its values reach "  # type: ignore[union-attr]
            f"the loss only through {cut.who()}, which gives {cut.out.dtype if cut.out else 'integer'} values: no "
            "gradient flows back through them, so the parameters never train", step.node.loc,
            f"keep that path in floats (drop or move {cut.who()})" +
            (", or freeze the layer with trainable: false" if others else ""), layer=step.node.path))
    if not out and not others:
        out.append(_located(spec, "V035", "the loss trains no parameter: every layer the trained output depends "
                            "on is frozen (trainable: false) or has no parameters, so there is nothing to optimise",
                            "remove trainable: false from a layer, or drop loss:, optimizer: and train: (the model "
                            "still compiles, exports and predicts)"))
    return out


def _check_one(spec: Spec, loss: Any, last: Leaf, out: TensorType, output: str | None) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    if loss.type == "CTCLoss":
        if output is not None:
            return []  # CTC among several losses is V028 whatever its output
        layout = _ctc_layout(spec, loss, last, out, output)
        return layout or _log_space(spec, loss, last, output)  # log-probabilities over the classes it reads
    if loss.type in ("KLDivLoss", "NLLLoss"):
        diags += _log_space(spec, loss, last, output)
    if loss.type == "KLDivLoss" and loss.reduction == "mean":
        diags += _kl_mean(spec, out, output)
    if loss.type == "BCELoss":
        diags += _probabilities(spec, last, output) or _bce_autocast(spec, last, output)
    if loss.type == "FocalLoss":
        diags += _focal_logits(spec, loss, last, out, output)
        diags += _focal_alpha(spec, loss, out, output)
    if classification(loss, out):
        diags += _class_dim(spec, loss, last, out, output)
    diags += _weights(spec, loss, last, out, output)
    return diags


def _unreduced(spec: Spec) -> list[Diagnostic]:
    """T018: reduction: none in a spec that trains (a train section): the loop's backward needs one
    number per batch. `specc train` refuses it before any epoch for a spec without one."""
    doc = spec.document
    found = unreduced(doc.loss) if doc is not None and doc.train is not None else None
    if found is None:
        return []
    output, message, hint = found
    return [Diagnostic("T018", message, loss_loc(spec, "reduction", output), hint)]


def _threshold_units(spec: Spec, loss: Any, last: Leaf, output: str | None) -> list[Diagnostic]:
    """T017: a Huber delta (SmoothL1 beta) written for targets that preprocess: auto standardises
    (a warning): the loss reads it in standard deviations of the targets, not in their units, so
    delta: 10 for targets of 25 to 346 makes the loss plain MSE. Explicit scaling (targets:
    standardize or minmax) says the user knows the unit, and is quiet."""
    param, default = THRESHOLD_OF.get(loss.type, (None, None))
    value = getattr(loss, param, None) if param else None
    path = ("loss", output) if output is not None and spec.locations.mapping("loss", output) else ("loss",)
    doc = spec.document
    targets = doc.train.preprocess.targets if doc is not None and doc.train is not None else "auto"
    if param is None or not spec.locations.written(*path, param) or value == default or targets != "auto" \
            or last.type in BOUNDED:
        return []
    sign = f"{value:g} standard deviation{'s' if value != 1 else ''}"
    message = (f"{loss.type} with {param}: {value:g} is read on standardised targets (train.preprocess "
               "targets: auto scales a regression's targets to mean 0 and standard deviation 1), so the loss bends "
               f"at {sign} of the targets, not at {value:g} of their units")
    hint = (f"give {param} in standard deviations of the training targets ({value:g} of their units divided by "
            "their standard deviation) and write train.preprocess {targets: standardize} to say so; or keep "
            f"{param}: {value:g} in the targets' units with train.preprocess {{targets: none}} (the model then has to "
            "reach their raw values)")
    where = f"output {output!r}: " if output is not None else ""
    return [Diagnostic("T017", where + message, loss_loc(spec, param, output), hint, "warning")]


def producer(step: Leaf, through: tuple[str, ...] = PASS_THROUGH) -> Leaf:
    """The layer whose values (or, ``through=SAME_LAYOUT``, whose layout) ``step`` returns."""
    while step.family in through and step.source is not None:
        step = step.source
    return step


def loss_loc(spec: Spec, key: str = "type", output: str | None = None) -> Location | None:
    at = spec.locations
    path = ("loss", output) if output is not None and at.mapping("loss", output) else ("loss",)
    if at.mapping(*path):
        return at.value(*path, key) if at.written(*path, key) else at.value(*path, "type")
    return at.value("loss")


def _located(spec: Spec, code: str, message: str, hint: str, key: str = "type",
             at: Leaf | None = None, output: str | None = None) -> Diagnostic:
    if output is not None:
        message = f"output {output!r}: {message}"
    if at is not None:
        return Diagnostic(code, f"{at.who()}: {message}", at.node.loc, hint, layer=at.node.path)
    return Diagnostic(code, message, loss_loc(spec, key, output), hint)


def _log_space(spec: Spec, loss: Any, last: Leaf, output: str | None = None) -> list[Diagnostic]:
    made = producer(last)
    from_logits = bool(getattr(loss, "from_logits", False))
    name = loss.type
    if made.type in PROBABILITIES:
        alternative = " or remove it and set from_logits: true" if name == "KLDivLoss" else ""
        fix = ("remove it and keep from_logits: true (the loss applies log_softmax)" if from_logits else
               f"use LogSoftmax instead (same dim){alternative}")
        reads = "applies log_softmax to" if from_logits else "reads the output as log-probabilities, not"
        return [_located(spec, "T050", f"the model ends in {made.type}, but {name} {reads} probabilities", fix,
                         at=made, output=output)]
    if from_logits:
        return []
    if made.type not in LOG_SPACE:
        hint = ("add - {type: LogSoftmax, dim: " + str(-1 if name == "CTCLoss" else getattr(loss, "class_dim", 1))
                + "} at the end of the model"
                + (", or set from_logits: true in the loss" if name == "KLDivLoss" else ""))
        return [_located(spec, "T050", f"{name} reads the model's output as log-probabilities, but the model "
                         f"ends in {made.who()}, whose values are not; the loss has no lower bound and training "
                         "diverges", hint, output=output)]
    dim = made.node.result.args.get("dim") if made.node.result is not None else None
    # KLDivLoss compares distributions over its class_dim (the dim its from_logits would normalise);
    # CTCLoss reads the classes last
    cd = (last.out.rank - 1 if name == "CTCLoss" else class_dim(loss, last.out)) if last.out is not None else None
    what = "each distribution along its class_dim," if name == "KLDivLoss" else "the classes at"
    if made.type == "LogSoftmax" and isinstance(dim, int) and cd is not None and made.out is not None \
            and made.out.rank == last.out.rank and dim % made.out.rank != cd:  # type: ignore[union-attr]
        other = "" if name == "CTCLoss" else f" (or class_dim: {dim % made.out.rank} in the loss)"
        return [_located(spec, "T050", f"normalises over dim {dim}, but {name} reads {what} dim {cd}, "
                         f"so the values it reads are not log-probabilities",
                         f"set dim: {-1 if name == 'CTCLoss' else cd} on this LogSoftmax{other}",
                         at=made, output=output)]
    return []


def _ctc_layout(spec: Spec, loss: Any, last: Leaf, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    """T009: CTCLoss reads one distribution over the classes per output step, (B, T, C) or
    (T, B, C) with the classes last, and its blank is one of those classes. Otherwise training
    fails inside PyTorch's loss (a (B, C) output), or reads the steps as the classes and the
    classes as the steps (a conv's (B, C, T)) and trains nonsense without a word."""
    if out.rank != 3:
        hint = ("keep the time dim to the end: output: sequence on a recurrent layer (not last or final_hidden), "
                "no pooling or Select over the steps" if out.rank == 2 else
                "fold the other dims into the features (Flatten, Reshape) to end in (B, T, C)")
        return [_located(spec, "T009", f"CTCLoss reads one score per class at every step, (B, T, C) or (T, B, C), "
                         f"but the model's output is {out} (made by {last.who()})", hint, output=output)]
    width = out.shape[2]
    made = producer(last, SAME_LAYOUT)
    if not isinstance(width, int) or made.family in CHANNELS_FIRST:
        there = "its steps" if not isinstance(width, int) else "its length"
        return [_located(spec, "T009", f"CTCLoss reads the classes in the last dim, but the model's output "
                         f"{out} (made by {made.who()}) holds {there} there and its channels at dim 1, so the "
                         "loss would read the steps as classes",
                         "add - {type: Permute, dims: [0, 2, 1]} after " + made.who() + ", so the model returns "
                         "(B, T, C), and normalise with LogSoftmax over dim: -1", output=output)]
    if loss.blank >= width:
        return [_located(spec, "T009", f"blank {loss.blank} is not one of the output's {width} classes (0 to "
                         f"{width - 1}): CTCLoss reserves one of the classes for the blank",
                         f"set blank: 0 and number the labels from 1, or give the last layer {loss.blank + 1} "
                         "outputs (the labels and the blank)", key="blank", output=output)]
    return []


# Activations whose range is not [0, 1], named in T053's message (any other layer "can give any value").
BOUNDED_OUTSIDE_01 = {"Tanh": "(-1, 1)", "Softsign": "(-1, 1)",
                      "ReLU": "[0, ∞)", "ReLU6": "[0, 6]", "Softplus": "(0, ∞)", "ELU": "(-1, ∞)",
                      "LeakyReLU": "(-∞, ∞)", "GELU": "(-0.17, ∞)", "SiLU": "(-0.28, ∞)", "LogSoftmax": "(-∞, 0]"}


def _probabilities(spec: Spec, last: Leaf, output: str | None = None) -> list[Diagnostic]:
    made = producer(last)
    if made.type in PROBABILITIES:
        return []
    span = BOUNDED_OUTSIDE_01.get(made.type)
    if span is None:
        return [_located(spec, "T053", f"BCELoss reads probabilities in [0, 1], but the model ends in {made.who()}, "
                         "which can give any value; PyTorch stops at the first value outside [0, 1]",
                         "use loss: {type: BCEWithLogitsLoss} on the raw output, or end the model in - {type: "
                         "Sigmoid}", output=output)]
    # a squashing activation that is not a probability (a GAN generator's Tanh): a Sigmoid after it
    # would squeeze its range into (0.27, 0.73), so the fix replaces it
    return [_located(spec, "T053", f"BCELoss reads probabilities in [0, 1], but the model ends in {made.who()}, "
                     f"whose values lie in {span}; PyTorch stops at the first value outside [0, 1]",
                     f"replace '{made.node.path}' with - {{type: Sigmoid}}, or remove it and use loss: {{type: "
                     "BCEWithLogitsLoss}", output=output)]


def _kl_mean(spec: Spec, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    """T062: KLDivLoss with reduction: mean, which averages over every element, the classes too: the KL
    divergence divided by the number of classes (PyTorch warns so at run time; batchmean is the divergence)."""
    classes = out.shape[class_dim_of(out, spec, output)] if out.rank == 2 else None
    per = f"{classes} classes" if isinstance(classes, int) else "values of each sample"
    where = f"output {output!r}: " if output is not None else ""
    return [Diagnostic("T062", f"{where}KLDivLoss with reduction: mean averages over every element, so the loss is "
                       f"the KL divergence divided by the {per} as well as the batch, and its gradients are as much "
                       "smaller (PyTorch warns: 'mean' does not return the true KL divergence)",
                       loss_loc(spec, "reduction", output), "set reduction: batchmean, the true KL divergence per "
                       "sample (and specc's default)", "warning")]


def class_dim_of(out: TensorType, spec: Spec, output: str | None) -> int:
    loss = spec.document.loss if spec.document is not None else None
    one = loss.get(output) if isinstance(loss, dict) and output is not None else loss
    dim = getattr(one, "class_dim", 1)
    return dim % out.rank if isinstance(dim, int) and -out.rank <= dim < out.rank else 1


def _bce_autocast(spec: Spec, last: Leaf, output: str | None = None) -> list[Diagnostic]:
    """T060: BCELoss under mixed_precision. CUDA autocast refuses binary_cross_entropy outright (a float16
    sigmoid rounds to exactly 1 from a logit of about 8, where log(1 - p) is -inf), so training on a GPU
    stops at its first batch with a RuntimeError; BCEWithLogitsLoss computes from the logits, safely."""
    train = spec.document.train if spec.document is not None else None
    if train is None or not train.mixed_precision:
        return []
    made = producer(last)
    return [_located(spec, "T060", "BCELoss under mixed_precision: true: CUDA autocast refuses binary_cross_entropy "
                     "(PyTorch: 'unsafe to autocast'), since a float16 sigmoid rounds to 1 and log(1 - p) to -inf, "
                     "so training stops at the first batch on a GPU",
                     f"remove the final {made.who()} and write type: BCEWithLogitsLoss, which applies the sigmoid "
                     "itself in float32; or set mixed_precision: false in train:", output=output)]


def _focal_logits(spec: Spec, loss: Any, last: Leaf, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    made = producer(last)
    binary = focal_mode(loss, out) == "binary"
    # log_softmax is idempotent, so a multiclass focal loss after LogSoftmax computes the same;
    # a sigmoid of log-space values (<= 0) never passes 0.5.
    if made.type not in PROBABILITIES and not (binary and made.type in LOG_SPACE):
        return []
    mode, applies = ("binary", "a sigmoid") if binary else ("multiclass", "log_softmax")
    return [_located(spec, "T056", f"the model ends in {made.type}, but FocalLoss ({mode}) applies {applies} "
                     "to its input itself, so it reads raw logits",
                     f"{removal(spec.graph, made)} and give FocalLoss the raw output; apply "
                     f"{'sigmoid' if binary else 'softmax'} only at inference", at=made, output=output)]


def _focal_alpha(spec: Spec, loss: Any, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    """A binary focal loss weights positives by alpha and negatives by 1 - alpha: 0 or 1 leaves one
    class out of the loss altogether."""
    alpha = loss.alpha
    if isinstance(alpha, list) or alpha is None or focal_mode(loss, out) != "binary" or 0 < alpha < 1:
        return []
    ignored, learnt = ("positive", 0) if alpha == 0 else ("negative", 1)
    return [_located(spec, "T057", f"FocalLoss alpha: {alpha:g} gives the {ignored} class no weight (positives "
                     "count alpha, negatives 1 - alpha), so the model can learn to answer "
                     f"{learnt} everywhere", "write alpha: 0.25 (the paper's value) or 0.5 to weigh both classes "
                     "alike, or leave alpha out", key="alpha", output=output)]


def _class_dim(spec: Spec, loss: Any, last: Leaf, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    name = loss.type
    given = getattr(loss, "class_dim", 1)
    dim = class_dim(loss, out)
    if dim is None:
        why = ("has no class dim besides the batch" if out.rank < 2 else
               f"has no dim {given}" if given not in range(-out.rank, out.rank) else
               f"dim {given} is the batch")
        return [_located(spec, "T054", f"{name} reads the classes at dim {given}, but the model's output {out} "
                         f"{why}", "set class_dim: 1 for (B, C), -1 for (B, T, C)" if out.rank >= 2 else
                         "end the model in a layer with one output per class, e.g. - {type: Linear, "
                         "out_features: 10}", key="class_dim", output=output)]
    size = out.shape[dim]
    made = producer(last, SAME_LAYOUT)
    # Where the layer that laid the output out writes its features, which are the classes.
    features = None
    if out.rank >= 3 and made.family in LAST_DIM_FEATURES:
        features = out.rank - 1
    elif out.rank >= 3 and made.family in CHANNELS_FIRST:
        features = 1
    if isinstance(size, int) and features in (None, dim):
        return []
    perm = [0, out.rank - 1, *range(1, out.rank - 1)]
    if features == 1:
        why = f"but {made.who()} writes its {out.shape[1]} channels, the classes, to dim 1"
        hint = "leave class_dim at 1 (the default): convolutions and pooling put their channels at dim 1"
    else:
        why = (f"which is the symbol {size}, a size of the data rather than a number of classes"
               if not isinstance(size, int) else
               f"but {made.who()} writes its {out.shape[-1]} features to the last dim")
        hint = (f"for one label per step, set class_dim: -1 in the loss (specc moves the classes to dim 1 before "
                f"calling {name}), or add - {{type: Permute, dims: {perm}}} at the end of the model")
        if out.rank == 3:
            # A (B, T, K) output is as often a many-to-one model that forgot to reduce its steps.
            hint += ("; for one label per sequence, reduce the steps before the head (output: last on an RNN, "
                     "or - {type: Mean, dim: 1})")
        if not isinstance(out.shape[-1], int):
            hint = ("make the class dim a number: end the model in a Linear with out_features set to the class "
                    "count")
        feature_map = producer(made.source, SAME_LAYOUT) if made.type == "Linear" and made.source else None
        if feature_map is not None and feature_map.family in CHANNELS_FIRST and feature_map.out is not None:
            # a conv or pool's (B, C, H, W) read by a Linear without a Flatten: the Linear mapped W alone
            hint = (f"add - {{type: Flatten}} before {made.who()}: it reads the {feature_map.out} map of "
                    f"{feature_map.who()} and acts on its last dim only")
    return [_located(spec, "T051", f"{name} reads the classes at dim {dim} of the output {out}, {why}", hint,
                     key="class_dim" if given != 1 else "type", output=output)]


def _weights(spec: Spec, loss: Any, last: Leaf, out: TensorType, output: str | None = None) -> list[Diagnostic]:
    checks: list[tuple[str, int | None, str]] = []  # (key, expected length, what the entries weigh)
    if classification(loss, out):
        dim = class_dim(loss, out)
        classes = out.shape[dim] if dim is not None and isinstance(out.shape[dim], int) else None
        checks.append(("alpha" if loss.type == "FocalLoss" else "weight", classes, "classes"))  # type: ignore[arg-type]
    elif loss.type == "FocalLoss" and isinstance(loss.alpha, list):
        return [_located(spec, "T052", f"FocalLoss is binary here (the output {out} has one logit per "
                         "element), so alpha is one number, the weight of the positive class",
                         "write alpha: 0.25, or give the output one logit per class and mode: multiclass",
                         key="alpha", output=output)]
    elif loss.type in ("BCELoss", "BCEWithLogitsLoss") and out.rank >= 1:
        width = out.shape[-1] if isinstance(out.shape[-1], int) else None
        checks += [("weight", width, "outputs in the last dim"), ("pos_weight", width, "outputs in the last dim")]
    diags = []
    for key, expected, what in checks:
        value = getattr(loss, key, None)
        if not isinstance(value, list) or expected is None or len(value) == expected:
            continue
        if what != "classes" and len(value) == 1:
            continue  # one entry broadcasts over every output
        diags.append(_located(spec, "T052", f"{loss.type} {key} has {len(value)} entries, but the output {out} "
                              f"has {expected} {what}", f"give {expected} entries, one per "
                              f"{'class' if what == 'classes' else 'output'} in order, or leave {key} out",
                              key=key, output=output))
    return diags
