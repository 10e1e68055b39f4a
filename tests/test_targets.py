"""Every layer kind is lowered by every target, and what a kind's schema declares about itself
agrees with how the target writes it.

Adding a layer kind?  Add its lowerings to specc/targets/torch/kinds/ and specc/targets/onnx/kinds/
(the modules named like its family in specc/layers/): ``test_every_kind_has_a_lowering`` fails
until you do.
"""

from __future__ import annotations

import ast
import importlib
import importlib.resources
from typing import Any

import pytest
from layer_cases import CASES

import specc
from specc.diagnostics import render_text
from specc.layers import REGISTRY
from specc.targets.torch import export_limits, support
from specc.targets.torch.kinds import LOWERINGS
from specc.targets.torch.lower import forward_expr, init_expr

# One entry per target: its name and its lowerings by layer type name.
TARGETS: dict[str, dict[str, Any]] = {"torch": LOWERINGS}
try:  # the direct ONNX target needs onnx and numpy, which a pure-Python run may lack
    from specc.targets.onnx.kinds import LOWERINGS as ONNX_LOWERINGS

    TARGETS["onnx"] = ONNX_LOWERINGS
except ImportError:
    pass


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_kind_has_a_lowering(target: str) -> None:
    lowerings = TARGETS[target]
    missing = sorted(set(REGISTRY) - set(lowerings))
    assert not missing, f"add lowerings to specc/targets/{target}/ for: {', '.join(missing)}"
    stale = sorted(set(lowerings) - set(REGISTRY))
    assert not stale, f"lowerings of kinds that are not registered (misspelt class names?): {stale}"


def test_export_limits_name_registered_kinds() -> None:
    assert set(export_limits.LIMITS) <= set(REGISTRY), sorted(set(export_limits.LIMITS) - set(REGISTRY))


def _leaf(case_yaml: str) -> Any:
    spec = specc.loads(case_yaml)
    assert spec.ok, "\n".join(render_text(d) for d in spec.errors)
    assert spec.graph is not None
    return spec.graph.nodes[-1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_declared_form_matches_the_lowering(case: Any) -> None:
    """The schema's ``form`` (which decides whether repeat: may chain a layer) says what the
    PyTorch lowering does: "inline" has no module, "module" is called as module(x) and gives one
    value (a MaxPool with return_indices gives two: nothing could chain it)."""
    node = _leaf(case.yaml())
    args = node.result.args
    form = node.kind.applied(args)
    init = init_expr(node.kind, args)
    inputs = ["x", *(f"x{i}" for i in range(1, len(node.inputs)))]  # a decoder reads a memory too
    called = init is not None and forward_expr(node.kind, "m", inputs, args) == "m(x)" and not node.result.outs
    assert (form == "inline") == (init is None), (form, init)
    assert (form == "module") == called, (form, forward_expr(node.kind, "m", inputs, args))


@pytest.mark.parametrize("name", support.NAMES)
def test_support_module_is_what_generated_files_carry(name: str) -> None:
    """Each support module imports (so its code runs as written), and every name its emitted
    text defines is one the module defines, and is reserved against layer and model names."""
    module = importlib.import_module(f"specc.targets.torch.support.{name}")
    text = support.text(name)
    defined = [n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defined, f"{name}.py defines nothing below its marker"
    for top in defined:
        assert hasattr(module, top), top
        assert top in support.defined_names()
    source = importlib.resources.files(support).joinpath(f"{name}.py").read_text(encoding="utf-8")
    assert source.rstrip("\n").endswith(text.strip("\n")), "the emitted text is the end of the module"


def test_every_support_module_is_used() -> None:
    used = {name for lowering in LOWERINGS.values() for name in (*lowering.support, *lowering.support_when)}
    assert used == set(support.NAMES)


def _torch() -> Any:
    import torch

    return torch


# What each support module is called with: (the name it defines, constructor arguments or None
# for a function, the inputs: a shape, the name of an nn module built without arguments, or a function
# of the generator that makes the input).
SUPPORT_CALLS: dict[str, list[tuple[str, tuple[Any, ...] | None, tuple[tuple[int, ...] | str, ...]]]] = {
    "adaptive_pool": [("AdaptivePool", ((3, None), "max"), ((2, 4, 7, 5),)),
                      ("AdaptivePool", ((2, 3), "avg"), ((2, 4, 7, 5),))],
    "class_token": [("ClassToken", (4, 2), ((2, 3, 4),)), ("ClassToken", (4, 1, False), ((3, 2, 4),))],
    "conv_lstm": [("ConvLSTM2d", (2, (3, 4)), ((2, 3, 2, 5, 5),))],
    "learned_tokens": [("LearnedTokens", (3, 4), ((2, 5, 6),)), ("LearnedTokens", (2, 4, False), ((5, 3, 4),))],
    "positional_encoding": [("PositionalEncoding", (6, 10), ((2, 4, 6),)),
                            ("PositionalEncoding", (6, 10, "learned"), ((2, 4, 6),))],
    # Mixtral's top-2 of 4 on tokens; Switch's ungated relu top-1 on rows; Qwen2-MoE's shared expert
    "mixture_of_experts": [("MixtureOfExperts", (6, 4, 2, 8), ((2, 5, 6),)),
                           ("MixtureOfExperts", (6, 3, 1, 8, "relu", False, True, False), ((7, 6),)),
                           ("MixtureOfExperts", (6, 4, 3, 8, "gelu", True, False, False, 5), ((2, 3, 6),))],
    "layer_scale": [("LayerScale", (6,), ((2, 4, 6),)), ("LayerScale", (4, 0.5, -3, True), ((2, 4, 3, 5),))],
    "rms_norm": [("RMSNorm", (6,), ((2, 4, 6),)), ("RMSNorm", ((4, 6), 1e-6, False), ((2, 3, 4, 6),))],
    "rnn": [("rnn_last", None, ((2, 3, 8),)), ("rnn_final", None, ((4, 2, 5),))],
    "rnn_state": [("rnn_with_state", None, ((2, 3, 8), (1, 2, 8)))],  # a GRU's out, h_n
    # a bidirectional GRU over a batch of 3 padded to 4 steps, one length 0 (read as 1)
    "rnn_packed": [("rnn_packed", None, (lambda gen: _torch().nn.GRU(5, 3, batch_first=True, bidirectional=True),
                                         (3, 4, 5), lambda gen: _torch().tensor([4, 0, 2])))],
    "separable_conv": [("SeparableConv1d", (3, 4, 3), ((2, 3, 9),)),
                       ("SeparableConv2d", (3, 4, 3, 1, 1, 1, 2), ((2, 3, 5, 5),))],
    "stochastic_depth": [("StochasticDepth", (0.5,), ((4, 3),))],
    "masked_conv": [("MaskedConv2d", (2, 3, 5, 1, 2), ((2, 2, 6, 6),)), ("MaskedConv1d", (2, 3, 3), ((2, 2, 7),))],
    "anchor_points": [("make_anchors", None, (lambda gen: [_torch().randn(1, 2, 3, 4), _torch().randn(1, 2, 2, 2)],
                                              lambda gen: [8, 16]))],
    "vector_quantizer": [("VectorQuantizer", (6, 4), ((2, 3, 4),)), ("VectorQuantizer", (5, 3, 1), ((2, 3, 2, 2),))],
    "std_conv": [("StdConv2d", (2, 4, 3), ((2, 2, 6, 6),)), ("ScaledStdConv2d", (4, 4, 3, 1, 1, 1, 2), ((2, 4, 6, 6),)),
                 ("ScaledStdConv3d", (2, 2, 2), ((1, 2, 3, 3, 3),))],
    "unfold_steps": [("unfold_steps", None, ((6, 4), (2, 3, 5)))],
    "attention_fastpath": [("off_fastpath", None, ("Tanh", (2, 3, 4)))],
    "gelu_tanh": [("gelu_tanh", None, ((2, 3, 4),))],
    "exclusive_cumsum": [("exclusive_cumsum", None, ((2, 3, 4),))],
    # T5's buckets past max_distance, causal ones of a decoder; BEiT's window index; BLOOM's 12 slopes
    "relative_position": [("relative_position_bucket", None, (lambda gen: 7, lambda gen: 300, lambda gen: "cpu")),
                          ("relative_position_bucket", (False, 16, 20), (lambda gen: 5, lambda gen: 40,
                                                                          lambda gen: "cpu")),
                          ("RelativePositionIndex", ((2, 3), True), ((2, 7, 4),)),
                          ("RelativePositionIndex", ((3, 2), False, True), ((2, 6, 4),)),
                          ("alibi_bias", (8.0, True), (lambda gen: 5, lambda gen: 6, lambda gen: 12,
                                                       lambda gen: "cpu")),
                          ("causal_mask", (0, 3), (lambda gen: 5, lambda gen: 7, lambda gen: "cpu"))],
    "sparsemax": [("Sparsemax", (), ((2, 3, 7),)), ("Sparsemax", (1,), ((2, 5, 3),))],
    "triangle": [("Triangle", (5, 5), ((2, 5, 5),)), ("Triangle", (3, 4, 0), ((2, 2, 3, 4),))],
    "weighted_sum": [("WeightedSum", (2,), ((2, 3, 4), (2, 3, 4))),
                     ("WeightedSum", (3, "softmax"), ((2, 3), (2, 3), (2, 3)))],
    "timestep_embedding": [("timestep_embedding", (16,), ((5,),)),
                           ("timestep_embedding", (9, True, 0.0, 500.0, 2.0), ((5,),))],
    # GQA with half-split rotary (LLaMA), causal multi-query with interleaved partial rotary (GPT-J), cross
    # attention of other widths with a key padding mask (bool, True hides)
    "grouped_attention": [("GroupedQueryAttention", (8, 4, 2, True, None, None, 0.0, True, None, True, 2),
                           ((2, 5, 8), (2, 5, 8), (2, 5, 8))),
                          ("GroupedQueryAttention", (8, 2, 1, False, None, None, 0.0, True, None, True, 2, 100.0,
                                                     True), ((2, 4, 8), (2, 4, 8), (2, 4, 8))),
                          ("GroupedQueryAttention", (8, 2, 2, True, 6, 5), ((2, 3, 8), (2, 4, 6), (2, 4, 5)))],
    "scaled_attention": [("ScaledMultiheadAttention", (4, 2, 1.0), ((3, 2, 4), (5, 2, 4), (5, 2, 4))),
                         ("ScaledMultiheadAttention", (4, 1), ((3, 2, 4), (3, 2, 4), (3, 2, 4)))],
    # MADE's three roles on 4 inputs; a q bottleneck with causal interleaved rotary, then V2-Lite's q_proj
    "masked_linear": [("MaskedLinear", (4, 6, True, 4, "input"), ((2, 4),)),
                      ("MaskedLinear", (6, 6, True, 4), ((2, 6),)),
                      ("MaskedLinear", (6, 8, False, 4, "output"), ((3, 6),))],
    # mamba-130m's mixer narrowed (dt_rank auto), then biases, an explicit dt_rank and the constant dt init
    "mamba": [("MambaMixer", (8, 16, 3, 2), ((2, 5, 8),)),
              ("MambaMixer", (8, 12, 4, 4, 3, False, True, 0.01, 0.2, 1e-3, 2.0, "constant"), ((3, 4, 8),))],
    "latent_attention": [("MultiheadLatentAttention", (16, 2, 8, 6, 4, 2, 5, 1e-6, False, 0.0, True, True, None,
                                                       10000.0, True), ((2, 5, 16),)),
                         ("MultiheadLatentAttention", (16, 2, 8, None, 4, 4, 3), ((2, 4, 16),))],
}
# support modules whose text calls another's (the emitter writes both: the lowering lists them)
SUPPORT_NEEDS = {"latent_attention": ("grouped_attention",)}


def test_every_support_module_has_calls() -> None:
    assert set(SUPPORT_CALLS) == set(support.NAMES)


@pytest.mark.parametrize("name", support.NAMES)
def test_support_module_computes_what_its_emitted_text_computes(name: str) -> None:
    """The imported module and its text run in a generated file's namespace give the same
    outputs and parameters (both built from the same seed)."""
    import math

    torch = pytest.importorskip("torch")
    module = importlib.import_module(f"specc.targets.torch.support.{name}")
    emitted: dict[str, Any] = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "math": math}
    for needed in (*SUPPORT_NEEDS.get(name, ()), name):
        exec(support.text(needed), emitted)
    for top, ctor, shapes in SUPPORT_CALLS[name]:
        gen = torch.Generator().manual_seed(0)
        # a shape, a torch.nn class to make, or a function of the generator (a module with arguments, ints)
        xs = [getattr(torch.nn, s)() if isinstance(s, str) else s(gen) if callable(s) else torch.randn(s, generator=gen)
              for s in shapes]
        outs = []
        for ns in (vars(module), emitted):
            torch.manual_seed(1)
            fn = ns[top]
            # a class is built from ctor; a function takes ctor after the tensors (its settings)
            f = fn if ctor is None else fn(*ctor).eval() if isinstance(fn, type) else \
                (lambda *a, fn=fn, ctor=ctor: fn(*a, *ctor))
            outs.append((f(*xs), [p.detach().clone() for p in getattr(f, "parameters", list)()]))
        (got, got_params), (want, want_params) = outs
        torch.testing.assert_close(got, want)
        assert len(got_params) == len(want_params)
        for a, b in zip(got_params, want_params):
            torch.testing.assert_close(a, b)


def test_layer_schemas_name_no_framework() -> None:
    """specc/layers/ holds op schemas only: no identifier there names torch, ONNX or support
    code, and no string but a docstring holds framework source (``nn.Conv2d``, ``torch.cat``);
    those belong to a target. (Imports are guarded by the layering contract.)"""
    import re
    from pathlib import Path

    import specc.layers

    found = []
    for path in sorted(Path(specc.layers.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and ast.get_docstring(node, clean=False) is not None}
        for node in ast.walk(tree):
            names = [v for v in (getattr(node, a, None) for a in ("id", "attr", "name")) if isinstance(v, str)]
            found += [f"{path.name}:{node.lineno} {n}" for n in names if re.search(r"torch|onnx|support", n, re.I)]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and re.search(r"\bnn\.\w|torch\.\w", node.value):
                found.append(f"{path.name}:{node.lineno} {node.value[:40]!r}")
    assert not found, found
