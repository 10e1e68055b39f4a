"""Fine-tuning helpers: start from a checkpoint, merge LoRA adapters, and check that the
installed torch has what the spec asks for.

``load_init`` is what ``specc train --init-from CKPT`` calls: it loads every tensor of a
safetensors checkpoint that fits the model and reports the rest.  A checkpoint of the base
model loads into the same model with LoRA adapters: the base weights, which the adapters
keep under ``parametrizations.<name>.original``, are found under their plain names, and
only the adapter keys (``lora_A``/``lora_B``, which start as the identity update) are
reported missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.nn.utils import parametrize

from ..diagnostics import Diagnostic
from .errors import WeightsError, first_line

if TYPE_CHECKING:
    from ..spec import Spec

ADAPTER_KEYS = (".lora_A", ".lora_B")
_PARAMETRIZED = ".parametrizations."


@dataclass
class InitReport:
    path: str
    loaded: list[str] = field(default_factory=list)  # model keys that got the checkpoint's tensor
    missing: list[str] = field(default_factory=list)  # model keys the checkpoint lacks (kept as initialised)
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys the model has no place for
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # key, ckpt, model

    @property
    def missing_adapters_only(self) -> bool:
        """True when the only keys not loaded are LoRA adapters: a base checkpoint fits."""
        return all(k.endswith(ADAPTER_KEYS) for k in self.missing) and not self.unexpected and not self.mismatched

    def describe(self) -> str:
        lines = [f"--init-from {self.path}: loaded {len(self.loaded)} of the model's tensors"]
        adapters = [k for k in self.missing if k.endswith(ADAPTER_KEYS)]
        other = [k for k in self.missing if not k.endswith(ADAPTER_KEYS)]
        if adapters:
            lines.append(f"  LoRA adapters start fresh ({len(adapters)} tensors): {_some(adapters)}")
        if other:
            lines.append(f"  missing from the checkpoint, kept as initialised: {_some(other)}")
        if self.unexpected:
            lines.append(f"  in the checkpoint but not in the model, ignored: {_some(self.unexpected)}")
        for key, have, want in self.mismatched[:5]:
            lines.append(f"  {key}: the checkpoint has shape {have}, the model needs {want}; not loaded")
        return "\n".join(lines)


def base_key(key: str) -> str:
    """The key a weight has without adapters: ``fc.parametrizations.weight.original`` -> ``fc.weight``."""
    if _PARAMETRIZED in key and key.endswith(".original"):
        owner, _, rest = key.partition(_PARAMETRIZED)
        return f"{owner}.{rest.removesuffix('.original')}"
    if key.startswith("parametrizations.") and key.endswith(".original"):
        return key.removeprefix("parametrizations.").removesuffix(".original")
    return key


def read_checkpoint(path: Path, flag: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; WeightsError, naming the option ``flag``, when it cannot be read."""
    if not path.is_file():
        raise WeightsError(f"{flag}: no such file: {path}")
    try:
        from safetensors.torch import load_file

        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 -- safetensors raises its own error types for bad files
        raise WeightsError(f"{flag}: {path} is not a readable .safetensors file ({first_line(exc)})") from None


def load_init(module: torch.nn.Module, path: str | os.PathLike[str]) -> InitReport:
    """Load what fits of a safetensors checkpoint into ``module``; report the rest.

    Raises WeightsError when the file is missing or not safetensors, or when nothing in it
    fits the model (a checkpoint of another model)."""
    file = Path(path)
    state = read_checkpoint(file, "--init-from")
    own = module.state_dict()
    if not set(state) & set(own) and all(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items()}
    # A model key may be found under its own name or under its name without adapters.
    wanted = {k: k if k in state else base_key(k) for k in own}
    report = InitReport(str(file))
    fitting: dict[str, torch.Tensor] = {}
    for key, source in wanted.items():
        if source not in state:
            report.missing.append(key)
        elif tuple(state[source].shape) != tuple(own[key].shape):
            report.mismatched.append((key, tuple(state[source].shape), tuple(own[key].shape)))
        else:
            fitting[key] = state[source]
    used = {wanted[k] for k in fitting} | {wanted[k] for k, _, _ in report.mismatched}
    report.unexpected = sorted(set(state) - used)
    if not fitting:
        raise WeightsError(f"--init-from: nothing in {file} fits this model (its keys: {_some(sorted(state))}; "
                           f"the model's: {_some(sorted(own))})")
    module.load_state_dict(fitting, strict=False)
    report.loaded = sorted(fitting)
    return report


def merge_lora(module: torch.nn.Module) -> torch.nn.Module:
    """Fold every LoRA adapter into its weight (W + scale · B·A), in place: the module then has
    plain weights and no adapter ops, and computes what it computed with them.  A weight_norm or
    spectral_norm stays: it is the model's own, and folding it outside eval mode would run a
    power iteration."""
    for m in list(module.modules()):
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations.keys()):
                if any(type(p).__name__ == "LoRA" for p in m.parametrizations[name]):
                    parametrize.remove_parametrizations(m, name, leave_parametrized=True)
    return module


def has_lora(module: torch.nn.Module) -> bool:
    return any(parametrize.is_parametrized(m) for m in module.modules())


def torch_support_problems(spec: Spec) -> list[Diagnostic]:
    """Located errors (T055) for what the spec uses that the installed torch lacks."""
    from ..validate.document import MIN_TORCH

    opt = spec.document.optimizer if spec.document is not None else None
    if opt is None or opt.type not in MIN_TORCH or hasattr(torch.optim, opt.type):
        return []
    loc = spec.locations.value("optimizer", "type") if spec.locations.mapping("optimizer") else None
    version = torch.__version__.split("+")[0]
    return [Diagnostic("T055", f"optimizer {opt.type} needs PyTorch {MIN_TORCH[opt.type]} or later, and this is "
                       f"PyTorch {version}", loc,
                       f"pip install 'torch>={MIN_TORCH[opt.type]}', or use another optimizer such as AdamW")]


def _some(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
