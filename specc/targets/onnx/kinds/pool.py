"""ONNX lowering of MaxPool, with the indices MaxUnpool reads, and of MaxUnpool.

ONNX's MaxPool numbers its indices over the whole tensor, ((n·C + c)·H + h)·W + w, where
PyTorch numbers them within each plane, h·W + w (what specc's shape rule and the PyTorch
target's state speak of): they are taken modulo the plane's size.  MaxUnpool is written as
PyTorch computes it, a scatter of each plane's values to their indices within a plane of the
output's size (ScatterElements into zeros), rather than as ONNX's MaxUnpool, which reads
whole-tensor indices again and sizes its output by its own rule."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from ....shapes.dims import product
from ..builder import attr_ints
from .base import Layer, lowers


@lowers("MaxPool1d", "MaxPool2d", "MaxPool3d")
def max_pool(layer: Layer) -> str | list[str]:
    a, r = layer.args, layer.in_type.rank - 2
    k = attr_ints(a["kernel_size"], r)
    pads = attr_ints(a["padding"], r)
    attrs = {"kernel_shape": k, "strides": attr_ints(a["stride"] if a["stride"] is not None else k, r),
             "pads": pads + pads, "dilations": attr_ints(a["dilation"], r), "ceil_mode": int(a["ceil_mode"])}
    if not a.get("return_indices"):
        return layer.op("MaxPool", [layer.x], **attrs)
    values, flat = layer.op("MaxPool", [layer.x], outputs=2, **attrs)
    return [values, layer.op("Mod", [flat, layer.size(product(layer.in_type.shape[2:]))])]


@lowers("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d")
def max_unpool(layer: Layer) -> str:
    values, indices = layer.inputs[:2]
    n, c, *size = layer.out.shape
    planes = layer.shape([n, c, -1])
    zeros = layer.op("ConstantOfShape", [layer.shape([n, c, product(size)])],
                     value=numpy_helper.from_array(np.zeros(1, dtype=layer.float_dtype)))
    scattered = layer.op("ScatterElements", [zeros, layer.op("Reshape", [indices, planes]),
                                             layer.op("Reshape", [values, planes])], axis=2)
    return layer.op("Reshape", [scattered, layer.shape(layer.out.shape)])
