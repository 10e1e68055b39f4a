"""Layer items as declarations: what the graph engine reads of each item of a ``layers:`` list.

Expansion leaves positioned mappings (blocks and repeats as groups of them); here each becomes a
:class:`LayerDecl` with its layer keys (type, name, from, trainable, ignore) as attributes, its
parameters apart for the kind to validate, and the locations the engine reports at.  What the
keys hold is checked by the engine, which knows the kinds and the names in scope.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Location
from ..load.expand import LAYER_META, Group
from ..load.yaml_loader import Dropped, PosDict, PosList

# Plain slotted classes, not dataclasses: see validate.sections.

class GroupDecl:
    """A block instance or a ``repeat``: a named sub-graph of layer declarations."""

    __slots__ = ("args", "block", "children", "inputs", "output")

    def __init__(self, block: str | None, children: Layers, args: dict[str, Any], output: Any,
                 inputs: list[str]) -> None:
        self.block = block  # the block's name; None for a repeat of one layer
        self.children = children
        self.args = args
        self.output = output
        self.inputs = inputs  # what its layers call its inputs (`input` alone unless the block names them)


class LayerDecl:
    """One item of a layers: list, as the graph engine reads it."""

    __slots__ = ("broken", "field_locs", "group", "ignore", "init", "keys", "loc", "mapping", "name", "params",
                 "source", "template", "tie", "trainable", "type", "use", "written")

    def __init__(self, loc: Location | None, item: PosDict | None = None, broken: bool = False,
                 group: GroupDecl | None = None) -> None:
        """``item``: the expanded item, None when it is not a mapping (reported by expansion)."""
        self.loc = loc
        self.mapping = item is not None
        item = item if item is not None else PosDict()
        self.keys = frozenset(k for k in item if isinstance(k, str))  # the keys written: `"ignore" in decl.keys`
        self.type: Any = item.get("type")  # as written; None when not written
        self.name: Any = item.get("name")
        self.source: Any = item.get("from")
        self.trainable: Any = item.get("trainable", True)
        self.ignore: Any = item.get("ignore")
        self.use: Any = item.get("use")  # an earlier layer or block applied again, with its weights
        self.tie: Any = item.get("tie")  # an earlier layer whose weight this one shares
        # `init:` maps parameters to initialisers; a number is a kind's own init (PReLU's slope)
        init = item.get("init")
        own_init = isinstance(init, (int, float)) and not isinstance(init, bool)
        self.init: Any = None if own_init else init
        # the kind's parameters as written (not the layer keys), and where each key is written
        self.params = {k: v for k, v in item.items() if k not in LAYER_META or (k == "init" and own_init)}
        self.field_locs = {str(k): v for k, v in item.key_locs.items()}
        self.written = item  # validate.errors locates a parameter's problem in it
        self.template = item.template  # the item before expansion (generated code reuses its ${...})
        self.broken = broken  # its expansion failed (reported); the engine only names it
        self.group = group

    @property
    def named(self) -> bool:
        return "name" in self.keys

    def at(self, key: str) -> Location | None:
        """Where the value of ``key`` is written (the item itself when it lacks the key)."""
        return self.written.value_loc(key) if self.mapping else self.loc

    def source_at(self, i: int) -> Location | None:
        """Where the i-th name of ``from:`` is written."""
        src = self.source
        return src.item_loc(i) if isinstance(src, PosList) else self.at("from")


class Layers(list[LayerDecl]):
    """The declarations of one layers: list (the model's, a block's or a repeat's) and where it is."""

    def __init__(self, items: list[LayerDecl], loc: Location | None,
                 omitted: dict[str, tuple[str, Location | None]] | None = None,
                 dropped: dict[int, list[Dropped]] | None = None):
        super().__init__(items)
        self.loc = loc
        self.omitted = omitted or {}  # names a false `when:` or `repeat: 0` left out (PosList.omitted)
        self.dropped = dropped or {}  # the items a false `when:` left out, by where they stood (PosList.dropped)


def model_layers(doc: PosDict, broken: set[int]) -> Layers | None:
    """The model's layers: list as declarations; None when it has none to build (reported)."""
    items = doc.get("layers")
    return layer_decls(items, broken) if isinstance(items, PosList) and items else None


def layer_decls(items: Any, broken: set[int], loc: Location | None = None) -> Layers:
    """``items`` (an expanded layers: list) as declarations; ``broken``: ids of the items whose
    expansion failed."""
    listed = isinstance(items, PosList)
    out = [_decl(item, broken, items.item_loc(i) if listed else getattr(item, "loc", loc))
           for i, item in enumerate(items)]
    return Layers(out, getattr(items, "loc", loc), getattr(items, "omitted", None), getattr(items, "dropped", None))


def _decl(item: Any, broken: set[int], item_loc: Location | None) -> LayerDecl:
    if not isinstance(item, PosDict):
        return LayerDecl(item_loc)
    group = None
    if isinstance(item, Group):
        children = layer_decls(item.children, broken, item.loc)
        children.loc = item.loc  # a block's own problems point at its instance
        group = GroupDecl(item.block, children, item.args, item.output, item.inputs)
    return LayerDecl(item.loc or item_loc, item, id(item) in broken, group)
