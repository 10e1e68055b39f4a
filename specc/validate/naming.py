"""A usable name to offer when a layer, input or output name is rejected.

The rules live in :mod:`specc.graph.names` (passed in as ``problem``, so that validation
does not import the graph stage); this only turns a rejected name into the nearest
accepted one, for the hint ("rename it, e.g. name: my_layer").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable


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
