"""ultralytics' make_anchors (utils/tal.py), transposed as its Detect head reads the anchors: the
(x, y) of every cell of every map and each map's stride; PyTorch has none.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch

# -- written into generated modules: everything below this line --


def make_anchors(
    feats: list[torch.Tensor], strides: list[int], offset: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """(2, A) cell centres (x, y) in cells, each map's cells row by row, and (1, A) strides."""
    anchor_points, stride_tensor = [], []
    dtype = feats[0].dtype if feats[0].is_floating_point() else torch.float32
    device = feats[0].device
    for feat, stride in zip(feats, strides):
        h, w = feat.shape[2:]
        sx = torch.arange(w, device=device, dtype=dtype) + offset
        sy = torch.arange(h, device=device, dtype=dtype) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_tensor.append(torch.full((h * w, 1), stride, dtype=dtype, device=device))
    points, strides_ = torch.cat(anchor_points), torch.cat(stride_tensor)
    return points.transpose(0, 1), strides_.transpose(0, 1)
