"""The layer case table: every registered layer kind in a few configurations, each paired with
an independent PyTorch oracle (the module or expression a PyTorch user would write by hand).

A case is one spec layer (YAML flow text) over named inputs, the oracle that computes the
same thing, and the values of the symbolic dims to run it at.  ``tests/test_layers_torch.py``
checks specc's shapes, parameter and buffer counts, and its emitted constructor/forward
against the oracle; other tests (emit, ONNX) may reuse the table.

Adding a layer kind?  Add at least one case here: ``test_every_kind_has_a_case`` fails
until you do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

B23 = ({"B": 2}, {"B": 3})


@dataclass(frozen=True)
class Case:
    kind: str  # the canonical type name this case covers
    layer: str  # the layer under test, a YAML flow mapping
    inputs: dict[str, tuple[Any, ...]]  # input name -> shape (ints and symbol names)
    oracle: Callable[[], nn.Module]  # builds the hand-written PyTorch equivalent
    envs: tuple[dict[str, int], ...] = B23  # values of the symbolic dims to run at
    dtypes: dict[str, str] = field(default_factory=dict)  # input name -> dtype (default float32)
    high: int = 10  # integer inputs are drawn from [0, high)
    # Layers ahead of the one under test, for a kind that reads what only another layer gives
    # (MaxUnpool, a MaxPool's indices); the oracle then computes the whole chain.
    before: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.layer}"

    def yaml(self) -> str:
        lines = ["specc: 1", "inputs:"]
        for name, shape in self.inputs.items():
            dims = ", ".join(str(d) for d in shape)
            dtype = self.dtypes.get(name)
            lines.append(f"  {name}: {{shape: [{dims}], dtype: {dtype}}}" if dtype else f"  {name}: [{dims}]")
        lines += ["layers:", *(f"  - {b}" for b in self.before), f"  - {self.layer}"]
        return "\n".join(lines) + "\n"

    def tensors(self, env: dict[str, int], seed: int = 0) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        out = []
        for name, shape in self.inputs.items():
            size = tuple(env[d] if isinstance(d, str) else d for d in shape)
            dtype = getattr(torch, self.dtypes.get(name, "float32"))
            if dtype.is_floating_point:
                out.append(torch.randn(size, generator=gen, dtype=dtype))
            elif dtype == torch.bool:
                out.append(torch.zeros(size, dtype=torch.bool))
            else:
                out.append(torch.randint(0, self.high, size, generator=gen, dtype=dtype))
        return out


class Fn(nn.Module):
    """An oracle written as an expression over the inputs; ``modules`` hold its parameters."""

    def __init__(self, f: Callable[..., torch.Tensor], *modules: nn.Module, **buffers: torch.Tensor):
        super().__init__()
        self.f = f
        self.parts = nn.ModuleList(modules)
        for name, value in buffers.items():
            self.register_buffer(name, value)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.f(*xs)


def fn(f: Callable[..., torch.Tensor]) -> Callable[[], nn.Module]:
    return lambda: Fn(f)


def _with(module: nn.Module, f: Callable[..., torch.Tensor]) -> nn.Module:
    return Fn(lambda *xs: f(module, *xs), module)


CASES: list[Case] = []


def case(kind: str, layer: str, inputs: dict[str, tuple[Any, ...]], oracle: Callable[[], nn.Module],
         envs: tuple[dict[str, int], ...] = B23, **kw: Any) -> None:
    CASES.append(Case(kind, layer, inputs, oracle, envs, **kw))


# -- Linear, convolutions ---------------------------------------------------------------------

case("Linear", "{type: Linear, out_features: 5}", {"inp": ("B", 8)}, lambda: nn.Linear(8, 5))
case("Linear", "{type: Dense, units: 4, use_bias: false}", {"inp": ("B", "T", 6)},
     lambda: nn.Linear(6, 4, bias=False), ({"B": 2, "T": 3}, {"B": 3, "T": 5}))



class NflowsMaskedLinear(nn.Linear):
    """nflows 0.14's MaskedLinear (transforms/made.py) without random_mask: ``in_degrees`` given (the inputs'
    1..D, or the previous layer's), hidden degrees arange(out) % max(1, D - 1) + min(1, D - 1), an output
    layer's torchutils.tile(1..D, out // D) read with >, a hidden one's with >=."""

    def __init__(self, in_degrees: torch.Tensor, out_features: int, features: int, is_output: bool,
                 bias: bool = True) -> None:
        super().__init__(len(in_degrees), out_features, bias=bias)
        if is_output:
            out_degrees = torch.arange(1, features + 1).repeat(out_features // features)
            out_degrees = out_degrees.reshape(out_features // features, -1).transpose(1, 0).reshape(-1)
            mask = (out_degrees[..., None] > in_degrees).float()
        else:
            out_degrees = torch.arange(out_features) % max(1, features - 1) + min(1, features - 1)
            mask = (out_degrees[..., None] >= in_degrees).float()
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


# MADE's masks (nflows' MaskedLinear): the input layer, a hidden one, an output layer of 2 per input. A hidden
# or output layer alone reads a model input, which check takes as the inputs themselves (V178 where their
# hidden degrees k % (D - 1) + 1 would differ): fewer than D of them, where the two agree
case("Linear", "{type: Linear, out_features: 7, made: {features: 5, role: input}}", {"inp": ("B", 5)},
     lambda: NflowsMaskedLinear(torch.arange(1, 6), 7, 5, False))
case("Linear", "{type: Linear, out_features: 12, made: {features: 10}}", {"inp": ("B", "T", 9)},
     lambda: NflowsMaskedLinear(torch.arange(9) % 9 + 1, 12, 10, False), ({"B": 2, "T": 3}, {"B": 3, "T": 5}))
case("Linear", "{type: Linear, out_features: 16, bias: false, made: {features: 8, role: output}}", {"inp": ("B", 6)},
     lambda: NflowsMaskedLinear(torch.arange(6) % 7 + 1, 16, 8, True, bias=False))

BL = ({"B": 2, "L": 9}, {"B": 3, "L": 16}, {"B": 1, "L": 21})
BHW = ({"B": 2, "H": 9, "W": 12}, {"B": 3, "H": 14, "W": 7})
case("Conv1d", "{type: Conv1d, out_channels: 6, kernel_size: 3, stride: 2, padding: 1}", {"inp": ("B", 4, "L")},
     lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), BL)
case("Conv1d", "{type: Conv1D, filters: 4, kernel_size: 4, dilation_rate: 2, groups: 2, padding: same, "
     "padding_mode: reflect}", {"inp": ("B", 4, 12)},
     lambda: nn.Conv1d(4, 4, 4, dilation=2, groups=2, padding="same", padding_mode="reflect"))
case("Conv2d", "{type: Conv2d, out_channels: 8, kernel_size: [3, 5], stride: [2, 1], padding: [1, 2], bias: false}",
     {"inp": ("B", 3, 11, 9)}, lambda: nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), bias=False))
case("Conv2d", "{type: Conv2d, out_channels: 6, kernel_size: 3, groups: 3, dilation: 2, padding: 2, "
     "padding_mode: circular}", {"inp": ("B", 3, "H", "W")},
     lambda: nn.Conv2d(3, 6, 3, groups=3, dilation=2, padding=2, padding_mode="circular"), BHW)
case("Conv2d", "{type: Conv2D, filters: 4, kernel_size: 2, padding: valid, strides: 3}", {"inp": ("B", 2, 10, 7)},
     lambda: nn.Conv2d(2, 4, 2, stride=3, padding="valid"))
case("Conv3d", "{type: Conv3d, out_channels: 4, kernel_size: [2, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1]}",
     {"inp": ("B", 2, 4, 7, 8)}, lambda: nn.Conv3d(2, 4, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
case("Conv3d", "{type: Conv3d, out_channels: 2, kernel_size: 3, padding: same, padding_mode: replicate}",
     {"inp": ("B", 2, "D", 5, 5)}, lambda: nn.Conv3d(2, 2, 3, padding="same", padding_mode="replicate"),
     ({"B": 2, "D": 3}, {"B": 1, "D": 4}))
case("ConvTranspose1d", "{type: ConvTranspose1d, out_channels: 3, kernel_size: 4, stride: 2, padding: 1}",
     {"inp": ("B", 4, "L")}, lambda: nn.ConvTranspose1d(4, 3, 4, stride=2, padding=1), BL)
case("ConvTranspose1d", "{type: ConvTranspose1d, out_channels: 6, kernel_size: 3, stride: 3, output_padding: 2, "
     "groups: 2}", {"inp": ("B", 4, 5)}, lambda: nn.ConvTranspose1d(4, 6, 3, stride=3, output_padding=2, groups=2))
case("ConvTranspose2d", "{type: ConvTranspose2d, out_channels: 4, kernel_size: 2, stride: 2}",
     {"inp": ("B", 6, "H", "W")}, lambda: nn.ConvTranspose2d(6, 4, 2, stride=2), BHW)
case("ConvTranspose2d", "{type: Conv2DTranspose, filters: 2, kernel_size: [3, 5], strides: [2, 3], padding: [1, 2], "
     "output_padding: [1, 0], dilation_rate: [1, 2], use_bias: false}", {"inp": ("B", 3, 5, 6)},
     lambda: nn.ConvTranspose2d(3, 2, (3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 0),
                                dilation=(1, 2), bias=False))
case("ConvTranspose1d", "{type: ConvTranspose1d, out_channels: 3, kernel_size: 4, stride: 2, padding: valid}",
     {"inp": ("B", 2, "L")}, lambda: nn.ConvTranspose1d(2, 3, 4, stride=2), BL)
case("ConvTranspose3d", "{type: ConvTranspose3d, out_channels: 2, kernel_size: 3, stride: 2, padding: 1, "
     "output_padding: 1}", {"inp": ("B", 3, 3, 4, 4)},
     lambda: nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1))
case("ConvTranspose3d", "{type: Conv3DTranspose, filters: 4, kernel_size: [1, 2, 2], strides: [1, 2, 2], groups: 2}",
     {"inp": ("B", 2, "D", 3, 3)}, lambda: nn.ConvTranspose3d(2, 4, (1, 2, 2), stride=(1, 2, 2), groups=2),
     ({"B": 2, "D": 2}, {"B": 3, "D": 5}))

# Depthwise: PyTorch's grouped conv with groups = in_channels; separable: Keras' depthwise (no bias)
# then a 1x1 pointwise conv.
case("DepthwiseConv1d", "{type: DepthwiseConv1d, kernel_size: 3, padding: 1}", {"inp": ("B", 4, "L")},
     lambda: nn.Conv1d(4, 4, 3, padding=1, groups=4), BL)
case("DepthwiseConv1d", "{type: DepthwiseConv1D, kernel_size: 5, depth_multiplier: 3, strides: 2, dilation_rate: 2, "
     "use_bias: false}", {"inp": ("B", 2, 20)}, lambda: nn.Conv1d(2, 6, 5, stride=2, dilation=2, groups=2, bias=False))
case("DepthwiseConv2d", "{type: DepthwiseConv2d, kernel_size: 3, stride: 2, padding: 1, bias: false}",
     {"inp": ("B", 6, "H", "W")}, lambda: nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False), BHW)
case("DepthwiseConv2d", "{type: DepthwiseConv2D, kernel_size: [3, 5], depth_multiplier: 2, padding: same, "
     "padding_mode: reflect, in_channels: 3}", {"inp": ("B", 3, 8, 9)},
     lambda: nn.Conv2d(3, 6, (3, 5), padding="same", padding_mode="reflect", groups=3))
case("DepthwiseConv2d", "{type: DepthwiseConv2d, kernel_size: 1, out_channels: 12}", {"inp": ("B", 4, 3, 3)},
     lambda: nn.Conv2d(4, 12, 1, groups=4))
case("SeparableConv1d", "{type: SeparableConv1d, out_channels: 6, kernel_size: 3, padding: 1}", {"inp": ("B", 4, "L")},
     lambda: nn.Sequential(nn.Conv1d(4, 4, 3, padding=1, groups=4, bias=False), nn.Conv1d(4, 6, 1)), BL)
case("SeparableConv1d", "{type: SeparableConv1D, filters: 5, kernel_size: 3, depth_multiplier: 2, strides: 2, "
     "use_bias: false}", {"inp": ("B", 3, 11)},
     lambda: nn.Sequential(nn.Conv1d(3, 6, 3, stride=2, groups=3, bias=False), nn.Conv1d(6, 5, 1, bias=False)))
case("SeparableConv2d", "{type: SeparableConv2d, out_channels: 8, kernel_size: 3, padding: 1}",
     {"inp": ("B", 4, "H", "W")},
     lambda: nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.Conv2d(4, 8, 1)), BHW)
case("SeparableConv2d", "{type: SeparableConv2D, filters: 4, kernel_size: 3, depth_multiplier: 2, dilation_rate: 2, "
     "padding: same, use_bias: false}", {"inp": ("B", 3, 9, 9)},
     lambda: nn.Sequential(nn.Conv2d(3, 6, 3, dilation=2, padding="same", groups=3, bias=False),
                           nn.Conv2d(6, 4, 1, bias=False)))

# -- activations ------------------------------------------------------------------------------

BT = ({"B": 2, "T": 3}, {"B": 3, "T": 5})
_ACTIVATIONS: list[tuple[str, str, Callable[[], nn.Module]]] = [
    ("ReLU", "inplace: true", lambda: nn.ReLU(inplace=True)),
    ("ReLU6", "inplace: true", lambda: nn.ReLU6(inplace=True)),
    ("LeakyReLU", "negative_slope: 0.2", lambda: nn.LeakyReLU(0.2)),
    ("ELU", "alpha: 0.5", lambda: nn.ELU(0.5)),
    ("SELU", "inplace: true", lambda: nn.SELU(inplace=True)),
    ("CELU", "alpha: 2.0", lambda: nn.CELU(2.0)),
    ("GELU", "approximate: tanh", lambda: nn.GELU(approximate="tanh")),
    ("SiLU", "inplace: true", lambda: nn.SiLU(inplace=True)),
    ("Mish", "inplace: true", lambda: nn.Mish(inplace=True)),
    ("Sigmoid", "", nn.Sigmoid),
    ("Tanh", "", nn.Tanh),
    ("Softplus", "beta: 2.0, threshold: 10.0", lambda: nn.Softplus(beta=2.0, threshold=10.0)),
    ("Softsign", "", nn.Softsign),
    ("Hardtanh", "min_val: -2.0, max_val: 2.0", lambda: nn.Hardtanh(-2.0, 2.0)),
    ("Hardswish", "inplace: true", lambda: nn.Hardswish(inplace=True)),
    ("Hardsigmoid", "inplace: true", lambda: nn.Hardsigmoid(inplace=True)),
    ("Softmax", "dim: 1", lambda: nn.Softmax(dim=1)),
    ("LogSoftmax", "dim: -1", lambda: nn.LogSoftmax(dim=-1)),
    ("PReLU", "num_parameters: 3, init: 0.1", lambda: nn.PReLU(3, init=0.1)),
]
for _name, _extra, _oracle in _ACTIVATIONS:
    # specc's Softmax dims default to -1 (PyTorch's implicit choice is deprecated).
    _plain = (lambda n=_name: getattr(nn, n)(dim=-1)) if "Softmax" in _name else getattr(nn, _name)
    case(_name, f"{{type: {_name}}}", {"inp": ("B", 7)}, _plain)
    case(_name, f"{{type: {_name}, {_extra}}}" if _extra else f"{{type: {_name}}}", {"inp": ("B", 3, "T")},
         _oracle, BT)



def _sparsemax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Sparsemax by its definition (Martins & Astudillo 2016, eq. 2-4), in float64: each candidate
    support size k gives tau_k = (sum of the k largest - 1) / k, and the right k is the one whose
    tau lies below its k-th largest entry and at or above the next one."""
    z = x.double().movedim(dim, -1)
    ranked = z.sort(-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=torch.float64)
    taus = (ranked.cumsum(-1) - 1) / k
    nxt = torch.cat([ranked[..., 1:], torch.full_like(ranked[..., :1], -torch.inf)], -1)
    right = (ranked > taus) & (nxt <= taus)
    tau = (taus * right).sum(-1, keepdim=True)  # exactly one k is right in each row
    return (z - tau).clamp(min=0).movedim(-1, dim).to(x.dtype)


case("Sparsemax", "{type: Sparsemax}", {"inp": ("B", 7)}, fn(lambda x: _sparsemax(x, -1)))
case("Sparsemax", "{type: Sparsemax, dim: 1}", {"inp": ("B", "T", 5)}, fn(lambda x: _sparsemax(x, 1)), BT)



def _tril(x: torch.Tensor, offset: int) -> torch.Tensor:
    li, lj = torch.tril_indices(x.shape[-2], x.shape[-1], offset)  # DLRM's interact_features
    return x[..., li, lj]


case("Triangle", "{type: Triangle}", {"inp": ("B", 5, 5)}, fn(lambda x: _tril(x, -1)))
case("Triangle", "{type: Triangle, offset: 0}", {"inp": ("B", "T", 3, 4)}, fn(lambda x: _tril(x, 0)), BT)



def _dfl(c1: int = 16) -> nn.Module:
    """ultralytics nn/modules/block.py DFL after its view and transpose: softmax over the c1 bins of dim 1,
    then a frozen 1x1 conv whose weights are 0 .. c1 - 1 (held outside the oracle's parameters: specc's
    layer has none, and ultralytics' counts these c1 frozen values)."""
    weight = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
    return fn(lambda x: F.conv2d(x.softmax(1), weight))()


# GFL's Integral (mmdet): F.linear(softmax(x), linspace(0, reg_max, reg_max + 1))
case("SoftArgmax", "{type: SoftArgmax}", {"inp": ("B", 4, 8)},
     fn(lambda x: F.linear(x.softmax(-1), torch.arange(8, dtype=torch.float)[None])[..., 0]))
case("SoftArgmax", "{type: SoftArgmax, dim: 1, keepdim: true}", {"inp": ("B", 16, 4, "T")}, _dfl, BT)

# -- merges ----------------------------------------------------------------------------------

case("Add", "{type: Add, from: [a, b]}", {"a": ("B", 4, 5), "b": ("B", 4, 5)}, fn(lambda a, b: a + b))
case("Add", "{type: Add, from: [a, b, c]}", {"a": ("B", 4, "T"), "b": (1, 4, 1), "c": ("B", 1, "T")},
     fn(lambda a, b, c: a + b + c), BT)
case("Mul", "{type: Mul, from: [a, b]}", {"a": ("B", 6), "b": ("B", 6)}, fn(lambda a, b: a * b))
case("Mul", "{type: Multiply, from: [a, b]}", {"a": ("B", 3, 4, 4), "b": ("B", 3, 1, 1)}, fn(lambda a, b: a * b))
case("MatMul", "{type: MatMul, from: [q, k]}", {"q": ("B", "T", 4), "k": ("B", 4, "U")},
     fn(torch.matmul), ({"B": 2, "T": 3, "U": 5}, {"B": 1, "T": 4, "U": 2}))
case("MatMul", "{type: MatMul, from: [a, w]}", {"a": ("B", 2, 3, 6), "w": ("B", 1, 6, 5)}, fn(torch.matmul))



def _weighted_sum(n: int, normalize: str, eps: float = 1e-4) -> nn.Module:
    """zylo117 Yet-Another-EfficientDet-Pytorch BiFPN: p6_w1 = nn.Parameter(torch.ones(2)), relu,
    / (sum + epsilon), then weight[0] * a + weight[1] * b; softmax fusion is softmax(w) the same way."""
    m = nn.Module()
    m.weight = nn.Parameter(torch.ones(n))

    def f(m: nn.Module, *xs: torch.Tensor) -> torch.Tensor:
        w = torch.relu(m.weight) if normalize == "fast" else m.weight
        w = w / (w.sum(0) + eps) if normalize == "fast" else torch.softmax(w, 0) if normalize == "softmax" else w
        return sum(w[i] * x for i, x in enumerate(xs))
    return _with(m, f)


case("WeightedSum", "{type: WeightedSum, from: [a, b]}", {"a": ("B", 4, 5, 5), "b": ("B", 4, 5, 5)},
     lambda: _weighted_sum(2, "fast"))
case("WeightedSum", "{type: WeightedSum, normalize: softmax, from: [a, b, c]}",
     {"a": ("B", "T", 3), "b": ("B", "T", 3), "c": ("B", "T", 3)}, lambda: _weighted_sum(3, "softmax"), BT)

case("Concat", "{type: Concat, from: [a, b]}", {"a": ("B", 3, 4), "b": ("B", 5, 4)},
     fn(lambda a, b: torch.cat([a, b], dim=1)))
case("Concat", "{type: Concatenate, dim: -1, from: [a, b, c]}",
     {"a": ("B", "T", 2), "b": ("B", "T", 3), "c": ("B", "T", 1)}, fn(lambda a, b, c: torch.cat([a, b, c], -1)), BT)
case("Concat", "{type: Cat, dim: 1, from: [a, b]}", {"a": ("B", "T", 2), "b": ("B", 4, 2)},
     fn(lambda a, b: torch.cat([a, b], 1)), BT)

# -- pooling ---------------------------------------------------------------------------------

case("MaxPool1d", "{type: MaxPool1d, kernel_size: 3, stride: 2, padding: 1, dilation: 2, ceil_mode: true}",
     {"inp": ("B", 4, "L")}, lambda: nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True), BL)
case("MaxPool1d", "{type: MaxPooling1D, pool_size: 2}", {"inp": ("B", 3, "L")}, lambda: nn.MaxPool1d(2), BL)
case("MaxPool2d", "{type: MaxPool2d, kernel_size: [3, 2], stride: [2, 1], padding: [1, 0], ceil_mode: true}",
     {"inp": ("B", 3, "H", "W")}, lambda: nn.MaxPool2d((3, 2), (2, 1), (1, 0), ceil_mode=True), BHW)
case("MaxPool2d", "{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, dilation: 2}", {"inp": ("B", 2, 12, 11)},
     lambda: nn.MaxPool2d(3, 2, 1, dilation=2))
case("MaxPool2d", "{type: MaxPooling2D, pool_size: 2, strides: 2}", {"inp": ("B", 2, 7, 6)},
     lambda: nn.MaxPool2d(2, 2))
case("MaxPool3d", "{type: MaxPool3d, kernel_size: 2}", {"inp": ("B", 2, 4, 6, 5)}, lambda: nn.MaxPool3d(2))
case("MaxPool3d", "{type: MaxPool3d, kernel_size: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1], "
     "ceil_mode: true}", {"inp": ("B", 2, "D", 7, 8)},
     lambda: nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1), ceil_mode=True), ({"B": 2, "D": 2}, {"B": 3, "D": 3}))
case("AvgPool1d", "{type: AvgPool1d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, "
     "count_include_pad: false}", {"inp": ("B", 3, "L")},
     lambda: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), BL)
case("AvgPool1d", "{type: AveragePooling1D, pool_size: 4, strides: 3}", {"inp": ("B", 2, 13)},
     lambda: nn.AvgPool1d(4, 3))
# (divisor_override: no exporter keeps it, so check refuses it: tests/test_stages.py)
case("AvgPool2d", "{type: AvgPool2d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}",
     {"inp": ("B", 2, "H", "W")}, lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), BHW)
case("AvgPool2d", "{type: AvgPool2d, kernel_size: [2, 4]}", {"inp": ("B", 3, 8, 9)}, lambda: nn.AvgPool2d((2, 4)))
case("AvgPool3d", "{type: AvgPool3d, kernel_size: 2, stride: 1}", {"inp": ("B", 2, 3, 4, 5)},
     lambda: nn.AvgPool3d(2, 1))
case("AvgPool3d", "{type: AveragePooling3D, pool_size: 3, strides: 2, padding: 1, ceil_mode: true}",
     {"inp": ("B", 1, 5, 6, 7)}, lambda: nn.AvgPool3d(3, 2, 1, ceil_mode=True))
case("AdaptiveAvgPool1d", "{type: AdaptiveAvgPool1d, output_size: 4}", {"inp": ("B", 3, "L")},
     lambda: nn.AdaptiveAvgPool1d(4), BL)
case("AdaptiveAvgPool1d", "{type: AdaptiveAvgPool1d, output_size: [12]}", {"inp": ("B", 3, "L")},
     lambda: nn.AdaptiveAvgPool1d((12,)), BL)
case("AdaptiveAvgPool2d", "{type: AdaptiveAvgPool2d, output_size: [null, 3]}", {"inp": ("B", 3, "H", "W")},
     lambda: nn.AdaptiveAvgPool2d((None, 3)), BHW)
case("AdaptiveAvgPool2d", "{type: AdaptiveAvgPool2d, output_size: 1}", {"inp": ("B", 4, 5, 5)},
     lambda: nn.AdaptiveAvgPool2d(1))
# an output of 1 beside another size is a fixed window to the exporters, not a global pool
case("AdaptiveAvgPool2d", "{type: AdaptiveAvgPool2d, output_size: [3, 1]}", {"inp": ("B", 1, 3, "W")},
     lambda: nn.AdaptiveAvgPool2d((3, 1)), ({"B": 2, "W": 9}, {"B": 3, "W": 16}))
case("AdaptiveMaxPool2d", "{type: AdaptiveMaxPool2d, output_size: [1, null]}", {"inp": ("B", 2, "H", 5)},
     lambda: nn.AdaptiveMaxPool2d((1, None)), ({"B": 2, "H": 9}, {"B": 3, "H": 16}))
case("AdaptiveAvgPool3d", "{type: AdaptiveAvgPool3d, output_size: [2, null, 1]}", {"inp": ("B", 2, 3, 4, 5)},
     lambda: nn.AdaptiveAvgPool3d((2, None, 1)))
case("AdaptiveAvgPool3d", "{type: AdaptiveAvgPool3d, output_size: 2}", {"inp": ("B", 2, 3, 4, 5)},
     lambda: nn.AdaptiveAvgPool3d(2))
case("AdaptiveMaxPool1d", "{type: AdaptiveMaxPool1d, output_size: 5}", {"inp": ("B", 2, "L")},
     lambda: nn.AdaptiveMaxPool1d(5), BL)
case("AdaptiveMaxPool1d", "{type: AdaptiveMaxPool1d, output_size: 1}", {"inp": ("B", 2, 3)},
     lambda: nn.AdaptiveMaxPool1d(1))
case("AdaptiveMaxPool2d", "{type: AdaptiveMaxPool2d, output_size: [2, 3]}", {"inp": ("B", 3, "H", "W")},
     lambda: nn.AdaptiveMaxPool2d((2, 3)), BHW)
case("AdaptiveMaxPool2d", "{type: AdaptiveMaxPool2d, output_size: [null, 1]}", {"inp": ("B", 3, 6, 4)},
     lambda: nn.AdaptiveMaxPool2d((None, 1)))
case("AdaptiveMaxPool3d", "{type: AdaptiveMaxPool3d, output_size: 1}", {"inp": ("B", 2, 3, 4, 5)},
     lambda: nn.AdaptiveMaxPool3d(1))
case("AdaptiveMaxPool3d", "{type: AdaptiveMaxPool3d, output_size: [null, 2, 2]}", {"inp": ("B", 2, "D", 4, 5)},
     lambda: nn.AdaptiveMaxPool3d((None, 2, 2)), ({"B": 2, "D": 2}, {"B": 3, "D": 3}))
case("GlobalAvgPool", "{type: GlobalAvgPool}", {"inp": ("B", 3, 5, 6)}, fn(lambda x: x.mean(dim=(2, 3))))
case("GlobalAvgPool", "{type: GlobalAveragePooling1D, keepdims: true}", {"inp": ("B", 4, "L")},
     fn(lambda x: x.mean(dim=2, keepdim=True)), BL)
case("GlobalAvgPool", "{type: GlobalAvgPool}", {"inp": ("B", 2, 3, 4, 5)}, fn(lambda x: x.mean(dim=(2, 3, 4))))
case("GlobalMaxPool", "{type: GlobalMaxPool}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: torch.amax(x, dim=(2, 3))), BHW)
case("GlobalMaxPool", "{type: GlobalMaxPooling2D, keepdim: true}", {"inp": ("B", 3, 4, 5)},
     fn(lambda x: x.amax(dim=(2, 3), keepdim=True)))

# -- pools for the direct ONNX target (issue 11): float16, padding not counted, adaptive windows fixed and uneven,
# uniform (a pooling op), uneven beside a reduction over a symbolic dim

case("MaxPool2d", "{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}",
     {"inp": ("B", 2, "H", "W")}, lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), BHW, dtypes={"inp": "float16"})
case("AvgPool2d", "{type: AvgPool2d, kernel_size: [3, 4], stride: [1, 3], padding: [1, 2], count_include_pad: false}",
     {"inp": ("B", 2, "H", "W")}, lambda: nn.AvgPool2d((3, 4), (1, 3), (1, 2), count_include_pad=False), BHW)
case("AdaptiveAvgPool2d", "{type: AdaptiveAvgPool2d, output_size: [3, 2]}", {"inp": ("B", 2, "H", 7)},
     lambda: nn.AdaptiveAvgPool2d((3, 2)), ({"B": 2, "H": 5}, {"B": 1, "H": 11}))
case("AdaptiveMaxPool1d", "{type: AdaptiveMaxPool1d, output_size: 3}", {"inp": ("B", 2, 10)},
     lambda: nn.AdaptiveMaxPool1d(3), dtypes={"inp": "float16"})
case("AdaptiveAvgPool1d", "{type: AdaptiveAvgPool1d, output_size: 3}", {"inp": ("B", 2, 10)},
     lambda: nn.AdaptiveAvgPool1d(3), dtypes={"inp": "float16"})
case("AdaptiveAvgPool2d", "{type: AdaptiveAvgPool2d, output_size: [2, 3]}", {"inp": ("B", 3, 6, 9)},
     lambda: nn.AdaptiveAvgPool2d((2, 3)))
case("AdaptiveMaxPool2d", "{type: AdaptiveMaxPool2d, output_size: [4, 1]}", {"inp": ("B", 3, 10, "W")},
     lambda: nn.AdaptiveMaxPool2d((4, 1)), ({"B": 2, "W": 3}, {"B": 1, "W": 8}))
case("GlobalMaxPool", "{type: GlobalMaxPool, keepdim: true}", {"inp": ("B", 2, "D", 4, 5)},
     fn(lambda x: x.amax(dim=(2, 3, 4), keepdim=True)), ({"B": 2, "D": 3}, {"B": 1, "D": 1}))

# -- normalisation ---------------------------------------------------------------------------

case("BatchNorm1d", "{type: BatchNorm1d}", {"inp": ("B", 5)}, lambda: nn.BatchNorm1d(5))
case("BatchNorm1d", "{type: BatchNorm1d, affine: false, track_running_stats: false}", {"inp": ("B", 4, "L")},
     lambda: nn.BatchNorm1d(4, affine=False, track_running_stats=False), BL)
case("BatchNorm2d", "{type: BatchNorm2d}", {"inp": ("B", 3, "H", "W")}, lambda: nn.BatchNorm2d(3), BHW)
case("BatchNorm2d", "{type: BatchNorm2d, num_features: 3, eps: 1.0e-3, momentum: null}", {"inp": ("B", 3, 4, 4)},
     lambda: nn.BatchNorm2d(3, eps=1e-3, momentum=None))
case("BatchNorm3d", "{type: BatchNorm3d}", {"inp": ("B", 2, 3, 4, 4)}, lambda: nn.BatchNorm3d(2))
case("BatchNorm3d", "{type: BatchNorm3d, track_running_stats: false}", {"inp": ("B", 2, 2, 3, 3)},
     lambda: nn.BatchNorm3d(2, track_running_stats=False))
case("InstanceNorm1d", "{type: InstanceNorm1d}", {"inp": ("B", 4, "L")}, lambda: nn.InstanceNorm1d(4), BL)
case("InstanceNorm1d", "{type: InstanceNorm1d, affine: true, track_running_stats: true}", {"inp": ("B", 4, 6)},
     lambda: nn.InstanceNorm1d(4, affine=True, track_running_stats=True))
case("InstanceNorm2d", "{type: InstanceNorm2d, affine: true}", {"inp": ("B", 3, 5, 5)},
     lambda: nn.InstanceNorm2d(3, affine=True))
case("InstanceNorm2d", "{type: InstanceNorm2d, num_features: 2}", {"inp": ("B", 2, "H", "W")},
     lambda: nn.InstanceNorm2d(2), BHW)
case("InstanceNorm3d", "{type: InstanceNorm3d}", {"inp": ("B", 2, 3, 3, 3)}, lambda: nn.InstanceNorm3d(2))
case("InstanceNorm3d", "{type: InstanceNorm3d, track_running_stats: true, affine: true}",
     {"inp": ("B", 2, 2, 3, 3)}, lambda: nn.InstanceNorm3d(2, affine=True, track_running_stats=True))
case("LayerNorm", "{type: LayerNorm}", {"inp": ("B", "T", 8)}, lambda: nn.LayerNorm(8), BT)
case("LayerNorm", "{type: LayerNorm, normalized_shape: [4, 5], bias: false}", {"inp": ("B", 3, 4, 5)},
     lambda: nn.LayerNorm([4, 5], bias=False))
case("LayerNorm", "{type: LayerNorm, normalized_shape: 6, elementwise_affine: false, eps: 1.0e-6}",
     {"inp": ("B", 6)}, lambda: nn.LayerNorm(6, eps=1e-6, elementwise_affine=False))

def _layer_scale(c: int, init: float, trailing: int, bias: bool) -> nn.Module:
    """timm's LayerScale (x · gamma), started at init, gamma viewed as (C, 1, ..., 1); + beta with bias."""
    shape = (c,) + (1,) * trailing
    m = nn.Module()
    m.gamma = nn.Parameter(torch.full((c,), init))
    m.beta = nn.Parameter(torch.zeros(c)) if bias else None
    return _with(m, lambda m, x: x * m.gamma.view(shape) + (m.beta.view(shape) if m.beta is not None else 0))


case("LayerScale", "{type: LayerScale}", {"inp": ("B", "T", 8)}, lambda: _layer_scale(8, 1e-5, 0, False), BT)
case("LayerScale", "{type: LayerScale, dim: 1, init_values: 0.1}", {"inp": ("B", 4, "H", "W")},
     lambda: _layer_scale(4, 0.1, 2, False), BHW)
case("LayerScale", "{type: LayerScale, init_values: 1.0, bias: true, num_features: 6}", {"inp": ("B", 6)},
     lambda: _layer_scale(6, 1.0, 0, True))
# one factor for the whole map: FCOS's Scale (fcos_core/layers/scale.py, a (1,) parameter)
case("LayerScale", "{type: LayerScale, num_features: 1, dim: 1, init_values: 1.0}", {"inp": ("B", 4, "H", "W")},
     lambda: _layer_scale(1, 1.0, 2, False), BHW)

def _moe(d: int, e: int, k: int, ff: int, act: Callable[[torch.Tensor], torch.Tensor], gated: bool = True,
         bias: bool = False, normalize: bool = True, shared: int | None = None, shared_gate: bool = True) -> nn.Module:
    """A sparse mixture of experts written densely: every expert on every token, each token's output the
    sum over its top-k experts of probability (renormalised over the k when normalize) times the expert's
    output; Mixtral's names (gate, experts.i.w1/w2/w3), Qwen2-MoE's shared_expert and shared_expert_gate."""

    def expert(f: int) -> nn.Module:
        m = nn.Module()
        m.w1, m.w2 = nn.Linear(d, f, bias=bias), nn.Linear(f, d, bias=bias)
        m.w3 = nn.Linear(d, f, bias=bias) if gated else None
        return m

    def mlp(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        h = act(m.w1(x))
        return m.w2(h * m.w3(x) if m.w3 is not None else h)

    root = nn.Module()
    root.gate = nn.Linear(d, e, bias=False)
    root.experts = nn.ModuleList(expert(ff) for _ in range(e))
    root.shared_expert = expert(shared) if shared else None
    root.shared_expert_gate = nn.Linear(d, 1, bias=False) if shared and shared_gate else None

    def f(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(m.gate(x).float(), dim=-1)
        top, idx = probs.topk(k, dim=-1)
        if normalize:
            top = top / top.sum(-1, keepdim=True)
        dense = torch.zeros_like(probs).scatter(-1, idx, top).to(x.dtype)  # (..., E), zero off the top k
        y = sum(dense[..., i:i + 1] * mlp(ex, x) for i, ex in enumerate(m.experts))
        if m.shared_expert is not None:
            s = mlp(m.shared_expert, x)
            y = y + (torch.sigmoid(m.shared_expert_gate(x)) * s if m.shared_expert_gate is not None else s)
        return y

    return _with(root, f)


case("MixtureOfExperts", "{type: MixtureOfExperts, num_experts: 4, top_k: 2, hidden_features: 12}",
     {"inp": ("B", "T", 8)}, lambda: _moe(8, 4, 2, 12, F.silu), BT)
# Switch's FFN: top-1 with the probability as the weight, wo(relu(wi x)); on (N, F) rows
case("MixtureOfExperts", "{type: SparseMoE, num_local_experts: 8, num_experts_per_tok: 1, d_ff: 10, hidden_act: relu, "
     "gated: false, normalize: false}", {"inp": ("B", 6)}, lambda: _moe(6, 8, 1, 10, F.relu, gated=False,
                                                                         normalize=False))
# Qwen2-MoE: top-4 of 6 without renormalising, and a gated shared expert; GELU experts with biases
case("MixtureOfExperts", "{type: MixtureOfExperts, num_experts: 6, top_k: 4, moe_intermediate_size: 6, "
     "norm_topk_prob: false, shared_expert_intermediate_size: 10}", {"inp": ("B", "T", 8)},
     lambda: _moe(8, 6, 4, 6, F.silu, normalize=False, shared=10), BT)
case("MixtureOfExperts", "{type: MixtureOfExperts, num_experts: 3, top_k: 2, hidden_features: 5, "
     "activation: gelu_tanh, bias: true, shared_features: 4, shared_gate: false}", {"inp": ("B", "T", 4)},
     lambda: _moe(4, 3, 2, 5, lambda h: F.gelu(h, approximate="tanh"), bias=True, shared=4, shared_gate=False), BT)

case("RMSNorm", "{type: RMSNorm}", {"inp": ("B", "T", 16)}, lambda: nn.RMSNorm(16), BT)
case("Normalize", "{type: Normalize}", {"inp": ("B", 8)}, fn(lambda x: F.normalize(x)))
case("Normalize", "{type: Normalize, p: 1, dim: -1, eps: 1.0e-6}", {"inp": ("B", "T", 5)},
     fn(lambda x: F.normalize(x, p=1.0, dim=-1, eps=1e-6)), BT)
case("Normalize", "{type: Normalize, dim: 1}", {"inp": ("B", 4, "H", "W")}, fn(lambda x: F.normalize(x, dim=1)), BHW)
case("RMSNorm", "{type: RMSNorm, normalized_shape: [4, 6], eps: 1.0e-6}", {"inp": ("B", 3, 4, 6)},
     lambda: nn.RMSNorm((4, 6), eps=1e-6))
case("RMSNorm", "{type: RMSNorm, elementwise_affine: false}", {"inp": ("B", 8)},
     lambda: nn.RMSNorm(8, elementwise_affine=False))


class GemmaRMSNorm(nn.Module):
    """Hugging Face's GemmaRMSNorm: times 1 + weight, the weight starting at 0."""

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight)


case("RMSNorm", "{type: RMSNorm, eps: 1.0e-6, add_unit_offset: true}", {"inp": ("B", "T", 8)},
     lambda: GemmaRMSNorm(8), BT)
case("GroupNorm", "{type: GroupNorm, num_groups: 2}", {"inp": ("B", 4, "L")}, lambda: nn.GroupNorm(2, 4), BL)
case("GroupNorm", "{type: GroupNorm, groups: 3, affine: false}", {"inp": ("B", 6, 3, 3)},
     lambda: nn.GroupNorm(3, 6, affine=False))

# -- dropout ---------------------------------------------------------------------------------

case("Dropout", "{type: Dropout, p: 0.3}", {"inp": ("B", 5)}, lambda: nn.Dropout(0.3))
case("Dropout", "{type: Dropout, rate: 0.25}", {"inp": ("B", 3, "T")}, lambda: nn.Dropout(0.25), BT)
case("Dropout1d", "{type: Dropout1d}", {"inp": ("B", 4, "L")}, nn.Dropout1d, BL)
case("Dropout1d", "{type: Dropout1d, p: 0.1, inplace: true}", {"inp": ("B", 2, 3)},
     lambda: nn.Dropout1d(0.1, inplace=True))
case("Dropout2d", "{type: Dropout2d, p: 0.2}", {"inp": ("B", 3, 4, 4)}, lambda: nn.Dropout2d(0.2))
case("Dropout2d", "{type: Dropout2d}", {"inp": ("B", 3, "H", "W")}, nn.Dropout2d, BHW)
case("Dropout3d", "{type: Dropout3d}", {"inp": ("B", 2, 2, 3, 3)}, nn.Dropout3d)
case("Dropout3d", "{type: Dropout3d, p: 0.0}", {"inp": ("B", 2, 3, 2, 2)}, lambda: nn.Dropout3d(0.0))
case("AlphaDropout", "{type: AlphaDropout, p: 0.1}", {"inp": ("B", 6)}, lambda: nn.AlphaDropout(0.1))
case("AlphaDropout", "{type: AlphaDropout}", {"inp": ("B", "T", 4)}, nn.AlphaDropout, BT)
case("FeatureAlphaDropout", "{type: FeatureAlphaDropout}", {"inp": ("B", 3, 4, 4)}, nn.FeatureAlphaDropout)
case("FeatureAlphaDropout", "{type: FeatureAlphaDropout, p: 0.2}", {"inp": ("B", 3, "L")},
     lambda: nn.FeatureAlphaDropout(0.2), BL)

# StochasticDepth is the identity at eval, which is how these cases run (training: test_layers_torch).
case("StochasticDepth", "{type: StochasticDepth, p: 0.2}", {"inp": ("B", 4, "H", "W")}, nn.Identity, BHW)
case("StochasticDepth", "{type: DropPath, drop_prob: 0.1, mode: batch}", {"inp": ("B", "T", 6)}, nn.Identity, BT)

# -- reshaping -------------------------------------------------------------------------------

case("Identity", "{type: Identity}", {"inp": ("B", 3)}, nn.Identity)
case("Identity", "{type: Identity}", {"ids": ("B", "T")}, nn.Identity, BT, dtypes={"ids": "int64"})
case("Flatten", "{type: Flatten}", {"inp": ("B", 3, 4, 5)}, nn.Flatten)
case("Flatten", "{type: Flatten, start_dim: 2, end_dim: 3}", {"inp": ("B", 3, 4, 5, 6)}, lambda: nn.Flatten(2, 3))
case("Flatten", "{type: Flatten}", {"inp": ("B", 4, "T")}, nn.Flatten, BT)
case("Flatten", "{type: Flatten, start_dim: 0}", {"inp": ("B", 4)}, lambda: nn.Flatten(0))
case("Unflatten", "{type: Unflatten, dim: 1, unflattened_size: [2, -1]}", {"inp": ("B", 12)},
     lambda: nn.Unflatten(1, (2, -1)))
case("Unflatten", "{type: Unflatten, dim: -1, unflattened_size: [-1, 4]}", {"inp": ("B", "T", 8)},
     lambda: nn.Unflatten(-1, (-1, 4)), BT)
case("Unflatten", "{type: Unflatten, dim: 1, unflattened_size: [3, 2, 2]}", {"ids": ("B", 12)},
     lambda: nn.Unflatten(1, (3, 2, 2)), dtypes={"ids": "int64"})
case("Reshape", "{type: Reshape, shape: [B, -1, 4]}", {"inp": ("B", 3, 8)},
     fn(lambda x: x.reshape(x.size(0), 6, 4)))
case("Reshape", "{type: Reshape, shape: [B, T, 2, 4]}", {"inp": ("B", "T", 8)},
     fn(lambda x: x.view(x.size(0), x.size(1), 2, 4)), BT)
case("Reshape", "{type: Reshape, shape: [T, B, -1]}", {"inp": ("B", "T", 6)},
     fn(lambda x: x.reshape(x.size(1), x.size(0), 6)), BT)
case("Reshape", "{type: Reshape, shape: [-1, 6]}", {"inp": (2, 3, 4)}, fn(lambda x: x.view(4, 6)), ({},))
case("Reshape", "{type: Reshape, shape: [-1, 8]}", {"inp": ("B", "T", 4, 2)},
     fn(lambda x: x.reshape(x.size(0) * x.size(1), 8)), BT)
case("Reshape", "{type: Reshape, from: [flat, inp], shape: [B, 3, H, W]}", {"inp": ("B", 3, "H", "W")},
     fn(lambda m: m.flatten(2).reshape(m.size(0), 3, m.size(2), m.size(3))), BHW,
     before=("{type: Flatten, start_dim: 2, name: flat}",))
# sizes derived from a symbol (floor((H - 1)/2) after a pool) read by position, as PyTorch code reads them
POOL = "{type: MaxPool2d, kernel_size: 3, stride: 2, name: pool}"
case("Reshape", "{type: Reshape, from: [flat, pool], shape: [B, 3, like.size(2), like.size(-1)]}",
     {"inp": ("B", 3, "H", "W")}, fn(lambda m: (lambda p: p.flatten(2).reshape(p.size(0), 3, p.size(2), p.size(3)))(
         F.max_pool2d(m, 3, 2))), BHW, before=(POOL, "{type: Flatten, start_dim: 2, name: flat}"))
case("Unflatten", "{type: Unflatten, from: [flat, pool], dim: 2, unflattened_size: [like.size(2), -1]}",
     {"inp": ("B", 3, "H", "W")}, fn(lambda m: (lambda p: p.flatten(2).unflatten(2, (p.size(2), -1)))(
         F.max_pool2d(m, 3, 2))), BHW, before=(POOL, "{type: Flatten, start_dim: 2, name: flat}"))
case("Reshape", "{type: Reshape, shape: [B, x.size(3), -1]}", {"inp": ("B", 3, "H", "W")},
     fn(lambda m: (lambda p: p.reshape(p.size(0), p.size(3), -1))(F.max_pool2d(m, 3, 2))), BHW, before=(POOL,))
case("Reshape", '{type: Reshape, shape: [B, 3, -1, "x.shape[-1]"]}', {"inp": ("B", 3, "H", "W")},
     fn(lambda m: (lambda p: p.reshape(p.size(0), 3, -1, p.size(3)))(F.max_pool2d(m, 3, 2).transpose(2, 3))), BHW,
     before=(POOL, "{type: Transpose, dim0: 2, dim1: 3}"))
case("Permute", "{type: Permute, dims: [0, 2, 1]}", {"inp": ("B", "T", 8)}, fn(lambda x: x.transpose(1, 2)), BT)
case("Permute", "{type: Permute, dims: [0, -1, 1, 2]}", {"inp": ("B", 3, 4, 5)},
     fn(lambda x: x.permute(0, 3, 1, 2)))
case("Transpose", "{type: Transpose, dim0: 1, dim1: 2}", {"inp": ("B", "T", 8)}, fn(lambda x: x.mT), BT)
case("Transpose", "{type: Transpose, dim0: -1, dim1: 0}", {"inp": ("B", 3, 4)}, fn(lambda x: x.transpose(2, 0)))
case("Squeeze", "{type: Squeeze, dim: 1}", {"inp": ("B", 1, 5)}, fn(lambda x: x[:, 0]))
case("Squeeze", "{type: Squeeze}", {"inp": ("B", 1, 4, 1)}, fn(lambda x: x[:, 0, :, 0]))
case("Squeeze", "{type: Squeeze, dim: [-1, 1]}", {"inp": ("B", 1, "T", 1)}, fn(lambda x: x[:, 0, :, 0]), BT)
case("Unsqueeze", "{type: Unsqueeze, dim: 1}", {"inp": ("B", 5)}, fn(lambda x: x[:, None]))
case("Unsqueeze", "{type: Unsqueeze, dim: -1}", {"inp": ("B", "T", 4)}, fn(lambda x: x[..., None]), BT)
case("Repeat", "{type: Repeat, repeats: [1, 3, 2]}", {"inp": ("B", 2, 5)}, fn(lambda x: x.repeat(1, 3, 2)))
case("Repeat", "{type: Tile, repeats: [2, 1, 2]}", {"inp": ("B", "T", 3)}, fn(lambda x: x.repeat(2, 1, 2)), BT)
case("Repeat", "{type: Repeat, repeats: [2, 1, 1]}", {"inp": ("B", 4)}, fn(lambda x: x.repeat(2, 1, 1)))
case("RepeatVector", "{type: RepeatVector, n: 7}", {"inp": ("B", 5)},
     fn(lambda x: x[:, None, :].expand(-1, 7, -1)))
case("RepeatVector", "{type: RepeatVector, n: 1}", {"ids": ("B", 3)}, fn(lambda x: x[:, None, :]),
     dtypes={"ids": "int64"})

case("Slice", "{type: Slice, dim: 1, stop: 3}", {"inp": ("B", 8, 5)}, fn(lambda x: x.narrow(1, 0, 3)))
case("Slice", "{type: Slice, dim: -1, start: 1, stop: -1}", {"inp": ("B", 4, "T")},
     fn(lambda x: x.narrow(2, 1, x.size(2) - 2)), BT)
case("Slice", "{type: Slice, axis: 2, start: -3}", {"inp": ("B", 4, "T")},
     fn(lambda x: x.narrow(2, x.size(2) - 3, 3)), BT)
case("Slice", "{type: Slice, dim: 1, start: 1, step: 2}", {"inp": ("B", "T", 3)},
     fn(lambda x: x.index_select(1, torch.arange(1, x.size(1), 2))), BT)
case("Slice", "{type: Slice, dim: 1, start: 2, stop: 7, step: 3}", {"inp": ("B", 8, 2)},
     fn(lambda x: torch.stack([x[:, 2], x[:, 5]], dim=1)))
case("Slice", "{type: Slice, dim: 1, stop: 2}", {"ids": ("B", "T")}, fn(lambda x: x.narrow(1, 0, 2)), BT,
     dtypes={"ids": "int64"})

# torch.roll, Swin's shifted windows: -2 along H and W of a channels-last map, any H, W of 2 or more
case("Roll", "{type: Roll, shifts: [-2, -2], dims: [1, 2]}", {"inp": ("B", "H", "W", 3)},
     fn(lambda x: torch.roll(x, (-2, -2), (1, 2))), BHW)
case("Roll", "{type: Roll, shifts: 3, dims: -1}", {"inp": ("B", 4, "T")}, fn(lambda x: torch.roll(x, 3, 2)), BT)
case("Roll", "{type: Roll, shifts: 7, dims: 1}", {"ids": ("B", 5)}, fn(lambda x: torch.roll(x, 7, 1)),
     dtypes={"ids": "int64"})

def _shuffle(r: int) -> Callable[[], nn.Module]:
    """(N, C·r², H, W) -> (N, C, H·r, W·r) written out: channel c·r² + i·r + j goes to pixel (h·r + i, w·r + j)."""
    def f(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)
    return fn(f)


def _unshuffle(r: int) -> Callable[[], nn.Module]:
    """The inverse of ``_shuffle``: each r x r block of pixels becomes r² channels."""
    def f(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h // r, w // r)
    return fn(f)


case("PixelShuffle", "{type: PixelShuffle, upscale_factor: 2}", {"inp": ("B", 8, "H", "W")}, _shuffle(2), BHW)
case("PixelShuffle", "{type: DepthToSpace, block_size: 3}", {"inp": ("B", 9, 2, 3)}, _shuffle(3))
case("PixelUnshuffle", "{type: PixelUnshuffle, downscale_factor: 2}", {"inp": ("B", 3, 4, 6)}, _unshuffle(2))
case("PixelUnshuffle", "{type: SpaceToDepth, block_size: 3}", {"ids": ("B", 1, 6, 3)}, _unshuffle(3),
     dtypes={"ids": "int64"})


# -- reductions ------------------------------------------------------------------------------

# iTransformer's / RevIN's deviation over time (population variance, eps under the root); a sample variance
case("Reduce", "{type: Reduce, op: std, dim: 1, keepdim: true, correction: 0, eps: 1.0e-5}", {"inp": ("B", "T", 5)},
     fn(lambda x: torch.sqrt(torch.var(x, dim=1, keepdim=True, unbiased=False) + 1e-5)), BT)
case("Reduce", "{type: Reduce, op: var, dim: [1, 2]}", {"inp": ("B", 3, 4, 5)}, fn(lambda x: x.var(dim=(1, 2))))
case("Reduce", "{type: Reduce, op: std, dim: -1, correction: 2}", {"inp": ("B", 6)},
     fn(lambda x: x.std(-1, correction=2)))
case("Reduce", "{type: Reduce, op: sum, dim: [1, 2]}", {"inp": ("B", 3, 4, 5)}, fn(lambda x: x.sum(dim=(1, 2))))
case("Reduce", "{type: Reduce, op: max, dim: -1, keepdim: true}", {"inp": ("B", "T", 6)},
     fn(lambda x: x.max(dim=-1, keepdim=True).values), BT)
case("Reduce", "{type: Reduce, op: min, axis: 1}", {"ids": ("B", "T")}, fn(lambda x: x.min(dim=1).values), BT,
     dtypes={"ids": "int64"})
case("Reduce", "{type: Reduce, op: sum, dim: 1}", {"ids": ("B", 4)}, fn(lambda x: x.sum(1)),
     dtypes={"ids": "int32"})
case("Reduce", "{type: Reduce, dim: [2, 3], keepdim: true}", {"inp": ("B", 3, 4, 5)},
     fn(lambda x: x.mean((2, 3), keepdim=True)))
case("Reduce", "{type: Reduce, op: l2, dim: [1, 2], keepdim: true}", {"inp": ("B", 4, 5, 3)},
     fn(lambda x: torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)))
case("Reduce", "{type: Reduce, op: l2, dim: -1}", {"inp": ("B", "T", 6)},
     fn(lambda x: torch.linalg.vector_norm(x, dim=-1)), BT)
case("Mean", "{type: Mean, dim: 1}", {"inp": ("B", "T", 8)}, fn(lambda x: x.mean(1)), BT)
case("Mean", "{type: Mean, dim: [-2, -1], keepdims: true}", {"inp": ("B", 3, 4, 5)},
     fn(lambda x: x.mean((2, 3), keepdim=True)))

# -- kinds written by other modules (sequences, attention, wrappers) ------------------------------


def _cat_directions(h_n: torch.Tensor) -> torch.Tensor:
    return torch.cat([h_n[-2], h_n[-1]], dim=-1)


case("Embedding", "{type: Embedding, num_embeddings: 50, embedding_dim: 8}", {"ids": ("B", "T")},
     lambda: nn.Embedding(50, 8), BT, dtypes={"ids": "int64"}, high=50)
case("Embedding", "{type: Embedding, input_dim: 20, output_dim: 4, padding_idx: 0}", {"ids": ("B", 3, "T")},
     lambda: nn.Embedding(20, 4, padding_idx=0), BT, dtypes={"ids": "int64"}, high=20)
case("RNN", "{type: RNN, hidden_size: 6}", {"inp": ("B", "T", 4)}, lambda: _with(
    nn.RNN(4, 6, batch_first=True), lambda m, x: m(x)[0]), BT)
case("RNN", "{type: RNN, hidden_size: 5, num_layers: 2, nonlinearity: relu, output: last}", {"inp": ("B", "T", 4)},
     lambda: _with(nn.RNN(4, 5, 2, nonlinearity="relu", batch_first=True), lambda m, x: m(x)[0][:, -1]), BT)
case("LSTM", "{type: LSTM, hidden_size: 6, bidirectional: true}", {"inp": ("B", "T", 4)},
     lambda: _with(nn.LSTM(4, 6, batch_first=True, bidirectional=True), lambda m, x: m(x)[0]), BT)
case("LSTM", "{type: LSTM, hidden_size: 4, num_layers: 2, bidirectional: true, output: final_hidden}",
     {"inp": ("B", "T", 3)}, lambda: _with(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True),
                                           lambda m, x: _cat_directions(m(x)[1][0])), BT)
case("GRU", "{type: GRU, hidden_size: 5, batch_first: false, output: last}", {"inp": ("T", "B", 4)},
     lambda: _with(nn.GRU(4, 5), lambda m, x: m(x)[0][-1]), BT)
case("GRU", "{type: GRU, hidden_size: 3, bidirectional: true, output: last}", {"inp": ("B", "T", 4)},
     lambda: _with(nn.GRU(4, 3, batch_first=True, bidirectional=True),
                   lambda m, x: torch.cat([m(x)[0][:, -1, :3], m(x)[0][:, 0, 3:]], dim=-1)), BT)
case("Select", "{type: Select, dim: 1, index: -1}", {"inp": ("B", "T", 8)}, fn(lambda x: x[:, -1]), BT)
case("Select", "{type: Select, dim: 2, index: 0}", {"inp": ("B", 3, 4)}, fn(lambda x: x[:, :, 0]))
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2}", {"inp": ("B", "T", 8)},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True),
                   lambda m, x: m(x, x, x, need_weights=False)[0]), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, from: [q, kv]}",
     {"q": ("B", "T", 8), "kv": ("B", 5, 6)},
     lambda: _with(nn.MultiheadAttention(8, 4, kdim=6, vdim=6, batch_first=True),
                   lambda m, q, kv: m(q, kv, kv, need_weights=False)[0]), BT)
case("TransformerEncoderLayer", "{type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16}",
     {"inp": ("B", "T", 8)}, lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), BT)
case("TransformerEncoderLayer", "{type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 12, "
     "norm_first: true, activation: gelu, batch_first: false}", {"inp": ("T", "B", 8)},
     lambda: nn.TransformerEncoderLayer(8, 4, 12, activation="gelu", norm_first=True), BT)
case("TransformerEncoder", "{type: TransformerEncoder, nhead: 2, dim_feedforward: 16, num_layers: 2}",
     {"inp": ("B", "T", 8)}, lambda: nn.TransformerEncoder(
         nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, enable_nested_tensor=False), BT)
case("TransformerEncoder", "{type: TransformerEncoder, nhead: 2, dim_feedforward: 8, num_layers: 3, "
     "norm_first: true, norm: true}", {"inp": ("B", "T", 4)}, lambda: nn.TransformerEncoder(
         nn.TransformerEncoderLayer(4, 2, 8, batch_first=True, norm_first=True), 3, norm=nn.LayerNorm(4),
         enable_nested_tensor=False), BT)



def _prepend(n: int, d: int, batch_first: bool) -> nn.Module:
    """n learned tokens (an Embedding's rows) in front of every sequence of the batch."""
    rows = nn.Embedding(n, d)
    if batch_first:
        return _with(rows, lambda m, x: torch.cat([m.weight.unsqueeze(0).expand(x.size(0), n, d), x], dim=1))
    return _with(rows, lambda m, x: torch.cat([m.weight.unsqueeze(1).expand(n, x.size(1), d), x], dim=0))


case("ClassToken", "{type: ClassToken}", {"inp": ("B", "T", 8)}, lambda: _prepend(1, 8, True), BT)
case("ClassToken", "{type: ClassToken, num_tokens: 2, batch_first: false}", {"inp": ("T", "B", 6)},
     lambda: _prepend(2, 6, False), BT)
case("ClassToken", "{type: ClassToken, d_model: 4}", {"inp": ("B", 5, 4)}, lambda: _prepend(1, 4, True))


def _queries(n: int, d: int, batch_first: bool) -> nn.Module:
    """DETR's object queries: an Embedding's rows for every sample of the batch."""
    rows = nn.Embedding(n, d)
    if batch_first:
        return _with(rows, lambda m, x: m.weight.unsqueeze(0).expand(x.size(0), n, d))
    return _with(rows, lambda m, x: m.weight.unsqueeze(1).expand(n, x.size(1), d))


case("LearnedTokens", "{type: LearnedTokens, num_tokens: 5, d_model: 8}", {"inp": ("B", 3, 7, 7)},
     lambda: _queries(5, 8, True))
case("LearnedTokens", "{type: LearnedTokens, num_tokens: 3, d_model: 4, batch_first: false}", {"inp": ("T", "B", 6)},
     lambda: _queries(3, 4, False), BT)

def _sinusoidal(max_len: int, d: int) -> torch.Tensor:
    pos = torch.arange(max_len).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = torch.zeros(max_len, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq[: d // 2])  # d odd: one cos less
    return pe


def _learned_positions(max_len: int, d: int) -> nn.Module:
    table = nn.Embedding(max_len, d)
    return _with(table, lambda m, x: x + m.weight[: x.size(1)])


case("PositionalEncoding", "{type: PositionalEncoding}", {"inp": ("B", "T", 8)},
     lambda: Fn(lambda x: x + _sinusoidal(512, 8)[: x.size(1)], pe=_sinusoidal(512, 8)), BT)
case("PositionalEncoding", "{type: PositionalEncoding, kind: learned, max_len: 10}", {"inp": ("B", "T", 6)},
     lambda: _learned_positions(10, 6), BT)


class _ConvLSTM(nn.Module):
    """A textbook ConvLSTM (Shi et al., 2015): one conv over [x_t, h] gives the four gates."""

    def __init__(self, cin: int, hidden: list[int], k: int, sequences: bool):
        super().__init__()
        self.hidden, self.sequences = hidden, sequences
        self.convs = nn.ModuleList(nn.Conv2d(c + h, 4 * h, k, padding=k // 2)
                                   for c, h in zip([cin, *hidden[:-1]], hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, hid in zip(self.convs, self.hidden):
            h = x.new_zeros(x.size(0), hid, *x.shape[3:])
            c, steps = torch.zeros_like(h), []
            for t in range(x.size(1)):
                i, f, g, o = conv(torch.cat([x[:, t], h], 1)).chunk(4, 1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
                steps.append(h)
            x = torch.stack(steps, 1)
        return x if self.sequences else x[:, -1]


case("ConvLSTM2d", "{type: ConvLSTM2d, hidden_channels: 4, kernel_size: 3}", {"inp": ("B", "T", 2, 5, 5)},
     lambda: _ConvLSTM(2, [4], 3, False), BT)
case("ConvLSTM2d", "{type: ConvLSTM2d, hidden_channels: [3, 2], kernel_size: 1, return_sequences: true}",
     {"inp": ("B", "T", 2, 4, 3)}, lambda: _ConvLSTM(2, [3, 2], 1, True), BT)
case("TimeDistributed", "{type: TimeDistributed, layer: {type: Linear, out_features: 3}}", {"inp": ("B", "T", 5)},
     lambda: _with(nn.Linear(5, 3), lambda m, x: m(x.flatten(0, 1)).unflatten(0, x.shape[:2])), BT)
case("TimeDistributed", "{type: TimeDistributed, layer: {type: Conv2d, out_channels: 2, kernel_size: 3}}",
     {"inp": ("B", "T", 1, 6, 6)},
     lambda: _with(nn.Conv2d(1, 2, 3), lambda m, x: m(x.flatten(0, 1)).unflatten(0, x.shape[:2])), BT)


# -- recurrent layers, ConvLSTM2d and TimeDistributed: the configurations the direct ONNX target
# writes differently (issue 11, area F3)


def _lstm_state(m: nn.Module, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    return m(x, (h0, c0))[0]


case("RNN", "{type: RNN, hidden_size: 4, batch_first: false, bidirectional: true, nonlinearity: relu}",
     {"inp": ("T", "B", 3)}, lambda: _with(nn.RNN(3, 4, nonlinearity="relu", bidirectional=True),
                                           lambda m, x: m(x)[0]), BT)
case("LSTM", "{type: LSTM, hidden_size: 5, bias: false, output: last}", {"inp": ("B", "T", 3)},
     lambda: _with(nn.LSTM(3, 5, bias=False, batch_first=True), lambda m, x: m(x)[0][:, -1]), BT)
case("LSTM", "{type: LSTM, hidden_size: 4, num_layers: 2, from: [inp, h0, c0]}",
     {"inp": ("B", "T", 3), "h0": (2, "B", 4), "c0": (2, "B", 4)},
     lambda: _with(nn.LSTM(3, 4, 2, batch_first=True), _lstm_state), BT)
case("LSTM", "{type: LSTM, hidden_size: 4, num_layers: 2, bidirectional: true, output: state}",
     {"inp": ("B", "T", 3)}, lambda: _with(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True),
                                           lambda m, x: m(x)[1]), BT)
case("LSTM", "{type: LSTM, hidden_size: 5, proj_size: 2, bidirectional: true, batch_first: false, output: state}",
     {"inp": ("T", "B", 3)}, lambda: _with(nn.LSTM(3, 5, bidirectional=True, proj_size=2), lambda m, x: m(x)[1]), BT)
case("LSTM", "{type: LSTM, hidden_size: 4, num_layers: 2, bidirectional: true, output: sequence_and_state}",
     {"inp": ("B", "T", 3)}, lambda: _with(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True),
                                           lambda m, x: (lambda o, s: (o, *s))(*m(x))), BT)
case("LSTM", "{type: LSTM, hidden_size: 5, proj_size: 2, batch_first: false, output: sequence_and_state}",
     {"inp": ("T", "B", 3)}, lambda: _with(nn.LSTM(3, 5, proj_size=2), lambda m, x: (lambda o, s: (o, *s))(*m(x))),
     BT)
case("GRU", "{type: GRU, hidden_size: 3, bidirectional: true, output: sequence_and_state}", {"inp": ("B", "T", 4)},
     lambda: _with(nn.GRU(4, 3, batch_first=True, bidirectional=True), lambda m, x: m(x)), BT)
case("GRU", "{type: GRU, hidden_size: 3, num_layers: 2, output: state}", {"inp": ("B", "T", 4)},
     lambda: _with(nn.GRU(4, 3, 2, batch_first=True), lambda m, x: m(x)[1]), BT)
case("GRU", "{type: GRU, hidden_size: 3, num_layers: 2, bidirectional: true, batch_first: false, from: [inp, h0]}",
     {"inp": ("T", "B", 4), "h0": (4, "B", 3)},
     lambda: _with(nn.GRU(4, 3, 2, bidirectional=True), lambda m, x, h0: m(x, h0)[0]), BT)
def _packed(m: nn.Module, x: torch.Tensor, lengths: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """PyTorch's padded-batch idiom, written out: pack, run, pad back to the input's length."""
    rnn = nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lengths.clamp(min=1), batch_first=m.batch_first, enforce_sorted=False)
    out, h = m(packed, *state)
    steps = x.shape[1 if m.batch_first else 0]
    return rnn.pad_packed_sequence(out, batch_first=m.batch_first, total_length=steps)[0], h


# lengths from 0 (read as 1) to T = 3 at the smaller size
case("LSTM", "{type: LSTM, hidden_size: 4, bidirectional: true, num_layers: 2, from: [inp, lengths], output: last}",
     {"inp": ("B", "T", 3), "lengths": ("B",)},
     lambda: _with(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True),
                   lambda m, x, n: _cat_directions(_packed(m, x, n)[1][0])), BT, dtypes={"lengths": "int64"}, high=4)
case("GRU", "{type: GRU, hidden_size: 3, batch_first: false, from: [inp, lengths, h0]}",
     {"inp": ("T", "B", 4), "lengths": ("B",), "h0": (1, "B", 3)},
     lambda: _with(nn.GRU(4, 3), lambda m, x, n, h0: _packed(m, x, n, h0)[0]), BT, dtypes={"lengths": "int64"},
     high=4)

case("Select", "{type: Select, dim: 0, index: 2}", {"inp": (4, "T", 3)}, fn(lambda x: x[2]),
     ({"T": 2}, {"T": 5}))


class _ConvLSTMSame(_ConvLSTM):
    """_ConvLSTM with any kernel, padded as nn.Conv2d's padding='same' pads an even one."""

    def __init__(self, cin: int, hidden: list[int], k: tuple[int, int], sequences: bool, bias: bool):
        super().__init__(cin, hidden, 1, sequences)
        self.convs = nn.ModuleList(nn.Conv2d(c + h, 4 * h, k, padding="same", bias=bias)
                                   for c, h in zip([cin, *hidden[:-1]], hidden))


case("ConvLSTM2d", "{type: ConvLSTM2d, hidden_channels: 2, num_layers: 2, kernel_size: [2, 3], bias: false}",
     {"inp": ("B", "T", 1, "H", "W")}, lambda: _ConvLSTMSame(1, [2, 2], (2, 3), False, False),
     ({"B": 2, "T": 3, "H": 4, "W": 5}, {"B": 1, "T": 2, "H": 3, "W": 6}))
case("TimeDistributed", "{type: TimeDistributed, layer: {type: GELU}}", {"inp": ("B", "T", 3, "W")},
     fn(lambda x: F.gelu(x)), ({"B": 2, "T": 3, "W": 4}, {"B": 1, "T": 2, "W": 5}))
case("TimeDistributed", "{type: TimeDistributed, layer: {type: LSTM, hidden_size: 3, output: last}}",
     {"inp": ("B", "T", 4, 2)}, lambda: _with(nn.LSTM(2, 3, batch_first=True),
                                              lambda m, x: m(x.flatten(0, 1))[0][:, -1].unflatten(0, x.shape[:2])),
     BT)
case("TimeDistributed", "{type: TimeDistributed, layer: {type: Select, dim: 1, index: -1}}", {"inp": ("B", "T", 3, 2)},
     fn(lambda x: x[:, :, -1]), BT)

# -- padding and resampling (issue 12, area B) ------------------------------------------------
# Oracles call F.pad and F.interpolate, not the nn modules specc writes.

BLD = ({"B": 2, "L": 5}, {"B": 3, "L": 8})
BDHW = ({"B": 2, "D": 4, "H": 5, "W": 6}, {"B": 1, "D": 3, "H": 7, "W": 4})
case("ZeroPad1d", "{type: ZeroPad1d, padding: [2, 0]}", {"inp": ("B", 3, "L")},
     fn(lambda x: F.pad(x, (2, 0))), BLD)
case("ZeroPad1d", "{type: ZeroPad1d, padding: 1}", {"inp": (2, "L")}, fn(lambda x: F.pad(x, (1, 1))), BLD)
case("ZeroPad2d", "{type: ZeroPad2d, padding: 1}", {"inp": ("B", 2, "H", "W")}, fn(lambda x: F.pad(x, (1, 1, 1, 1))),
     BHW)
case("ZeroPad2d", "{type: ZeroPad2d, padding: [2, 1, 0, 1]}", {"inp": ("B", 2, "D", 4, 5)},
     fn(lambda x: F.pad(x, (2, 1, 0, 1))), BDHW)
case("ZeroPad2d", "{type: ZeroPad2d, padding: [0, 1, 2, 3]}", {"inp": ("B", 2, 4, 5)},
     fn(lambda x: F.pad(x, (0, 1, 2, 3))))
case("ZeroPad3d", "{type: ZeroPad3d, padding: 2}", {"inp": (1, 3, 3, 3)}, fn(lambda x: F.pad(x, (2,) * 6)))
case("ZeroPad3d", "{type: ZeroPad3d, padding: [1, 0, 0, 2, 1, 1]}", {"inp": ("B", 2, "D", 3, 4)},
     fn(lambda x: F.pad(x, (1, 0, 0, 2, 1, 1))), BDHW)
case("ConstantPad1d", "{type: ConstantPad1d, padding: 3, value: -1.5}", {"inp": (4, "L")},
     fn(lambda x: F.pad(x, (3, 3), value=-1.5)), BLD)
case("ConstantPad1d", "{type: ConstantPad1d, padding: [0, 2], value: 0}", {"inp": ("B", 2, 6)},
     fn(lambda x: F.pad(x, (0, 2))))
case("ConstantPad1d", "{type: ConstantPad1d, padding: [1, 2], value: 7}", {"inp": ("B", 2, 3, 4)},
     fn(lambda x: F.pad(x, (1, 2), value=7)), dtypes={"inp": "int64"})
case("ConstantPad2d", "{type: ConstantPad2d, padding: 2, value: -1}", {"inp": (3, 4, 5)},
     fn(lambda x: F.pad(x, (2, 2, 2, 2), value=-1.0)))
case("ConstantPad2d", "{type: ConstantPad2d, padding: [1, 2, 0, 1], value: 3.5}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: F.pad(x, (1, 2, 0, 1), value=3.5)), BHW)
case("ConstantPad3d", "{type: ConstantPad3d, padding: [0, 1, 0, 0, 2, 0], value: 0.25}", {"inp": ("B", 2, 2, 3, 3)},
     fn(lambda x: F.pad(x, (0, 1, 0, 0, 2, 0), value=0.25)))
case("ConstantPad3d", "{type: ConstantPad3d, padding: 1, value: 2}", {"inp": ("B", 1, "D", "H", "W")},
     fn(lambda x: F.pad(x, (1,) * 6, value=2.0)), BDHW)
case("ReflectionPad1d", "{type: ReflectionPad1d, padding: [3, 1]}", {"inp": ("B", 2, "L")},
     fn(lambda x: F.pad(x, (3, 1), mode="reflect")), BLD)
case("ReflectionPad1d", "{type: ReflectionPad1d, padding: 2}", {"inp": (3, 5)},
     fn(lambda x: F.pad(x, (2, 2), mode="reflect")))
case("ReflectionPad2d", "{type: ReflectionPad2d, padding: 3}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: F.pad(x, (3, 3, 3, 3), mode="reflect")), BHW)
case("ReflectionPad2d", "{type: ReflectionPad2d, padding: [1, 0, 2, 1]}", {"inp": ("B", 2, 4, 3)},
     fn(lambda x: F.pad(x, (1, 0, 2, 1), mode="reflect")))
case("ReflectionPad3d", "{type: ReflectionPad3d, padding: 1}", {"inp": (2, 3, 4, 5)},
     fn(lambda x: F.pad(x, (1,) * 6, mode="reflect")))
case("ReflectionPad3d", "{type: ReflectionPad3d, padding: [1, 1, 2, 0, 0, 2]}", {"inp": ("B", 2, "D", "H", "W")},
     fn(lambda x: F.pad(x, (1, 1, 2, 0, 0, 2), mode="reflect")), BDHW)
case("ReplicationPad1d", "{type: ReplicationPad1d, padding: [4, 1]}", {"inp": ("B", 2, "L")},
     fn(lambda x: F.pad(x, (4, 1), mode="replicate")), BLD)
case("ReplicationPad1d", "{type: ReplicationPad1d, padding: 2}", {"inp": (3, "L")},
     fn(lambda x: F.pad(x, (2, 2), mode="replicate")), BLD)
case("ReplicationPad2d", "{type: ReplicationPad2d, padding: 2}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: F.pad(x, (2, 2, 2, 2), mode="replicate")), BHW)
case("ReplicationPad2d", "{type: ReplicationPad2d, padding: [3, 0, 1, 2]}", {"inp": ("B", 2, 4, "W")},
     fn(lambda x: F.pad(x, (3, 0, 1, 2), mode="replicate")), BHW)
case("ReplicationPad3d", "{type: ReplicationPad3d, padding: [0, 1, 1, 0, 2, 1]}", {"inp": ("B", 1, "D", 3, "W")},
     fn(lambda x: F.pad(x, (0, 1, 1, 0, 2, 1), mode="replicate")), BDHW)
case("ReplicationPad3d", "{type: ReplicationPad3d, padding: 1}", {"inp": (2, "D", "H", "W")},
     fn(lambda x: F.pad(x, (1,) * 6, mode="replicate")), BDHW)
case("Upsample", "{type: Upsample, scale_factor: 2}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=2.0)), BHW)
case("Upsample", "{type: Upsample, scale_factor: 2, mode: bilinear, align_corners: true}", {"inp": ("B", 2, "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)), BHW)
case("Upsample", "{type: Interpolate, scale_factor: [1.5, 0.5], mode: bicubic}", {"inp": ("B", 2, "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=(1.5, 0.5), mode="bicubic")), BHW)
case("Upsample", "{type: Upsample, size: [6, 4], mode: bilinear}", {"inp": ("B", 3, "H", "W")},
     fn(lambda x: F.interpolate(x, size=(6, 4), mode="bilinear")), BHW)
SKIP = ({"B": 2, "H": 5, "W": 7, "P": 9, "Q": 14}, {"B": 1, "H": 6, "W": 8, "P": 11, "Q": 3})
case("Upsample", "{type: Upsample, from: [inp, skip], mode: bilinear}",
     {"inp": ("B", 3, "H", "W"), "skip": ("B", 2, "P", "Q")},
     fn(lambda x, s: F.interpolate(x, size=s.shape[2:], mode="bilinear")), SKIP)
case("Upsample", "{type: Interpolate, from: [inp, skip]}", {"inp": ("B", 3, "H", "W"), "skip": ("B", 2, "P", "Q")},
     fn(lambda x, s: F.interpolate(x, size=s.shape[2:])), SKIP)
case("Upsample", "{type: Upsample, from: [inp, skip], mode: linear, align_corners: true}",
     {"inp": ("B", 2, 6), "skip": ("B", 1, "L")}, fn(lambda x, s: F.interpolate(x, size=s.shape[2:], mode="linear",
                                                                              align_corners=True)), BLD)
case("Upsample", "{type: Upsample, size: [12, 10]}", {"inp": ("B", 2, 4, 5)},
     fn(lambda x: F.interpolate(x, size=(12, 10))))
case("Upsample", "{type: Upsample, scale_factor: 2.5, mode: linear}", {"inp": ("B", 2, "L")},
     fn(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear")), BLD)
case("Upsample", "{type: Upsample, scale_factor: 0.3, mode: nearest}", {"inp": ("B", 2, 17)},
     fn(lambda x: F.interpolate(x, scale_factor=0.3)))
case("Upsample", "{type: Upsample, size: 3, mode: trilinear, align_corners: false}", {"inp": ("B", 1, "D", "H", "W")},
     fn(lambda x: F.interpolate(x, size=(3, 3, 3), mode="trilinear", align_corners=False)), BDHW)
case("Upsample", "{type: Upsample, scale_factor: [1, 2, 2]}", {"inp": ("B", 2, "D", "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=(1.0, 2.0, 2.0))), BDHW)

# -- conv, pad and resample configurations the direct ONNX target writes its own way (issue 11, F1) ----
# padding_modes as a Pad before the Conv (circular: slices around it), asymmetric same padding, and resizes
# that the direct target gathers rather than Resize (tests/test_direct_onnx_conv_resample.py has the
# configurations the torch route cannot write yet).
case("Conv2d", "{type: Conv2d, out_channels: 4, kernel_size: [2, 4], padding: same, padding_mode: circular}",
     {"inp": ("B", 2, "H", "W")}, lambda: nn.Conv2d(2, 4, (2, 4), padding="same", padding_mode="circular"), BHW)
case("Conv1d", "{type: Conv1d, out_channels: 3, kernel_size: 3, stride: 2, padding: 2, padding_mode: replicate}",
     {"inp": ("B", 2, "L")}, lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="replicate"), BL)
case("DepthwiseConv1d", "{type: DepthwiseConv1d, kernel_size: 3, padding: 1, padding_mode: circular}",
     {"inp": ("B", 3, "L")}, lambda: nn.Conv1d(3, 3, 3, padding=1, groups=3, padding_mode="circular"), BL)
case("SeparableConv2d", "{type: SeparableConv2d, out_channels: 5, kernel_size: 3, stride: 2, padding: 1, "
     "padding_mode: reflect}", {"inp": ("B", 2, "H", "W")},
     lambda: nn.Sequential(nn.Conv2d(2, 2, 3, stride=2, padding=1, groups=2, bias=False, padding_mode="reflect"),
                           nn.Conv2d(2, 5, 1)), BHW)
case("Upsample", "{type: Upsample, scale_factor: 1.5}", {"inp": ("B", 2, "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=1.5)), BHW)
case("Upsample", "{type: Upsample, scale_factor: [0.75, 3]}", {"inp": ("B", 2, 8, 5)},
     fn(lambda x: F.interpolate(x, scale_factor=(0.75, 3.0))))
case("Upsample", "{type: Upsample, size: [1, 5], mode: bilinear}", {"inp": ("B", 2, "H", "W")},
     fn(lambda x: F.interpolate(x, size=(1, 5), mode="bilinear")), BHW)
case("Upsample", "{type: Upsample, scale_factor: 2, mode: bicubic, align_corners: true}", {"inp": ("B", 1, "H", "W")},
     fn(lambda x: F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=True)), BHW)
case("Upsample", "{type: Upsample, scale_factor: 1.25, mode: linear}", {"inp": ("B", 2, "L")},
     fn(lambda x: F.interpolate(x, scale_factor=1.25, mode="linear")), ({"B": 2, "L": 3}, {"B": 1, "L": 8}))
case("Upsample", "{type: Upsample, scale_factor: [1, 2, 0.75], mode: trilinear}", {"inp": ("B", 1, 3, 3, 10)},
     fn(lambda x: F.interpolate(x, scale_factor=(1.0, 2.0, 0.75), mode="trilinear")))
case("Upsample", "{type: Upsample, scale_factor: [1.5, 0.75], mode: bicubic}", {"inp": ("B", 1, 4, 10)},
     fn(lambda x: F.interpolate(x, scale_factor=(1.5, 0.75), mode="bicubic")))
# -- area C (issue 12): decoders with cross-attention on a named memory, causal masks -----------------

BTS = ({"B": 2, "T": 3, "S": 4}, {"B": 3, "T": 5, "S": 2})


def _causal(t: int) -> torch.Tensor:
    """-inf above the diagonal: step i sees steps 0..i (written out, not PyTorch's helper)."""
    return torch.triu(torch.full((t, t), float("-inf")), diagonal=1)


case("TransformerDecoderLayer", "{type: TransformerDecoderLayer, nhead: 2, dim_feedforward: 16, from: [tgt, mem]}",
     {"tgt": ("B", "T", 8), "mem": ("B", "S", 8)},
     lambda: _with(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), lambda m, t, s: m(t, s)), BTS)
case("TransformerDecoderLayer", "{type: TransformerDecoderLayer, nhead: 4, dim_feedforward: 12, norm_first: true, "
     "activation: gelu, batch_first: false, causal: true, from: [tgt, mem]}",
     {"tgt": ("T", "B", 8), "mem": ("S", "B", 8)},
     lambda: _with(nn.TransformerDecoderLayer(8, 4, 12, activation="gelu", norm_first=True),
                   lambda m, t, s: m(t, s, tgt_mask=_causal(t.size(0)))), BTS)
case("TransformerDecoder", "{type: TransformerDecoder, nhead: 2, dim_feedforward: 16, num_layers: 2, causal: true, "
     "norm: true, masks: [memory_key_padding], from: [tgt, mem, pad]}",
     {"tgt": ("B", "T", 4), "mem": ("B", "S", 4), "pad": ("B", "S")},
     lambda: _with(nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 16, batch_first=True), 2,
                                         norm=nn.LayerNorm(4)),
                   lambda m, t, s, pad: m(t, s, tgt_mask=_causal(t.size(1)), memory_key_padding_mask=pad)),
     BTS, dtypes={"pad": "bool"})
case("TransformerDecoder", "{type: TransformerDecoder, nhead: 2, dim_feedforward: 8, num_layers: 3, bias: false, "
     "from: [tgt, mem]}", {"tgt": ("B", 5, 6), "mem": ("B", "S", 6)},
     lambda: _with(nn.TransformerDecoder(nn.TransformerDecoderLayer(6, 2, 8, batch_first=True, bias=False), 3),
                   lambda m, t, s: m(t, s)), BTS)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, causal: true}", {"inp": ("B", "T", 8)},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True),
                   lambda m, x: m(x, x, x, attn_mask=_causal(x.size(1)), need_weights=False)[0]), BT)
case("TransformerEncoderLayer", "{type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16, causal: true}",
     {"inp": ("B", "T", 8)}, lambda: _with(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                           lambda m, x: m(x, src_mask=_causal(x.size(1)))), BT)
case("TransformerEncoder", "{type: TransformerEncoder, nhead: 2, dim_feedforward: 8, num_layers: 2, causal: true, "
     "batch_first: false}", {"inp": ("T", "B", 4)},
     lambda: _with(nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, enable_nested_tensor=False),
                   lambda m, x: m(x, mask=_causal(x.size(0)))), BT)


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's gelu_new, written out."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _attention_scaled(m: nn.MultiheadAttention, q: torch.Tensor, kv: torch.Tensor, scale: float,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-head attention written out over ``m``'s weights, scores times ``scale`` (T5: 1)."""
    e, h = m.embed_dim, m.num_heads
    w_q, w_k, w_v = m.in_proj_weight.chunk(3)
    b_q, b_k, b_v = m.in_proj_bias.chunk(3) if m.in_proj_bias is not None else (None,) * 3

    def heads(x: torch.Tensor) -> torch.Tensor:  # (B, T, e) -> (B, h, T, e/h)
        return x.unflatten(-1, (h, e // h)).transpose(1, 2)

    q, k, v = heads(F.linear(q, w_q, b_q)), heads(F.linear(kv, w_k, b_k)), heads(F.linear(kv, w_v, b_v))
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores + mask
    out = (scores.softmax(-1) @ v).transpose(1, 2).flatten(2)
    return m.out_proj(out)


case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, scale: 1.0}", {"inp": ("B", "T", 8)},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True),
                   lambda m, x: _attention_scaled(m, x, x, 1.0)), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, scale: 0.125, bias: false, causal: true}",
     {"inp": ("B", "T", 8)}, lambda: _with(nn.MultiheadAttention(8, 4, bias=False, batch_first=True),
                                           lambda m, x: _attention_scaled(m, x, x, 0.125, _causal(x.size(1)))), BT)
case("TransformerEncoderLayer", "{type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16, activation: gelu_tanh}",
     {"inp": ("B", "T", 8)}, lambda: nn.TransformerEncoderLayer(8, 2, 16, activation=_gelu_tanh, batch_first=True), BT)
case("TransformerDecoder", "{type: TransformerDecoder, nhead: 2, dim_feedforward: 8, num_layers: 2, norm_first: true, "
     "activation: gelu_tanh, from: [tgt, mem]}", {"tgt": ("B", "T", 4), "mem": ("B", "S", 4)},
     lambda: _with(nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8, activation=_gelu_tanh, batch_first=True,
                                                                    norm_first=True), 2),
                   lambda m, t, s: m(t, s)), BTS)


# -- attention as LLaMA, Mistral and GPT-NeoX write it: rotary embeddings, grouped-query heads --------

def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Hugging Face's (transformers/models/llama/modeling_llama.py)."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """Hugging Face's GPT-J (modeling_gptj.py)."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Hugging Face's: (B, kv_heads, S, d) -> (B, kv_heads · n_rep, S, d)."""
    b, kv, s, d = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class HFQKNorm(nn.Module):
    """Qwen3RMSNorm / Olmo2RMSNorm as transformers 5.24 writes them (float32, then weight times the result
    cast back), and Gemma3RMSNorm with ``unit`` (the weight starting at 0, times 1 + weight in float32)."""

    def __init__(self, dim: int, eps: float = 1e-6, unit: bool = False) -> None:
        super().__init__()
        self.eps, self.unit = eps, unit
        self.weight = nn.Parameter(torch.zeros(dim) if unit else torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.unit:
            return (h * (1.0 + self.weight.float())).type_as(x)
        return self.weight * h.to(x.dtype)


class HFCohereLayerNorm(nn.Module):
    """CohereLayerNorm (transformers 5.24): the mean taken out, no bias, in float32; ``dim`` (heads, head_dim) for
    q_norm / k_norm, a weight for each head."""

    def __init__(self, dim: tuple[int, int], eps: float = 1e-5) -> None:
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h - h.mean(-1, keepdim=True)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight.float() * h).to(x.dtype)


def hf_l2_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Llama4TextL2Norm (transformers 5.24): no weight, applied after the rotary."""
    h = x.float()
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)).type_as(x)


class HFAttention(nn.Module):
    """LlamaAttention (eager) as Hugging Face writes it, with GPT-NeoX's partial rotary
    (``rotary_dim`` < head_dim: the rest passes), GPT-J's interleaved pairs, Gemma's ``head_dim``,
    Qwen2's biases on q/k/v alone (``o_bias``), Mistral's ``window`` (HF's sliding-window mask: key j
    visible to query i when i - window < j <= i), a scaled rope's ``inv_freq`` (and longrope's
    ``long_inv_freq`` past ``original`` steps, yarn's and longrope's ``attention_factor``), Gemma 2's ``scale``
    (query_pre_attn_scalar ** -0.5) and ``softcap`` (tanh(scores / softcap)·softcap, before the mask), and
    ModernBERT's bidirectional ``local`` window, and ``qk_norm`` on the queries and keys before the rotary:
    "head" (Qwen3's q_norm / k_norm of head_dim; Gemma 3's with ``unit``), "all" (OLMo-2's over the projection),
    "cohere" (CohereAttention's LayerNorm of each head, a weight per head), or after it "l2" (Llama4TextAttention's
    weightless L2 norm), and OLMo's ``clip`` (OlmoAttention's clamp_ of the three projections)."""

    def __init__(self, e: int, heads: int, kv_heads: int, bias: bool = False, causal: bool = True,
                 theta: float = 10000.0, rotary_dim: int | None = None, interleaved: bool = False,
                 batch_first: bool = True, head_dim: int | None = None, o_bias: bool | None = None,
                 window: int | None = None, inv_freq: torch.Tensor | None = None, scale: float | None = None,
                 softcap: float | None = None, attention_factor: float = 1.0,
                 long_inv_freq: torch.Tensor | None = None, original: int = 0, local: int | None = None,
                 qk_norm: str | None = None, unit: bool = False, clip: float | None = None) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.d = heads, kv_heads, head_dim or e // heads
        self.q_proj = nn.Linear(e, heads * self.d, bias=bias)
        self.k_proj = nn.Linear(e, kv_heads * self.d, bias=bias)
        self.v_proj = nn.Linear(e, kv_heads * self.d, bias=bias)
        self.o_proj = nn.Linear(heads * self.d, e, bias=bias if o_bias is None else o_bias)
        self.causal, self.rotary_dim, self.interleaved = causal, rotary_dim or self.d, interleaved
        self.batch_first, self.window = batch_first, window
        self.scale, self.softcap = scale or self.d ** -0.5, softcap
        # yarn's and longrope's cos/sin factor; longrope's frequencies past the trained context (T > original)
        self.attention_factor, self.long_inv_freq, self.original = attention_factor, long_inv_freq, original
        self.local = local  # ModernBERT's bidirectional window: keys within local // 2 of the query
        self.qk_norm, self.clip = qk_norm, clip
        if qk_norm == "cohere":
            self.q_norm, self.k_norm = HFCohereLayerNorm((heads, self.d)), HFCohereLayerNorm((kv_heads, self.d))
        elif qk_norm in ("head", "all"):
            self.q_norm = HFQKNorm(self.d if qk_norm == "head" else heads * self.d, unit=unit)
            self.k_norm = HFQKNorm(self.d if qk_norm == "head" else kv_heads * self.d, unit=unit)
        self.inv_freq = inv_freq if inv_freq is not None else 1.0 / (
            theta ** (torch.arange(0, self.rotary_dim, 2, dtype=torch.int64).float() / self.rotary_dim))

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """``pad`` (B, T): true at the padding keys, as Hugging Face's attention_mask is 0 there."""
        if not self.batch_first:
            x = x.transpose(0, 1)
        b, t, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.clip is not None:  # OlmoAttention
            q, k, v = (y.clamp_(min=-self.clip, max=self.clip) for y in (q, k, v))
        if self.qk_norm == "all":  # Olmo2Attention: q_norm(q_proj(x)) before the view
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.view(b, t, -1, self.d), k.view(b, t, -1, self.d)
        if self.qk_norm in ("head", "cohere"):  # Qwen3Attention, Gemma3Attention: q_norm(q_proj(x).view(...))
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = v.view(b, t, -1, self.d).transpose(1, 2)
        position_ids = torch.arange(t)[None].float()
        inv_freq = self.long_inv_freq if self.long_inv_freq is not None and t > self.original else self.inv_freq
        freqs = (inv_freq[None, :, None] @ position_ids[:, None, :]).transpose(1, 2)  # (1, T, r/2)
        r = self.rotary_dim
        if self.interleaved:
            emb, rotate = freqs.repeat_interleave(2, dim=-1), rotate_every_two
        else:
            emb, rotate = torch.cat((freqs, freqs), dim=-1), rotate_half
        cos, sin = emb.cos()[:, None] * self.attention_factor, emb.sin()[:, None] * self.attention_factor
        q_rot, q_pass, k_rot, k_pass = q[..., :r], q[..., r:], k[..., :r], k[..., r:]
        q = torch.cat(((q_rot * cos) + (rotate(q_rot) * sin), q_pass), dim=-1)
        k = torch.cat(((k_rot * cos) + (rotate(k_rot) * sin), k_pass), dim=-1)
        if self.qk_norm == "l2":  # Llama4TextAttention: after the rotary
            q, k = hf_l2_norm(q), hf_l2_norm(k)
        k, v = repeat_kv(k, self.heads // self.kv_heads), repeat_kv(v, self.heads // self.kv_heads)
        scores = q @ k.transpose(2, 3) * self.scale
        if self.softcap:  # Gemma 2's eager_attention_forward: softcapped before the mask
            scores = torch.tanh(scores / self.softcap) * self.softcap
        if self.causal:
            scores = scores + torch.full((t, t), float("-inf")).triu(1)
        if self.window:
            i, j = torch.arange(t)[:, None], torch.arange(t)[None]
            scores = scores.masked_fill(j <= i - self.window, float("-inf"))
        if self.local:  # masking_utils.sliding_window_bidirectional_overlay: |q_idx - kv_idx| <= local // 2
            i, j = torch.arange(t)[:, None], torch.arange(t)[None]
            scores = scores.masked_fill((i - j).abs() > self.local // 2, float("-inf"))
        if pad is not None:
            scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
        out = self.o_proj(out)
        return out if self.batch_first else out.transpose(0, 1)


case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, rotary: {base: 10000}, "
     "causal: true, bias: false}", {"inp": ("B", "T", 16)}, lambda: HFAttention(16, 4, 2), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, batch_first: false, "
     "rotary: {dim: 4, interleaved: true, base: 500}}", {"inp": ("T", "B", 16)},
     lambda: HFAttention(16, 2, 1, bias=True, causal=False, theta=500, rotary_dim=4, interleaved=True,
                         batch_first=False), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 1, rotary: {}, causal: true, "
     "masks: [key_padding], from: [inp, pad]}", {"inp": ("B", "T", 16), "pad": ("B", "T")},
     lambda: HFAttention(16, 4, 1, bias=True), BT, dtypes={"pad": "bool"})
# Qwen2's biases (q/k/v, none on o), Gemma's head_dim apart from embed_dim / num_heads, Mistral's window,
# position interpolation (linear rope scaling: every frequency / factor)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 6, window: 2, "
     "bias: {qkv: true, out: false}, rotary: {scaling: {type: linear, factor: 2}}, causal: true}",
     {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 2, bias=True, head_dim=6, o_bias=False, window=2,
                         inv_freq=1.0 / (10000.0 ** (torch.arange(0, 6, 2).float() / 6)) / 2), BT)
def hf_yarn_inv_freq(dim: int, base: float, factor: float, original: int, beta_fast: float = 32,
                     beta_slow: float = 1) -> tuple[torch.Tensor, float]:
    """Hugging Face's _compute_yarn_parameters (transformers 5.24, modeling_rope_utils.py), truncate on and
    no mscale: the inverse frequencies and the attention factor."""
    def find_correction_dim(num_rotations: float) -> float:
        return (dim * math.log(original / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    low = max(math.floor(find_correction_dim(beta_fast)), 0)
    high = min(math.ceil(find_correction_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = base ** (torch.arange(0, dim, 2).to(dtype=torch.float) / dim)
    extrapolation = 1 - torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    inv_freq = 1.0 / (factor * pos_freqs) * (1 - extrapolation) + 1.0 / pos_freqs * extrapolation
    return inv_freq, (0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0)


# ModernBERT's local attention: 2 keys on either side (local_window 4), the key-padding mask joining its mask
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, rotary: {base: 10000}, local_window: 4, "
     "bias: false, masks: [key_padding], from: [inp, pad]}", {"inp": ("B", "T", 16), "pad": ("B", "T")},
     lambda: HFAttention(16, 4, 4, causal=False, local=4), BT, dtypes={"pad": "bool"})
# YaRN (Qwen2.5's long context: a ramp of the pairs from kept to divided by factor, cos and sin scaled by
# 0.1·ln(4) + 1) and LongRoPE (Phi-3 128K: a factor per pair, the long ones once T passes the 4 trained steps)
_YARN, _YARN_FACTOR = hf_yarn_inv_freq(8, 10000.0, 4.0, 16)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, causal: true, bias: false, "
     "rotary: {scaling: {type: yarn, factor: 4, original_max_position_embeddings: 16}}}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 2, 1, inv_freq=_YARN, attention_factor=_YARN_FACTOR), BT)
_SHORT, _LONG = [1.0, 1.5, 2.0, 3.0], [2.0, 4.0, 8.0, 16.0]
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, causal: true, rotary: {scaling: {type: longrope, "
     f"short_factor: {_SHORT}, long_factor: {_LONG}, factor: 8, original_max_position_embeddings: 4}}}}}}",
     {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 2, 2, bias=True, inv_freq=1.0 / (torch.tensor(_SHORT) * 10000.0 ** (torch.arange(0, 8, 2)
                                                                                            .float() / 8)),
                         long_inv_freq=1.0 / (torch.tensor(_LONG) * 10000.0 ** (torch.arange(0, 8, 2).float() / 8)),
                         original=4, attention_factor=math.sqrt(1 + math.log(8) / math.log(4))), BT)
# Qwen3's q_norm / k_norm over each head; OLMo-2's over the whole projection (k's over the kv heads'); Gemma 3's
# per head with (1 + weight)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 8, qk_norm: true, "
     "rotary: {}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 2, head_dim=8, qk_norm="head"), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {over: all}, "
     "rotary: {}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 2, qk_norm="all"), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, num_kv_heads: 1, head_dim: 8, "
     "qk_norm: {add_unit_offset: true}, rotary: {}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 2, 1, head_dim=8, qk_norm="head", unit=True), BT)
# Command R+'s LayerNorm of each head (a weight per head) on interleaved pairs; Llama 4's weightless L2 norm after
# the rotary (which keeps each head's sum of squares); OLMo 1.7's clip_qkv, at 0.3 so that the projections pass it
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, qk_norm: {type: layer, "
     "per_head: true, eps: 1e-5}, rotary: {interleaved: true}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 2, interleaved=True, qk_norm="cohere"), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 1, head_dim: 8, "
     "qk_norm: {type: l2, eps: 1e-5}, rotary: {base: 500000}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 1, head_dim=8, theta=500000.0, qk_norm="l2"), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, clip_qkv: 0.3, rotary: {}, causal: true, "
     "bias: false}", {"inp": ("B", "T", 16)}, lambda: HFAttention(16, 2, 2, clip=0.3), BT)
class HFLatentAttention(nn.Module):
    """DeepseekV3Attention (transformers 5.24) written out: q_a_proj, q_a_layernorm, q_b_proj (q_proj without
    ``q_rank``), kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj; rotate_half on the decoupled features
    (rope_interleave false), the causal mask (or none), softmax; ``batch_first`` false reads (T, B, E)."""

    def __init__(self, e: int, heads: int, kv_rank: int, q_rank: int | None, nope: int, rope: int, v: int,
                 causal: bool = True, batch_first: bool = True) -> None:
        super().__init__()
        self.causal, self.batch_first = causal, batch_first
        self.h, self.nope, self.rope, self.v, self.kv_rank, self.q_rank = heads, nope, rope, v, kv_rank, q_rank
        if q_rank is None:
            self.q_proj = nn.Linear(e, heads * (nope + rope), bias=False)
        else:
            self.q_a_proj = nn.Linear(e, q_rank, bias=False)
            self.q_a_layernorm = HFQKNorm(q_rank)
            self.q_b_proj = nn.Linear(q_rank, heads * (nope + rope), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(e, kv_rank + rope, bias=False)
        self.kv_a_layernorm = HFQKNorm(kv_rank)
        self.kv_b_proj = nn.Linear(kv_rank, heads * (nope + v), bias=False)
        self.o_proj = nn.Linear(heads * v, e, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x if self.batch_first else x.transpose(0, 1)
        b, t, _ = x.shape
        q = self.q_proj(x) if self.q_rank is None else self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q_pass, q_rot = q.view(b, t, self.h, -1).transpose(1, 2).split([self.nope, self.rope], dim=-1)
        kv_nope, k_rot = self.kv_a_proj_with_mqa(x).split([self.kv_rank, self.rope], dim=-1)
        kv = self.kv_b_proj(self.kv_a_layernorm(kv_nope)).view(b, t, self.h, -1).transpose(1, 2)
        k_nope, value = kv.split([self.nope, self.v], dim=-1)
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, self.rope, 2).float() / self.rope))
        freqs = torch.arange(t).float()[:, None] * inv_freq[None]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        q_rot = q_rot * cos + rotate_half(q_rot) * sin
        k_rot = k_rot.view(b, 1, t, self.rope) * cos + rotate_half(k_rot.view(b, 1, t, self.rope)) * sin
        q = torch.cat((q_pass, q_rot), dim=-1)
        k = torch.cat((k_nope, k_rot.expand(b, self.h, t, self.rope)), dim=-1)
        scores = q @ k.transpose(2, 3) * (self.nope + self.rope) ** -0.5
        if self.causal:
            scores = scores + torch.full((t, t), float("-inf")).triu(1)
        out = self.o_proj((scores.softmax(-1) @ value).transpose(1, 2).reshape(b, t, -1))
        return out if self.batch_first else out.transpose(0, 1)


# DeepSeek-V2/V3's latent attention: with a q bottleneck (V3, V2) and without (V2-Lite), batch second
case("MultiheadLatentAttention", "{type: MultiheadLatentAttention, num_heads: 4, q_lora_rank: 12, kv_lora_rank: 8, "
     "qk_nope_head_dim: 6, qk_rope_head_dim: 4, v_head_dim: 5, causal: true}", {"inp": ("B", "T", 16)},
     lambda: HFLatentAttention(16, 4, 8, 12, 6, 4, 5), BT)
case("MultiheadLatentAttention", "{type: MLA, num_heads: 2, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 2, "
     "v_head_dim: 6, batch_first: false}", {"inp": ("T", "B", 16)},
     lambda: HFLatentAttention(16, 2, 8, None, 4, 2, 6, causal=False, batch_first=False), BT)


class HFMambaMixer(nn.Module):
    """transformers' MambaMixer.slow_forward (5.x) written out, without a cache: in_proj, the causal depthwise
    conv1d and SiLU, x_proj's dt, B, C, softplus(dt_proj(dt)), the discretised A and B·x over (B, D, T, N), the
    per-step recurrence and matmul with C, + D·x, gated by SiLU(z), out_proj."""

    def __init__(self, d: int, n: int = 16, k: int = 4, expand: int = 2, r: int | None = None,
                 conv_bias: bool = True, bias: bool = False) -> None:
        super().__init__()
        inner = expand * d
        self.n, self.r = n, r or math.ceil(d / 16)
        self.in_proj = nn.Linear(d, 2 * inner, bias=bias)
        self.conv1d = nn.Conv1d(inner, inner, k, groups=inner, padding=k - 1, bias=conv_bias)
        self.x_proj = nn.Linear(inner, self.r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(self.r, inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand(inner, -1).contiguous())
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        hidden, gate = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        hidden = F.silu(self.conv1d(hidden)[..., :t])
        dt, bs, cs = torch.split(self.x_proj(hidden.transpose(1, 2)), [self.r, self.n, self.n], dim=-1)
        dt = F.softplus(self.dt_proj(dt)).transpose(1, 2)
        a = -torch.exp(self.A_log.float())
        discrete_a = torch.exp(a[None, :, None, :] * dt[:, :, :, None])
        delta_b_u = dt[:, :, :, None] * bs[:, None, :, :].float() * hidden[:, :, :, None].float()
        state = torch.zeros(b, hidden.shape[1], self.n)
        outs = []
        for i in range(t):
            state = discrete_a[:, :, i, :] * state + delta_b_u[:, :, i, :]
            outs.append(torch.matmul(state, cs[:, i, :].unsqueeze(-1))[:, :, 0])
        y = torch.stack(outs, dim=-1) + hidden * self.D[None, :, None]
        return self.out_proj((y * F.silu(gate)).transpose(1, 2))


# Mamba's mixer: mamba-130m's settings on 16 features (dt_rank auto = 1), then biases, a narrow conv and dt_rank
case("Mamba", "{type: Mamba, d_state: 4}", {"inp": ("B", "T", 16)}, lambda: HFMambaMixer(16, 4), BT)
case("Mamba", "{type: MambaMixer, hidden_size: 8, state_size: 3, conv_kernel: 2, expand: 3, time_step_rank: 2, "
     "use_bias: true, use_conv_bias: false}", {"inp": ("B", "T", 8)},
     lambda: HFMambaMixer(8, 3, 2, 3, 2, conv_bias=False, bias=True), BT)
# Gemma 2's attention: query_pre_attn_scalar's scale, the scores softcapped (a cap of 0.5 bends every score), a window
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, num_kv_heads: 2, head_dim: 8, scale: 0.25, "
     "softcap: 0.5, window: 3, rotary: {}, causal: true, bias: false}", {"inp": ("B", "T", 16)},
     lambda: HFAttention(16, 4, 2, head_dim=8, scale=0.25, softcap=0.5, window=3), BT)

# -- area A (issue 12): Sub, Div, Max, Min, Abs, Cast, Split, Chunk ---------------------------------

BT2 = ({"B": 2, "T": 3}, {"B": 3, "T": 5})
case("Sub", "{type: Sub, from: [a, b]}", {"a": ("B", 4, "T"), "b": (1, 4, 1)}, fn(lambda a, b: a - b), BT2)
case("Sub", "{type: Subtract, from: [a, b]}", {"a": ("B", 3), "b": ("B", 3)}, fn(lambda a, b: a - b),
     dtypes={"a": "int64", "b": "int32"})
case("Div", "{type: Div, from: [a, b]}", {"a": ("B", 5), "b": (1, 5)}, fn(lambda a, b: a / b))
case("Div", "{type: Divide, from: [a, b]}", {"a": ("B", "T"), "b": ("B", 1)}, fn(lambda a, b: torch.div(a, b)), BT2,
     dtypes={"a": "int64", "b": "int64"}, high=7)
case("Max", "{type: Max, from: [a, b]}", {"a": ("B", 2, "T"), "b": ("B", 2, 1)}, fn(torch.maximum), BT2)
case("Max", "{type: Maximum, from: [a, b]}", {"a": ("B", 4), "b": ("B", 4)}, fn(torch.maximum),
     dtypes={"a": "float16", "b": "float32"})
case("Min", "{type: Min, from: [a, b]}", {"a": ("B", 3, 4), "b": (4,)}, fn(torch.minimum))
case("Min", "{type: Minimum, from: [a, b]}", {"a": ("B", "T"), "b": ("B", "T")}, fn(torch.minimum), BT2,
     dtypes={"a": "int32", "b": "int32"})
case("GLU", "{type: GLU}", {"inp": ("B", "T", 8)}, lambda: nn.GLU(), BT)
case("GLU", "{type: GLU, dim: 1}", {"inp": ("B", 6, "T")}, lambda: nn.GLU(dim=1), BT)
case("Abs", "{type: Abs}", {"inp": ("B", 3, "T")}, fn(torch.abs), BT2)
case("Abs", "{type: Abs}", {"inp": ("B", 5)}, fn(torch.abs), dtypes={"inp": "int64"})
case("Cast", "{type: Cast, dtype: int64}", {"inp": ("B", 4)}, fn(lambda x: x.to(torch.int64)))
case("Cast", "{type: Cast, dtype: float16}", {"inp": ("B", "T")}, fn(lambda x: x.half()), BT2)
case("Cast", "{type: Cast, dtype: float32}", {"inp": ("B", 3)}, fn(lambda x: x.float()), dtypes={"inp": "int32"})
case("Cast", "{type: Cast, dtype: bool}", {"inp": ("B", 3)}, fn(lambda x: x.bool()), dtypes={"inp": "int64"}, high=2)
case("Split", "{type: Split, sizes: [2, 3, 1]}", {"inp": ("B", 6, "T")}, fn(lambda x: x.split([2, 3, 1], 1)), BT2)
case("Split", "{type: Split, size: 2, dim: -1, names: [lo, hi]}", {"inp": ("B", "T", 4)},
     fn(lambda x: x.split(2, -1)), BT2)
case("Chunk", "{type: Chunk, chunks: 3, dim: 2}", {"inp": ("B", "T", 9)}, fn(lambda x: x.chunk(3, 2)), BT2)
case("Chunk", "{type: Chunk, chunks: 2}", {"inp": ("B", 4)}, fn(lambda x: x.chunk(2, 1)), dtypes={"inp": "int64"})

# -- area F5 (issue 11): norm, reshape, merge, reduce and embedding configurations the direct ONNX target
# writes differently (batch statistics, symbolic sizes read at run time, type promotion, max_norm)

case("BatchNorm2d", "{type: BatchNorm2d, track_running_stats: false, eps: 1.0e-3}", {"inp": ("B", 3, "H", "W")},
     lambda: nn.BatchNorm2d(3, eps=1e-3, track_running_stats=False), BHW)
case("InstanceNorm2d", "{type: InstanceNorm2d, track_running_stats: true}", {"inp": ("B", 3, "H", "W")},
     lambda: nn.InstanceNorm2d(3, track_running_stats=True), BHW)
case("GroupNorm", "{type: GroupNorm, num_groups: 3}", {"inp": ("B", 6)}, lambda: nn.GroupNorm(3, 6))
case("GroupNorm", "{type: GroupNorm, num_groups: 2, eps: 1.0e-3}", {"inp": ("B", 4, "H", "W")},
     lambda: nn.GroupNorm(2, 4, eps=1e-3), BHW)
case("Flatten", "{type: Flatten, start_dim: 0, end_dim: 1}", {"inp": ("B", "T", 3)}, lambda: nn.Flatten(0, 1), BT)
case("Flatten", "{type: Flatten, start_dim: 1, end_dim: 2}", {"inp": ("B", 3, 4, "T")}, lambda: nn.Flatten(1, 2), BT)
case("Unflatten", "{type: Unflatten, dim: 1, unflattened_size: [3, 4]}", {"inp": ("B", 12, "T")},
     lambda: nn.Unflatten(1, (3, 4)), BT)
case("PixelShuffle", "{type: PixelShuffle, upscale_factor: 2}", {"ids": ("B", 8, "H", "W")}, _shuffle(2), BHW,
     dtypes={"ids": "int64"})
case("Chunk", "{type: Chunk, chunks: 1, dim: -1}", {"inp": ("B", "T", 3)}, fn(lambda x: x.chunk(1, -1)), BT)
case("Add", "{type: Add, from: [a, b, c]}", {"a": ("B", 4), "b": ("B", 4), "c": (1, 4)}, fn(lambda a, b, c: a + b + c),
     dtypes={"a": "float16", "b": "float16"})
case("Concat", "{type: Concat, dim: 0, from: [a, b]}", {"a": ("B", 3), "b": (2, 3)}, fn(lambda a, b: torch.cat([a, b])),
     dtypes={"a": "int64"})
case("Max", "{type: Max, from: [a, b]}", {"a": ("B", 5), "b": (1, 5)}, fn(torch.maximum),
     dtypes={"a": "int8", "b": "uint8"})
case("Reduce", "{type: Reduce, op: max, dim: [0, 2]}", {"inp": ("B", 3, "T")}, fn(lambda x: x.amax((0, 2))), BT)
case("Reduce", "{type: Reduce, op: sum, dim: -1, keepdim: true}", {"ids": ("B", 4)},
     fn(lambda x: x.sum(-1, keepdim=True)), dtypes={"ids": "uint8"})
case("Embedding", "{type: Embedding, num_embeddings: 12, embedding_dim: 4, max_norm: 1.0}", {"ids": ("B", "T")},
     lambda: nn.Embedding(12, 4, max_norm=1.0), BT, dtypes={"ids": "int64"}, high=12)
case("Embedding", "{type: Embedding, num_embeddings: 9, embedding_dim: 3, padding_idx: -1, max_norm: 1.5, "
     "norm_type: 1.0}", {"ids": ("B", 2)}, lambda: nn.Embedding(9, 3, padding_idx=-1, max_norm=1.5, norm_type=1.0),
     dtypes={"ids": "int64"}, high=9)

# -- area F4 (issue 11): attention configurations the direct ONNX target writes its own way -----------

case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, batch_first: false, bias: false, from: [q, kv]}",
     {"q": ("T", "B", 8), "kv": ("S", "B", 8)},
     lambda: _with(nn.MultiheadAttention(8, 2, bias=False), lambda m, q, kv: m(q, kv, kv, need_weights=False)[0]),
     BTS)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, from: [q, k, v]}",
     {"q": ("B", "T", 8), "k": ("B", "S", 6), "v": ("B", "S", 4)},
     lambda: _with(nn.MultiheadAttention(8, 2, kdim=6, vdim=4, batch_first=True),
                   lambda m, q, k, v: m(q, k, v, need_weights=False)[0]), BTS)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, add_bias_kv: true, add_zero_attn: true, "
     "batch_first: false, masks: [key_padding, attn], from: [x, pad, am]}",
     {"x": ("T", "B", 8), "pad": ("B", "T"), "am": ("T", "T")},
     lambda: _with(nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True),
                   lambda m, x, pad, am: m(x, x, x, key_padding_mask=pad, attn_mask=am, need_weights=False)[0]),
     BT, dtypes={"pad": "bool", "am": "bool"})
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, masks: [attn], from: [q, kv, am]}",
     {"q": (3, "T", 8), "kv": (3, "S", 8), "am": (6, "T", "S")},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True),
                   lambda m, q, kv, am: m(q, kv, kv, attn_mask=am, need_weights=False)[0]),
     ({"T": 3, "S": 4}, {"T": 5, "S": 2}), dtypes={"am": "bool"})
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, masks: [attn], from: [x, am]}",
     {"x": ("B", "T", 8), "am": ("T", "T")},
     lambda: _with(nn.MultiheadAttention(8, 4, batch_first=True),
                   lambda m, x, am: m(x, x, x, attn_mask=am, need_weights=False)[0]), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, causal: true, masks: [key_padding], "
     "from: [x, pad]}", {"x": ("B", "T", 8), "pad": ("B", "T")},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True), lambda m, x, pad: m(
         x, x, x, key_padding_mask=pad, attn_mask=_causal(x.size(1)) == float("-inf"), need_weights=False)[0]),
     BT, dtypes={"pad": "bool"})
# Causal with bias_kv: PyTorch hides the extra key from every query (SDPA's top-left causal mask
# over T + 1 keys) unless a key-padding mask joins it, which pads the (T, T) mask and shows it.
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, causal: true, add_bias_kv: true}",
     {"x": ("B", "T", 8)}, lambda: _with(nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True),
                                         lambda m, x: m(x, x, x, attn_mask=_causal(x.size(1)), is_causal=True,
                                                        need_weights=False)[0]), BT)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, causal: true, add_zero_attn: true, "
     "masks: [key_padding], from: [x, pad]}", {"x": ("B", "T", 8), "pad": ("B", "T")},
     lambda: _with(nn.MultiheadAttention(8, 2, add_zero_attn=True, batch_first=True), lambda m, x, pad: m(
         x, x, x, key_padding_mask=pad, attn_mask=_causal(x.size(1)) == float("-inf"), need_weights=False)[0]),
     BT, dtypes={"pad": "bool"})
case("TransformerEncoderLayer", "{type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 8, bias: false, "
     "masks: [attn, key_padding], from: [x, am, pad]}", {"x": ("B", "T", 4), "am": ("T", "T"), "pad": ("B", "T")},
     lambda: _with(nn.TransformerEncoderLayer(4, 2, 8, batch_first=True, bias=False),
                   lambda m, x, am, pad: m(x, src_mask=am, src_key_padding_mask=pad)), BT,
     dtypes={"am": "bool", "pad": "bool"})
case("TransformerEncoder", "{type: TransformerEncoder, nhead: 2, dim_feedforward: 8, num_layers: 2, norm: true, "
     "layer_norm_eps: 0.001, activation: gelu, causal: true, masks: [key_padding], from: [x, pad]}",
     {"x": ("B", "T", 4), "pad": ("B", "T")},
     lambda: _with(nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, activation="gelu", layer_norm_eps=1e-3,
                                                                    batch_first=True), 2,
                                         norm=nn.LayerNorm(4, eps=1e-3), enable_nested_tensor=False),
                   lambda m, x, pad: m(x, mask=_causal(x.size(1)) == float("-inf"), src_key_padding_mask=pad)), BT,
     dtypes={"pad": "bool"})
case("TransformerDecoderLayer", "{type: TransformerDecoderLayer, nhead: 2, dim_feedforward: 8, batch_first: false, "
     "masks: [key_padding, memory_key_padding], from: [tgt, mem, tpad, mpad]}",
     {"tgt": ("T", "B", 4), "mem": ("S", "B", 4), "tpad": ("B", "T"), "mpad": ("B", "S")},
     lambda: _with(nn.TransformerDecoderLayer(4, 2, 8), lambda m, t, s, tpad, mpad: m(
         t, s, tgt_key_padding_mask=tpad, memory_key_padding_mask=mpad)), BTS, dtypes={"tpad": "bool", "mpad": "bool"})
case("PositionalEncoding", "{type: PositionalEncoding, max_len: 16, batch_first: false}", {"inp": ("T", "B", 5)},
     lambda: Fn(lambda x: x + _sinusoidal(16, 5)[: x.size(0)].unsqueeze(1), pe=_sinusoidal(16, 5)), BT)
case("PositionalEncoding", "{type: PositionalEncoding, kind: learned, max_len: 7, batch_first: false}",
     {"inp": ("T", "B", 4)}, lambda: _with(nn.Embedding(7, 4), lambda m, x: x + m.weight[: x.size(0)].unsqueeze(1)),
     BT)
# float16 data: the float32 table is added in the data's dtype (PyTorch would promote the sum to float32)
case("PositionalEncoding", "{type: PositionalEncoding, max_len: 12}", {"inp": ("B", "T", 6)},
     lambda: Fn(lambda x: x + _sinusoidal(12, 6)[: x.size(1)].half(), pe=_sinusoidal(12, 6)), BT,
     dtypes={"inp": "float16"})

# -- area M (issue 12): MaxPool's indices and MaxUnpool ----------------------------------------------

def _unpooled(pool: nn.Module, unpool: nn.Module, restore: bool = False) -> Callable[[], nn.Module]:
    """pool then unpool, as a PyTorch user writes SegNet's decoder (``restore``: the pool's input size)."""
    def run(x: torch.Tensor) -> torch.Tensor:
        values, indices = pool(x)
        return unpool(values, indices, output_size=x.shape[2:]) if restore else unpool(values, indices)
    return fn(run)


BLD = ({"B": 2, "D": 3}, {"B": 1, "D": 5})
case("MaxPool2d", "{type: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, return_indices: true}",
     {"inp": ("B", 3, "H", "W")}, lambda: nn.MaxPool2d(3, 2, 1, return_indices=True), BHW)
case("MaxPool1d", "{type: MaxPool1d, kernel_size: 2, dilation: 2, return_indices: true}", {"inp": ("B", 2, "L")},
     lambda: nn.MaxPool1d(2, dilation=2, return_indices=True), BL)
case("MaxPool3d", "{type: MaxPool3d, kernel_size: 2, ceil_mode: true, return_indices: true}",
     {"inp": ("B", 2, "D", 4, 5)}, lambda: nn.MaxPool3d(2, ceil_mode=True, return_indices=True), BLD)
POOL = "{type: MaxPool%dd, kernel_size: %s, return_indices: true, name: pool}"
# A fixed length: over a symbolic one the dynamo exporter, the only one that writes MaxUnpool, freezes
# the MaxPool1d's length, and check refuses the pair (U002).
case("MaxUnpool1d", "{type: MaxUnpool1d, kernel_size: 2, from: [pool.values, pool.indices]}", {"inp": ("B", 3, 9)},
     _unpooled(nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)), before=(POOL % (1, 2),))
case("MaxUnpool1d", "{type: MaxUnpool1d, kernel_size: 3, stride: 2, padding: 1, output_size: 10, "
     "from: [pool.values, pool.indices]}", {"inp": ("B", 2, 10)},
     _unpooled(nn.MaxPool1d(3, 2, 1, return_indices=True), nn.MaxUnpool1d(3, 2, 1), restore=True),
     before=("{type: MaxPool1d, kernel_size: 3, stride: 2, padding: 1, return_indices: true, name: pool}",))
case("MaxUnpool2d", "{type: MaxUnpool2d, kernel_size: 2, from: [pool.values, pool.indices, inp]}",
     {"inp": ("B", 3, "H", "W")}, _unpooled(nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2), restore=True),
     BHW, before=(POOL % (2, 2),))
case("MaxUnpool2d", "{type: MaxUnpool2d, kernel_size: [2, 3], stride: [2, 1], output_size: [7, null], "
     "from: [pool.values, pool.indices]}", {"inp": ("B", 2, 7, 6)},
     _unpooled(nn.MaxPool2d((2, 3), (2, 1), return_indices=True), nn.MaxUnpool2d((2, 3), (2, 1)), restore=True),
     before=("{type: MaxPool2d, kernel_size: [2, 3], stride: [2, 1], return_indices: true, name: pool}",))
case("MaxUnpool3d", "{type: MaxUnpool3d, kernel_size: 2, output_size: [4, 6, 5], from: [pool.values, pool.indices]}",
     {"inp": ("B", 2, 4, 6, 5)}, _unpooled(nn.MaxPool3d(2, return_indices=True), nn.MaxUnpool3d(2), restore=True),
     before=(POOL % (3, 2),))
case("MaxUnpool3d", "{type: MaxUnpool3d, kernel_size: [1, 2, 2], from: [pool.values, pool.indices, inp]}",
     {"inp": ("B", 2, "D", 6, 4)}, _unpooled(nn.MaxPool3d((1, 2, 2), return_indices=True),
                                            nn.MaxUnpool3d((1, 2, 2)), restore=True), BLD,
     before=(POOL % (3, "[1, 2, 2]"),))

# -- Sin, Cos, Exp (issue e19): f(scale·x) ------------------------------------------------------

case("Sin", "{type: Sin}", {"inp": ("B", 7)}, fn(torch.sin))
case("Sin", "{type: Sin, scale: 30.0}", {"inp": ("B", 3, "T")}, fn(lambda x: torch.sin(30.0 * x)), BT2)
case("Cos", "{type: Cos}", {"inp": ("B", 2, 3, 4)}, fn(torch.cos))
case("Cos", "{type: Cos, scale: 3.14159}", {"inp": ("B", "T")}, fn(lambda x: torch.cos(3.14159 * x)), BT2)
case("Exp", "{type: Exp}", {"inp": ("B", 5)}, fn(torch.exp))
case("Exp", "{type: Exp, scale: 0.5}", {"inp": ("B", "T", 4)}, fn(lambda x: torch.exp(0.5 * x)), BT2)
case("Scale", "{type: Scale, scale: 0.2}", {"inp": ("B", 3, "H", "W")}, fn(lambda x: 0.2 * x), BHW)
case("Scale", "{type: Scale, scale: -1.5}", {"inp": ("B", 6)}, fn(lambda x: -1.5 * x))
# -- weight_norm and spectral_norm on a layer's weight (torch.nn.utils.parametrizations) -------------------------

case("Linear", "{type: Linear, out_features: 5, weight_norm: true}", {"inp": ("B", 8)},
     lambda: weight_norm(nn.Linear(8, 5)))
case("Linear", "{type: Dense, units: 4, spectral_norm: {n_power_iterations: 2}}", {"inp": ("B", "T", 6)},
     lambda: spectral_norm(nn.Linear(6, 4), n_power_iterations=2), ({"B": 2, "T": 3}, {"B": 3, "T": 5}))
case("Conv1d", "{type: Conv1d, out_channels: 6, kernel_size: 3, dilation: 2, padding: 2, weight_norm: {dim: 0}}",
     {"inp": ("B", 4, "L")}, lambda: weight_norm(nn.Conv1d(4, 6, 3, dilation=2, padding=2)), BL)
case("Conv1d", "{type: Conv1d, out_channels: 4, kernel_size: 3, weight_norm: {dim: null}}", {"inp": ("B", 2, "L")},
     lambda: weight_norm(nn.Conv1d(2, 4, 3), dim=None), BL)
case("Conv2d", "{type: Conv2d, out_channels: 8, kernel_size: 4, stride: 2, padding: 1, spectral_norm: true}",
     {"inp": ("B", 3, "H", "W")}, lambda: spectral_norm(nn.Conv2d(3, 8, 4, stride=2, padding=1)), BHW)
case("Conv2d", "{type: Conv2d, out_channels: 4, kernel_size: 3, groups: 2, spectral_norm: {dim: 1, eps: 1.0e-6}}",
     {"inp": ("B", 2, 6, 6)}, lambda: spectral_norm(nn.Conv2d(2, 4, 3, groups=2), dim=1, eps=1e-6))
case("Conv3d", "{type: Conv3d, out_channels: 3, kernel_size: 2, weight_norm: {dim: 2}}", {"inp": ("B", 2, 3, 4, 4)},
     lambda: weight_norm(nn.Conv3d(2, 3, 2), dim=2))
case("DepthwiseConv1d", "{type: DepthwiseConv1d, kernel_size: 3, depth_multiplier: 2, weight_norm: true}",
     {"inp": ("B", 3, "L")}, lambda: weight_norm(nn.Conv1d(3, 6, 3, groups=3)), BL)
case("ConvTranspose1d", "{type: ConvTranspose1d, out_channels: 3, kernel_size: 4, stride: 2, padding: 1, "
     "weight_norm: true}", {"inp": ("B", 4, "L")},
     lambda: weight_norm(nn.ConvTranspose1d(4, 3, 4, stride=2, padding=1)), BL)
case("ConvTranspose2d", "{type: ConvTranspose2d, out_channels: 4, kernel_size: 4, stride: 2, padding: 1, "
     "spectral_norm: true}", {"inp": ("B", 6, "H", "W")},
     lambda: spectral_norm(nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1)), BHW)
case("ConvTranspose3d", "{type: ConvTranspose3d, out_channels: 2, kernel_size: 2, stride: 2, "
     "spectral_norm: {dim: 0}}", {"inp": ("B", 3, 2, 3, 3)},
     lambda: spectral_norm(nn.ConvTranspose3d(3, 2, 2, stride=2), dim=0))
class PixelCNNConv2d(nn.Conv2d):
    """jzbontar/pixelcnn-pytorch's MaskedConv2d: the centre row right of the centre (from it, for A) and the
    rows below zeroed; the mask applied to the weight in forward rather than to weight.data in place."""

    def __init__(self, mask_type: str, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.register_buffer("mask", torch.ones_like(self.weight))
        _, _, kh, kw = self.weight.shape
        self.mask[:, :, kh // 2, kw // 2 + (mask_type == "B"):] = 0
        self.mask[:, :, kh // 2 + 1:] = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class CausalMaskedConv1d(nn.Conv1d):
    """The 1-d mask: the taps from the centre on (A) or after it (B) zeroed."""

    def __init__(self, mask_type: str, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.register_buffer("mask", torch.ones_like(self.weight))
        self.mask[:, :, self.weight.shape[2] // 2 + (mask_type == "B"):] = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class WSConv(nn.Module):
    """Weight Standardization written out (Qiao et al. 2019; timm's StdConv2d / ScaledStdConv2d): each filter
    less its mean, over the root of its biased variance plus eps, with a gain per filter times gamma / sqrt(fan_in)
    when scaled."""

    def __init__(self, conv: nn.Module, eps: float = 1e-6, gamma: float | None = None) -> None:
        super().__init__()
        self.weight, self.bias, self.conv, self.eps, self.gamma = conv.weight, conv.bias, conv, eps, gamma
        if gamma is not None:
            self.gain = nn.Parameter(torch.ones(conv.weight.shape[0], *(1,) * (conv.weight.dim() - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        dims = tuple(range(1, w.dim()))
        w = (w - w.mean(dims, keepdim=True)) / torch.sqrt(w.var(dims, unbiased=False, keepdim=True) + self.eps)
        if self.gamma is not None:
            w = w * self.gain * self.gamma / math.sqrt(w[0].numel())
        return self.conv._conv_forward(x, w, self.bias)

    def state_dict(self, *args: Any, **kw: Any) -> Any:  # the conv's weight and bias, then the gain, as timm's
        out = {"weight": self.weight, **({"bias": self.bias} if self.bias is not None else {})}
        return out | ({"gain": self.gain} if self.gamma is not None else {})


class RosinalityQuantize(nn.Module):
    """rosinality/vq-vae-2-pytorch vqvae.py Quantize (channels last), its codes and straight-through output; the
    quantiser's dim moved last first when it is not."""

    def __init__(self, dim: int, n_embed: int, decay: float = 0.99, eps: float = 1e-5, axis: int = -1) -> None:
        super().__init__()
        self.dim, self.n_embed, self.decay, self.eps, self.axis = dim, n_embed, decay, eps, axis
        embed = torch.randn(dim, n_embed)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(n_embed))
        self.register_buffer("embed_avg", embed.clone())

    def forward(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        input = input.movedim(self.axis, -1)
        flatten = input.reshape(-1, self.dim)
        dist = flatten.pow(2).sum(1, keepdim=True) - 2 * flatten @ self.embed + self.embed.pow(2).sum(0, keepdim=True)
        _, embed_ind = (-dist).max(1)
        embed_ind = embed_ind.view(*input.shape[:-1])
        quantize = F.embedding(embed_ind, self.embed.transpose(0, 1))
        quantize = input + (quantize - input).detach()
        return quantize.movedim(-1, self.axis), embed_ind


# -- PixelCNN's masked convolutions and weight-standardised convolutions (BiT, NFNet) ----------------------------

case("VectorQuantizer", "{type: VectorQuantizer, num_embeddings: 16, embedding_dim: 8}", {"inp": ("B", "T", 8)},
     lambda: RosinalityQuantize(8, 16), BT)
case("VectorQuantizer", "{type: VectorQuantizer, num_embeddings: 12, dim: 1, decay: 0.9}", {"inp": ("B", 4, "H", "W")},
     lambda: RosinalityQuantize(4, 12, 0.9, axis=1), BHW)
case("Conv2d", "{type: Conv2d, out_channels: 6, kernel_size: 7, padding: 3, mask: A}", {"inp": ("B", 1, "H", "W")},
     lambda: PixelCNNConv2d("A", 1, 6, 7, padding=3), BHW)
case("Conv2d", "{type: Conv2d, out_channels: 4, kernel_size: [3, 5], padding: [1, 2], bias: false, mask: B}",
     {"inp": ("B", 3, 8, 9)}, lambda: PixelCNNConv2d("B", 3, 4, (3, 5), padding=(1, 2), bias=False))
case("Conv1d", "{type: Conv1d, out_channels: 4, kernel_size: 5, padding: 2, mask: B}", {"inp": ("B", 2, "L")},
     lambda: CausalMaskedConv1d("B", 2, 4, 5, padding=2), BL)
case("Conv2d", "{type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false, weight_standardization: "
     "{eps: 1.0e-8}}", {"inp": ("B", 4, "H", "W")}, lambda: WSConv(nn.Conv2d(4, 8, 3, padding=1, bias=False), 1e-8),
     BHW)
case("Conv2d", "{type: Conv2d, out_channels: 6, kernel_size: 3, stride: 2, groups: 2, weight_standardization: "
     "{gain: true, gamma: 1.7015043, eps: 1.0e-5}}", {"inp": ("B", 4, 9, 9)},
     lambda: WSConv(nn.Conv2d(4, 6, 3, stride=2, groups=2), 1e-5, 1.7015043))
case("Conv1d", "{type: Conv1d, out_channels: 4, kernel_size: 3, weight_standardization: true}", {"inp": ("B", 3, "L")},
     lambda: WSConv(nn.Conv1d(3, 4, 3)), BL)

case("Embedding", "{type: Embedding, num_embeddings: 12, embedding_dim: 4, padding_idx: 0, spectral_norm: true}",
     {"ids": ("B", "T")}, lambda: spectral_norm(nn.Embedding(12, 4, padding_idx=0)), BT, dtypes={"ids": "int64"},
     high=12)
case("Embedding", "{type: Embedding, num_embeddings: 9, embedding_dim: 3, max_norm: 0.5, spectral_norm: {dim: 1}}",
     {"ids": ("B", "T")}, lambda: spectral_norm(nn.Embedding(9, 3, max_norm=0.5), dim=1), BT, dtypes={"ids": "int64"},
     high=9)

# -- the index family: ArgMax, ArgMin, CumSum, Compare, Pick ------------------------------------------------------

BT5 = ({"B": 2, "T": 5}, {"B": 3, "T": 7})
case("ArgMax", "{type: ArgMax, dim: -1}", {"inp": ("B", "T", 6)}, fn(lambda x: x.argmax(-1)), BT5)
# ids of few values tie often: the first index wins, in PyTorch and in ONNX
case("ArgMax", "{type: ArgMax, axis: 1, keepdims: true}", {"ids": ("B", "T")}, fn(lambda x: x.argmax(1, keepdim=True)),
     BT5, dtypes={"ids": "int64"}, high=3)
case("ArgMin", "{type: ArgMin, dim: 1}", {"inp": ("B", 5, 3)}, fn(lambda x: x.argmin(1)))
case("ArgMin", "{type: ArgMin, dim: 0, keepdim: true}", {"ids": ("B", 4)}, fn(lambda x: x.argmin(0, keepdim=True)),
     dtypes={"ids": "int32"}, high=4)
case("CumSum", "{type: CumSum, dim: 1}", {"inp": ("B", "T")}, fn(lambda x: x.cumsum(1)), BT5)
case("CumSum", "{type: CumSum, dim: -1, exclusive: true, reverse: true}", {"inp": ("B", 3, "T")},
     fn(lambda x: x.flip(-1).cumsum(-1).flip(-1) - x), BT5)
case("CumSum", "{type: CumSum, axis: 1, exclusive: true}", {"ids": ("B", "T")},
     fn(lambda x: torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1).cumsum(1)), BT5, dtypes={"ids": "int32"})
case("Compare", "{type: Compare, op: ne, value: 1}", {"ids": ("B", "T")}, fn(lambda x: x != 1), BT5,
     dtypes={"ids": "int64"}, high=3)
case("Compare", "{type: Compare, op: ge, value: 0.25}", {"inp": ("B", 4, 3)}, fn(lambda x: x >= 0.25))
case("Compare", "{type: Compare, op: lt, from: [a, b]}", {"a": ("B", 4), "b": ("B", 1)}, fn(lambda a, b: a < b))
case("Compare", "{type: Compare, op: eq, value: 2.5}", {"ids": ("B", 6)}, fn(lambda x: x == 2.5),
     dtypes={"ids": "int32"})
case("Compare", "{type: Compare, op: le, from: [a, b]}", {"a": ("B", 3), "b": (3,)}, fn(lambda a, b: a <= b),
     dtypes={"a": "int64", "b": "int32"}, high=3)
case("Pick", "{type: Pick, from: [x, idx]}", {"x": ("B", "T", 6), "idx": ("B",)},
     fn(lambda x, i: x[torch.arange(x.shape[0]), i]), BT5, dtypes={"idx": "int64"}, high=5)
case("Pick", "{type: Pick, dim: 2, from: [x, idx]}", {"x": ("B", 3, 6), "idx": ("B", 3)},
     fn(lambda x, i: torch.gather(x, 2, i.long()[..., None]).squeeze(2)), dtypes={"idx": "int32"}, high=6)
# HF's sequence-classification heads: each row's last non-padding token, where the count of real
# tokens (padding id 0) reaches its end; CLIP's end-of-text pooling: the position of the largest id
case("Pick", "{type: Pick, from: [x, last]}", {"x": ("B", "T", 4), "ids": ("B", "T")},
     fn(lambda x, ids: x[torch.arange(x.shape[0]), (ids != 0).cumsum(1).argmax(1)]), BT5, dtypes={"ids": "int64"},
     high=3, before=("{type: Compare, from: ids, op: ne, value: 0}", "{type: CumSum, dim: 1}",
                     "{type: ArgMax, dim: 1, name: last}"))
case("Pick", "{type: Pick, from: [x, eot]}", {"x": ("B", "T", 4), "text": ("B", "T")},
     fn(lambda x, text: x[torch.arange(x.shape[0]), text.argmax(-1)]), BT5, dtypes={"text": "int64"}, high=50,
     before=("{type: ArgMax, from: text, dim: -1, name: eot}",))
# GPT-2's causal scores hidden before the Softmax, ESIM's max over the real words, ids whose padding is
# renumbered; a (B, T) key-padding mask made (B, 1, T) to broadcast over the queries
case("MaskedFill", "{type: MaskedFill, from: [x, hide], value: -.inf}", {"x": ("B", "T", 6), "hide": ("B", "T", 6)},
     fn(lambda x, m: x.masked_fill(m, float("-inf"))), BT5, dtypes={"hide": "bool"})
case("MaskedFill", "{type: MaskedFill, from: [x, pad1], value: -10000.0}", {"x": ("B", "T", 4), "pad": ("B", "T")},
     fn(lambda x, m: x.masked_fill(m.unsqueeze(-1), -10000.0)), BT5, dtypes={"pad": "bool"},
     before=("{type: Unsqueeze, from: pad, dim: -1, name: pad1}",))
case("MaskedFill", "{type: MaskedFill, from: [ids, keep], value: 0}", {"ids": ("B", 6), "keep": (6,)},
     fn(lambda x, m: x.masked_fill(m, 0)), dtypes={"ids": "int64", "keep": "bool"}, high=9)
case("MaskedFill", "{type: MaskedFill, from: [x, m], value: -.inf}", {"x": ("B", 3, 5), "m": ("B", 1, 5)},
     fn(lambda x, m: x.masked_fill(m, float("-inf"))), dtypes={"x": "float16", "m": "bool"})
# nanoGPT's attention by hand: the scores' keys after each query filled with -inf before the Softmax,
# the mask made from the scores' own lengths; a sliding window beside it; the mask alone (no batch)
case("MaskedFill", "{type: MaskedFill, from: [x, later], value: -.inf}", {"x": ("B", 2, "T", "T")},
     fn(lambda x: x.masked_fill(torch.ones(x.shape[-2], x.shape[-1], dtype=torch.bool).triu(1), float("-inf"))), BT5,
     before=("{type: CausalMask, from: x, name: later}",))
case("MaskedFill", "{type: MaskedFill, from: [x, hidden], value: -1.0e4}", {"x": ("B", 3, "T", "T")},
     fn(lambda x: x.masked_fill(torch.ones(x.shape[-2], x.shape[-1], dtype=torch.bool).triu(0)
                                | torch.ones(x.shape[-2], x.shape[-1], dtype=torch.bool).tril(-2), -1.0e4)), BT5,
     before=("{type: CausalMask, from: x, diagonal: 0, window: 2, name: hidden}",))
case("CausalMask", "{type: CausalMask, dims: [1, 1], window: 3}", {"inp": ("B", "T", 4)},
     fn(lambda x: torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        | torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril(-3)), ({"B": 2, "T": 5}, {"B": 1, "T": 7}))
case("CausalMask", "{type: CausalMask, dims: [1, 2], diagonal: 2}", {"inp": ("B", "T", "S")},
     fn(lambda x: torch.ones(x.shape[1], x.shape[2], dtype=torch.bool).triu(2)), ({"B": 2, "T": 3, "S": 5},
                                                                                    {"B": 1, "T": 6, "S": 4}))
# a constant operand (value:): RoBERTa's padding id added to a count, a float scale of integer counts
case("Add", "{type: Add, value: 1}", {"ids": ("B", "T")}, fn(lambda x: x + 1), BT5, dtypes={"ids": "int64"})
case("Add", "{type: Add, value: 0.5}", {"ids": ("B", 3)}, fn(lambda x: x + 0.5), dtypes={"ids": "int32"})
case("Sub", "{type: Sub, value: -2.5}", {"inp": ("B", 4)}, fn(lambda x: x - -2.5))
case("Mul", "{type: Mul, value: 3}", {"inp": ("B", 2, 3)}, fn(lambda x: x * 3), dtypes={"inp": "float16"})
case("Div", "{type: Div, value: 4}", {"ids": ("B", 5)}, fn(lambda x: torch.div(x, 4)), dtypes={"ids": "int64"})

# -- relative positions: T5's buckets, Swin's and BEiT's window index, into a per-head attention bias ----------------


def t5_relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool = True, num_buckets: int = 32,
                                max_distance: int = 128) -> torch.Tensor:
    """HF transformers' T5Attention._relative_position_bucket (models/t5/modeling_t5.py), as written there."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)).to(torch.long)
    relative_position_if_large = torch.min(relative_position_if_large,
                                           torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def t5_buckets(q_len: int, k_len: int, **kw: Any) -> torch.Tensor:
    """HF's T5Attention.compute_bias up to the embedding: the bucket of memory - context."""
    context_position = torch.arange(q_len, dtype=torch.long)[:, None]
    memory_position = torch.arange(k_len, dtype=torch.long)[None, :]
    return t5_relative_position_bucket(memory_position - context_position, **kw)


def timm_relative_position_index(win_h: int, win_w: int, class_token: bool = False) -> torch.Tensor:
    """timm's get_relative_position_index (swin_transformer.py), and with a class token
    gen_relative_position_index (beit.py), as written there."""
    coords = torch.stack(torch.meshgrid(torch.arange(win_h), torch.arange(win_w), indexing="ij"))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    relative_coords = relative_coords.permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += win_h - 1
    relative_coords[:, :, 1] += win_w - 1
    relative_coords[:, :, 0] *= 2 * win_w - 1
    if not class_token:
        return relative_coords.sum(-1)
    num_relative_distance = (2 * win_h - 1) * (2 * win_w - 1) + 3
    index = torch.zeros(size=(win_h * win_w + 1,) * 2, dtype=relative_coords.dtype)
    index[1:, 1:] = relative_coords.sum(-1)
    index[0, 0:] = num_relative_distance - 3
    index[0:, 0] = num_relative_distance - 2
    index[0, 0] = num_relative_distance - 1
    return index


def levit_bias_idxs(resolution: int) -> torch.Tensor:
    """timm levit.py Attention's attention_bias_idxs, as written there (a square map)."""
    pos = torch.stack(torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")).flatten(1)
    rel_pos = (pos[..., :, None] - pos[..., None, :]).abs()
    return (rel_pos[0] * resolution) + rel_pos[1]


class WindowIndex(nn.Module):
    def __init__(self, win_h: int, win_w: int, class_token: bool = False, absolute: bool = False) -> None:
        super().__init__()
        index = levit_bias_idxs(win_h) if absolute else timm_relative_position_index(win_h, win_w, class_token)
        self.register_buffer("relative_position_index", index, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relative_position_index


# lengths past max_distance (140 > 128: the last buckets), and the keys' own length for cross-attention
BT_LONG = ({"B": 2, "T": 7}, {"B": 1, "T": 140})
case("RelativePositionBucket", "{type: RelativePositionBucket}", {"x": ("B", "T", 4)},
     fn(lambda x: t5_buckets(x.size(1), x.size(1))), BT_LONG)
case("RelativePositionBucket", "{type: RelativePositionBucket, from: [q, k], bidirectional: false, num_buckets: 16, "
     "max_distance: 20}", {"q": ("B", "T", 4), "k": ("B", "S", 3)},
     fn(lambda q, k: t5_buckets(q.size(1), k.size(1), bidirectional=False, num_buckets=16, max_distance=20)),
     ({"B": 2, "T": 5, "S": 9}, {"B": 1, "T": 33, "S": 30}))
case("RelativePositionIndex", "{type: RelativePositionIndex, window: 4}", {"windows": ("B", 16, 8)},
     lambda: WindowIndex(4, 4))
case("RelativePositionIndex", "{type: RelativePositionIndex, window_size: [2, 3], class_token: true}",
     {"windows": ("B", 7, 8)}, lambda: WindowIndex(2, 3, class_token=True))
case("RelativePositionIndex", "{type: RelativePositionIndex, window: 4, absolute: true}", {"windows": ("B", 16, 8)},
     lambda: WindowIndex(4, 4, absolute=True))
def ultralytics_make_anchors(feats: list[torch.Tensor], strides: list[int], offset: float = 0.5
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """ultralytics utils/tal.py make_anchors as written there, transposed as Detect._inference reads it."""
    anchor_points, stride_tensor = [], []
    dtype, device = feats[0].dtype, feats[0].device
    for i, stride in enumerate(strides):
        h, w = feats[i].shape[2:]
        sx = torch.arange(end=w, device=device, dtype=dtype) + offset  # shift x
        sy = torch.arange(end=h, device=device, dtype=dtype) + offset  # shift y
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_tensor.append(torch.full((h * w, 1), stride, dtype=dtype, device=device))
    return torch.cat(anchor_points).transpose(0, 1), torch.cat(stride_tensor).transpose(0, 1)


case("AnchorPoints", "{type: AnchorPoints, from: [p3, p4, p5], strides: [8, 16, 32]}",
     {"p3": ("B", 2, "H", "W"), "p4": ("B", 3, 4, 5), "p5": ("B", 2, 2, 3)},
     fn(lambda *fs: ultralytics_make_anchors(list(fs), [8, 16, 32])), BHW)
case("AnchorPoints", "{type: AnchorPoints, strides: [4], offset: 0.0}", {"inp": ("B", 3, "H", "W")},
     fn(lambda f: ultralytics_make_anchors([f], [4], 0.0)), BHW)
# the (heads, T, S) bias they make, one for every sample, as the attention mask
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, bias: false, scale: 1.0, from: [inp, bias], "
     "masks: [attn]}", {"inp": ("B", "T", 8), "bias": (4, "T", "T")},
     lambda: _with(nn.MultiheadAttention(8, 4, bias=False, batch_first=True),
                   lambda m, x, b: _attention_scaled(m, x, x, 1.0, b)), BT5)
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 2, from: [inp, pad, bias], "
     "masks: [key_padding, attn]}",
     {"inp": ("B", "T", 8), "pad": ("B", "T"), "bias": (2, "T", "T")},
     lambda: _with(nn.MultiheadAttention(8, 2, batch_first=True),
                   lambda m, x, p, b: m(x, x, x, key_padding_mask=torch.zeros_like(p, dtype=b.dtype).masked_fill(
                       p, float("-inf")), attn_mask=b.repeat(x.size(0), 1, 1), need_weights=False)[0]), BT5,
     dtypes={"pad": "bool"})



def bloom_alibi_slopes(num_heads: int) -> torch.Tensor:
    """The slopes of HF transformers' build_alibi_tensor (models/bloom/modeling_bloom.py), as written there."""
    closest_power_of_2 = 2 ** math.floor(math.log2(num_heads))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest_power_of_2) - 3))), dtype=torch.float32)
    powers = torch.arange(1, 1 + closest_power_of_2, dtype=torch.int32)
    slopes = torch.pow(base, powers)
    if closest_power_of_2 != num_heads:
        extra_base = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest_power_of_2) - 3))), dtype=torch.float32)
        num_remaining_heads = min(closest_power_of_2, num_heads - closest_power_of_2)
        extra_powers = torch.arange(1, 1 + 2 * num_remaining_heads, 2, dtype=torch.int32)
        slopes = torch.cat([slopes, torch.pow(extra_base, extra_powers)], dim=0)
    return slopes


def mpt_alibi_bias(n_heads: int, seq_len: int, full: bool = False, alibi_bias_max: int = 8) -> torch.Tensor:
    """llm-foundry's build_alibi_bias and gen_slopes (MPT), as written there: (1, heads, 1 or T, T)."""
    alibi_bias = torch.arange(1 - seq_len, 1, dtype=torch.int32).view(1, 1, 1, seq_len)
    if full:
        alibi_bias = alibi_bias - torch.arange(1 - seq_len, 1, dtype=torch.int32).view(1, 1, seq_len, 1)
        alibi_bias = alibi_bias.abs().mul(-1)
    _n_heads = 2 ** math.ceil(math.log2(n_heads))
    m = torch.arange(1, _n_heads + 1, dtype=torch.float32).mul(alibi_bias_max / _n_heads)
    slopes = 1.0 / torch.pow(2, m)
    if _n_heads != n_heads:
        slopes = torch.concat([slopes[1::2], slopes[::2]])[:n_heads]
    return alibi_bias * slopes.view(1, n_heads, 1, 1)


def _offsets(q_len: int, k_len: int) -> torch.Tensor:
    return torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]


# BLOOM's 12 heads (not a power of 2: the odd-numbered slopes of 16 follow), MPT's symmetric bias
case("ALiBi", "{type: ALiBi, num_heads: 12}", {"x": ("B", "T", 4)},
     fn(lambda x: bloom_alibi_slopes(12)[:, None, None] * _offsets(x.size(1), x.size(1))), BT5)
case("ALiBi", "{type: ALiBi, heads: 6, symmetric: true, alibi_bias_max: 4}", {"x": ("B", "T", 4)},
     fn(lambda x: mpt_alibi_bias(6, x.size(1), full=True, alibi_bias_max=4)[0]), BT5)
case("ALiBi", "{type: ALiBi, num_heads: 4, from: [q, k]}", {"q": ("B", "T", 4), "k": ("B", "S", 4)},
     fn(lambda q, k: bloom_alibi_slopes(4)[:, None, None] * _offsets(q.size(1), k.size(1))), BTS)
# a causal decoder's attention with the bias: BLOOM adds slope·key (a constant per row away from
# slope·(key - query)), and the causal mask; the softmax, and the output, are the same
case("MultiheadAttention", "{type: MultiheadAttention, num_heads: 4, causal: true, from: [inp, alibi], masks: [attn]}",
     {"inp": ("B", "T", 8)},
     lambda: _with(nn.MultiheadAttention(8, 4, batch_first=True),
                   lambda m, x: m(x, x, x, attn_mask=(bloom_alibi_slopes(4)[:, None, None] * torch.arange(x.size(1))
                                                      ).expand(4, x.size(1), x.size(1)).repeat(x.size(0), 1, 1)
                                  + _causal(x.size(1)), need_weights=False)[0]), BT5,
     before=("{type: ALiBi, num_heads: 4, name: alibi}",))

# -- diffusion models: timestep embeddings and adaptive modulation ------------------------------------------------


def diffusers_timestep_embedding(timesteps: torch.Tensor, embedding_dim: int, flip_sin_to_cos: bool = False,
                                 downscale_freq_shift: float = 1, scale: float = 1,
                                 max_period: int = 10000) -> torch.Tensor:
    """diffusers' get_timestep_embedding (diffusers/models/embeddings.py, 0.42), as written there."""
    assert len(timesteps.shape) == 1, "Timesteps should be a 1d-array"
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half_dim, dtype=torch.float32,
                                                    device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


def dit_timestep_embedding(t: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
    """DiT's TimestepEmbedder.timestep_embedding (facebookresearch/DiT models.py), as written there."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half).to(
        device=t.device)
    args = t[:, None].float() * freqs[None]
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
    return embedding


B4 = ({"B": 2}, {"B": 5})
case("SinusoidalEmbedding", "{type: SinusoidalEmbedding, dim: 16}", {"t": ("B",)},
     fn(lambda t: diffusers_timestep_embedding(t, 16)), B4, dtypes={"t": "int64"}, high=1000)
case("SinusoidalEmbedding", "{type: SinusoidalEmbedding, dim: 9, flip_sin_to_cos: true, downscale_freq_shift: 0}",
     {"t": ("B",)}, fn(lambda t: dit_timestep_embedding(t, 9)), B4, dtypes={"t": "int32"}, high=1000)
case("SinusoidalEmbedding", "{type: SinusoidalEmbedding, dim: 12, max_period: 500, scale: 1000.0, "
     "downscale_freq_shift: 0.5}", {"sigma": ("B",)},
     fn(lambda t: diffusers_timestep_embedding(t, 12, downscale_freq_shift=0.5, scale=1000.0, max_period=500)), B4)
# DiT's modulate on a (B, N, D) sequence, and a ResnetBlock2D's scale-shift on a (B, C, H, W) map
case("Modulate", "{type: Modulate, from: [x, shift, scale]}", {"x": ("B", "T", 6), "shift": ("B", 6),
     "scale": ("B", 6)}, fn(lambda x, shift, scale: x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)), BT5)
case("Modulate", "{type: Modulate, dim: 1, from: [x, shift, scale]}", {"x": ("B", 4, "H", "W"), "shift": ("B", 4),
     "scale": ("B", 4)}, fn(lambda x, shift, scale: x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]),
     BHW)
# a half-precision sequence modulated by float32 vectors: PyTorch computes the product in float32
case("Modulate", "{type: Modulate, dim: 1, from: [x, shift, scale]}", {"x": ("B", 3, "T"), "shift": ("B", 3),
     "scale": ("B", 3)}, fn(lambda x, shift, scale: x * (1 + scale[:, :, None]) + shift[:, :, None]), BT5,
     dtypes={"x": "float16"})
