"""What an identifier is, and a usable name to offer when one is rejected.

:func:`identifier_problem` is the one rule for every name and symbol a spec declares (layer,
block, input, output, model, block argument, dim symbol): a plain ASCII identifier, checked
over the whole text.  The rules on top of it (keywords, nn.Module attributes, names the
generated code uses) live in :mod:`specc.graph.names` and are passed to
:func:`suggest_name` as ``problem``, so that validation does not import the graph stage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# fullmatch, never `^...$`: `$` also matches before a final newline, so "fc\n" passed as an
# identifier and reached the generated code and the exported model.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def identifier_problem(text: str) -> str | None:
    """Why ``text`` is not a plain ASCII identifier (to follow the quoted name in a message),
    or None when it is one."""
    if _IDENT.fullmatch(text):
        return None
    control = next((c for c in text if not c.isprintable()), None)
    if control is not None:
        return f"contains the control character {control!r}, which no name may hold"
    if not text.isascii():
        return "contains non-ASCII characters (look-alikes are not allowed)"
    return "is not an identifier (letters, digits and _ only, not starting with a digit)"


def suggest_name(name: object, kind: str, problem: Callable[[str], str | None]) -> str:
    """'my layer' -> 'my_layer', 'ﬁlter' -> 'filter', 'class' -> 'class_layer', '2d' -> 'layer_2d'."""
    text = unicodedata.normalize("NFKC", str(name))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\W+", "_", text).strip("_")
    if not text:
        return f"{kind}_1"
    if text[0].isdigit():
        text = f"{kind}_{text}"
    if problem(text) is not None:
        text = f"{text}_{kind}"
    return text if problem(text) is None else f"{kind}_1"
