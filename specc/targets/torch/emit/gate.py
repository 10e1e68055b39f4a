"""The AST gate: generated source is parsed and walked before it is written or run.

Whatever a spec says, the emitted module may only import the header modules and may not
reach for ``exec``/``eval``/``__import__``/``getattr`` & co. or dunder attributes (other
than ``super().__init__``).  A spec cannot smuggle code into a generated file.
"""

from __future__ import annotations

import ast

from ....validate.naming import UNSAFE_BUILTINS

# `from torch import nn` is an import from "torch"; `from torch.nn import functional` from "torch.nn".
MODULE_IMPORTS = frozenset({"__future__", "math", "torch", "torch.nn", "torch.nn.functional"})
# a --train script hands itself (sys.modules) to specc's training loop
TRAIN_IMPORTS = MODULE_IMPORTS | {"sys", "specc.backends.train"}
FORBIDDEN_NAMES = UNSAFE_BUILTINS
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__future__"})


class GateError(Exception):
    pass


def gate(source: str, allowed_imports: frozenset[str] = MODULE_IMPORTS) -> ast.Module:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GateError(f"generated source does not parse: {exc}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name not in allowed_imports:
                    raise GateError(f"line {node.lineno}: import of {a.name!r} is not allowed")
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module not in allowed_imports:
                raise GateError(f"line {node.lineno}: import from {node.module!r} is not allowed")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise GateError(f"line {node.lineno}: use of {node.id!r} is not allowed")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
            raise GateError(f"line {node.lineno}: access to {node.attr!r} is not allowed")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            raise GateError(f"line {node.lineno}: global/nonlocal is not allowed")
    return tree
