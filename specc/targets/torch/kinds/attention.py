"""PyTorch lowering of the attention kinds: nn.MultiheadAttention, nn.TransformerEncoder(Layer),
nn.TransformerDecoder(Layer), and the PositionalEncoding and ClassToken support classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import support
from ..export_limits import merges_masks
from .base import Lit, Lowering, lowering, on


def causal_mask(x: str, args: dict[str, Any]) -> str:
    """The (T, T) mask of ``x``'s own length, built in forward so that one model serves every T:
    true (masked) above the diagonal when it joins a bool key-padding mask, else -inf there in the
    input's dtype (PyTorch wants the two masks of one type)."""
    t = f"{on(x)}.size({1 if args['batch_first'] else 0})"
    if args["bool_masks"]:
        return f"torch.ones({t}, {t}, dtype=torch.bool, device={on(x)}.device).triu(1)"
    return f"nn.Transformer.generate_square_subsequent_mask({t}, device={on(x)}.device, dtype={on(x)}.dtype)"


NEG_INF = 'float("-inf")'  # as ruff writes it: the generated source is ruff-formatted


def mask_inputs(masks: tuple[str, ...], inputs: list[str], args: dict[str, Any]) -> list[str]:
    """The mask expressions to pass: a bool key-padding mask beside a float attention mask becomes
    0 / -inf in that mask's dtype (PyTorch deprecates masks of two types)."""
    if not args.get("float_attn"):
        return list(inputs)
    attn = inputs[list(masks).index("attn")]
    return [f"torch.zeros_like({x}, dtype={on(attn)}.dtype).masked_fill({x}, {NEG_INF})"
            if m == "key_padding" else x for m, x in zip(masks, inputs)]


class _Masked(Lowering):
    """Attention kinds: a layer whose masks merge is called through ``off_fastpath``."""

    support = ("attention_fastpath", "gelu_tanh", "grouped_attention", "scaled_attention")

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        grouped = "num_kv_heads" in args
        need = {"attention_fastpath": merges_masks(args), "gelu_tanh": args.get("activation") == "gelu_tanh",
                "grouped_attention": grouped, "scaled_attention": args.get("scale") is not None and not grouped}
        return [support.text(name) for name in self.support if need[name]]

    def call(self, module: str, positional: list[str], keywords: str, args: dict[str, Any]) -> str:
        if merges_masks(args):
            return f"off_fastpath({module}, {', '.join(positional)}{keywords})"
        return f"{module}({', '.join(positional)}{keywords})"


@lowering
class MultiheadAttention(_Masked):
    torch_class = "nn.MultiheadAttention"
    positional = ("embed_dim", "num_heads")
    defaults = {"dropout": 0.0, "bias": True, "add_bias_kv": False, "add_zero_attn": False, "kdim": None,
                "vdim": None, "batch_first": False, "scale": None}
    forward_keys = ("masks", "causal", "bool_masks", "float_attn", "head_mask")

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """nn.MultiheadAttention, or with a scale of its own (which PyTorch's lacks) the support
        subclass ScaledMultiheadAttention: the same parameters, the scores times ``scale``.  With
        rotary: or num_kv_heads:, the support module GroupedQueryAttention (LLaMA's projections)."""
        if "num_kv_heads" in args:
            return _GroupedQueryAttention().init({k: v for k, v in args.items() if k not in _GROUPED_FORWARD}, lit)
        if args.get("scale") is None:
            return super().init({k: v for k, v in args.items() if k != "scale"}, lit)
        return super().init(args, lit).replace("nn.MultiheadAttention(", "ScaledMultiheadAttention(", 1)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        masks = args["masks"]
        qkv = inputs[:len(inputs) - len(masks)]
        q = qkv[0]
        k = qkv[1] if len(qkv) >= 2 else q
        v = qkv[2] if len(qkv) == 3 else k
        if "num_kv_heads" in args:  # its causal mask is its own attribute, and it returns the output alone
            pad = "".join(f", key_padding_mask={x}" for x in inputs[len(qkv):])
            return f"{module}({q}, {k}, {v}{pad})"
        names = {"key_padding": "key_padding_mask", "attn": "attn_mask"}
        given = mask_inputs(masks, inputs[len(qkv):], args)
        if args["causal"] and "attn" in masks:  # a float bias, the causal mask added (is_causal would drop it)
            t = f"{on(q)}.size({1 if args['batch_first'] else 0})"
            given = [f"{x} + nn.Transformer.generate_square_subsequent_mask({t}, device={on(q)}.device, "
                     f"dtype={on(x)}.dtype)" if m == "attn" else x for m, x in zip(masks, given)]
        # one (heads, T, S) bias for every sample: nn.MultiheadAttention takes (B·heads, T, S)
        if args.get("head_mask"):
            batch = f"{on(q)}.size({0 if args['batch_first'] else 1})"
            given = [f"{on(x)}.repeat({batch}, 1, 1)" if m == "attn" else x for m, x in zip(masks, given)]
        extra = "".join(f", {names[m]}={x}" for m, x in zip(masks, given))
        if args["causal"] and "attn" not in masks:
            extra += f", attn_mask={causal_mask(q, args)}, is_causal=True"
        return self.call(module, [q, k, v], f"{extra}, need_weights=False", args) + "[0]"


# the grouped attention's forward-only attributes: its masks (passed to forward), and how nn.MultiheadAttention
# would take them
_GROUPED_FORWARD = ("masks", "bool_masks", "float_attn")


class _GroupedQueryAttention(Lowering):
    torch_class = "GroupedQueryAttention"
    positional = ("embed_dim", "num_heads", "num_kv_heads")
    defaults = {"bias": True, "kdim": None, "vdim": None, "dropout": 0.0, "batch_first": True, "scale": None,
                "causal": False, "rotary_dim": None, "rotary_base": 10000.0, "rotary_interleaved": False,
                "head_dim": None, "out_bias": None, "window": None, "rotary_scaling": None, "softcap": None,
                "local_window": None, "qk_norm": None, "clip_qkv": None}


@lowering
class MultiheadLatentAttention(Lowering):
    """The support module MultiheadLatentAttention, whose rotary is GroupedQueryAttention's."""

    torch_class = "MultiheadLatentAttention"
    support = ("grouped_attention", "latent_attention")
    positional = ("embed_dim", "num_heads", "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                  "v_head_dim")
    defaults = {"eps": 1e-6, "bias": False, "dropout": 0.0, "causal": False, "batch_first": True, "scale": None,
                "rotary_base": 10000.0, "rotary_interleaved": False, "rotary_scaling": None}


class _Encoder(_Masked):
    positional = ("d_model", "nhead")
    defaults = {"dim_feedforward": 2048, "dropout": 0.1, "activation": "relu", "layer_norm_eps": 1e-5,
                "batch_first": False, "norm_first": False, "bias": True}
    forward_keys: ClassVar[tuple[str, ...]] = ("masks", "causal", "bool_masks", "float_attn")
    mask_kwargs: ClassVar[dict[str, str]]
    reads: ClassVar[int] = 1  # the inputs before the masks: x, or the target and the memory

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """PyTorch takes "relu" or "gelu" by name; the tanh GELU is the support function
        ``gelu_tanh`` (``activation=gelu_tanh``)."""
        act = args.get("activation")
        if act == "gelu_tanh":
            code = "gelu_tanh"
        elif act is not None and not isinstance(act, str):
            # a block class's parameter, differing between instances: only its value says which
            code = f'(lambda x: F.gelu(x, approximate="tanh")) if {lit(act)} == "gelu_tanh" else {lit(act)}'
        else:
            return super().init(args, lit)
        return super().init({**args, "activation": _Source(code)},
                            lambda v: v.text if isinstance(v, _Source) else lit(v))

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        masks = args["masks"]
        extra = "".join(f", {self.mask_kwargs[m]}={x}"
                        for m, x in zip(masks, mask_inputs(masks, inputs[self.reads:], args)))
        if args["causal"]:
            extra += f", {self.mask_kwargs['causal']}={causal_mask(inputs[0], args)}"
            extra += f", {self.mask_kwargs['is_causal']}=True"
        return self.call(module, inputs[:self.reads], extra, args)

    def stack(self, layer: str, args: dict[str, Any], lit: Lit, *extra: str) -> str:
        """``nn.<Stack>(<layer>, num_layers=N[, norm=nn.LayerNorm(E)], *extra)``."""
        parts = [layer, f"num_layers={lit(args['num_layers'])}"]
        norm = args["norm"]
        if norm is not False:
            norm_args = [lit(args["d_model"])]
            if args["layer_norm_eps"] != 1e-5:
                norm_args.append(f"eps={lit(args['layer_norm_eps'])}")
            if args["bias"] is not True:
                norm_args.append(f"bias={lit(args['bias'])}")
            layer_norm = f"nn.LayerNorm({', '.join(norm_args)})"
            # In a block class whose instances differ, norm is a constructor parameter.
            parts.append(f"norm={layer_norm}" if norm is True else f"norm={layer_norm} if {lit(norm)} else None")
        return f"{self.torch_class}({', '.join([*parts, *extra])})"


@dataclass(frozen=True)
class _Source:
    """A constructor argument written as this source text, not as a literal."""

    text: str


@lowering
class TransformerEncoderLayer(_Encoder):
    torch_class = "nn.TransformerEncoderLayer"
    mask_kwargs = {"attn": "src_mask", "key_padding": "src_key_padding_mask", "causal": "src_mask",
                   "is_causal": "is_causal"}


@lowering
class TransformerEncoder(_Encoder):
    torch_class = "nn.TransformerEncoder"
    mask_kwargs = {"attn": "mask", "key_padding": "src_key_padding_mask", "causal": "mask",
                   "is_causal": "is_causal"}
    forward_keys = ("masks", "causal", "bool_masks", "float_attn", "num_layers", "norm")

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """``nn.TransformerEncoder(nn.TransformerEncoderLayer(...), num_layers=N[, norm=nn.LayerNorm(E)])``.

        Nested tensors (a fast path for padded batches at inference) are turned off: they
        change the output layout for masked inputs and do not export to ONNX.
        """
        layer_args = {k: v for k, v in args.items() if k not in self.forward_keys}
        return self.stack(TransformerEncoderLayer().init(layer_args, lit), args, lit, "enable_nested_tensor=False")


@lowering
class TransformerDecoderLayer(_Encoder):
    torch_class = "nn.TransformerDecoderLayer"
    reads = 2
    mask_kwargs = {"key_padding": "tgt_key_padding_mask", "memory_key_padding": "memory_key_padding_mask",
                   "causal": "tgt_mask", "is_causal": "tgt_is_causal"}


@lowering
class TransformerDecoder(_Encoder):
    torch_class = "nn.TransformerDecoder"
    reads = 2
    mask_kwargs = TransformerDecoderLayer.mask_kwargs
    forward_keys = ("masks", "causal", "bool_masks", "float_attn", "num_layers", "norm")

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """``nn.TransformerDecoder(nn.TransformerDecoderLayer(...), num_layers=N[, norm=nn.LayerNorm(E)])``."""
        layer_args = {k: v for k, v in args.items() if k not in self.forward_keys}
        return self.stack(TransformerDecoderLayer().init(layer_args, lit), args, lit)


@lowering
class PositionalEncoding(Lowering):
    torch_class = "PositionalEncoding"
    support = ("positional_encoding",)
    positional = ("d_model",)
    defaults = {"max_len": 512, "kind": "sinusoidal", "dropout": 0.0, "batch_first": True}


@lowering
class LearnedTokens(Lowering):
    torch_class = "LearnedTokens"
    support = ("learned_tokens",)
    positional = ("num_tokens", "d_model")
    defaults = {"batch_first": True}


@lowering
class ClassToken(Lowering):
    torch_class = "ClassToken"
    support = ("class_token",)
    positional = ("d_model",)
    defaults = {"num_tokens": 1, "batch_first": True}
