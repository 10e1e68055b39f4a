"""PyTorch lowering of the attention kinds: nn.MultiheadAttention, nn.TransformerEncoder(Layer),
and the PositionalEncoding and ClassToken support classes."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Lit, Lowering, lowering


@lowering
class MultiheadAttention(Lowering):
    torch_class = "nn.MultiheadAttention"
    positional = ("embed_dim", "num_heads")
    defaults = {"dropout": 0.0, "bias": True, "add_bias_kv": False, "add_zero_attn": False, "kdim": None,
                "vdim": None, "batch_first": False}
    forward_keys = ("masks",)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        masks = args["masks"]
        qkv = inputs[:len(inputs) - len(masks)]
        q = qkv[0]
        k = qkv[1] if len(qkv) >= 2 else q
        v = qkv[2] if len(qkv) == 3 else k
        names = {"key_padding": "key_padding_mask", "attn": "attn_mask"}
        extra = "".join(f", {names[m]}={x}" for m, x in zip(masks, inputs[len(qkv):]))
        return f"{module}({q}, {k}, {v}{extra}, need_weights=False)[0]"


class _Encoder(Lowering):
    positional = ("d_model", "nhead")
    defaults = {"dim_feedforward": 2048, "dropout": 0.1, "activation": "relu", "layer_norm_eps": 1e-5,
                "batch_first": False, "norm_first": False, "bias": True}
    forward_keys: ClassVar[tuple[str, ...]] = ("masks",)
    mask_kwargs: ClassVar[dict[str, str]]

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        extra = "".join(f", {self.mask_kwargs[m]}={x}" for m, x in zip(args["masks"], inputs[1:]))
        return f"{module}({inputs[0]}{extra})"


@lowering
class TransformerEncoderLayer(_Encoder):
    torch_class = "nn.TransformerEncoderLayer"
    mask_kwargs = {"attn": "src_mask", "key_padding": "src_key_padding_mask"}


@lowering
class TransformerEncoder(_Encoder):
    torch_class = "nn.TransformerEncoder"
    mask_kwargs = {"attn": "mask", "key_padding": "src_key_padding_mask"}
    forward_keys = ("masks", "num_layers", "norm")

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """``nn.TransformerEncoder(nn.TransformerEncoderLayer(...), num_layers=N[, norm=nn.LayerNorm(E)])``.

        Nested tensors (a fast path for padded batches at inference) are turned off: they
        change the output layout for masked inputs and do not export to ONNX.
        """
        layer_args = {k: v for k, v in args.items() if k not in self.forward_keys}
        layer = TransformerEncoderLayer().init(layer_args, lit)
        parts = [f"{layer}", f"num_layers={lit(args['num_layers'])}"]
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
        parts.append("enable_nested_tensor=False")
        return f"nn.TransformerEncoder({', '.join(parts)})"


@lowering
class PositionalEncoding(Lowering):
    torch_class = "PositionalEncoding"
    support = ("positional_encoding",)
    positional = ("d_model",)
    defaults = {"max_len": 512, "kind": "sinusoidal", "dropout": 0.0, "batch_first": True}


@lowering
class ClassToken(Lowering):
    torch_class = "ClassToken"
    support = ("class_token",)
    positional = ("d_model",)
    defaults = {"num_tokens": 1, "batch_first": True}
