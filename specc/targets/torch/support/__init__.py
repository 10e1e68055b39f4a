"""Helper classes and functions that generated modules carry for kinds PyTorch lacks.

Each is a real module here (linted, imported by the tests), and its text below ``MARKER`` is
what the emitter writes into a generated file, once per file.  The modules are read as text,
never imported, so neither ``check`` nor ``compile`` imports torch for them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

MARKER = "# -- written into generated modules: everything below this line --"

# The helper modules, by the name a lowering lists in its ``support``.
NAMES = ("adaptive_pool", "anchor_points", "attention_fastpath", "class_token", "conv_lstm", "exclusive_cumsum",
         "gelu_tanh", "grouped_attention", "latent_attention", "layer_scale", "learned_tokens", "mamba",
         "masked_conv", "masked_linear", "mixture_of_experts", "positional_encoding", "relative_position",
         "rms_norm", "rnn", "rnn_packed", "rnn_state", "scaled_attention", "separable_conv", "sparsemax", "std_conv",
         "stochastic_depth", "timestep_embedding", "triangle", "unfold_steps", "vector_quantizer", "weighted_sum")


@functools.cache
def text(name: str) -> str:
    """The source the generated module gets for ``name``, framed by newlines as the emitter expects."""
    if name not in NAMES:
        raise ValueError(f"no support module {name!r} (known: {', '.join(NAMES)})")
    # Read beside this file, as specc/resources.py finds the templates: importlib.resources would
    # cost every `specc check` (which reads these for their names) 3 ms of imports.
    source = Path(__file__).with_name(f"{name}.py").read_text(encoding="utf-8")
    _, found, body = source.partition(MARKER)
    if not found:
        raise ValueError(f"support module {name}.py lacks its marker line {MARKER!r}")
    return "\n" + body.strip("\n") + "\n"


# The top-level names the support code defines in generated files (``rnn_last``,
# ``PositionalEncoding``, ``ConvLSTM2d``…), written out: reading the thirty modules and scanning them
# cost every `specc check` ~8 M instructions (callgrind; a whole check of ResNet-18 is ~1,060 M).
# tests/test_sections.py holds this list equal to what Python parses below the modules' markers, and
# names the entries to add or drop when a support module changes.
DEFINED = frozenset({
    "AdaptivePool", "ClassToken", "ConvLSTM2d", "ExpertMLP", "GroupedQueryAttention", "LatentRMSNorm",
    "LayerScale", "LearnedTokens", "MaskedConv1d", "MaskedConv2d", "MaskedConv3d", "MaskedLinear",
    "MambaMixer", "MixtureOfExperts", "MultiheadLatentAttention", "PositionalEncoding", "QKRMSNorm", "RMSNorm",
    "RelativePositionIndex", "ScaledMultiheadAttention", "ScaledStdConv1d", "ScaledStdConv2d", "ScaledStdConv3d",
    "SeparableConv1d", "SeparableConv2d", "Sparsemax", "StdConv1d", "StdConv2d", "StdConv3d", "StochasticDepth",
    "Triangle", "VectorQuantizer", "WeightedSum", "_MaskedConv", "_ScaledStdConv", "_SeparableConv", "_StdConv",
    "alibi_bias", "alibi_slopes", "causal_mask", "exclusive_cumsum", "gelu_tanh", "make_anchors", "off_fastpath",
    "relative_position_bucket", "rnn_final", "rnn_last", "rnn_packed", "rnn_with_state", "standardize_weight",
    "timestep_embedding", "unfold_steps",
})


def defined_names() -> frozenset[str]:
    """Top-level names the support code defines in generated files: a layer, input or model called
    that would shadow them."""
    return DEFINED


_WORD = re.compile(r"[A-Za-z_]\w*")


def prune(texts: list[str], code: list[str]) -> list[str]:
    """``texts`` without the top-level classes and functions that nothing in the generated file
    reaches from ``code`` (the file's own classes and builders): a module that defines a 1-, 2- and
    3-D variant keeps the one its layers use, and the bases and helpers that one names.  What a
    statement names is every word in its text (strings and comments too), so a doubt keeps it;
    statements that define nothing (imports, calls) are always kept."""
    import ast

    pieces: list[list[tuple[set[str], set[str], str]]] = []  # per text: (defines, names, source)
    for t in texts:
        lines = t.split("\n")
        stmts = ast.parse(t).body
        out, start = [], 0
        for s in stmts:
            end = s.end_lineno or s.lineno
            src = "\n".join(lines[start:end])
            start = end
            if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                defines = {s.name}
            elif isinstance(s, (ast.Assign, ast.AnnAssign)):
                targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                defines = {n.id for tg in targets for n in ast.walk(tg) if isinstance(n, ast.Name)}
            else:
                defines = set()
            out.append((defines, set(_WORD.findall(src)), src))
        tail = "\n".join(lines[start:])
        out.append((set(), set(), tail))
        pieces.append(out)
    reached = {w for c in code for w in _WORD.findall(c)}
    kept: set[int] = set()
    flat = [p for text_pieces in pieces for p in text_pieces]
    changed = True
    while changed:
        changed = False
        for i, (defines, names, _) in enumerate(flat):
            if i not in kept and (not defines or defines & reached):
                kept.add(i)
                reached |= names
                changed = True
    result, i = [], 0
    for text_pieces in pieces:
        src = "\n".join(p[2] for j, p in enumerate(text_pieces) if i + j in kept)
        i += len(text_pieces)
        if src.strip():
            result.append("\n" + re.sub(r"\n{4,}", "\n\n\n", src).strip("\n") + "\n")
    return result
