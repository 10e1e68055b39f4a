"""Element-wise activations: shape in = shape out, no parameters (PReLU aside)."""

from typing import Any

from pydantic import Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, NoParams, axis, check_given, register, static


class InplaceParams(LayerParams):
    inplace: bool = False


class LeakyReLUParams(LayerParams):
    negative_slope: float = 0.01
    inplace: bool = False


class ELUParams(LayerParams):
    alpha: float = 1.0
    inplace: bool = False


class GELUParams(LayerParams):
    approximate: str = Field("none", pattern="^(none|tanh)$")


class SoftplusParams(LayerParams):
    beta: PositiveFloat = 1.0
    threshold: PositiveFloat = 20.0


class SoftmaxParams(LayerParams):
    dim: int = -1


class HardtanhParams(LayerParams):
    min_val: float = -1.0
    max_val: float = 1.0
    inplace: bool = False


class PReLUParams(LayerParams):
    num_parameters: PositiveInt = 1
    init: float = 0.25


class _Elementwise(LayerKind):
    """Shape in = shape out, applied element by element."""

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        _check_arguments(self.type_name, p)
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), p.model_dump(), 0, 0)


def _check_arguments(kind: str, p: Any) -> None:
    """Preconditions PyTorch enforces only when the module is built or trained."""
    if isinstance(p, HardtanhParams) and p.min_val >= p.max_val:
        low, high = min(p.min_val, p.max_val), max(p.min_val, p.max_val)
        raise SpecError("V003", f"max_val {p.max_val} must be greater than min_val {p.min_val}",
                        f"e.g. min_val: {low}, max_val: {high if high > low else low + 1}", field="max_val")
    if kind == "CELU" and p.alpha == 0:
        raise SpecError("V003", "alpha cannot be 0 for CELU (it divides by alpha)",
                        "use a positive alpha such as 1.0", field="alpha")
    slope = getattr(p, "alpha", None) if kind in ("ELU", "CELU") else getattr(p, "negative_slope", None)
    if getattr(p, "inplace", False) and slope is not None and slope < 0:
        raise SpecError("V003", f"inplace: true with a negative {'alpha' if kind != 'LeakyReLU' else 'negative_slope'} "
                        f"cannot be trained: PyTorch refuses the in-place backward pass",
                        "set inplace: false", field="inplace")


@register
class ReLU(_Elementwise):
    type_name, Params, summary = "ReLU", InplaceParams, "max(0, x)"
    grad_reads_output = True


@register
class ReLU6(_Elementwise):
    type_name, Params, summary = "ReLU6", InplaceParams, "min(max(0, x), 6)"


@register
class LeakyReLU(_Elementwise):
    type_name, Params, summary = "LeakyReLU", LeakyReLUParams, "x if x > 0 else negative_slope·x"
    grad_reads_output_inplace = True


@register
class ELU(_Elementwise):
    type_name, Params, summary = "ELU", ELUParams, "exponential linear unit"
    grad_reads_output_inplace = True


@register
class SELU(_Elementwise):
    type_name, Params, summary = "SELU", InplaceParams, "scaled ELU (self-normalising)"
    grad_reads_output_inplace = True


@register
class CELU(_Elementwise):
    type_name, Params, summary = "CELU", ELUParams, "continuously differentiable ELU"
    grad_reads_output_inplace = True


@register
class GELU(_Elementwise):
    type_name, Params, summary = "GELU", GELUParams, "Gaussian error linear unit"


@register
class SiLU(_Elementwise):
    type_name, Params, summary = "SiLU", InplaceParams, "x·sigmoid(x) (Swish)"


@register
class Mish(_Elementwise):
    type_name, Params, summary = "Mish", InplaceParams, "x·tanh(softplus(x))"


@register
class Sigmoid(_Elementwise):
    type_name, Params, summary = "Sigmoid", NoParams, "1 / (1 + e^-x)"
    grad_reads_output = True


@register
class Tanh(_Elementwise):
    type_name, Params, summary = "Tanh", NoParams, "hyperbolic tangent"
    grad_reads_output = True


@register
class Softplus(_Elementwise):
    type_name, Params, summary = "Softplus", SoftplusParams, "log(1 + e^(βx)) / β"


@register
class Softsign(_Elementwise):
    type_name, Params, summary = "Softsign", NoParams, "x / (1 + |x|)"


@register
class Hardtanh(_Elementwise):
    type_name, Params, summary = "Hardtanh", HardtanhParams, "clamp(x, min_val, max_val)"


@register
class Hardswish(_Elementwise):
    type_name, Params, summary = "Hardswish", InplaceParams, "x·relu6(x + 3)/6 (MobileNetV3)"


@register
class Hardsigmoid(_Elementwise):
    type_name, Params, summary = "Hardsigmoid", InplaceParams, "relu6(x + 3)/6"


class _SoftmaxBase(_Elementwise):
    Params = SoftmaxParams
    grad_reads_output = True

    def infer(self, p: SoftmaxParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        axis(p.dim, x.rank)
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"dim": p.dim}, 0, 0)


@register
class Softmax(_SoftmaxBase):
    type_name, summary = "Softmax", "exp(x)/Σexp(x) along dim"


@register
class LogSoftmax(_SoftmaxBase):
    type_name, summary = "LogSoftmax", "log of Softmax along dim"


@register
class Sparsemax(_SoftmaxBase):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection of x onto the probability
    simplex along dim, max(x - tau, 0) with tau the threshold that makes the row sum to 1: a softmax
    whose small entries are exactly 0 (TabNet's attentive transformer, sparse attention). The
    threshold comes from the row sorted in descending order z_(1) >= z_(2) >= ...: k(z) is the largest
    k with 1 + k·z_(k) > z_(1) + ... + z_(k), and tau = (z_(1) + ... + z_(k(z)) - 1) / k(z)."""

    type_name, summary = "Sparsemax", "max(x - tau, 0) along dim: the projection onto the simplex (TabNet's mask)"


class GLUParams(LayerParams):
    dim: int = -1


@register
class GLU(LayerKind):
    """Gated linear unit (Dauphin et al. 2017): the input's halves a and b along dim give
    a·sigmoid(b), half as wide (gated CNNs, Conformer's convolution module)."""

    type_name, Params = "GLU", GLUParams
    summary = "halves a, b along dim (default the last): a·sigmoid(b), half as wide (gated CNNs, Conformer)"

    def infer(self, p: GLUParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank)
        size = static(x.shape[d], f"the size of dim {p.dim} that GLU halves", "dim")
        if size % 2:
            raise SpecError("S004", f"GLU halves dim {p.dim} of {x}, whose size {size} is odd",
                            f"give the layer before it an even width ({size - 1} or {size + 1}), so that a "
                            "and b are equal halves", field="dim")
        shape = (*x.shape[:d], size // 2, *x.shape[d + 1:])
        return LayerResult(TensorType(shape, x.dtype), {"dim": p.dim}, 0, 0)


@register
class PReLU(_Elementwise):
    type_name, Params = "PReLU", PReLUParams
    summary = "LeakyReLU with a learned slope (one, or one per channel)"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"weight": (int(args["num_parameters"]),)}

    def infer(self, p: PReLUParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if p.num_parameters > 1:
            check_given(p.num_parameters, x.shape[1] if x.rank > 1 else 1, "num_parameters", x, 1, "channels")
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), p.model_dump(), p.num_parameters, 0)


@register
class Abs(LayerKind):
    type_name, Params = "Abs", NoParams
    summary = "|x|, element by element, of floats or integers"
    accepts = "any"
    form = "inline"

    def infer(self, p: NoParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.dtype == "bool":
            raise SpecError("S007", f"receives bool data {x}, but Abs works on numbers",
                            "a bool is already its own absolute value: drop the Abs, or add - {type: Cast, dtype: "
                            "float32} before it")
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {}, 0, 0)


class ScaleParams(LayerParams):
    # sin(w0·x) is SIREN's activation (w0 = 30), exp(0.5·x) a VAE's σ from log σ², sin(2^k·π·x)
    # NeRF's encoding: a scale of its own spares each of them a Linear it would have to freeze.
    scale: float = 1.0


class _Scaled(LayerKind):
    """f(scale·x), element by element, of a float tensor of any rank."""

    Params = ScaleParams
    form = "inline"
    at_zero = ""
    zero_fix = ""  # the V053 hint, where dropping scale is not the fix
    periodic = False  # sin and cos: an argument rounded to half precision moves the result absolutely

    def infer(self, p: ScaleParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if p.scale == 0:
            raise SpecError("V053", f"scale 0 makes {self.type_name} ignore its input: every output is "
                            f"{self.at_zero}",
                            self.zero_fix or f"drop scale to use {self.type_name.lower()}(x), or give the factor x "
                            "is multiplied by, e.g. scale: 30.0", field="scale")
        if x.dtype == "float16" and self.periodic:
            # e^x keeps its relative precision in half; a period does not: sin and cos of an
            # argument rounded to 11 bits are off by up to |scale·x|·2^-11 absolute, and ONNX
            # Runtime computes them from the unrounded argument, so no tolerance verifies the export
            name = self.type_name.lower()
            raise SpecError("S037", f"computes {name} in float16, which rounds its argument to 11 bits: "
                            f"{name}(x) for x near 20 is off by up to 0.01, and an exported model disagrees",
                            "add - {type: Cast, dtype: float32} before it (and - {type: Cast, dtype: "
                            "float16} after it, if what follows runs in half)")
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"scale": p.scale}, 0, 0)


@register
class Sin(_Scaled):
    type_name, summary = "Sin", "sin(scale·x), element by element (SIREN, Fourier features)"
    at_zero = "sin(0)"
    periodic = True


@register
class Cos(_Scaled):
    type_name, summary = "Cos", "cos(scale·x), element by element (NeRF's and diffusion's encodings)"
    at_zero = "cos(0)"
    periodic = True


@register
class Exp(_Scaled):
    type_name, summary = "Exp", "e^(scale·x), element by element (σ = exp(0.5·log σ²))"
    at_zero = "exp(0)"
    grad_reads_output = True


class FactorParams(LayerParams):
    scale: float  # no default: a Scale of 1 is no layer


@register
class Scale(_Scaled):
    # ESRGAN's residual scaling (0.2), EDSR's (0.1), a fixed temperature: a constant factor, which
    # no layer with weights gives without training it away
    type_name, summary = "Scale", "scale·x, element by element: a fixed factor (ESRGAN's residual scaling 0.2)"
    Params = FactorParams
    at_zero = "0"
    zero_fix = "give the factor x is multiplied by, e.g. scale: 0.2 (drop the layer to keep x)"
