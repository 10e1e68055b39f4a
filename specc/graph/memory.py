"""The memory one training step holds, from the shaped graph alone (no torch): parameters, their
gradients, the optimizer's state, and the activations PyTorch's autograd saves for backward.

Activations are what decides whether a step fits (the zoo's MobileNetV2 recipe, batch 96 of 224x224
images, saves about 20 GB; its weights are 14 MB).  What each layer kind saves is a rule of the
kind, read from what its PyTorch op saves for backward (``derivatives.yaml`` and the CPU kernels):
a Linear or a convolution keeps its input (for its weight's gradient), ReLU, Sigmoid, Tanh and
Softmax their output, other activations their input, a BatchNorm its input and two statistics per
channel, a max pool its input and the indices of its maxima, dropout its mask, additions and
concatenations nothing, views (reshape, transpose, slicing, an in-place activation) nothing of
their own.  Tensors are counted by storage: the ReLU output a Linear keeps is the one ReLU keeps,
and a Flatten of it is the same memory, so a storage counts once, whoever saves it.  A layer saves
nothing for backward where no gradient passes: no input of it needs one and it has no weight that
trains (a frozen stem on raw inputs).

The truth is PyTorch's own: ``tests/test_training_memory.py`` sums the distinct storages that
``torch.autograd.graph.saved_tensors_hooks`` sees in one forward of the built module and holds the
estimate to it.  Where PyTorch's choice depends on the machine (the attention kernel, dropout's mask
as a float on CPU and a bool on CUDA), the rule takes the CPU path, the larger one.  Recurrent layers
differ both ways (oneDNN's LSTM workspace is three times cuDNN's reserve, cuDNN's RNN keeps twice the
CPU cell's): their rule knows both, measured, and takes the device's, or the larger where the device
is not known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..layers.base import LayerKind, lookup
from ..layers.reparam import normalised
from ..shapes.dims import Dim, DimLike, Sym, add, evaluate, floordiv, mul, product, sym
from ..shapes.formulas import exact_div
from ..shapes.tensor import TensorType
from .ir import Graph, Node, port_index, producer

if TYPE_CHECKING:
    from ..spec import Spec

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
               "int8": 1, "uint8": 1, "bool": 1}

# Optimizer state, in tensors the size of each trainable parameter (torch.optim's ``state``):
# SGD keeps a momentum buffer only with momentum, Adam-like optimizers two moments (and a third,
# the maximum, with amsgrad), RMSprop its square average (and momentum, and the centred mean).
# Adafactor factors its second moment into a row and a column: counted per tensor (``_factored``).


def optimizer_copies(opt: Any) -> float:
    """How many tensors of each trainable parameter's size the optimizer keeps (Adafactor: 0, its
    factored state is counted per tensor by :func:`training_memory`)."""
    if opt is None:
        return 0.0
    kind = opt.type
    if kind == "SGD":
        return 1.0 if opt.momentum else 0.0
    if kind in ("Adam", "AdamW"):
        return 3.0 if opt.amsgrad else 2.0
    if kind in ("NAdam", "RAdam", "Adamax", "Adadelta"):
        return 2.0
    if kind == "RMSprop":
        return 1.0 + (1.0 if opt.momentum else 0.0) + (1.0 if opt.centered else 0.0)
    if kind == "Adagrad":
        return 1.0
    return 0.0  # Adafactor


def optimizer_note(opt: Any) -> str:
    if opt is None:
        return "no optimizer"
    if opt.type == "Adafactor":
        return "Adafactor: a row and a column per matrix"
    copies = optimizer_copies(opt)
    if not copies:
        return f"{opt.type}: no state"
    return f"{opt.type}: {copies:g} per trainable parameter"


@dataclass(frozen=True)
class Saved:
    """What one layer keeps for backward: some of its inputs, its output, and tensors of its own."""

    inputs: tuple[int, ...] = ()
    output: bool = False
    extra: DimLike = 0  # bytes of tensors it makes and keeps (masks, statistics, indices, internals)


@dataclass
class _Value:
    t: TensorType
    root: Any  # the storage it lives in (a view's is its base's)
    grad: bool  # a gradient flows back through it
    contiguous: bool = True
    width: int = 4  # bytes per element, as trained (mixed precision halves what autocast makes)
    storage: DimLike | None = None  # bytes of the storage, where it is larger than the value (a view)


@dataclass
class TrainingMemory:
    """Bytes of one training step.  ``activations`` is symbolic in the model's symbols (the batch
    among them); :meth:`at` evaluates it."""

    params: int
    grads: int
    optimizer: int
    activations: DimLike
    batch: str | None
    optimizer_note: str = ""
    precision: str = "float32"
    rows: list[tuple[str, DimLike]] = field(default_factory=list)  # per top-level node: its activations

    def at(self, env: Mapping[str, int]) -> dict[str, int]:
        act = self.activations if isinstance(self.activations, int) else evaluate(self.activations, env)
        return {"params": self.params, "grads": self.grads, "optimizer": self.optimizer, "activations": act,
                "total": self.params + self.grads + self.optimizer + act}

    def largest_batch(self, budget: int, env: Mapping[str, int]) -> int:
        """The largest batch size whose step fits in ``budget`` bytes (0: not even one sample)."""
        if self.batch is None:  # no batch symbol: the step is the same size at any batch_size
            return 0 if self.at(env)["total"] > budget else 1
        fixed = self.params + self.grads + self.optimizer

        def fits(b: int) -> bool:
            return fixed + self.at({**env, self.batch: b})["activations"] <= budget  # type: ignore[dict-item]

        if not fits(1):
            return 0
        lo, hi = 1, 2
        while fits(hi) and hi < 1 << 30:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return lo


def _elems(t: TensorType) -> DimLike:
    return product(t.shape)


def _b(n: DimLike, width: int) -> DimLike:
    return mul(n, width)


# -- the rules, per kind ---------------------------------------------------------------------------------

VIEWS = {"Identity", "Flatten", "Unflatten", "Reshape", "Squeeze", "Unsqueeze", "Permute", "Transpose", "Slice",
         "Split", "Chunk", "Select"}
RESHAPES = {"Flatten", "Unflatten", "Reshape", "Squeeze", "Unsqueeze"}  # a copy when the input is not contiguous
NOTHING = {"Add", "Sub", "Subtract", "Concat", "Concatenate", "Cat", "Upsample", "Interpolate", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "Repeat", "Tile",
           "RepeatVector", "PixelShuffle", "PixelUnshuffle", "DepthToSpace", "SpaceToDepth", "Cast", "Mean",
           "GlobalAvgPool", "CumSum", "ArgMax", "ArgMin", "Compare", "ClassToken", "LearnedTokens", "Scale",
           "CausalMask", "RelativePositionBucket", "RelativePositionIndex", "ALiBi"}
WEIGHTED_KEEP_INPUT = {"Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                       "ConvTranspose3d", "DepthwiseConv1d", "DepthwiseConv2d", "Embedding"}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _padded(x: TensorType, a: dict[str, Any]) -> DimLike:
    """Elements of a convolution's input padded as padding_mode other than zeros pads it first."""
    spatial = x.shape[2:] if x.rank >= 3 else x.shape[1:]
    dims = len(spatial)

    def each(v: Any) -> tuple[Any, ...]:
        return tuple(v) if isinstance(v, (list, tuple)) else (v,) * dims

    pad, kernel, dilation = a.get("padding", 0), each(a.get("kernel_size", 1)), each(a.get("dilation", 1))
    sizes = []
    for i, d in enumerate(spatial):
        if pad == "same":
            total = dilation[i] * (kernel[i] - 1)
        elif pad == "valid":
            total = 0
        else:
            total = 2 * each(pad)[i]
        sizes.append(add(d, total))
    lead = x.shape[:2] if x.rank >= 3 else x.shape[:1]
    return product((*lead, *sizes))


def _norm_rows(t: TensorType, normalized: Any) -> DimLike:
    shape = (normalized,) if isinstance(normalized, int) else tuple(normalized or ())
    return exact_div(_elems(t), product(shape)) if shape else _elems(t)


def _seq(t: TensorType, batch_first: bool) -> tuple[DimLike, DimLike]:
    """(batch, length) of a (B, T, E) or (T, B, E) sequence; a 2-D input is one sequence."""
    if t.rank < 3:
        return 1, t.shape[0]
    return (t.shape[0], t.shape[1]) if batch_first else (t.shape[1], t.shape[0])


def _grouped_widths(a: dict[str, Any]) -> tuple[int, int] | None:
    """The query and key projections' widths of LLaMA's attention (num_kv_heads given), None for
    nn.MultiheadAttention's."""
    if not a.get("num_kv_heads"):
        return None
    d = a.get("head_dim") or a["embed_dim"] // a["num_heads"]
    return a["num_heads"] * d, a["num_kv_heads"] * d


def _qk_norm(q: TensorType, kv: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """What q_norm and k_norm (Qwen3, OLMo-2, Gemma 3) keep beyond the projections they read: the
    normalised queries and keys in float32 (the weight's product reads them; Llama 4's weightless L2 norm
    has none), the reciprocal RMS per row in float32, and their output in the layer's type, which the
    rotary reads; Cohere's LayerNorm also keeps the centred values in float32 (its square reads them).
    With clip_qkv (OLMo, DBRX) the clamped q, k and v are tensors of their own beside the projections."""
    norm = a.get("qk_norm")
    clip = a.get("clip_qkv") is not None
    if not norm and not clip:
        return 0
    heads, kv_heads = a["num_heads"], a["num_kv_heads"]
    d = a.get("head_dim") or a["embed_dim"] // heads
    b, t = _seq(q, a.get("batch_first", True))
    _, s = _seq(kv, a.get("batch_first", True))
    full = add(mul(mul(b, t), heads * d), mul(mul(b, s), kv_heads * d))
    clipped = _b(add(full, mul(mul(b, s), kv_heads * d)), w) if clip else 0
    if not norm:
        return clipped
    rows = add(mul(mul(b, t), heads), mul(mul(b, s), kv_heads)) if norm["over"] == "head" else \
        add(mul(b, t), mul(b, s))
    copies = {"l2": 0, "layer": 2}.get(norm.get("type", "rms"), 1)  # float32 copies of q and k kept
    return add(clipped, add(add(_b(mul(full, copies), 4), _b(full, w)), _b(rows, 4)))


def _latent_attention(x: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """What DeepSeek's latent attention keeps beyond its input: the q bottleneck and its RMSNorm (float32 copy,
    reciprocal RMS), the queries, the compressed latent and its norm, kv_b_proj's keys and values, the turned
    rotary features, the concatenated q and k the kernel reads, its output and log-sum-exp, o_proj's input."""
    b, t = _seq(x, a.get("batch_first", True))
    bt = mul(b, t)
    h, nope, r, v = a["num_heads"], a["qk_nope_head_dim"], a["qk_rope_head_dim"], a["v_head_dim"]
    kv_rank, q_rank = a["kv_lora_rank"], a.get("q_lora_rank") or 0
    per_step = (q_rank * 2 + h * (nope + r)  # q_a_proj's output and its normalised copy, the queries
                + kv_rank * 2 + r  # the latent, its normalised copy, the rotary key
                + h * (nope + v)  # kv_b_proj's keys and values
                + 2 * (h + 1) * r  # the rotary's inputs and outputs
                + 2 * h * (nope + r) + h * v * 2)  # q and k as the kernel reads them, its output, o_proj's input
    floats = add(_b(mul(bt, q_rank + kv_rank), 4), _b(mul(bt, 2), 4))  # float32 copies, reciprocal RMS per row
    return add(add(_b(mul(bt, per_step), w), floats), _b(mul(bt, h), 4))  # the kernel's log-sum-exp


def _attention(q: TensorType, kv: TensorType, e: int, heads: int, dropout: float, batch_first: bool,
               same: bool, w: int, fused: bool = True, capped: bool = False,
               widths: tuple[int, int] | None = None) -> DimLike:
    """What nn.MultiheadAttention (need_weights=False) keeps beyond its inputs: the projections (one
    packed q,k,v of 3E for self-attention, q and a packed k,v otherwise), the heads' q and k, the
    attended values before out_proj, and with dropout the math kernel's probabilities (softmax,
    mask, dropped: 3 of B·H·T·S); without dropout, the fused kernel keeps the projections, its
    output and a log-sum-exp per head and position.  ``capped`` (Gemma 2's softcap) takes the math
    path whatever the dropout, and keeps the tanh's output of B·H·T·S beside the softmax's.  ``widths``:
    LLaMA's separate projections, the queries' num_heads·head_dim and the keys' (and values')
    num_kv_heads·head_dim, where they are not embed_dim (Qwen3's and Gemma's head_dim); the key and value
    heads are repeated to the query heads' width before the kernel."""
    b, t = _seq(q, batch_first)
    _, s = _seq(kv, batch_first)
    nq, nk = mul(b, t), mul(b, s)
    qw, kw = widths or (e, e)
    proj = mul(nq, 3 * e) if same and not widths else add(mul(nq, qw), mul(nk, 2 * kw))
    if dropout == 0 and not capped:  # the fused kernel: q, k, v (views of the projections), its output and log-sum-exp
        copies = 0 if fused else add(mul(nq, qw), mul(nk, 2 * qw))  # q, k, v made contiguous per head
        return _b(add(add(add(proj, mul(nq, qw)), mul(nq, heads)), copies), w)
    heads_qk = add(mul(nq, qw), mul(nk, qw))  # the math kernel's scaled q and transposed k
    out = mul(nq, 2 * qw)  # the attended values, and out_proj's input (a contiguous copy of them)
    # softmax's output (with dropout: mask, dropped), and a softcap's tanh output
    probs = mul(mul(nq, s), ((3 if dropout > 0 else 1) + int(capped)) * heads)
    return _b(add(add(add(proj, heads_qk), out), probs), w)


def _ffn(n: DimLike, e: int, f: int, dropout: float, activation: str, w: int) -> DimLike:
    """The feed-forward half after its norm: linear1's output or the activation's (relu keeps its
    output, gelu its input, and linear2 then the activation's output), dropout's masks (of F and
    of E) and its output."""
    drop = dropout > 0
    wide = 3 if drop else (1 if activation == "relu" else 2)
    return _b(add(mul(n, wide * f), mul(n, e if drop else 0)), w)


def _expert_mlp(n: DimLike, ff: int, a: dict[str, Any]) -> DimLike:
    """Elements one expert MLP keeps for ``n`` tokens beyond its input: w1's output (for the activation,
    but ReLU keeps its own output instead) and the activation's, with gating w3's output and the product
    w2 reads."""
    hidden = 1 if a["activation"] == "relu" else 2
    return mul(n, (hidden + (2 if a["gated"] else 0)) * ff)


def _experts(x: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """What the mixture of experts keeps beyond its input: the router's float32 softmax, the sort's indices
    (and with normalize the sorted weights and the k's sum, which the division reads); per routed token (k per
    token) the expert's gathered input, its MLP's tensors and output, the weight that output is scaled by,
    the product index_add_ reads, and torch.where's (slot, token) indices; the shared expert's MLP on every
    token, and with its gate the gate's sigmoid and the MLP's output, which multiply each other."""
    n, d, e, k = product(x.shape[:-1]), int(a["in_features"]), int(a["num_experts"]), int(a["top_k"])
    routed = mul(n, k)
    # the stable sort that picks the top k keeps all E indices; the k weights divided are a view of all E sorted
    router = add(mul(n, 4 * e + 8 * e), mul(n, 4 * (e + 1)) if a["normalize"] else 0)
    experts = add(_b(add(mul(routed, 3 * d + 1), _expert_mlp(routed, int(a["hidden_features"]), a)), w),
                  mul(routed, 16))
    shared: DimLike = 0
    if a["shared_features"] is not None:
        # with its gate, the sigmoid's output and the MLP's output, which multiply each other
        gated = mul(n, d + 1) if a["shared_gate"] else 0
        shared = _b(add(_expert_mlp(n, int(a["shared_features"]), a), gated), w)
    return add(add(router, experts), shared)


def _encoder_layer(x: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """One nn.TransformerEncoderLayer beyond its input: self-attention, its dropout mask, the
    residual sums and norm outputs (two norms: input or output, and two statistics per token),
    and the feed-forward half.  Pre-norm and post-norm keep as many tensors."""
    e, f, p, bf = a["d_model"], a["dim_feedforward"], a["dropout"], a.get("batch_first", True)
    b, t = _seq(x, bf)
    n = mul(b, t)
    own = mul(n, (4 if p > 0 else 3) * e)  # a norm's output, the residual sum, the other norm's output; a mask
    stats = mul(n, 2 * 2 * 4)
    return add(add(add(_attention(x, x, e, a["nhead"], p, bf, True, w), _b(own, w)), stats),
               _ffn(n, e, f, p, str(a["activation"]), w))


def _decoder_layer(x: TensorType, memory: TensorType, a: dict[str, Any], w: int) -> DimLike:
    e, p, bf = a["d_model"], a["dropout"], a.get("batch_first", True)
    b, t = _seq(x, bf)
    n = mul(b, t)
    cross = add(_attention(x, memory, e, a["nhead"], p, bf, False, w),
                add(_b(mul(n, 2 * e + (e if p > 0 else 0)), w), mul(n, 2 * 4)))
    return add(_encoder_layer(x, a, w), cross)


# Where a recurrent layer trains: "cpu" (PyTorch's cells and oneDNN), "cuda" (cuDNN), or any other name
# ("any", "auto": the device is not known yet) for the larger of the two, layer by layer.
# What cuDNN keeps per step, sample, direction and layer (its reserve space), in hidden-sized values:
# measured on an H200 (cuDNN 9.19, PyTorch 2.11) over sizes that vary T, B, input, hidden, layers and
# directions one at a time (bench/cuda_train.py's rnn part; tests/test_training_memory.py pins them).
CUDNN_PER_STEP = {"LSTM": 6, "GRU": 7, "RNN": 2}


def _recurrent(kind: str, x: TensorType, a: dict[str, Any], w: int, device: str = "any") -> DimLike:
    """nn.LSTM/GRU/RNN.  On the CPU each layer keeps its input sequence; the dropout between layers its
    mask and output.  An LSTM trains through oneDNN, whose workspace per step, sample and direction
    holds about 11 hidden-sized and 7 input-sized values (measured: 94 KB for an LSTM of 64 on 64
    features over 10 steps of 2 samples), beside two copies of the direction's output sequence.  A
    GRU, an RNN or an LSTM with proj_size runs PyTorch's own cell, which keeps per step the hidden
    state it reads and its gates: for a GRU the three gates and four hidden-sized tensors (r·h, z, n
    and 1 - z), for an RNN its output (the next step's input), for a projected LSTM the four gates,
    three activations and the projected state.  On a GPU cuDNN keeps the first layer's input and, for
    every layer and direction, CUDNN_PER_STEP hidden-sized values per step: an RNN's twice the CPU's,
    an LSTM's about a third of oneDNN's (a projected LSTM and the dropout between layers, not
    measured there, are counted as on the CPU)."""
    bf = a.get("batch_first", True)
    b, t = _seq(x, bf)
    h = a["hidden_size"]
    dirs = 2 if a.get("bidirectional") else 1
    layers = a.get("num_layers", 1)
    dropout = layers > 1 and a.get("dropout", 0) > 0
    cpu = 0  # values per step and sample
    inp = x.shape[-1]
    for layer in range(layers):
        size = inp if layer == 0 else dirs * h
        cpu += size
        if kind == "LSTM" and a.get("proj_size"):  # no oneDNN: the gates, three activations, the projection
            cpu += dirs * (7 * h + a["proj_size"])
        elif kind == "LSTM":
            cpu += dirs * (11 * h + 7 * size + 2 * h)
        else:
            cpu += dirs * (7 if kind == "GRU" else 1) * h
        if layer and dropout:
            cpu += dirs * h  # the dropout's mask (its output is the next layer's input)
    if kind == "LSTM" and a.get("proj_size"):
        cuda = cpu
    else:
        cuda = inp + layers * dirs * CUDNN_PER_STEP[kind] * h + (dirs * h * (layers - 1) if dropout else 0)
    per_step = {"cpu": cpu, "cuda": cuda}.get(device, max(cpu, cuda))
    return _b(mul(mul(b, t), per_step), w)


def _conv_lstm(x: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """ConvLSTM2d, a loop over steps per cell (support module conv_lstm): each step keeps the
    convolution's input (the step and the hidden state, concatenated) and six hidden-sized tensors
    (three sigmoid gates, the tanh candidate, the cell and its tanh).  Each cell's output sequence is
    a stack of its steps, the next cell's input (the last step alone, return_sequences: false, is a
    view of that stack: see ``_whole``)."""
    hidden = a["hidden_channels"]
    sizes = list(hidden) if isinstance(hidden, (list, tuple)) else [hidden] * a.get("num_layers", 1)
    c = x.shape[2]
    plane = exact_div(_elems(x), c)  # B·T·H·W
    total: DimLike = 0
    for h in sizes:
        total = add(total, mul(plane, add(c, 7 * h)))
        c = h
    return _b(total, w)


def _mamba(x: TensorType, a: dict[str, Any], w: int) -> DimLike:
    """Mamba (support module mamba): per step in_proj's output (x and the gate), the conv's padded output, x_proj's
    input and output, dt_proj's output and its softplus, dt·x, the conv's SiLU, the gated sum and SiLU(z), out_proj's
    input (eight d_inner-wide and one 2·d_inner-wide); the scan's float32 decays exp(dt·A) (d_inner·d_state per step)
    and its T + 1 states (the zeros it starts from included), each kept by the step that reads it and by its product
    with C; -exp(A_log) twice."""
    b, t = x.shape[0], x.shape[1]
    inner, n, k = a["d_inner"], a["d_state"], a["d_conv"]
    bt = mul(b, t)
    per_step = 2 * inner + 8 * inner + a["dt_rank"] + 2 * n
    conv = mul(mul(b, inner), add(t, k - 1))
    scan = add(_b(mul(bt, 2 * inner * n), 4), _b(mul(b, inner * n), 4))
    return add(add(_b(mul(bt, per_step), w), _b(conv, w)), add(scan, _b(2 * inner * n, 4)))


def resolved(n: Node) -> tuple[LayerKind, dict[str, Any]]:
    """The kind whose rule applies to ``n`` and its attributes: a TimeDistributed's wrapped layer (on
    the steps folded into the batch: the same elements)."""
    assert n.result is not None and n.kind is not None
    a = n.result.args
    if n.kind.type_name == "TimeDistributed":
        inner = lookup(str(a["layer"]))
        if inner is not None:
            return inner, {k: v for k, v in a.items() if k != "layer"}
    return n.kind, a


def _folded(t: TensorType) -> TensorType:
    return TensorType((mul(t.shape[0], t.shape[1]), *t.shape[2:]), t.dtype) if t.rank >= 2 else t


def saves(n: Node, ins: list[TensorType], outs: list[TensorType], w: int, trains: bool = True,
          device: str = "any", in_grad: bool = True) -> Saved:
    """What layer ``n`` keeps for backward (``w``: bytes per element of what it computes; ``trains``:
    whether its weights train; ``device``: "cpu", "cuda", or another name for the larger; ``in_grad``:
    whether a gradient flows back to its inputs)."""
    layer, a = resolved(n)
    if layer is not n.kind:
        ins, outs = [_folded(t) for t in ins], [_folded(t) for t in outs]
    return kind_saves(layer, a, ins, outs, w, trains, device, in_grad)


def kind_saves(layer: LayerKind, a: dict[str, Any], ins: list[TensorType], outs: list[TensorType],
               w: int, trains: bool = True, device: str = "any", in_grad: bool = True) -> Saved:
    """What a layer of kind ``layer`` with attributes ``a`` keeps for backward, trained on ``device``
    ("cpu", "cuda", or another name for the larger of the two); ``in_grad``: whether a gradient flows
    back to its inputs (a model input's does not)."""
    kind = layer.type_name
    x = ins[0] if ins else outs[0]
    out = outs[0]
    family = type(layer).__module__.rsplit(".", 1)[-1]
    if kind in VIEWS or kind in NOTHING:
        return Saved()
    # weight_norm / spectral_norm compute the weight in each forward: the conv keeps that tensor
    reparam = _b(max((_count(shape) for shape in layer.weights(a).values()), default=0), 4) if normalised(a) else 0
    if kind in WEIGHTED_KEEP_INPUT or kind in ("SeparableConv1d", "SeparableConv2d"):
        if not trains:  # its input is kept for its weight's gradient, which a frozen layer does not take
            return Saved(extra=reparam)
        # padding_mode other than zeros pads the input first: the conv keeps the padded copy instead
        padded = _padded(x, a) if a.get("padding_mode", "zeros") != "zeros" else None
        keep = Saved(inputs=(0,), extra=reparam) if padded is None else Saved(extra=add(_b(padded, w), reparam))
        if kind.startswith("Separable"):
            between = mul(exact_div(_elems(out), out.shape[1]), a["in_channels"] * a.get("depth_multiplier", 1))
            keep = Saved(keep.inputs, extra=add(keep.extra, _b(between, w)))
        return keep
    if family == "activation":
        if kind == "Softsign":
            return Saved(inputs=(0,), extra=_b(_elems(x), w))  # x / (1 + |x|) keeps the denominator
        if kind == "Sparsemax":  # written with differentiable ops: the sort's int64 indices, the running
            # sums and the shifted row beside its input and output, and per row the max, k(z) and its index
            rows = exact_div(_elems(x), x.shape[a["dim"]])
            return Saved(inputs=(0,), output=True, extra=add(add(_b(_elems(x), 8), _b(mul(2, _elems(x)), w)),
                                                             add(_b(rows, 8), _b(mul(2, rows), w))))
        if layer.grad_reads_output or (a.get("inplace") and layer.grad_reads_output_inplace):
            return Saved(output=True)
        if a.get("inplace"):  # its gradient reads the input it overwrote: autograd keeps a copy of it
            return Saved(output=True, extra=_b(_elems(x), w))
        return Saved(inputs=(0,))
    if family == "dropout":
        p = a.get("p", 0.0)
        if p == 0:
            return Saved()
        if kind in ("Dropout", "AlphaDropout"):
            return Saved(extra=_b(_elems(x), w))  # the mask, as a float on CPU
        if kind == "StochasticDepth":
            return Saved(extra=_b(x.shape[0] if a.get("mode", "row") == "row" else 1, w))
        return Saved(extra=_b(mul(x.shape[0], x.shape[1]), w))  # one value per channel of each sample
    if family == "norm":
        if kind.startswith("BatchNorm"):
            stats: DimLike = 2 * a["num_features"]
        elif kind.startswith("InstanceNorm"):  # a batch norm over (1, N·C, ...): weights and stats repeated per sample
            per = 2 + (2 if a.get("affine") else 0) + (1 if a.get("track_running_stats") else 0)
            stats = mul(per, mul(x.shape[0], x.shape[1]))
        elif kind == "GroupNorm":
            stats = mul(2 * a["num_groups"], x.shape[0])
        elif kind == "LayerNorm":
            stats = mul(2, _norm_rows(x, a.get("normalized_shape")))
        elif kind == "RMSNorm":
            # PyTorch's rms_norm is composite on the CPU: x·rsqrt(mean(x²) + eps) keeps x and the reciprocal
            # RMS per row for x's gradient, and the product, scaled by the weight, for the weight's; a
            # fused kernel keeps less, so the larger is the estimate
            rows = _norm_rows(x, a.get("normalized_shape"))
            normed = _b(_elems(x), w) if trains and a.get("elementwise_affine", True) else 0
            return Saved(inputs=(0,), extra=add(_b(rows, 4), normed)) if in_grad else Saved(extra=normed)
        else:  # Normalize: the norm per row, and it clamped
            stats = mul(2, exact_div(_elems(x), x.shape[a.get("dim", 1)]) if x.rank else 1)
        return Saved(inputs=(0,), extra=_b(stats, 4))  # statistics stay float32
    if family == "pool":
        if kind.startswith("MaxUnpool"):
            return Saved(inputs=(1,))
        if kind == "GlobalMaxPool":  # amax keeps its input, a mask of it and its result
            return Saved(inputs=(0,), output=True, extra=_b(_elems(x), w))
        if kind.startswith("AdaptiveAvgPool") and all(d == 1 for d in out.shape[2:]):
            return Saved()  # a mean
        if "Max" in kind:
            return Saved(inputs=(0,), extra=_b(_elems(out), 8))  # and the int64 indices of the maxima
        return Saved(inputs=(0,))
    if family == "pad":
        return Saved(inputs=(0,))  # reflection and replication read the input back (constant pads: NOTHING)
    if family == "merge":
        if a.get("value") is not None:
            return Saved(inputs=(0,)) if kind in ("Max", "Min", "Maximum", "Minimum") else Saved()
        return Saved(inputs=tuple(range(len(ins))))  # Mul, Div, Max, Min, MatMul: each other's factor
    if kind == "AnchorPoints":  # sizes read from the maps: no gradient
        return Saved()
    if kind == "VectorQuantizer":  # distances of a detached input; the straight-through sum keeps nothing
        return Saved()
    if kind == "SoftArgmax":  # the softmax's output, which its gradient and the product with the bins read
        return Saved(extra=add(_b(_elems(x), w), _b(a["bins"], w)))
    if family == "reduce":
        op = a.get("op", "mean")
        if op in ("mean", "sum"):
            return Saved()
        return Saved(inputs=(0,), output=True)
    if kind == "Pick":
        return Saved(inputs=(1,) if len(ins) > 1 else ())
    if kind == "MaskedFill":
        return Saved(inputs=(1,))  # the bool mask: where the gradient is zeroed
    if kind == "Triangle":  # an index of the flattened matrix: the int64 positions, not the values
        return Saved(extra=_b(out.shape[-1], 8))
    if kind in GATES:
        return Saved(extra=_recurrent(kind, x, a, w, device))
    if kind == "ConvLSTM2d":
        return Saved(extra=_conv_lstm(x, a, w))
    if kind == "MultiheadAttention":
        tensors = len(ins) - len(a.get("masks") or ())  # query (key, value); the masks after them are not kept
        kv = ins[1] if tensors > 1 else x
        # a scale, rotary or grouped heads, extra key/value rows: q, k and v are copied per head first
        plain = not (a.get("scale") is not None or a.get("add_bias_kv") or a.get("add_zero_attn")
                     or a.get("num_kv_heads") or a.get("rotary"))
        masks = 0
        for name, m in zip(a.get("masks") or (), ins[tensors:]):  # each mask, as the float mask the kernel adds
            n = _elems(m)
            if name == "attn" and a.get("head_mask"):  # one (heads, T, S) bias repeated for every sample
                n = mul(n, x.shape[0 if a.get("batch_first", True) else 1])
            masks = add(masks, _b(n, 4))
        return Saved(inputs=tuple(range(tensors)),
                     extra=add(_attention(x, kv, a["embed_dim"], a["num_heads"], a.get("dropout", 0.0),
                                          a.get("batch_first", True), tensors == 1, w, plain,
                                          bool(a.get("softcap")), _grouped_widths(a)),
                               add(masks, _qk_norm(x, kv, a, w))))
    if kind == "MultiheadLatentAttention":
        return Saved(inputs=(0,), extra=_latent_attention(x, a, w))
    if kind == "Mamba":
        return Saved(inputs=(0,), extra=_mamba(x, a, w))
    if kind in ("TransformerEncoderLayer", "TransformerEncoder"):
        layers = a.get("num_layers", 1)
        extra = mul(_encoder_layer(x, a, w), layers)
        if layers > 1 or a.get("norm"):  # each layer's output is the next one's (or the final norm's) input
            extra = add(extra, _b(mul(_elems(x), layers - 1 + (1 if a.get("norm") else 0)), w))
        if a.get("norm"):
            extra = add(extra, _b(mul(2, exact_div(_elems(x), a["d_model"])), 4))
        return Saved(inputs=(0,), extra=extra)
    if kind in ("TransformerDecoderLayer", "TransformerDecoder"):
        layers = a.get("num_layers", 1)
        memory = ins[1] if len(ins) > 1 else x
        extra = mul(add(_decoder_layer(x, memory, a, w), _b(_elems(x), w)), layers)
        return Saved(inputs=tuple(range(len(ins))), extra=extra)
    if kind == "PositionalEncoding":
        return Saved(extra=_b(_elems(x), w) if a.get("dropout", 0) else 0)
    if kind == "MixtureOfExperts":
        return Saved(inputs=(0,), extra=_experts(x, a, w))
    # A kind without a rule of its own: its input and its output, the most most ops keep.
    return Saved(inputs=tuple(range(len(ins))), output=True)


# Kinds autocast runs in float16 (mixed precision): matrix products and convolutions, and the
# recurrent and attention layers built on them; what they keep is half the size.
AUTOCAST_HALF = WEIGHTED_KEEP_INPUT | {"SeparableConv1d", "SeparableConv2d", "MatMul", "MultiheadAttention",
                                      "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                                      "TransformerDecoder", "LSTM", "GRU", "RNN", "ConvLSTM2d"} - {"Embedding"}
# and those it runs in float32 whatever they read
AUTOCAST_FLOAT = {"Softmax", "LogSoftmax", "LayerNorm", "GroupNorm", "RMSNorm", "Normalize", "Exp", "Softplus"}


def activation_bytes(graph: Graph, trains: Callable[[Node], bool] | None = None, amp: bool = False,
                     device: str = "any") -> tuple[DimLike, list[tuple[str, DimLike]]]:
    """Bytes autograd keeps through one forward of ``graph`` in training mode, and each top-level
    node's share (a group's: its layers'); ``trains(node)``: whether a leaf has weights that train
    (default: its parameters, unless trainable: false); ``device``: as for :func:`kind_saves`."""
    trains = trains or (lambda n: bool(n.trainable and n.result is not None and n.result.params))
    values: dict[Any, _Value] = {}
    sizes: dict[Any, DimLike] = {}  # storage -> bytes
    saved: set[Any] = set()
    extra: dict[str, DimLike] = {}
    order: list[str] = []

    def storage(v: _Value) -> None:
        sizes.setdefault(v.root, v.storage if v.storage is not None else _b(_elems(v.t), v.width))

    def keep(v: _Value, top: str) -> None:
        if v.root not in saved:
            saved.add(v.root)
            storage(v)
            extra[top] = add(extra.get(top, 0), sizes[v.root])

    def walk(g: Graph, env: dict[str, list[Any]], top: str | None) -> None:
        for n in g.nodes:
            here = top or n.path
            if top is None:
                order.append(here)
            ins_keys = [_port(g, env, ref) for ref in n.inputs]
            ins = [values[k] for k in ins_keys if k is not None]
            if n.sub is not None:
                inner = {name: [k] for name, k in zip(n.sub.inputs, ins_keys) if k is not None}
                walk(n.sub, inner, here)
                env[n.name] = [_port(n.sub, inner, src) for _, src in n.sub.outputs]
                continue
            if n.result is None or n.kind is None:
                continue
            outs = list(n.result.outs) or [n.result.out]
            kind = n.kind.type_name
            own = trains(n)
            in_grad = any(v.grad for v in ins)
            grad = own or in_grad
            width = 2 if amp and kind in AUTOCAST_HALF else 4
            keys = []
            for i, t in enumerate(outs):
                key = (id(n), i)
                keys.append(key)
                w = DTYPE_BYTES.get(t.dtype, 4)
                if t.is_float and w == 4 and amp and kind not in AUTOCAST_FLOAT:
                    w = 2 if kind in AUTOCAST_HALF else (ins[0].width if ins and ins[0].t.is_float else 4)
                values[key] = _view_or_new(n, key, t, ins, grad and t.is_float, w)
            env[n.name] = keys
            if not grad:
                continue
            rule = saves(n, [v.t for v in ins], outs, width, own, device, in_grad)
            for i in rule.inputs:
                if i < len(ins):
                    v = ins[i]
                    if amp and kind in AUTOCAST_HALF and v.t.is_float and v.width > 2:
                        # autocast keeps the half-precision copy it made of the input
                        extra[here] = add(extra.get(here, 0), _b(_elems(v.t), 2))
                    else:
                        keep(v, here)
            if rule.output:
                for k in keys:
                    keep(values[k], here)
            if rule.extra != 0:
                extra[here] = add(extra.get(here, 0), rule.extra)

    env: dict[str, list[Any]] = {}
    for name, t in graph.inputs.items():
        key = ("input", name)
        values[key] = _Value(t, key, False, True, DTYPE_BYTES.get(t.dtype, 4))
        env[name] = [key]
    walk(graph, env, None)
    total: DimLike = 0
    rows = []
    for name in order:
        share = extra.get(name, 0)
        rows.append((name, share))
        total = add(total, share)
    return total, rows


def _port(g: Graph, env: dict[str, list[Any]], ref: str) -> Any:
    keys = env.get(producer(ref))
    if not keys:
        return None
    if "." not in ref:
        return keys[0]
    index = port_index(ref)
    if index is None:
        n = g.node(producer(ref))
        index = n.result.port(ref.split(".", 1)[1]) if n is not None and n.result is not None else None
        if index is None and n is not None and n.sub is not None:
            names = [name for name, _ in n.sub.outputs]
            tail = ref.split(".", 1)[1]
            index = names.index(tail) if tail in names else None
    return keys[index] if index is not None and index < len(keys) else keys[0]


def _view_or_new(n: Node, key: Any, t: TensorType, ins: list[_Value], grad: bool, width: int) -> _Value:
    """The value a layer gives: a view of its input (its storage), or a tensor of its own."""
    layer, a = resolved(n)
    kind = layer.type_name
    src = ins[0] if ins else None
    whole = _whole(n, t, src.t if src is not None else None, width)
    if whole is not None:  # the last step of a sequence the layer stacks: a view of all of it
        return _Value(t, key, grad, False, width, whole)
    if src is None:
        return _Value(t, key, grad, True, width)
    p = a.get("p", None)
    same = (kind in VIEWS or (a.get("inplace") and kind != "Dropout")
            or (kind == "Cast" and t.dtype == src.t.dtype)
            or (type(layer).__module__.endswith("dropout") and p == 0))
    if kind in RESHAPES and not src.contiguous:
        same = False  # reshaping a transposed tensor copies it
    if not same:
        return _Value(t, key, grad, True, width)
    contiguous = src.contiguous
    if kind in ("Permute", "Transpose"):
        contiguous = False
    elif kind in ("Slice", "Split", "Chunk", "Select"):
        contiguous = src.contiguous and a.get("dim", 0) in (0, -src.t.rank)
    return _Value(t, src.root, grad, contiguous, src.width)


def _whole(n: Node, t: TensorType, src: TensorType | None, width: int) -> DimLike | None:
    """Bytes of the sequence whose last step a recurrent layer (output: last) or a ConvLSTM2d
    (return_sequences: false) gives as a view of it; None for other layers."""
    assert n.result is not None and n.kind is not None
    a, kind = n.result.args, n.kind.type_name
    if src is None or src.rank < 3 or n.result.outs:
        return None
    if kind in GATES and a.get("output") == "last":
        steps = src.shape[1] if a.get("batch_first", True) else src.shape[0]
    elif kind == "ConvLSTM2d" and not a.get("return_sequences", True):
        steps = src.shape[1]
    else:
        return None
    return _b(mul(_elems(t), steps), width)


def _factored(graph: Graph, trains: Callable[[Node], bool]) -> int:
    """Adafactor's state in elements: per matrix a row and a column of second moments, per vector
    its full second moment."""
    total = 0
    for n in graph.leaves():
        if n.result is None or n.kind is None or not trains(n):
            continue
        shapes = n.kind.weights(n.result.args)
        if not shapes:
            total += n.result.params
            continue
        for shape in shapes.values():
            if len(shape) >= 2:
                lead = 1
                for d in shape[:-2]:
                    lead *= d
                total += lead * shape[-2] + lead * shape[-1]
            else:
                total += product(shape) if shape else 1  # type: ignore[operator]
    return total


def training_memory(graph: Graph, optimizer: Any, *, trainable: int | None = None, total_params: int | None = None,
                    trains: Callable[[Node], bool] | None = None, amp: bool = False,
                    device: str = "any") -> TrainingMemory:
    """The memory of one training step of ``graph`` under ``optimizer`` (a validated optimizer
    section, or None).  ``trainable``/``total_params`` override the graph's own counts (LoRA adds
    adapters and freezes the rest); ``trains`` says which leaves' weights train; ``device``: where it
    trains, as for :func:`kind_saves`."""
    params, train_count, _, buffers = graph.totals()
    if total_params is not None:
        params = total_params
    if trainable is not None:
        train_count = trainable
    trains = trains or (lambda n: bool(n.trainable and n.result is not None and n.result.params))
    state = int(optimizer_copies(optimizer) * train_count * 4)
    if optimizer is not None and optimizer.type == "Adafactor":
        state = _factored(graph, trains) * 4
    acts, rows = activation_bytes(graph, trains, amp, device)
    if amp:  # autocast keeps the float16 copy of each weight it casts
        acts = add(acts, train_count * 2)
    return TrainingMemory(params=(params + buffers) * 4, grads=train_count * 4, optimizer=state, activations=acts,
                          batch=graph.batch, optimizer_note=optimizer_note(optimizer),
                          precision="float16 mixed" if amp else "float32", rows=rows)


def spec_memory(spec: Spec, amp: bool | None = None, device: str | None = None) -> TrainingMemory | None:
    """The training memory of a checked spec under its optimizer (LoRA: only the adapters and the
    layers marked trainable: true train).  ``amp``: mixed precision (default: the train section's
    mixed_precision, unless it trains on the CPU, where the loop runs float32).  ``device``: "cpu" or
    "cuda" where the step runs (default: the train section's device; "auto" or none: "any", the larger
    of the two kernels' needs)."""
    if not spec.ok or spec.graph is None or spec.document is None:
        return None
    from .lora import plan

    doc = spec.document
    if amp is None:
        amp = bool(doc.train is not None and doc.train.mixed_precision and doc.train.device != "cpu")
    if device is None:
        device = doc.train.device if doc.train is not None else "any"
    lora = plan(spec)[0]
    if lora is None:
        return training_memory(spec.graph, doc.optimizer, amp=amp, device=device)
    adapted = {id(t.node) for t in lora.targets} | {id(n) for n in lora.full}
    total = spec.graph.totals()[0] + lora.params
    return training_memory(spec.graph, doc.optimizer, trainable=lora.trainable, total_params=total,
                           trains=lambda n: id(n) in adapted, amp=amp, device=device)


def step_sizes(spec: Spec, batch: int) -> dict[str, int]:
    """The sizes a step is estimated at: the batch, and the export sizes the spec gives its other
    symbols (those it does not give stay symbolic)."""
    env = dict(spec.document.export.sizes) if spec.document is not None else {}
    if spec.graph is not None and spec.graph.batch is not None:
        env[spec.graph.batch] = batch
    return env


def symbols(d: DimLike) -> set[str]:
    return d.symbols() if isinstance(d, Dim) else set()


def partial(d: DimLike, env: Mapping[str, int]) -> DimLike:
    """``d`` with the symbols ``env`` sizes put in (the others left)."""
    if not isinstance(d, Dim):
        return d
    if d.symbols() <= set(env):
        return evaluate(d, env)
    total: DimLike = 0
    for mono, coeff in d.terms:
        value: DimLike = coeff
        for atom in mono:
            if isinstance(atom, Sym):
                value = mul(value, env[atom.name] if atom.name in env else sym(atom.name))
            else:
                value = mul(value, floordiv(partial(atom.num, env), atom.den))
        total = add(total, value)
    return total
