"""The names the graph gives the layers a spec leaves unnamed.

The rules for names a spec writes itself live in :mod:`specc.validate.naming`.
"""

from __future__ import annotations

import re


def auto_name(type_name: str, n: int) -> str:
    """``conv2d_1``, ``relu_2``: the names PyTorch users give by hand."""
    return re.sub(r"[^a-z0-9_]", "_", type_name.lower()) + f"_{n}"
