"""MACs per sample under the conventions of the tools people compare with, as rules over the
same graph: ``specc`` (each kind's own count), ``torchinfo`` (its "Mult-Adds" column) and
``fvcore`` (``FlopCountAnalysis``, which counts one per multiply-add).

torchinfo counts from a module's parameters, not its arithmetic (``LayerInfo.calculate_macs``):
a parameter named ``weight`` or ``bias`` of a module whose class name has ``Conv`` counts its
elements once per output position (batch · output spatial size), of any other module once per
batch element, whatever the other dims (a Linear on (B, T, F) counts its weights once per
sample, not T times).  Parameter-free modules count 0.  Other parameters (an RNN's
``weight_ih_l0``, attention's ``in_proj_weight``) count once per element of the output's first
two dims; the output of those modules is a tuple, whose size torchinfo reads in ways this rule
does not follow, so those kinds are left out (None).

fvcore traces the model and counts only the operators it has handles for: matrix products
(``linear``, ``addmm``, ``matmul``, ``bmm``, ``einsum``) and convolutions one per multiply-add
(bias adds not counted), ``batch_norm`` at inference 1 per element (2 with affine), ``layer_norm``
and ``group_norm`` 4 per element (5 with affine), ``instance_norm`` likewise, and
``adaptive_avg_pool2d`` 1 per input element.  Everything else (activations, element-wise
arithmetic, dropout, max and average pools, reshapes, ``embedding``) it skips: 0.  Recurrent
layers (``aten::lstm`` has no handle) and attention (which may trace to
``scaled_dot_product_attention``, also without one) depend on the PyTorch version and are left
out (None).
"""

from __future__ import annotations

from ..graph.ir import Graph, Node
from ..shapes.dims import DimLike, add, mul, product, sym
from ..shapes.formulas import exact_div

CONVENTIONS = ("specc", "torchinfo", "fvcore")

# Kinds written as one PyTorch module whose parameters are its ``weight`` and ``bias``.
_CONV = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
         "DepthwiseConv1d", "DepthwiseConv2d"}
_WEIGHTED = {"Linear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
             "InstanceNorm2d", "InstanceNorm3d", "Embedding", "PReLU"}
# Kinds fvcore counts as specc does (the same products and the same per-element norm costs).
_FVCORE_SAME = _CONV | {"Linear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
                        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "AdaptiveAvgPool2d"}
# Kinds that trace to an add or a concatenation only.
_FVCORE_ZERO = {"PositionalEncoding", "ClassToken"}
# Families whose operators fvcore skips (no handle, or on its ignore list).
_SKIPPED_FAMILIES = ("activation", "dropout", "reshape", "merge", "pool", "embedding", "reduce", "index")


def _family(n: Node) -> str:
    return type(n.kind).__module__.rsplit(".", 1)[-1] if n.kind is not None else ""


def layer_macs(n: Node, convention: str, batch: DimLike | None) -> DimLike | None:
    """MACs per sample of one node under ``convention``; None where that tool's count is not
    modelled.  ``batch`` is the graph's batch dim (None: dim 0 of each tensor)."""
    if n.result is None:
        return None
    if n.sub is not None:
        total: DimLike = 0
        for c in n.sub.nodes:
            m = layer_macs(c, convention, batch)
            if m is None:
                return None
            total = add(total, m)
        return total
    if convention == "specc":
        return n.result.macs
    kind = n.kind.type_name if n.kind is not None else n.type
    if convention == "fvcore":
        if kind in _FVCORE_SAME:
            return n.result.macs
        return 0 if _family(n) in _SKIPPED_FAMILIES or kind in _FVCORE_ZERO else None
    if convention == "torchinfo":
        if not n.result.params:
            return 0
        out = n.out
        if out is None or out.rank == 0 or (kind not in _CONV and kind not in _WEIGHTED):
            return None
        per_row = mul(n.result.params, product(out.shape[2:])) if kind in _CONV else n.result.params
        if batch is None or out.shape[0] == batch:
            return per_row
        return exact_div(mul(out.shape[0], per_row), batch)
    raise ValueError(f"unknown MACs convention {convention!r}; use one of {', '.join(CONVENTIONS)}")


def batch_dim(g: Graph) -> DimLike | None:
    """The graph's batch dim, as the conventions divide by it."""
    return sym(g.batch) if g.batch is not None else None
