"""G014: an item that reads "the item above" reads past items a false ``when:`` left out, and
they did not read that item themselves.

Leaving out an item "as if it were not written" is what the author means when the items left out
were a chain from the item above (an optional BatchNorm, ``when: ${use_bn}``): the item after
them then reads what the chain started from. It is also what a merge means that reads the item
above among others (``{type: Add, from: [project, input], when: ...}``: without the residual the
main path goes on). But an item left out with a ``from:`` of its own was a branch from elsewhere
(a shortcut's projection ``from: input``): the item after it was written to read that branch,
and without it reads the main path instead, silently, with shapes that often still fit. Items
written in turn with when:s of their own are alternatives (two merges, one kept): the item after
them reads whichever is kept, as written.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostic, Location
from ..load.yaml_loader import Dropped

CODE = "G014"


def branch_left_out(dropped: list[Dropped], above: str | None) -> Dropped | None:
    """The item left out whose own ``from:`` began the chain the next item was written to read,
    when it did not read ``above`` (what that item reads now); None when nothing changed but the
    chain's length."""
    for item in reversed(dropped):
        if item.source is None:
            continue  # it read the item above it: look further up
        names = item.source if isinstance(item.source, list) else [item.source]
        return None if above is not None and above in names else item
    return None


def _what(item: Dropped) -> str:
    line = f"line {item.loc.line}" if item.loc is not None else "above"
    return f"'{item.name}'" if item.name else f"the {item.type} at {line}"


def _source(src: Any) -> str:
    return f"[{', '.join(map(str, src))}]" if isinstance(src, list) else f"'{src}'"


def reads_past(who: str, above: str, item: Dropped, loc: Location | None, layer: str) -> Diagnostic:
    """G014 at an item without ``from:`` that now reads ``above`` past ``item``."""
    when = f" (line {item.when.line})" if item.when is not None else ""
    message = (f"{who} reads '{above}', the item above it once {_what(item)} is left out by its when:{when}; "
               f"written after {_what(item)}, it read {_source(item.source)}, not '{above}'")
    meant = (f"write from: {item.source} if it should read what {_what(item)} read, or " if isinstance(item.source, str)
             else "write ")
    return Diagnostic(CODE, message, loc, f"{meant}from: {above} to read '{above}' when {_what(item)} is left out",
                      "warning", layer)


def output_past(block: str, above: str, item: Dropped, loc: Location | None, layer: str) -> Diagnostic:
    """G014 at a block whose last items are left out, so that it returns ``above``."""
    when = f" (line {item.when.line})" if item.when is not None else ""
    message = (f"block '{block}' returns '{above}', its last layer once {_what(item)} is left out by its "
               f"when:{when}; written last, {_what(item)} read {_source(item.source)}, not '{above}'")
    src = item.source if isinstance(item.source, str) else "..."
    return Diagnostic(CODE, message, loc, f"write an item last for when {_what(item)} is left out, such as "
                      f"{{type: Identity, from: {src}}} with the opposite when:", "warning", layer)
