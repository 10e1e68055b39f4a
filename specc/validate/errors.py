"""Turn Pydantic's validation errors into located, hinted diagnostics.

Pydantic reports one error per union member (``kernel_size: "abc"`` on
``int | tuple[int, ...]`` yields an int error *and* a tuple error) and speaks in
Python types.  Here the error path is walked alongside the model's annotations: errors
under the same union collapse into one diagnostic that says, in the user's words, what
the field accepts ("a positive whole number or a list of positive whole numbers"),
and every error is located at the key or value it is about.

Validators may raise :func:`invalid` to give their own code and hint; a plain
``ValueError`` becomes a V003 with its text as the message.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import types
import typing
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

from ..diagnostics import Diagnostic, Location, yaml_flow
from ..load.yaml_loader import PosDict, PosList

SPECC_ERROR = "specc"


def invalid(message: str, hint: str, code: str = "V003") -> PydanticCustomError:
    """An error a validator raises to choose its own code and hint (``raise invalid(...)``)."""
    return PydanticCustomError(SPECC_ERROR, message, {"hint": hint, "code": code})  # type: ignore[arg-type]


# -- describing a type in the user's words ------------------------------------------------------

_BASE = {int: ("a whole number", "whole numbers"), float: ("a number", "numbers"),
         bool: ("true or false", "true/false values"), str: ("text", "text values"),
         dict: ("a mapping", "mappings"), list: ("a list", "lists"), Any: ("a value", "values")}


def _strip(ann: Any) -> tuple[Any, list[Any], str | None]:
    """Unwrap Annotated layers: (base type, constraints, description if one was given)."""
    constraints: list[Any] = []
    desc = None
    while typing.get_origin(ann) is typing.Annotated:
        ann, *meta = typing.get_args(ann)
        for m in meta:
            if isinstance(m, FieldInfo):
                constraints.extend(m.metadata)
                desc = desc or m.description
            else:
                constraints.append(m)
    return ann, constraints, desc


def _field_type(info: FieldInfo) -> Any:
    """A model field's annotation with the constraints Pydantic moved into ``metadata``."""
    ann = info.annotation
    if info.metadata or info.description or info.discriminator:
        extra = FieldInfo(description=info.description, discriminator=info.discriminator)
        extra.metadata = list(info.metadata)
        return typing.Annotated[ann, extra]
    return ann


def _is_union(ann: Any) -> bool:
    return typing.get_origin(ann) in (Union, types.UnionType)


def _members(ann: Any) -> list[Any]:
    return [a for a in typing.get_args(ann) if a is not type(None)]


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else str(v)


def _bounds(constraints: list[Any]) -> tuple[str, str]:
    """(adjective, suffix) for numeric bounds: ('positive', '') or ('', 'from 0 to 1')."""
    lo = hi = None
    lo_incl = hi_incl = True
    for c in constraints:
        if isinstance(c, at.Interval):
            c_list = [at.Gt(c.gt) if c.gt is not None else None, at.Ge(c.ge) if c.ge is not None else None,
                      at.Lt(c.lt) if c.lt is not None else None, at.Le(c.le) if c.le is not None else None]
            a, s = _bounds([x for x in c_list if x is not None])
            return a, s
        if isinstance(c, at.Gt):
            lo, lo_incl = c.gt, False
        elif isinstance(c, at.Ge):
            lo, lo_incl = c.ge, True
        elif isinstance(c, at.Lt):
            hi, hi_incl = c.lt, False
        elif isinstance(c, at.Le):
            hi, hi_incl = c.le, True
    if lo is not None and hi is None:
        if lo == 0:
            return ("positive" if not lo_incl else "non-negative"), ""
        return "", (f"greater than {_num(lo)}" if not lo_incl else f"of at least {_num(lo)}")
    if hi is not None and lo is None:
        return "", (f"less than {_num(hi)}" if not hi_incl else f"of at most {_num(hi)}")
    if lo is not None and hi is not None:
        if lo_incl and hi_incl:
            return "", f"from {_num(lo)} to {_num(hi)}"
        if not lo_incl and not hi_incl:
            return "", f"strictly between {_num(lo)} and {_num(hi)}"
        left = f"≥ {_num(lo)}" if lo_incl else f"> {_num(lo)}"
        right = f"≤ {_num(hi)}" if hi_incl else f"< {_num(hi)}"
        return "", f"{left} and {right}"
    return "", ""


def _join(parts: list[str]) -> str:
    parts = list(dict.fromkeys(p for p in parts if p))
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def describe(ann: Any, plural: bool = False) -> str:
    """'a positive whole number or a list of positive whole numbers' for PositiveInt | tuple[PositiveInt, ...]."""
    ann, constraints, desc = _strip(ann)
    if desc:
        return desc
    if _is_union(ann):
        members = _members(ann)
        literals = [a for a in members if typing.get_origin(a) is Literal]
        others = [a for a in members if typing.get_origin(a) is not Literal]
        parts = [describe(a, plural) for a in others]
        options = [v for lit in literals for v in typing.get_args(lit)]
        if options:
            parts.append(_literal(options))
        return _join(parts)
    origin = typing.get_origin(ann)
    if origin is Literal:
        return _literal(list(typing.get_args(ann)))
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(ann) if a is not Ellipsis]
        noun = "lists" if plural else "a list"
        if not args:
            return noun
        if origin is tuple and Ellipsis not in typing.get_args(ann):
            if len({repr(a) for a in args}) == 1:
                return f"{noun} of {len(args)} {describe(args[0], True)}"
            return f"{noun} of [{', '.join(describe(a) for a in args)}]"
        return f"{noun} of {describe(args[0], True)}"
    if origin is dict or (isinstance(ann, type) and issubclass(ann, BaseModel)):
        return "mappings" if plural else "a mapping"
    one, many = _BASE.get(ann, ("a value", "values"))
    adjective, suffix = _bounds(constraints) if ann in (int, float) else ("", "")
    noun = many if plural else one
    if adjective:
        noun = f"{adjective} {many}" if plural else f"a {adjective} {one.removeprefix('a ')}"
    return f"{noun} {suffix}".strip()


def _literal(options: list[Any]) -> str:
    shown = [repr(o) if isinstance(o, str) else _num(o) for o in options]
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


# -- walking an error path ----------------------------------------------------------------------

class _Walk:
    # A plain slotted class, not a dataclass: defining one costs 2-4 M instructions (its methods
    # are generated and exec'd), paid by every `specc check` that imports this module.
    __slots__ = ("ann", "info", "model", "shown", "union", "used")

    def __init__(self, ann: Any = None, model: type[BaseModel] | None = None) -> None:
        self.shown: list[Any] = []  # path segments the user wrote (keys, indices)
        self.used = 0  # how many error-path segments were consumed
        self.ann = ann  # annotation where the walk stopped
        self.info: FieldInfo | None = None  # the last model field passed, for its default
        self.model = model  # the last model entered, for key suggestions
        self.union = False  # stopped at a union whose members each reported


def _model_field(model: type[BaseModel], key: Any) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in _names(name, info):
            return info
    return None


def _names(name: str, info: FieldInfo) -> list[str]:
    choices = getattr(info.validation_alias, "choices", None)
    if choices:
        return [c for c in choices if isinstance(c, str)]
    if isinstance(info.validation_alias, str):
        return [info.validation_alias]
    return [info.alias or name]


def _tag_member(members: list[Any], seg: Any) -> Any:
    """The member of a tagged union whose ``type`` literal is ``seg``."""
    for m in members:
        base, meta, _ = _strip(m)
        if any(isinstance(x, Tag) and x.tag == seg for x in meta):  # a member a callable discriminator names
            return base
        if (isinstance(base, type) and issubclass(base, BaseModel) and "type" in base.model_fields
                and seg in typing.get_args(base.model_fields["type"].annotation)):
            return base
    return None


def _walk(model: type[BaseModel] | None, path: tuple[Any, ...]) -> _Walk:
    w = _Walk(ann=model, model=model)
    if model is None:
        w.shown = [p for p in path]
        w.used = len(path)
        return w
    ann: Any = model
    while True:
        w.ann = ann
        ann, _, _ = _strip(ann)
        if _is_union(ann) and len(_members(ann)) == 1:
            ann = _members(ann)[0]
            continue
        if w.used == len(path):
            return w
        seg = path[w.used]
        if _is_union(ann):
            member = _tag_member(_members(ann), seg)
            if member is None:
                w.union = True
                return w
            ann, w.used = member, w.used + 1
            continue
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            info = _model_field(ann, seg)
            if info is None:
                return w
            w.model, w.info = ann, info
            ann = _field_type(info)
        elif origin in (list, tuple, set, frozenset) and isinstance(seg, int):
            args = [a for a in typing.get_args(ann) if a is not Ellipsis]
            fixed = origin is tuple and Ellipsis not in typing.get_args(ann)
            ann = (args[seg] if seg < len(args) else Any) if fixed else (args[0] if args else Any)
        elif origin is dict:
            args = typing.get_args(ann)
            ann = args[1] if len(args) == 2 else Any
        else:
            return w
        w.shown.append(seg)
        w.used += 1


def _locate(root: Any, path: tuple[Any, ...], key_only: bool = False) -> tuple[Any, Location | None]:
    """Follow ``path`` through positioned data, skipping segments the data does not have
    (union member and tag names); return the node reached and its location."""
    node, loc = root, getattr(root, "loc", None)
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, PosDict) and seg in node:
            loc = node.key_loc(seg) if (last and key_only) else node.value_loc(seg)
            node = node[seg]
        elif isinstance(node, PosList) and isinstance(seg, int) and 0 <= seg < len(node):
            loc = node.item_loc(seg)
            node = node[seg]
    return node, loc


def _dotted(shown: list[Any]) -> str:
    out = ""
    for seg in shown:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


# Keras' activation names, as specc's layer types (None: no activation at all).
KERAS_ACTIVATIONS: dict[str, str | None] = {
    "relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
    "log_softmax": "LogSoftmax", "elu": "ELU", "selu": "SELU", "celu": "CELU", "gelu": "GELU", "swish": "SiLU",
    "silu": "SiLU", "mish": "Mish", "softplus": "Softplus", "softsign": "Softsign", "hard_sigmoid": "Hardsigmoid",
    "hard_swish": "Hardswish", "leaky_relu": "LeakyReLU", "linear": None}


# Keras' argument names of what a layer takes under PyTorch's name (where specc has no alias: ELU's
# own alpha is a key, LeakyReLU's slope is negative_slope).
KERAS_RENAMES = {"alpha": "negative_slope", "epsilon": "eps", "max_value": "max_val", "min_value": "min_val"}


def keras_init(value: Any, default: str = "glorot_uniform") -> str:
    """A Keras initializer argument (a name, or a {class_name: ...} config) as specc's init: names it."""
    from ..layers.init import INITIALISERS

    name = value if isinstance(value, str) else value.get("class_name") if isinstance(value, dict) else None
    if not isinstance(name, str):
        return default
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")  # GlorotUniform
    snake = {"random_normal": "normal", "random_uniform": "uniform", "truncated_normal": "trunc_normal",
             "zero": "zeros", "one": "ones"}.get(snake, snake)
    return snake if snake in INITIALISERS else default


# What a MixtureOfExperts leaves out, said where a spec asks for it (docs/spec.md, Sparse mixture of experts)
_NO_AUX_LOSS = ("remove it: specc does not add the router's load-balancing loss (Hugging Face's router_aux_loss_coef "
                "times load_balancing_loss_func) to the training loss; the router trains on the spec's loss alone")
_NO_CAPACITY = ("remove it: specc drops no token, every one reaches its top_k experts (Switch's capacity drops the "
                "tokens past it, which makes no difference while no expert overflows)")


def keras_key(key: str, value: Any) -> str | None:
    """How specc writes a Keras argument it has no key for (a Dense's activation, an LSTM's
    return_sequences, an optimizer's learning_rate), or None for any other key."""
    if key == "activation":
        name = str(value).lower() if isinstance(value, str) else ""
        if name in KERAS_ACTIVATIONS:
            kind = KERAS_ACTIVATIONS[name]
            # PyTorch's losses take logits where Keras' take probabilities: on the model's head the
            # activation usually goes
            head = {"Softmax": "; on the model's last layer with CrossEntropyLoss leave it out: the loss applies "
                               "the softmax itself",
                    "Sigmoid": "; on the model's last layer with BCEWithLogitsLoss leave it out: the loss applies "
                               "the sigmoid itself (BCELoss needs it)"}.get(kind or "", "")
            return ("remove it: 'linear' is no activation" if kind is None else
                    f"specc writes the activation as a layer of its own: add - {{type: {kind}}} right after this "
                    f"layer{head}")
        return "specc writes an activation as a layer of its own, e.g. - {type: ReLU} right after this layer"
    if key == "target_shape" and isinstance(value, list):
        entries = ", ".join(str(v) for v in ["B", *value])
        return (f"replace it with shape: [{entries}]: specc's Reshape takes the whole tensor's shape, batch dim "
                "first (Keras' target_shape leaves the batch out)")
    if key == "keep_prob":  # TensorFlow 1's dropout: the probability to keep, PyTorch's p drops
        keep = value if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1 else 0.8
        return (f"replace it with p: {round(1 - keep, 6):g}: p is the probability to drop a value, "
                f"1 - keep_prob (keep_prob: {keep:g} keeps {keep:.0%})")
    if key == "return_sequences":
        return ("replace it with output: sequence, the default (every step's output; output: sequence_and_state "
                "with return_state)" if value is True else
                "replace it with output: last (the last step's output; output: state for the final states)")
    if key == "return_state":
        return ("replace it with output: sequence_and_state (every step as .sequence, the final state as .h and an "
                "LSTM's .c; output: state gives the final state alone)" if value is True else
                "remove it: the final state is returned only where output says so")
    hints = {
        "learning_rate": "replace it with lr, PyTorch's name for the learning rate",
        "kernel_initializer": f"replace it with init: {{weight: {keras_init(value)}}} (init: names PyTorch's "
                              "parameters: weight, bias, weight_ih_l0, …)",
        "bias_initializer": f"replace it with init: {{bias: {keras_init(value, 'zeros')}}}",
        "embeddings_initializer": f"replace it with init: {{weight: {keras_init(value)}}}",
        "recurrent_initializer": f"replace it with init: {{weight_hh_l0: {keras_init(value, 'orthogonal')}}} "
                                 "(PyTorch's name for the recurrent kernel; \"weight_hh_*\" for every layer)",
        "gamma_initializer": f"replace it with init: {{weight: {keras_init(value, 'ones')}}}",
        "beta_initializer": f"replace it with init: {{bias: {keras_init(value, 'zeros')}}}",
        "kernel_regularizer": "use weight_decay in optimizer: (an L2 penalty on the weights while training)",
        "bias_regularizer": "use weight_decay in optimizer: (an L2 penalty on the weights while training)",
        "activity_regularizer": "remove it: specc has no penalty on activations",
        "recurrent_dropout": "PyTorch's recurrent layers have no dropout inside the step: use dropout between "
                             "stacked layers (num_layers > 1) or a Dropout layer after this one",
        # on a layer that lacks them (they are keys of the layers with one weight to normalise)
        "weight_norm": "only Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d and DepthwiseConv1d/2d have one weight it "
                       "can normalise: remove it here (an Embedding takes spectral_norm)",
        "spectral_norm": "only Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, DepthwiseConv1d/2d and Embedding have "
                         "one weight it can normalise: remove it here (for a SeparableConv's two weights, write a "
                         "DepthwiseConv and a 1x1 Conv, each with spectral_norm: true)",
        "weight_standardization": "only Conv1d/2d/3d standardise their filters (BiT's StdConv2d, NFNet's "
                                  "ScaledStdConv2d): remove it here",
        "mask": "only Conv1d/2d/3d take PixelCNN's kernel mask (mask: A or B): remove it here",
        "input_shape": "declare the model's input in the inputs: section; specc infers every layer's input size",
        "input_length": "remove it: the sequence length is the input's own shape in inputs: ([B, 100], or [B, T] "
                        "for any length)",
        "axis": "remove it: specc is channels-first, as PyTorch, and BatchNorm and InstanceNorm normalise the "
                "channels at dim 1, which Keras' axis=-1 of a channels-last map is (LayerNorm and RMSNorm "
                "normalise the last dims)",
        "mask_zero": "replace it with padding_idx: 0, which keeps id 0's vector at zero and out of training; an "
                     "RNN, LSTM or GRU skips the padded steps given each sample's length (from: [x, lengths], the "
                     "count of ids that are not 0), an attention layer with a bool mask input (masks: "
                     "[key_padding])",
        "stateful": "remove it: specc trains recurrent layers stateless, each batch from a zero state (a stateful "
                    "Keras model's long sequence trains here as windows of it)",
        # Hugging Face's MoE settings that specc's MixtureOfExperts does not model
        "router_aux_loss_coef": _NO_AUX_LOSS,
        "aux_loss": _NO_AUX_LOSS,
        "output_router_logits": _NO_AUX_LOSS,
        "router_jitter_noise": "remove it: the router adds no jitter noise in training (Mixtral's default is 0); "
                               "its scores are the gate's alone",
        "expert_capacity": _NO_CAPACITY,
        "capacity_factor": _NO_CAPACITY,
        # PyTorch's own losses before 0.4.1
        "size_average": "replace it with reduction: sum for size_average: false, or leave reduction at mean for "
                        "true (PyTorch dropped size_average and reduce for reduction)",
        "reduce": "replace it with reduction: none for reduce: false (PyTorch dropped reduce and size_average for "
                  "reduction); in a spec that trains, keep reduction: mean",
        "data_format": "specc is channels-first, as PyTorch: declare images as [B, C, H, W] (a Permute converts "
                       "channels-last data: dims: [0, 3, 1, 2])",
        # Keras' fit() and compile() arguments
        "validation_split": "write it as val_split in train.data (data: {source: ..., val_split: 0.2})",
        "validation_data": "name the validation file as val_source in train.data",
        "metrics": "remove it: specc computes the task's metrics itself (accuracy, precision, recall, F1 and ROC AUC "
                   "for classifiers; MAE, RMSE and R² for regressions)",
        "steps_per_epoch": "remove it: an epoch is one pass over the training data (specc train --max-steps stops "
                           "a smoke test early)",
        "verbose": "remove it: specc train prints a line per epoch (a progress bar on a terminal; --format json "
                   "for machines)",
        "callbacks": "write early stopping as early_stopping: {monitor: val_loss, patience: 5} in train:, and the "
                     "final weights' copy as checkpoint: FILE.safetensors",
        "class_weight": "write class_weights: auto (scikit-learn's balanced weights) in train:, or the loss's "
                        "weight: [...] per class",
    }
    return hints.get(key)


# Keras' optimizer arguments, and those of another optimizer than the one named, as specc writes
# them (an optimizer's unknown key)
OPTIMIZER_KEYS = {
    "beta_1": "replace beta_1 and beta_2 with PyTorch's pair of them, betas: [0.9, 0.999]",
    "beta_2": "replace beta_1 and beta_2 with PyTorch's pair of them, betas: [0.9, 0.999]",
    "clipnorm": "move it to train: as grad_clip (the largest norm of the gradients), e.g. grad_clip: 1.0",
    "global_clipnorm": "move it to train: as grad_clip (the largest norm of the gradients), e.g. grad_clip: 1.0",
    "clipvalue": "remove it: specc clips the gradients' norm, not each value (grad_clip: 1.0 in train:)",
    "decay": "remove it: Keras' decay lowered the lr at every step, which a scheduler does (scheduler: "
             "{type: ExponentialLR, gamma: 0.95}); weight_decay is another thing, a pull of the weights to 0",
    "momentum": "remove it: this optimizer has no momentum (Adam and its kin keep one as the first of their "
                "betas, 0.9 by default); SGD and RMSprop take momentum",
    "nesterov": "remove it: only SGD takes nesterov (with a momentum); NAdam is Adam with Nesterov momentum",
    "rho": "replace it with alpha, PyTorch's name for RMSprop's decay of the squared gradients (Keras' rho: 0.9 is "
           "alpha: 0.9); Adadelta takes rho",
    # other libraries' names for the parameters left out of weight decay, and for layer-wise lr
    "no_weight_decay": "write it no_decay: [bias, norm] (the biases and norms), or no_decay: [1d] (timm's rule)",
    "exclude_from_weight_decay": "write it no_decay: [bias, norm] (the biases and norms), or no_decay: [1d] "
                                 "(timm's rule)",
    "skip_list": "write it no_decay: [...], the parameters left out of weight decay",
    "layer_decay": "write the layers' own lrs as param_groups: [{params: [head], lr: ...}, {params: [layer4], "
                   "lr: ...}]; specc has no layer-wise decay factor",
    "params": "name the parameters in param_groups: [{params: [...], lr: ...}]; the rest train with the "
              "optimizer's own settings",
}


def from_logits_hint(loss: Any) -> str:
    """Keras' from_logits on a PyTorch loss, which fixes it by its class: what the model ends in."""
    if loss == "BCELoss":
        return ("remove it: BCELoss reads probabilities (Keras' from_logits: false), so the model ends in Sigmoid; "
                "for raw logits use BCEWithLogitsLoss without the Sigmoid")
    if loss in ("CrossEntropyLoss", "BCEWithLogitsLoss", "FocalLoss"):
        return (f"remove it: {loss} always reads raw logits (Keras' from_logits: true), so the model ends in its "
                "last Linear, without Softmax or Sigmoid")
    return "remove it: only KLDivLoss takes from_logits"


def attention_config_key(key: str, value: Any, where: list[str]) -> str | None:
    """How specc writes a Hugging Face or timm attention setting copied onto MultiheadAttention
    (``where``: the keys above it, ["rotary"] inside rotary:), or None for any other key."""
    shown = yaml_flow(value)
    if key in ("rope_theta", "theta", "rotary_emb_base"):
        under = "" if where else f" under rotary: (rotary: {{base: {shown}}})"
        return f"write the rotary base as base: {shown}{under}"
    if key == "rope_scaling" and not where:
        return ("write it under rotary: as scaling: (rotary: {scaling: {type: llama3, factor: 8, ...}}), with its "
                "keys as Hugging Face's config gives them")
    if key in ("rotary_pct", "partial_rotary_factor"):
        return (f"write rotary: {{dim: N}} with N the features of each head that turn, {shown} · head_dim (even): "
                "dim counts features, not a fraction")
    if key == "attention_bias" and not where:
        return f"replace it with bias: {shown} (q, k, v and o projections alike)"
    if key == "qkv_bias" and not where:  # timm's Attention: proj_bias is true unless given
        return (f"replace it with bias: {{qkv: {shown}, out: true}} (the output projection's bias apart, timm's "
                "proj_bias)")
    if key == "proj_bias" and not where:
        return f"replace it with bias: {{qkv: true, out: {shown}}} (timm's qkv_bias is the qkv entry)"
    if key == "query_pre_attn_scalar" and not where and isinstance(value, int | float) and value > 0:
        # Gemma 2 scales the scores by query_pre_attn_scalar ** -0.5 in place of 1/√head_dim
        return f"replace it with scale: {value ** -0.5:.10g} (query_pre_attn_scalar ** -0.5, what multiplies q·kᵀ)"
    if key in ("use_qk_norm", "q_norm", "k_norm") and not where:
        if value is False:
            return "remove it: an attention has no query/key norm unless qk_norm: is given"
        return ("replace it with qk_norm: true (an RMSNorm of head_dim on each head's queries and keys, Qwen3's, "
                "named q_norm and k_norm; OLMo-2's over the whole projection is qk_norm: {over: all})")
    if key in ("rms_norm_eps", "epsilon", "variance_epsilon") and where == ["qk_norm"]:
        return f"write it as eps: {shown}"
    if key == "final_logit_softcapping" and not where:
        return (f"remove it: the logits' softcap is the model's last layers, {{type: Div, value: {shown}}}, "
                f"{{type: Tanh}}, {{type: Mul, value: {shown}}} after the LM head (softcap: here caps the scores)")
    return None


def other_loss_key(key: str, loss: Any) -> str | None:
    """A key of other losses than the one named: Keras' label_smoothing on a binary cross-entropy,
    or a key of CrossEntropyLoss written on BCE; None when no loss of specc takes it."""
    from .document import LOSS_CLASSES  # document imports this module: read when first needed

    if key == "label_smoothing" and loss in ("BCELoss", "BCEWithLogitsLoss"):
        return (f"remove it: PyTorch's {loss} has no label smoothing (Keras' BinaryCrossentropy has): smooth the "
                "0/1 targets in the data to ε/2 and 1 - ε/2, or give the last layer 2 outputs and use "
                "CrossEntropyLoss, which takes label_smoothing")
    takers = [c.model_fields["type"].annotation.__args__[0] for c in LOSS_CLASSES if key in c.model_fields]
    return f"remove it: {loss} takes no {key} ({', '.join(takers)} do)" if takers and isinstance(loss, str) else None


@functools.lru_cache(maxsize=1)
def _section_keys() -> dict[str, frozenset[str]]:
    """The keys of the training sections, by the dotted path of the section that reads them."""
    from . import document as d  # document imports this module: read when first needed

    optimizers = typing.get_args(typing.get_args(d.Optimizer)[0])
    models: dict[str, tuple[type[BaseModel], ...]] = {
        "optimizer": optimizers, "train": (d.Train,), "train.data": (d.DataSpec,),
        "train.early_stopping": (d.EarlyStopping,), "train.preprocess": (d.Preprocess,), "export": (d.Export,)}
    return {where: frozenset(k for m in ms for k in m.model_fields if k != "type") for where, ms in models.items()}


def misplaced_key(key: str, here: str) -> str | None:
    """Where a training key written in the wrong section belongs (lr under train:, epochs under
    optimizer:, patience beside epochs), or None: the section that reads it beats a near spelling."""
    homes = [where for where, keys in _section_keys().items() if key in keys and where != here]
    if not homes:
        return None
    return f"move it to {homes[0]}: {key} is read there, not in {here}"


# PyTorch's and NumPy's other names for the dtypes specc spells as sizes (torch.long, np.double):
# a port writes them, and "did you mean" by spelling finds nothing close to 'long'.
# A bare 'int' is NumPy's default int64, the dtype of token ids (torch.int would be int32).
FRAMEWORK_DTYPES = {"long": "int64", "int": "int64", "short": "int16", "char": "int8", "byte": "uint8",
                    "float": "float32", "double": "float64", "half": "float16", "bool_": "bool"}


def framework_name(given: Any, options: list[str]) -> str | None:
    """The option a framework's spelling of it means: torch.long, np.float32, 'double'."""
    if not isinstance(given, str):
        return None
    bare = given.strip().lower().removeprefix("torch.").removeprefix("numpy.").removeprefix("np.")
    meant = FRAMEWORK_DTYPES.get(bare, bare)
    return meant if meant in options and meant != given else None


# Other frameworks' names of the losses specc has (Keras' functions and classes, torch.nn.functional's,
# tf.nn's), read lower case without "_", "-" or a "loss" suffix: spelling finds nothing close to
# 'mean_absolute_error', and a near spelling would name another loss (MAELoss is one letter from
# MSELoss, binary_crossentropy nearest to CrossEntropyLoss, the wrong loss for yes/no labels).
FRAMEWORK_LOSSES: dict[str, str] = {
    **dict.fromkeys(("mae", "meanabsoluteerror", "l1", "absoluteerror"), "L1Loss"),
    **dict.fromkeys(("mse", "meansquarederror", "l2", "squarederror"), "MSELoss"),
    **dict.fromkeys(("binarycrossentropy", "bce", "sigmoidcrossentropy", "logloss", "binarylogloss",
                     "sigmoidcrossentropywithlogits", "binarycrossentropywithlogits"), "BCEWithLogitsLoss"),
    **dict.fromkeys(("categoricalcrossentropy", "sparsecategoricalcrossentropy", "softmaxcrossentropy",
                     "softmaxcrossentropywithlogits", "sparsesoftmaxcrossentropywithlogits", "crossentropy", "ce",
                     "categorical", "multiclass"), "CrossEntropyLoss"),
    **dict.fromkeys(("kld", "kldiv", "kldivergence", "kullbackleiblerdivergence", "kl"), "KLDivLoss"),
    **dict.fromkeys(("nll", "negativeloglikelihood"), "NLLLoss"),
    "huber": "HuberLoss", "smoothl1": "SmoothL1Loss", "ctc": "CTCLoss",
    **dict.fromkeys(("focal", "sigmoidfocal", "sigmoidfocalcrossentropy", "binaryfocalcrossentropy",
                     "categoricalfocalcrossentropy"), "FocalLoss"),
}
# Written exactly so, a name the loose reading would take for another: torch.nn.functional's
# binary_cross_entropy reads probabilities (Keras' binary_crossentropy, logits here, does not).
FRAMEWORK_LOSSES_EXACT = {"binary_cross_entropy": "BCELoss"}
# What the loss class reads, where a Keras user expects otherwise
LOSS_READS = {"BCEWithLogitsLoss": "binary cross-entropy on raw outputs, Keras' from_logits=True; BCELoss reads "
                                   "probabilities after a Sigmoid",
              "CrossEntropyLoss": "it takes raw outputs and class indices, one-hot rows too"}


def framework_loss(given: Any, options: list[str]) -> str | None:
    """specc's loss type for a Keras, torch.nn.functional or tf.nn name of it
    ('sparse_categorical_crossentropy', 'F.binary_cross_entropy', 'MAELoss'), when it is one of ``options``."""
    if not isinstance(given, str):
        return None
    bare = given.strip().lower().rsplit(".", 1)[-1]  # keras.losses.X, tf.nn.X, F.X
    loose = re.sub(r"[_\-\s]", "", bare)
    meant = FRAMEWORK_LOSSES_EXACT.get(bare) or FRAMEWORK_LOSSES.get(
        loose[:-4] if loose.endswith("loss") and len(loose) > 4 else loose)
    return meant if meant in options and meant != given else None


def framework_loss_hint(given: str, meant: str) -> str:
    return f"use type: {meant} ({LOSS_READS.get(meant, f'the loss class for {given}')})"


def did_you_mean(word: str, options: list[str]) -> str | None:
    # The same typo repeated thousands of times (a generated or hostile spec) costs one search.
    return _did_you_mean(word, tuple(options))


@functools.lru_cache(maxsize=4096)
def _did_you_mean(word: str, options: tuple[str, ...]) -> str | None:
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not close:
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return close[0] if close else None


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        v = type(v).__mro__[-2](v)  # plain dict/list repr, not the positioned subclass
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _default(info: FieldInfo | None) -> Any:
    if info is None or info.default is PydanticUndefined or info.default is None:
        return PydanticUndefined
    return info.default


# -- the translation ----------------------------------------------------------------------------

def pydantic_diagnostics(exc: ValidationError, root: Any, model: type[BaseModel] | None = None,
                         prefix: tuple[Any, ...] = (), what: str = "", layer: str | None = None,
                         extra_keys: tuple[str, ...] = ()) -> list[Diagnostic]:
    """One diagnostic per problem the user made, located in ``root`` (the data validated).

    ``what`` names the thing validated ("Conv2d 'conv1'") and prefixes every message;
    ``extra_keys`` are keys allowed beside the model's own (a layer's name, from, …),
    offered in "did you mean" suggestions.
    """
    lead = f"{what}: " if what else ""
    out: list[tuple[tuple[Any, ...], str, Diagnostic]] = []  # (container path, kind, diagnostic)
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        path = (*prefix, *err["loc"])
        kind = err["type"]
        ctx = err.get("ctx") or {}
        w = _walk(model, path)
        name = _dotted(w.shown)
        if kind == "extra_forbidden":
            key = path[-1]
            _, loc = _locate(root, path, key_only=True)
            owner = _walk(model, path[:-1])
            options = _key_options(owner.ann) + ([*extra_keys] if not owner.shown else [])
            guess = did_you_mean(str(key), [o for o in options if o != key])
            where = f" in {_dotted(owner.shown)}" if owner.shown else ("" if what else " at the top level")
            noun = "parameter" if what and not owner.shown else "key"
            elsewhere = OPTIMIZER_KEYS.get(str(key)) if owner.shown[:1] == ["optimizer"] else None
            elsewhere = elsewhere or keras_key(str(key), err.get("input"))
            if what.startswith("MultiheadAttention") and owner.shown[:1] in ([], ["rotary"], ["qk_norm"]):
                elsewhere = attention_config_key(str(key), err.get("input"), owner.shown[:1]) or elsewhere
            if key == "axis" and not what.startswith(("BatchNorm", "InstanceNorm")):
                elsewhere = "replace it with dim, PyTorch's name for the axis a layer works along"
            if owner.shown[:1] == ["loss"]:
                container, _ = _locate(root, path[:-1])
                loss_type = container.get("type") if isinstance(container, dict) else None
                elsewhere = from_logits_hint(loss_type) if key == "from_logits" else \
                    elsewhere or other_loss_key(str(key), loss_type)
            here = _dotted(owner.shown)
            if not elsewhere and here in _section_keys():
                elsewhere = misplaced_key(str(key), here)
            renamed = KERAS_RENAMES.get(str(key))
            if not elsewhere and renamed in options:  # a Keras argument this layer takes under PyTorch's name
                elsewhere = f"replace it with {renamed}: {yaml_flow(err.get('input'))}, PyTorch's name for it"
            if not owner.shown and not what and not guess and isinstance(err.get("input"), (dict, list)):
                # a mapping parked at the top for an &anchor (docker-compose style)
                elsewhere = (f"a value kept for reuse by an &anchor goes under vars: "
                             f"(vars: {{{key}: &{key} ...}}); otherwise remove it")
            d = Diagnostic("V001", f"{lead}unknown {noun} '{key}'{where}", loc,
                           elsewhere or (f"did you mean '{guess}'?" if guess else
                                         (f"allowed here: {', '.join(options)}" if options else "remove it")),
                           layer=layer)
            # a Keras name whose hint names specc's key explains that key's absence too
            replaces = "shape" if key == "target_shape" and elsewhere else guess
            out.append((tuple(owner.shown), f"extra:{replaces}", d))
        elif kind == "invalid_key":  # YAML reads `1:`, `true:` or `~:` as a number, a bool or null
            container, _ = _locate(root, path[:-1])
            # pydantic's path holds the key as text for some types: find the key as written
            key = next((k for k in container if not isinstance(k, str) and (k == path[-1] or str(k) == path[-1])),
                       path[-1]) if isinstance(container, dict) else path[-1]
            _, loc = _locate(root, (*path[:-1], key), key_only=True)
            owner = _walk(model, path[:-1])
            where = f" in {_dotted(owner.shown)}" if owner.shown else ("" if what else " at the top level")
            shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            noun = "parameter" if what and not owner.shown else "key"
            d = Diagnostic("V001", f"{lead}the key {shown}{where} is not a name: YAML reads it as "
                           f"{'null' if key is None else 'true/false' if isinstance(key, bool) else 'a number'}",
                           loc, f"write the name of a {noun}, or remove it", layer=layer)
            out.append((tuple(owner.shown), kind, d))
        elif kind == "union_tag_invalid":
            _, loc = _locate(root, (*path, "type"))
            tag = str(ctx.get("tag", ""))
            options = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
            guess = did_you_mean(tag, options)
            meant = framework_loss(tag, options)
            d = Diagnostic("V008", f"{lead}unknown {name or 'value'} type '{tag}'", loc,
                           framework_loss_hint(tag, meant) if meant and meant != guess else
                           f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(options)}",
                           layer=layer)
            out.append((tuple(w.shown), kind, d))
        elif kind == "union_tag_not_found":
            _, loc = _locate(root, path)
            options = _tags(w.ann)
            d = Diagnostic("V002", f"{lead}{name} needs a 'type'", loc,
                           _named_type(w, err.get("input"), options) or _listed_mapping(w, err.get("input"), True) or
                           (f"add type: {options[0]} (or one of {', '.join(options[1:])})" if options else
                            "add type: ..."), layer=layer)
            out.append((tuple(w.shown), kind, d))
        elif kind == "missing":
            key = path[-1]
            _, loc = _locate(root, path[:-1])
            info = w.info if w.shown and w.shown[-1] == key else None
            needs = f"<{describe(_field_type(info))}>" if info is not None else "<value>"
            where = _dotted(w.shown[:-1])
            if where:
                msg = f"{lead}{where} is missing the required key '{key}'"
            elif what:
                msg = f"{what} is missing the required parameter '{key}'"
            else:
                msg = f"the spec has no '{key}' section"
            example = (_keras_inputs(root) if key == "inputs" and not where and not what else None) or \
                _SECTION_EXAMPLES.get(name, needs)
            d = Diagnostic("V002", msg, loc, f"add {key}: {example}", layer=layer)
            out.append((tuple(w.shown[:-1]), f"missing:{key}", d))
        else:
            group = tuple(w.shown) if w.union else tuple(path)
            if group in seen:
                continue
            seen.add(group)
            value, loc = _locate(root, path[:w.used] if w.union else path)
            d = _invalid(err, kind, ctx, w, name, value, loc, lead, layer)
            # a size computed by an expression (an SE squeeze of 8 channels by 16 gives 0): the
            # expression to mend, not a stock number
            written = getattr(value, "text", None)
            given = err.get("input")
            if d.code == "V003" and isinstance(written, str) and written.startswith("${") and \
                    written.endswith("}") and written.count("${") == 1 and isinstance(given, int) and \
                    not isinstance(given, bool) and given <= 0:
                d = Diagnostic(d.code, d.message, d.loc, f"{written} gives {given} here; keep it at least 1, e.g. "
                               f"\"${{max(1, {written[2:-1]})}}\", or change what it reads", layer=d.layer)
            out.append((tuple(w.shown), kind, d))
    return _merge_misspelt(out)


def _keras_inputs(root: Any) -> str | None:
    """The inputs: section a Keras-style first layer's input_shape (or input_dim) asks for,
    with the batch dim in front: Keras leaves it out, specc writes it."""
    layers = root.get("layers") if isinstance(root, dict) else None
    first = layers[0] if isinstance(layers, list) and layers and isinstance(layers[0], dict) else None
    if first is None:
        return None
    shape = first.get("input_shape", [first["input_dim"]] if "input_dim" in first else None)
    if not (isinstance(shape, list) and shape and all(isinstance(d, int) or d is None for d in shape)):
        return None
    dims = ", ".join("T" if d is None else str(d) for d in shape)
    key = "input_shape" if "input_shape" in first else "input_dim"
    return (f"{{x: [B, {dims}]}} (Keras' {key} without the batch dim; B is the batch) and remove the first "
            f"layer's {key}")


_SECTION_EXAMPLES = {"inputs": "{image: [B, 3, 32, 32]}", "layers": "[{type: Linear, out_features: 10}]"}


def _key_options(ann: Any) -> list[str]:
    base, _, _ = _strip(ann)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return [n for name, info in base.model_fields.items() for n in _names(name, info)]
    return []


def _tags(ann: Any) -> list[str]:
    base, _, _ = _strip(ann)
    out: list[str] = []
    for m in _members(base) if _is_union(base) else []:
        mb, _, _ = _strip(m)
        if isinstance(mb, type) and issubclass(mb, BaseModel) and "type" in mb.model_fields:
            out.extend(str(t) for t in typing.get_args(mb.model_fields["type"].annotation))
    return out


def _invalid(err: Any, kind: str, ctx: dict, w: _Walk, name: str, value: Any, loc: Location | None,
             lead: str, layer: str | None) -> Diagnostic:
    """A V003 (or a validator's own code) for a value of the wrong type or out of range."""
    got = _show(err.get("input", value))
    subject = name or "the value"
    if kind == SPECC_ERROR:
        msg = str(err["msg"])
        if w.shown and str(w.shown[-1]) not in msg:  # a model-level check: say which section
            msg = f"{name}: {msg}"
        return Diagnostic(str(ctx.get("code", "V003")), f"{lead}{msg}", loc, str(ctx.get("hint", "")),
                          layer=layer)
    if kind in ("value_error", "assertion_error"):
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        # A validator may write "what is wrong; what to do" in one ValueError.
        msg, _, advice = msg.partition("; ")
        # "layer must be …" already names it; a check of the whole mapping names what it reads
        said = not name or msg.startswith(f"{subject.rsplit('.', 1)[-1]} ")
        return Diagnostic("V003", f"{lead}{msg if said else f'{subject}: {msg}'}", loc, advice or _fix(w, subject),
                          layer=layer)
    if kind in ("too_long", "too_short"):
        n = ctx.get("max_length" if kind == "too_long" else "min_length")
        actual = ctx.get("actual_length")
        many = "at most" if kind == "too_long" else "at least"
        return Diagnostic("V003", f"{lead}{subject} has {actual} item{'s' if actual != 1 else ''}, but takes "
                          f"{many} {n}", loc, _fix(w, subject), layer=layer)
    hint = _fix(w, subject)
    given = err.get("input", value)
    desc = describe(w.ann)
    key = w.shown[-1] if w.shown and not isinstance(w.shown[-1], int) else None  # None: a list's item
    # the value as written says what was meant, better than the type's stock example:
    if key is not None and isinstance(given, float) and math.isfinite(given) and "whole number" in desc:
        # 8.5 channels: the whole numbers beside it
        near = [n for n in (math.floor(given), math.ceil(given)) if n >= (1 if "positive" in desc else 0)]
        if near:
            hint = "write " + " or ".join(f"{key}: {n}" for n in near)
    if (key is not None and isinstance(given, (int, float)) and not isinstance(given, bool) and given < 0
            and float(given).is_integer() and "whole number" in desc and ("positive" in desc or "≥ 0" in desc)
            and not any(bound in desc for bound in ("<", "≤", "at most"))):
        # a stray minus sign in a size (out_features: -64); a rate keeps its default (lr: -1 is no hint
        # for lr: 1)
        hint = f"write {key}: {int(-given)} (without the minus sign)"
    if key is not None and isinstance(given, str) and re.fullmatch(r"-?\d+,\d+", given.strip()) and "number" in desc:
        hint = f"write {key}: {given.strip().replace(',', '.')} (a decimal point: YAML reads a comma as text)"
    options = [o for o in _literal_options(w.ann) if isinstance(o, str)]
    guess = did_you_mean(str(err.get("input")), options) if options and isinstance(err.get("input"), str) else None
    hint = _named_type(w, given, _tags(w.ann)) or _listed_mapping(w, given) or hint
    if given == -1 and not isinstance(given, bool) and "symbol such as B" in desc and w.shown:
        # PyTorch's view(-1, ...) size: a size that varies is a name here
        hint = ("write B, a name for the batch size, which varies (PyTorch's -1)" if w.shown[-1] == 0 else
                "write a name such as T for a size that varies (PyTorch's -1)")
    meant = framework_name(given, options)
    if meant and w.shown and not isinstance(w.shown[-1], int):
        hint = f"write {w.shown[-1]}: {meant} (specc's name for {given})"
    elif guess:
        hint = f"did you mean '{guess}'?"
    return Diagnostic("V003", f"{lead}{subject} must be {describe(w.ann)}, got {got}", loc, hint, layer=layer)


def _listed_mapping(w: _Walk, given: Any, tagged: bool = False) -> str | None:
    """A mapping written as list items (``- x: [B, 8]``, ``- type: Adam``: a '- ' too many): the
    mapping with the same entries."""
    if not isinstance(given, list) or not given or not w.shown or isinstance(w.shown[-1], int):
        return None
    if not (tagged or "mapping" in describe(w.ann)) or not all(isinstance(i, dict) and i for i in given):
        return None
    keys = [k for i in given for k in i]
    if len(set(map(str, keys))) != len(keys):
        return None
    entries = ", ".join(f"{k}: {yaml_flow(v)}" for i in given for k, v in i.items())
    return f"write {w.shown[-1]}: {{{entries}}}, a mapping: its entries without the '- ' of list items"


def _named_type(w: _Walk, given: Any, options: list[str]) -> str | None:
    """``optimizer: adam`` or ``loss: MSELoss``, a section written as the name of its type (Keras'
    compile(optimizer='adam')): the mapping that names it."""
    guess = (framework_loss(given, options) or did_you_mean(given, options)) if isinstance(given, str) and options \
        else None
    if guess is None or not w.shown or isinstance(w.shown[-1], int):
        return None
    return f"write {w.shown[-1]}: {{type: {guess}}}"


def _literal_options(ann: Any) -> list[Any]:
    ann, _, _ = _strip(ann)
    if typing.get_origin(ann) is Literal:
        return list(typing.get_args(ann))
    return [o for m in _members(ann) for o in _literal_options(m)] if _is_union(ann) else []


def _fix(w: _Walk, subject: str) -> str:
    desc = describe(w.ann)
    base, _, described = _strip(w.ann)
    if described:
        return f"use {desc}"
    if isinstance(base, type) and issubclass(base, BaseModel):
        keys = [k for k in _key_options(base) if k != "type"][:4]
        return f"write {subject.rsplit('.', 1)[-1]} as a mapping, with keys such as {', '.join(keys)}"
    if desc == "a value":  # nothing to say about the type: point at the reference
        return "see `specc layers --format json` for what each parameter takes"
    if len(w.shown) >= 2 and isinstance(w.shown[-1], int) and not isinstance(w.shown[-2], int) \
            and isinstance(_default(w.info), tuple):
        # an item of a pair with a default (betas: [0.9, 1.0]): the pair that works, not a lone number
        return f"write {w.shown[-2]}: {yaml_flow(_default(w.info))} (the default), each {desc}"
    if not w.shown or isinstance(w.shown[-1], int):  # a list item: no key to write
        examples = [] if _strip(w.ann)[2] else _examples(w.ann)
        return f"use {desc}" + (f", such as {' or '.join(examples)}" if examples else "")
    key = w.shown[-1]
    default = _default(w.info)
    # a field's own examples (Field(examples=...)) before a number made up from its type's bounds
    written = getattr(w.info, "examples", None)
    examples = [yaml_flow(e) for e in written] if written else _examples(w.ann)
    if default is not PydanticUndefined and isinstance(default, (int, float, str, tuple)):
        if _is_union(_strip(w.ann)[0]):
            other = next((f", or e.g. {key}: {e}" for e in examples if e != yaml_flow(default)), "")
        else:
            other = f" or another {desc[2:]}" if desc.startswith("a ") else ""
        return f"write {key}: {yaml_flow(default)} (the default){other}"
    if examples:
        return "write " + " or ".join(f"{key}: {e}" for e in examples)
    return f"use {desc}"


def _examples(ann: Any) -> list[str]:
    """One or two values of the type, written as YAML, for a hint."""
    ann, constraints, _ = _strip(ann)
    if _is_union(ann):
        out = [e for m in _members(ann) for e in _examples(m)[:1]]
        return out[:3]
    origin = typing.get_origin(ann)
    if origin is Literal:
        return [yaml_flow(typing.get_args(ann)[0])]
    if origin in (list, tuple):
        args = [a for a in typing.get_args(ann) if a is not Ellipsis]
        fixed = origin is tuple and Ellipsis not in typing.get_args(ann)
        items = [(_examples(a) or ["?"])[0] for a in args] if fixed else [(_examples(args[0]) or ["?"])[0]] * 2
        return ["[" + ", ".join(items) + "]"] if args and "?" not in items else []
    if ann is bool:
        return ["true"]
    if ann in (int, float):
        lo = hi = None
        for c in constraints:
            lo = c.gt + (1 if ann is int else 0.1) if isinstance(c, at.Gt) else c.ge if isinstance(c, at.Ge) else lo
            hi = c.lt - (1 if ann is int else 0.1) if isinstance(c, at.Lt) else c.le if isinstance(c, at.Le) else hi
        if ann is float and lo is not None and hi is not None:
            return [yaml_flow(float((lo + hi) / 2))]
        typical = 3 if ann is int else 0.1
        value = max(lo, typical) if lo is not None else typical
        value = min(hi, value) if hi is not None else value
        return [yaml_flow(ann(value))]
    return []


def _merge_misspelt(items: list[tuple[tuple[Any, ...], str, Diagnostic]]) -> list[Diagnostic]:
    """``kernal_size: 3`` is one mistake, not two: drop the 'missing kernel_size' that the
    unknown key's suggestion already explains."""
    suggested = {(where, kind.removeprefix("extra:")) for where, kind, _ in items if kind.startswith("extra:")}
    out: list[Diagnostic] = []
    for where, kind, d in items:
        if kind.startswith("missing:") and (where, kind.removeprefix("missing:")) in suggested:
            continue
        out.append(d)
    return out
