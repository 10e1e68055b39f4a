"""The weights of a direct export: read from a checkpoint, or drawn as PyTorch draws them.

Parameter names are the PyTorch target's state-dict names (``layer1.0.conv1.weight``), so a
checkpoint that ``specc train`` wrote, or ``specc.build(...).state_dict()`` saved with
safetensors, fills the ONNX model tensor for tensor.  Without one, each tensor is drawn with
numpy from the seed using the distribution PyTorch's own ``reset_parameters`` uses for it
(``Init``): the same distributions, not the same numbers, since the two generators differ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...layers.init import Drawn, Initializer, resolve


@dataclass(frozen=True)
class Init:
    """How PyTorch initialises a tensor: ``uniform`` in (-bound, bound), ``normal`` with std
    ``bound`` (mean 0), ``xavier`` uniform over fan-in + fan-out, or every element ``value``."""

    how: str
    bound: float = 0.0
    value: float = 0.0

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        # float32 straight from the generator, scaled in place: VGG's 132 M weights in a third of
        # the time a float64 draw and a cast take
        if self.how in ("uniform", "xavier"):
            bound = self.bound if self.how == "uniform" else math.sqrt(6.0 / (shape[0] + shape[1]))
            out = rng.random(shape, dtype=np.float32)
            out *= 2 * bound
            out -= bound
            return out
        if self.how == "normal":
            out = rng.standard_normal(shape, dtype=np.float32)
            out *= self.bound
            return out
        return np.full(shape, self.value, dtype=np.float32)


def fan_in(n: int) -> Init:
    """nn.Linear's and nn.Conv's default: kaiming_uniform(a=sqrt(5)) for the weight and
    U(±1/sqrt(fan_in)) for the bias, the same bound for both."""
    return Init("uniform", 1.0 / math.sqrt(n) if n > 0 else 0.0)


@dataclass(frozen=True)
class Chosen(Init):
    """A tensor the spec's ``init:`` decides (``Drawn``: the distribution torch.nn.init draws for
    it), with ``zero_row`` zeroed after (an Embedding's padding_idx). Constants are exact; the
    others are the same distributions as torch.nn.init's, not the same numbers."""

    drawn: Drawn | None = None
    zero_row: int | None = None

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        d = self.drawn or Drawn("const")
        if d.how == "const":
            out = np.full(shape, d.a, dtype=np.float32)
        elif d.how == "uniform":
            out = rng.random(shape, dtype=np.float32)
            out *= d.b - d.a
            out += d.a
        elif d.how == "normal":
            out = rng.standard_normal(shape, dtype=np.float32)
            out *= d.b
            out += d.a
        elif d.how == "trunc_normal":
            out = _trunc_normal(rng, shape, d.a, d.b, d.lo, d.hi)
        else:
            out = _orthogonal(rng, shape, d.a)
        if self.zero_row is not None:
            out[self.zero_row] = 0.0
        return out


def _trunc_normal(rng: np.random.Generator, shape: tuple[int, ...], mean: float, std: float, a: float,
                  b: float) -> np.ndarray:
    """torch.nn.init.trunc_normal_'s method: a uniform over the normal's CDF between the bounds,
    mapped back through the inverse CDF, then clamped to [a, b]."""
    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    u = rng.uniform(2 * lo - 1, 2 * hi - 1, size=shape)
    out = _erfinv(u) * (std * math.sqrt(2.0)) + mean
    return np.clip(out, a, b).astype(np.float32)


def _erfinv(x: np.ndarray) -> np.ndarray:
    """The inverse error function on (-1, 1): Giles 2012's single-precision polynomials, then one
    Newton step (numpy has no erfinv, and scipy is no dependency)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -1 + 1e-15, 1 - 1e-15)
    w = -np.log((1.0 - x) * (1.0 + x))
    central = w < 5.0
    wc, wt = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    pc = np.full_like(x, 2.81022636e-08)
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        pc = c + pc * wc
    pt = np.full_like(x, -0.000200214257)
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        pt = c + pt * wt
    y = np.where(central, pc, pt) * x
    return y - (_erf(y) - x) / (2.0 / math.sqrt(math.pi) * np.exp(-y * y))


def _erf(y: np.ndarray) -> np.ndarray:
    """erf to about 1e-7 (Abramowitz and Stegun 7.1.26 is 1e-7 absolute), vectorised."""
    s, z = np.sign(y), np.abs(y)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1.0 - poly * np.exp(-z * z))


def _orthogonal(rng: np.random.Generator, shape: tuple[int, ...], gain: float) -> np.ndarray:
    """torch.nn.init.orthogonal_'s method: the Q of a normal matrix's QR, its signs fixed by R's
    diagonal, transposed when the tensor has fewer rows than columns."""
    rows = shape[0]
    cols = math.prod(shape[1:])
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (q.reshape(shape) * gain).astype(np.float32)


def chosen_inits(leaves: Sequence[tuple[str, str, Any, Mapping[str, Initializer]]]) -> dict[str, Init]:
    """State-dict name -> what the spec's ``init:`` draws, for each (module path, type, resolved
    args, chosen initialisers) of the layers that own their parameters."""
    out: dict[str, Init] = {}
    for path, kind_type, weights_args, inits in leaves:
        shapes, args = weights_args
        for param, init in inits.items():
            pad = args.get("padding_idx") if kind_type == "Embedding" and param == "weight" else None
            row = None if pad is None else int(pad) % int(args["num_embeddings"])
            out[f"{path}.{param}"] = Chosen("chosen", drawn=resolve(init, shapes[param]), zero_row=row)
    return out


ZEROS = Init("const", value=0.0)
ONES = Init("const", value=1.0)
NORMAL = Init("normal", 1.0)
XAVIER = Init("xavier")


class WeightsError(ValueError):
    """A checkpoint that does not fit the spec's model; the message names the tensors."""


# Tensors of the PyTorch state dict that the ONNX graph never reads (a counter of training steps).
UNREAD_SUFFIXES = (".num_batches_tracked",)


@dataclass
class Weights:
    """Where the tensors come from: ``state`` (a checkpoint, by state-dict name) or the seed."""

    state: Mapping[str, np.ndarray] | None = None
    seed: int = 0
    used: set[str] = field(default_factory=set)
    drawn: dict[str, np.ndarray] = field(default_factory=dict)
    _rng: np.random.Generator | None = None
    problems: list[str] = field(default_factory=list)  # tensors of the wrong shape
    missing: list[str] = field(default_factory=list)
    # tensors the spec's init: decides, by state-dict name (drawn instead of PyTorch's default)
    chosen: dict[str, Init] = field(default_factory=dict)

    def tensor(self, name: str, shape: Sequence[int], init: Init, dtype: str = "float32") -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        self.used.add(name)
        if self.state is not None:
            if name not in self.state:
                self.missing.append(name)
                return np.zeros(shape, dtype=dtype)
            arr = np.asarray(self.state[name])
            if tuple(arr.shape) != shape:
                self.problems.append(f"{name} has shape {tuple(arr.shape)}, the model needs {shape}")
                return np.zeros(shape, dtype=dtype)
            return arr.astype(dtype, copy=False)
        if name not in self.drawn:
            if self._rng is None:
                # SFC64 rather than numpy's default PCG64: it makes a float32 in half the time (PCG64's
                # 128-bit multiply), which is most of drawing VGG-11's 132 M weights; any good generator
                # gives PyTorch's distributions, and neither matches torch's own numbers anyway
                self._rng = np.random.Generator(np.random.SFC64(self.seed))
            self.drawn[name] = self.chosen.get(name, init).draw(self._rng, shape).astype(dtype, copy=False)
        return self.drawn[name]

    def also_read(self, name: str) -> None:
        """A state-dict name the model holds without a tensor of its own in ONNX (a tied weight)."""
        self.used.add(name)

    def check(self) -> None:
        """Raise when the checkpoint lacks a tensor, has one of another shape, or has one the
        model does not hold."""
        problems = [f"missing {_some(self.missing)}"] if self.missing else []
        problems += self.problems[:5]
        if self.state is not None:
            extra = sorted(k for k in self.state if k not in self.used and not k.endswith(UNREAD_SUFFIXES))
            if extra:
                problems.append("not in the model: " + _some(extra))
        if problems:
            raise WeightsError("the checkpoint does not fit this spec's model: " + "; ".join(problems))


def _some(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """A safetensors checkpoint as numpy arrays (bfloat16 read through float32), without torch;
    a ``specc train`` checkpoint's ``model.`` prefix is dropped."""
    from safetensors import safe_open

    out: dict[str, Any] = {}
    with safe_open(str(path), framework="numpy") as f:
        for k in f.keys():  # noqa: SIM118 -- safe_open is not a mapping
            out[k] = f.get_tensor(k)
    if out and all(k.startswith("model.") for k in out):
        out = {k.removeprefix("model."): v for k, v in out.items()}
    return out


def merge_lora(state: Mapping[str, np.ndarray], adapted: Sequence[str], rank: int,
               alpha: float) -> dict[str, np.ndarray]:
    """A checkpoint of a model with LoRA adapters as the plain model's, the adapters folded in.

    The PyTorch target saves an adapted weight (``fc1.weight``, ``attn.out_proj.weight``, named
    in ``adapted``) as ``fc1.parametrizations.weight.original`` beside its adapter's
    ``…weight.0.lora_A`` (rank × in) and ``…weight.0.lora_B`` (out × rank); each becomes
    W + alpha / rank · B·A, in float32 as the adapter's forward computes it, which is what
    torch's ``remove_parametrizations`` leaves and the torch route exports.
    """
    out = dict(state)
    missing: list[str] = []
    problems: list[str] = []
    plain: list[str] = []
    scale = np.float32(alpha / rank)
    for key in adapted:
        owner, _, attr = key.rpartition(".")
        base = f"{owner}.parametrizations.{attr}" if owner else f"parametrizations.{attr}"
        parts = (f"{base}.original", f"{base}.0.lora_A", f"{base}.0.lora_B")
        lacking = [p for p in parts if p not in out]
        if lacking:
            missing += lacking
            plain += [key] if key in out else []
            continue
        w, a, b = (np.asarray(out.pop(p)) for p in parts)
        if w.ndim != 2 or a.shape != (rank, w.shape[1]) or b.shape != (w.shape[0], rank):
            problems.append(f"the adapter of {key} has lora_A {tuple(a.shape)} and lora_B {tuple(b.shape)}; the "
                            f"model's rank {rank} needs {(rank, w.shape[-1])} and {(w.shape[0], rank)}")
            continue
        merged = w.astype(np.float32) + scale * (b.astype(np.float32) @ a.astype(np.float32))
        out[key] = merged.astype(w.dtype, copy=False)
    if missing or problems:
        text = [f"missing {_some(missing)}"] if missing else []
        if plain:
            text.append(f"it holds {_some(plain)} without adapters: export it with the spec without its lora: "
                        "section")
        raise WeightsError("the checkpoint does not fit this spec's model with LoRA adapters: " +
                           "; ".join(text + problems[:5]))
    return out
