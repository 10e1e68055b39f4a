"""Initialisers: how ``init:`` says a parameter starts, backend-neutral.

Each initialiser is one of ``torch.nn.init``'s, under its name without the trailing underscore
and with its keyword arguments and defaults (``normal: {mean: 0.0, std: 1.0}``), or one of Keras'
recipes (``glorot_uniform``, ``he_normal``, ``lecun_normal``…) with Keras' own distribution.
:func:`parse` reads one as written; :func:`fans` and :func:`gain` are
``torch.nn.init._calculate_fan_in_and_fan_out`` and ``calculate_gain``, so both targets and the
checks compute the same numbers; :func:`resolve` turns an initialiser and a tensor shape into
the distribution drawn (what the direct ONNX target samples with numpy).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from ..diagnostics import SpecError, yaml_flow

# name -> its arguments and their defaults (torch.nn.init's); REQUIRED has no default
REQUIRED = object()
INITIALISERS: dict[str, dict[str, Any]] = {
    "zeros": {},
    "ones": {},
    "constant": {"value": REQUIRED},
    "normal": {"mean": 0.0, "std": 1.0},
    "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    "uniform": {"a": 0.0, "b": 1.0},
    "xavier_uniform": {"gain": 1.0},
    "xavier_normal": {"gain": 1.0},
    "kaiming_uniform": {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "kaiming_normal": {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "orthogonal": {"gain": 1.0},
    # Keras' VarianceScaling recipes, as Keras draws them (its normals are truncated at two
    # standard deviations and widened by 1/0.8796 to keep the variance)
    "glorot_uniform": {},
    "glorot_normal": {},
    "he_uniform": {},
    "he_normal": {},
    "lecun_uniform": {},
    "lecun_normal": {},
}
# Keras recipe -> (scale, the fan it divides by, uniform?)
KERAS: dict[str, tuple[float, str, bool]] = {
    "glorot_uniform": (1.0, "fan_avg", True), "glorot_normal": (1.0, "fan_avg", False),
    "he_uniform": (2.0, "fan_in", True), "he_normal": (2.0, "fan_in", False),
    "lecun_uniform": (1.0, "fan_in", True), "lecun_normal": (1.0, "fan_in", False),
}
FLOAT32_MAX = 3.4028234663852886e38
# std of a unit normal truncated to (-2, 2), which Keras divides by
KERAS_TRUNC = 0.87962566103423978
# What needs the tensor's fan-in or fan-out (or, for orthogonal, a matrix): 2 dims at least.
NEEDS_FANS = {"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", *KERAS}
NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
# Other frameworks' names for an initialiser specc spells otherwise
OTHER_NAMES = {
    "zero": "zeros", "one": "ones", "const": "constant", "random_normal": "normal: {std: 0.05}",
    "random_uniform": "uniform: {a: -0.05, b: 0.05}", "truncated_normal": "trunc_normal: {std: 0.05, a: -0.1, b: 0.1}",
    "glorot": "glorot_uniform", "xavier": "xavier_uniform", "kaiming": "kaiming_uniform", "he": "he_normal",
    "identity": "orthogonal", "eye": "orthogonal", "variance_scaling": "he_normal",
}


@dataclass(frozen=True)
class Initializer:
    """One initialiser as written: its name and every argument (defaults filled in)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def kw(self) -> dict[str, Any]:
        return dict(self.args)

    def given(self) -> dict[str, Any]:
        """The arguments that differ from torch's defaults (what generated code writes)."""
        defaults = INITIALISERS[self.name]
        return {k: v for k, v in self.args if defaults.get(k, REQUIRED) is REQUIRED or defaults[k] != v}

    def text(self) -> str:
        """The initialiser as a spec writes it."""
        given = self.given()
        if not given:
            return self.name
        return f"{{{self.name}: {{{', '.join(f'{k}: {_yaml(v)}' for k, v in given.items())}}}}}"


def _yaml(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse(value: Any) -> Initializer:
    """The initialiser ``value`` writes: a name (``zeros``, ``xavier_uniform``), a one-key mapping
    of a name to its arguments (``{normal: {std: 0.02}}``; ``{constant: 0.5}`` for a constant), or
    a number (that constant). SpecError V092 for a name or argument it does not know, V093 for an
    argument out of its range, with ``field`` naming the argument."""
    if _number(value):
        name, raw = ("zeros", {}) if value == 0 else ("constant", {"value": float(value)})
    elif isinstance(value, str):
        name, raw = value, {}
    elif isinstance(value, dict) and len(value) == 1:
        name, raw = next(iter(value.items()))
        name = str(name)
        if name == "constant" and _number(raw):
            raw = {"value": raw}
        elif raw is None:
            raw = {}
        elif not isinstance(raw, dict):
            args = ", ".join(k for k in INITIALISERS.get(name, {})) or "none"
            raise SpecError("V092", f"the arguments of {name} must be a mapping, got {yaml_flow(raw)}",
                            f"write {{{name}: {{...}}}} with its arguments ({args}), or just {name}")
    else:
        raise SpecError("V092", "an initialiser is a name or a mapping of one name to its arguments, got "
                        f"{yaml_flow(value)}",
                        "write e.g. xavier_uniform, zeros or {normal: {std: 0.02}}")
    if name not in INITIALISERS:
        other = OTHER_NAMES.get(name.lower())
        guess = difflib.get_close_matches(name, list(INITIALISERS), n=1)
        raise SpecError("V092", f"unknown initialiser '{name}'",
                        f"specc writes it {other}" if other else f"did you mean {guess[0]}?" if guess else
                        f"the initialisers: {', '.join(INITIALISERS)}")
    known = INITIALISERS[name]
    args: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in known:
            guess = difflib.get_close_matches(str(k), list(known), n=1)
            raise SpecError("V092", f"{name} has no argument '{k}'",
                            f"did you mean '{guess[0]}'?" if guess else
                            f"its arguments: {', '.join(known)}" if known else
                            f"{name} takes no arguments: write {name}",
                            field=str(k))
        args[str(k)] = v
    for k, default in known.items():
        if k not in args:
            if default is REQUIRED:
                raise SpecError("V092", f"{name} needs its {k}", f"write {{{name}: {{{k}: 0.1}}}}", field=k)
            args[k] = default
    _check_args(name, args)
    return Initializer(name, tuple(args.items()))


def _check_args(name: str, a: dict[str, Any]) -> None:
    for k, v in a.items():
        if k in ("mode", "nonlinearity"):
            continue
        if not _number(v) or not math.isfinite(v):
            raise SpecError("V093", f"{name}'s {k} must be a finite number, got {yaml_flow(v)}", f"write {k}: 0.1",
                            field=k)
        if abs(v) > FLOAT32_MAX:  # a float32 parameter would hold inf, and the first step NaN
            raise SpecError("V093", f"{name}'s {k} {v:g} is beyond float32's range (±3.4e38)",
                            f"write {k}: 1.0", field=k)
    if "std" in a and a["std"] <= 0:
        raise SpecError("V093", f"{name}'s std must be above 0, got {a['std']}",
                        "write std: 0.02 (GPT-2, BERT and ViT use 0.02); for all zeros write zeros", field="std")
    if "gain" in a and a["gain"] <= 0:
        raise SpecError("V093", f"{name}'s gain must be above 0, got {a['gain']}", "write gain: 1.0", field="gain")
    if name in ("uniform", "trunc_normal") and a["a"] >= a["b"]:
        raise SpecError("V093", f"{name} draws from [a, b], but a ({a['a']}) is not below b ({a['b']})",
                        f"write a: {-abs(a['b']) if a['b'] else -1}, b: {abs(a['b']) or 1}" if a["a"] != -a["b"] else
                        "write a below b, e.g. a: -0.1, b: 0.1", field="a")
    if name == "trunc_normal" and (a["mean"] < a["a"] - 2 * a["std"] or a["mean"] > a["b"] + 2 * a["std"]):
        # torch.nn.init.trunc_normal_ warns here, and its draws pile up at one end
        raise SpecError("V093", f"trunc_normal's mean {a['mean']} is more than 2 std from [a, b] = [{a['a']}, "
                        f"{a['b']}], so the values it draws are not normal", "write a and b around the mean, e.g. "
                        f"a: {a['mean'] - 2 * a['std']:g}, b: {a['mean'] + 2 * a['std']:g}", field="mean")
    if name.startswith("kaiming"):
        if a["mode"] not in ("fan_in", "fan_out"):
            raise SpecError("V093", f"{name}'s mode must be fan_in or fan_out, got {a['mode']!r}",
                            "write mode: fan_out (torchvision's ResNet), or mode: fan_in, the default", field="mode")
        if a["nonlinearity"] not in NONLINEARITIES:
            guess = difflib.get_close_matches(str(a["nonlinearity"]), NONLINEARITIES, n=1)
            raise SpecError("V093", f"{name}'s nonlinearity {a['nonlinearity']!r} is not one PyTorch's "
                            "calculate_gain knows",
                            f"did you mean {guess[0]}?" if guess else f"write one of {', '.join(NONLINEARITIES)}",
                            field="nonlinearity")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as torch.nn.init computes them: dim 1 and dim 0, times the product of
    the rest (a conv's kernel). Needs 2 dims or more."""
    if len(shape) < 2:
        raise ValueError("fans need 2 dims or more")
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


def gain(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                        "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity}")


@dataclass(frozen=True)
class Drawn:
    """What an initialiser draws for one tensor: ``how`` is const (every value ``a``), uniform on
    [a, b], normal (mean ``a``, std ``b``), trunc_normal (mean, std, then the bounds ``lo``, ``hi``)
    or orthogonal (times ``a``)."""

    how: str
    a: float = 0.0
    b: float = 0.0
    lo: float = 0.0
    hi: float = 0.0


def resolve(init: Initializer, shape: tuple[int, ...]) -> Drawn:
    """The distribution ``init`` draws for a tensor of ``shape`` (the fans where it reads them)."""
    k = init.kw
    n = init.name
    if n in ("zeros", "ones", "constant"):
        return Drawn("const", {"zeros": 0.0, "ones": 1.0}.get(n, k.get("value", 0.0)))
    if n == "normal":
        return Drawn("normal", k["mean"], k["std"])
    if n == "trunc_normal":
        return Drawn("trunc_normal", k["mean"], k["std"], k["a"], k["b"])
    if n == "uniform":
        return Drawn("uniform", k["a"], k["b"])
    if n == "orthogonal":
        return Drawn("orthogonal", k["gain"])
    fan_in, fan_out = fans(shape)
    if n in KERAS:
        scale, mode, uniform = KERAS[n]
        fan = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
        if uniform:
            limit = math.sqrt(3.0 * scale / fan)
            return Drawn("uniform", -limit, limit)
        std = math.sqrt(scale / fan) / KERAS_TRUNC
        return Drawn("trunc_normal", 0.0, std, -2 * std, 2 * std)
    if n.startswith("xavier"):
        std = k["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
        return Drawn("uniform", -math.sqrt(3.0) * std, math.sqrt(3.0) * std) if n.endswith("uniform") else \
            Drawn("normal", 0.0, std)
    fan = fan_in if k["mode"] == "fan_in" else fan_out
    std = gain(k["nonlinearity"], k["a"]) / math.sqrt(fan)
    return Drawn("uniform", -math.sqrt(3.0) * std, math.sqrt(3.0) * std) if n.endswith("uniform") else \
        Drawn("normal", 0.0, std)
