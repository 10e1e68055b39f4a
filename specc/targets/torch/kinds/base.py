"""How a layer kind is written as PyTorch: the base of every lowering, and their registry.

A lowering is a class named like the kind it lowers (``class Conv2d(Lowering)`` lowers the
kind whose ``type_name`` is ``Conv2d``) and reads only the kind's resolved attributes
(``LayerResult.args``).  It says which constructor builds the layer's module in ``__init__``
(``torch_class``, ``positional``, ``defaults``), the expression that computes its value in
``forward``, and which helper modules of ``specc/targets/torch/support/`` the generated file
needs.  Nothing here imports torch: it writes source text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from .. import support

Lit = Callable[[Any], str]


class Lowering:
    torch_class: ClassVar[str | None] = None  # "nn.Conv2d"; None for an operation written inline
    positional: ClassVar[tuple[str, ...]] = ()  # leading args written without their name
    defaults: ClassVar[dict[str, Any]] = {}  # args left out of the source when equal to these
    # Attributes that set how forward calls the module, not constructor arguments (an RNN's output).
    forward_keys: ClassVar[tuple[str, ...]] = ()
    # Helper modules of targets/torch/support/ the generated file needs (e.g. a ConvLSTM2d that
    # PyTorch lacks); written once per generated file, trusted, still AST-gated.
    support: ClassVar[tuple[str, ...]] = ()
    # Helper modules only some configurations need; ``support_texts`` says when.
    support_when: ClassVar[tuple[str, ...]] = ()

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """Constructor expression for ``__init__``; ``lit`` quotes values into source."""
        if self.torch_class is None:
            return None
        parts: list[str] = []
        ctor = [(k, v) for k, v in args.items() if k not in self.forward_keys and k not in REPARAM_DEFAULTS]
        for i, (k, v) in enumerate(ctor):
            if k in self.defaults and self.defaults[k] == v and type(self.defaults[k]) is type(v):
                continue
            if i < len(self.positional) and self.positional[i] == k:
                parts.append(lit(v))
            else:
                parts.append(f"{k}={lit(v)}")
        return reparametrized(f"{self.torch_class}({', '.join(parts)})", args, lit)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        """Expression computing the output in ``forward`` (``module`` is ``self.<name>``)."""
        return f"{module}({', '.join(inputs)})"

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        """Source of the helpers one layer needs: its kind's, plus a wrapped layer's
        (TimeDistributed). Several kinds may share one (RNN/LSTM/GRU); the emitter writes each once."""
        return [support.text(name) for name in self.support]


# torch.nn.utils.parametrizations' functions wrapping a module, and their arguments' defaults
# (spectral_norm's dim defaults to a transposed conv's output channels, dim 1: see reparametrized)
REPARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "weight_norm": {"dim": 0},
    "spectral_norm": {"n_power_iterations": 1, "eps": 1e-12, "dim": 0},
}


def reparametrized(ctor: str, args: dict[str, Any], lit: Lit = repr) -> str:
    """``ctor`` wrapped as PyTorch's documentation writes a normalised weight:
    ``nn.utils.parametrizations.spectral_norm(nn.Conv2d(...))`` (by its full name, which imports
    nothing and takes no name a layer or input might have)."""
    for fn, defaults in REPARAM_DEFAULTS.items():
        if fn in args:
            if fn == "spectral_norm" and ctor.startswith("nn.ConvTranspose"):
                defaults = defaults | {"dim": 1}
            given = [f"{k}={lit(v)}" for k, v in args[fn].items() if k not in defaults or defaults[k] != v]
            ctor = f"nn.utils.parametrizations.{fn}({', '.join([ctor, *given])})"
    return ctor


LOWERINGS: dict[str, Lowering] = {}


def lowering(cls: type[Lowering]) -> type[Lowering]:
    """Register ``cls`` as the lowering of the layer kind named like the class."""
    if cls.__name__ in LOWERINGS:
        raise ValueError(f"lowering of {cls.__name__} registered twice")
    LOWERINGS[cls.__name__] = cls()
    return cls


def on(x: str) -> str:
    """An input expression safe to call a method on (``a + b`` becomes ``(a + b)``; a name and one
    output of a Split, ``parts[1]``, stay as they are)."""
    return x if re.fullmatch(r"[^\W\d]\w*(\[\d+\])?", x) else f"({x})"
