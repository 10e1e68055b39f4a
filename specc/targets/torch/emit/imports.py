"""Imports as data: which module provides each name generated code may read.

The plan collects the names its code reads (parsed, not searched for in text) and the
module imports exactly their providers.  Code written in the templates themselves
declares its names here, and tests/test_emit_imports.py holds the declarations to the
templates' text.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable

from .gate import GateError

# name -> (group, statement); groups are printed in order with a blank line between them
# (isort's sections: standard library, then third party), statements in this order.
PROVIDERS: dict[str, tuple[int, str]] = {
    "math": (0, "import math"),
    "torch": (1, "import torch"),
    "nn": (1, "from torch import nn"),
    "F": (1, "from torch.nn import functional as F"),
}

# Names read by module.py.j2's own text: every class is an nn.Module taking torch.Tensor.
SKELETON = frozenset({"torch", "nn"})
# Names read by each piece of templates/training_support.py.j2.
TRAINING_SUPPORT: dict[str, frozenset[str]] = {
    "ClassesAt": frozenset({"torch", "nn"}),
    "FromLogits": frozenset({"torch", "nn", "F"}),
    "MultiLoss": frozenset({"torch", "nn"}),
    "FocalLoss": frozenset({"torch", "nn", "F"}),
    "LoRA": frozenset({"torch", "nn", "math"}),
    "freeze_norm_stats": frozenset({"nn"}),
    "param_groups": frozenset({"nn"}),
}


@functools.lru_cache(maxsize=4096)
def names_in(code: str) -> frozenset[str]:
    """The provided names that a piece of generated code (an expression, statements, a
    class) reads."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise GateError(f"generated code does not parse ({exc.msg}): {code[:80]!r}") from None
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in PROVIDERS)


def import_groups(names: Iterable[str]) -> list[list[str]]:
    """The import statements providing ``names``, grouped and ordered."""
    wanted = set(names)
    groups: dict[int, list[str]] = {}
    for name, (group, statement) in PROVIDERS.items():
        if name in wanted:
            groups.setdefault(group, []).append(statement)
    return [groups[g] for g in sorted(groups)]
