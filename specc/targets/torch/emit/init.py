"""The model's ``_init_weights``: the spec's ``init:`` as the torch.nn.init calls a PyTorch user
writes, run once at the end of ``__init__`` (before LoRA wraps a weight), so a checkpoint loaded
afterwards replaces what it drew. Layers that draw the same way are one loop."""

from __future__ import annotations

from ....graph.ir import Graph, Node
from ....layers.init import KERAS, Initializer, resolve
from .quote import ident, lit

# torch.nn.init's function for each initialiser specc names alike
_TORCH = {"zeros": "zeros_", "ones": "ones_", "constant": "constant_", "normal": "normal_",
          "trunc_normal": "trunc_normal_", "uniform": "uniform_", "xavier_uniform": "xavier_uniform_",
          "xavier_normal": "xavier_normal_", "kaiming_uniform": "kaiming_uniform_",
          "kaiming_normal": "kaiming_normal_", "orthogonal": "orthogonal_"}
# Keras' uniform recipes are exactly torch calls; its normals are truncated (see _keras_normal)
_KERAS_UNIFORM = {"glorot_uniform": ("xavier_uniform_", ""), "he_uniform": ("kaiming_uniform_", 'nonlinearity="relu"'),
                  "lecun_uniform": ("kaiming_uniform_", 'nonlinearity="linear"')}


def _attr(base: str, dotted: str) -> str:
    return base + "".join(f"[{p}]" if p.isdigit() else f".{ident(p)}" for p in dotted.split("."))


def _call(init: Initializer, shape: tuple[int, ...], tensor: str) -> tuple[str, str]:
    """``nn.init.<fn>_(tensor, ...)`` and a comment ('' for none)."""
    if init.name in _KERAS_UNIFORM:
        fn, extra = _KERAS_UNIFORM[init.name]
        return f"nn.init.{fn}({tensor}{', ' + extra if extra else ''})", f"Keras' {init.name}"
    if init.name in KERAS:
        d = resolve(init, shape)
        scale, mode, _ = KERAS[init.name]
        fan = "fan_in" if mode == "fan_in" else "(fan_in + fan_out) / 2"
        return (f"nn.init.trunc_normal_({tensor}, std={lit(d.b)}, a={lit(d.lo)}, b={lit(d.hi)})",
                f"Keras' {init.name}: sqrt({lit(scale)} / {fan}) / 0.8796, cut at 2 std")
    kw = init.given()
    if init.name == "constant":
        return f"nn.init.constant_({tensor}, {lit(float(kw.pop('value')))})", ""
    args = "".join(f", {k}={lit(v)}" for k, v in kw.items())
    return f"nn.init.{_TORCH[init.name]}({tensor}{args})", ""


def _module_leaves(g: Graph, path: str = "self") -> list[tuple[Node, str]]:
    """(leaf, its module's expression) of every layer that owns its parameters."""
    out: list[tuple[Node, str]] = []
    for n in g.nodes:
        if n.shares is not None:
            continue
        expr = _attr(path, n.name)
        if n.sub is not None:
            out += _module_leaves(n.sub, expr)
        elif n.init:
            out.append((n, expr))
    return out


def init_weights_body(g: Graph) -> list[str]:
    """The body of ``_init_weights`` ([] when the spec has no init:)."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (call on m, comment) -> (module, its own call)
    pads: list[str] = []
    for n, module in _module_leaves(g):
        assert n.kind is not None and n.result is not None
        shapes = n.kind.weights(n.result.args)
        for param, init in n.init.items():
            call, note = _call(init, shapes[param], _attr("m", param))
            own, _ = _call(init, shapes[param], _attr(module, param))
            groups.setdefault((call, note), []).append((module, own))
        pad = n.result.args.get("padding_idx") if n.type == "Embedding" else None
        if pad is not None and "weight" in n.init:
            pads.append(f"{module}.weight[{int(pad)}].zero_()  # padding_idx: its row stays zero, as nn.Embedding "
                        "makes it")
    lines: list[str] = []
    for (call, note), modules in groups.items():
        comment = f"  # {note}" if note else ""
        if len(modules) == 1:
            lines.append(modules[0][1] + comment)
        else:
            # one statement: the template indents each line of the method by 8, the loop's body by 4
            # more; one module a line with a trailing comma, which ruff keeps as written (the fallback
            # formatter then writes what ruff writes, however many modules fit on a line)
            members = "".join(f"\n            {m}," for m, _ in modules)
            lines.append(f"for m in ({members}\n        ):{comment}\n            {call}")
    return lines + pads
