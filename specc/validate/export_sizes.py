"""``export: sizes:`` against the model: the sizes an export traces and verifies at, and the sizes
of the data specc makes (synthetic training data, images resized), so a size the model cannot
take fails every later stage after check said ok (a position table of max_len 5 traced at T = 32).

A key that names no symbol of the inputs, or the batch (which ``batch_size:`` sets), is a
setting with no effect: a warning (V070), since the export would silently use other sizes.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..shapes.dims import Dim
from ..shapes.rules import nearest_fit, size_rules

if TYPE_CHECKING:
    from ..spec import Spec


def export_size_diagnostics(spec: Spec) -> list[Diagnostic]:
    doc, graph = spec.document, spec.graph
    if doc is None or graph is None or not doc.export.sizes:
        return []
    at = spec.locations
    batch = graph.batch
    symbols = list(dict.fromkeys(s for t in graph.inputs.values() for d in t.shape if isinstance(d, Dim)
                                 for s in sorted(d.symbols()) if s != batch))
    out: list[Diagnostic] = []
    given: dict[str, int] = {}
    for name, size in doc.export.sizes.items():
        loc = at.key("export", "sizes", name)
        if name == batch:
            out.append(Diagnostic("V070", f"export sizes: sets {name}, the batch, which export: batch_size: sets; "
                                  f"this size is not used", loc,
                                  f"remove it, and give the size to export: batch_size: {size} beside sizes:",
                                  "warning"))
        elif name not in symbols:
            unsized = [s for s in symbols if s not in doc.export.sizes]
            close = difflib.get_close_matches(name, symbols, n=1) or (unsized if len(unsized) == 1 else [])
            have = f"the inputs' symbols are {', '.join(symbols)}" if symbols else "the inputs have no symbolic size"
            out.append(Diagnostic("V070", f"export sizes: names '{name}', which is no symbolic size of the inputs "
                                  f"({have})", loc, f"did you mean {close[0]}?" if close else f"remove {name}",
                                  "warning"))
        else:
            given[name] = size
    if not given:
        return out
    env = {**given, **({batch: doc.export.batch_size} if batch else {})}
    rules = size_rules(graph)
    for rule in rules:
        if rule.holds(env):
            continue
        mine = [s for s in sorted(rule.size.symbols()) if s in given] if not isinstance(rule.size, int) else []
        if not mine:
            continue  # a rule of the batch or of symbols left free: export picks sizes that meet it
        fits = nearest_fit(rules, env)
        fix = ", ".join(f"{s}: {v}" for s, v in fits.items() if s in given)
        sizes = ", ".join(f"{s} = {env[s]}" for s in mine)
        out.append(Diagnostic(
            "V071", f"export sizes: {sizes} is a size the model cannot take: {rule.why} needs {rule.text}; export "
            "traces and verifies at it, and synthetic training data is made at it",
            at.value("export", "sizes", mine[0]),
            f"set {fix} (the nearest size the model takes)" if fix else
            f"give {', '.join(mine)} a size with {rule.text}"))
        break  # one size rule broken is enough to say; the nearest fit mends them all
    return out
