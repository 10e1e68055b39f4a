"""Safe YAML → plain data that remembers where every key and value came from.

PyYAML only *composes* the node tree here; specc never lets it construct Python
objects, so no tag can build one.  Scalars are resolved with YAML 1.2 core rules, which
is what a spec author means: ``1e-3`` is 0.001, ``010`` is 10, and ``yes``/``no``/
``on``/``off`` stay text (a layer called ``no`` keeps its name).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

from ..diagnostics import Location, SpecError

MAX_BYTES = 2_000_000
MAX_NODES = 200_000  # after alias expansion: a billion-laughs file stops here, fast
MAX_DEPTH = 64

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}

_INT = re.compile(r"^[-+]?[0-9][0-9_]*$")
_HEX = re.compile(r"^0x[0-9a-fA-F_]+$")
_OCT = re.compile(r"^0o[0-7_]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")


class PosDict(dict):
    """A mapping that knows where it starts and where each key and value is."""

    def __init__(self, *args: Any, loc: Location | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.loc = loc
        self.key_locs: dict[Any, Location] = {}
        self.value_locs: dict[Any, Location] = {}
        self.template: PosDict | None = None  # for an expanded layer: the item as written

    def key_loc(self, key: Any) -> Location | None:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: Any) -> Location | None:
        return self.value_locs.get(key, self.key_loc(key))

    def copy_with(self, items: dict[Any, Any] | None = None) -> PosDict:
        out = PosDict(self if items is None else items, loc=self.loc)
        out.key_locs = dict(self.key_locs)
        out.value_locs = dict(self.value_locs)
        return out


class PosList(list):
    def __init__(self, *args: Any, loc: Location | None = None):
        super().__init__(*args)
        self.loc = loc
        self.item_locs: list[Location | None] = []

    def item_loc(self, i: int) -> Location | None:
        return self.item_locs[i] if 0 <= i < len(self.item_locs) else self.loc


def resolve_plain(text: str) -> Any:
    """YAML 1.2 core-schema resolution of an unquoted scalar."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _HEX.match(text):
        return int(text[2:].replace("_", ""), 16)
    if _OCT.match(text):
        return int(text[2:].replace("_", ""), 8)
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.resolver = yaml.resolver.Resolver()

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            raise SpecError("Y003", f"the document expands to more than {MAX_NODES:,} values or "
                            f"{MAX_DEPTH} levels of nesting",
                            "remove deeply nested aliases (&anchor/*alias); a spec is never this large",
                            loc=_loc(self.file, node))
        if node.tag not in _ALLOWED_TAGS:
            raise SpecError("Y004", f"YAML tag '{node.tag.replace(_CORE, '!!')}' is not allowed in a spec",
                            "specs are plain data: remove the tag", loc=_loc(self.file, node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            out = PosList(loc=_loc(self.file, node))
            for item in node.value:
                out.append(self.build(item, depth + 1))
                out.item_locs.append(_loc(self.file, item))
            return out
        assert isinstance(node, yaml.MappingNode)
        return self.mapping(node, depth)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.style:  # quoted or block scalar: always text (libyaml gives '' for plain, PyYAML None)
            return node.value
        if node.tag == _CORE + "str":
            implicit = self.resolver.resolve(yaml.ScalarNode, node.value, (True, False))
            if implicit != _CORE + "str":  # an explicit !!str on something that looks typed
                return node.value
        return resolve_plain(node.value)

    def mapping(self, node: yaml.MappingNode, depth: int) -> PosDict:
        out = PosDict(loc=_loc(self.file, node))
        merged: list[PosDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge" or (isinstance(key_node, yaml.ScalarNode)
                                                    and not key_node.style and key_node.value == "<<"):
                merged.extend(self._merge_sources(value_node, depth))
                continue
            key = self.build(key_node, depth + 1)
            if isinstance(key, (dict, list)):
                raise SpecError("Y005", "a mapping key must be a plain value, not a list or mapping",
                                "write the key as text", loc=_loc(self.file, key_node))
            if key in out:
                first = out.key_locs[key]
                raise SpecError("Y002", f"duplicate key '{key}'",
                                f"'{key}' is already set on line {first.line}; remove one of them",
                                loc=_loc(self.file, key_node))
            out[key] = self.build(value_node, depth + 1)
            out.key_locs[key] = _loc(self.file, key_node)
            out.value_locs[key] = _loc(self.file, value_node)
        for source in merged:  # explicit keys win over merged ones, as in YAML's merge key
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.key_locs[key] = source.key_loc(key)
                    out.value_locs[key] = source.value_loc(key)
        return out

    def _merge_sources(self, node: yaml.Node, depth: int) -> Iterator[PosDict]:
        value = self.build(node, depth + 1)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, PosDict):
                raise SpecError("Y005", "'<<' merges only mappings", "point the merge key at a mapping",
                                loc=_loc(self.file, node))
            yield item


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    """PyYAML's parser messages, said in terms of what to change in the file."""
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    mark, opened = exc.problem_mark, exc.context_mark
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    if "\\t" in problem or "\t" in problem:
        return SpecError("Y001", f"line {loc.line} is indented with a tab, and YAML allows only spaces",
                         "replace the tab with spaces (2 per level, like the lines around it)", loc=loc)
    if "flow" in context and opened is not None and problem.startswith("expected ','"):
        bracket = "{" if "mapping" in context else "["
        closer = "}" if bracket == "{" else "]"
        at = Location(file, opened.line + 1, opened.column + 1)
        return SpecError("Y001", f"the '{bracket}' opened on line {at.line} is not closed before line {loc.line}",
                         f"add the missing '{closer}' (or ',') at the end of line {at.line}", loc=at)
    if "mapping values are not allowed" in problem:
        return SpecError("Y001", "a ':' appears where YAML does not expect a new key",
                         "put a newline before the key, or quote text that contains ': '", loc=loc)
    if "could not find expected ':'" in problem:
        return SpecError("Y001", "a key has no ':' after it", "write key: value", loc=loc)
    if "found undefined alias" in problem:
        return SpecError("Y001", f"the alias *{problem.split()[-1].strip(chr(39))} refers to no &anchor above it",
                         "define the anchor with &name before using *name, or write the value out", loc=loc)
    if "end of stream" in problem and "quoted scalar" in context:
        at = Location(file, opened.line + 1, opened.column + 1) if opened else loc
        return SpecError("Y001", f"the quote opened on line {at.line} is never closed",
                         "add the closing quote", loc=at)
    if "expected <block end>" in problem or "did not find expected" in problem:
        return SpecError("Y001", "this line's indentation does not fit the lines above it",
                         "indent keys and list items of the same level by the same number of spaces", loc=loc)
    where = f" ({context})" if context else ""
    return SpecError("Y001", f"the file is not valid YAML: {problem}{where}",
                     "check the indentation and the brackets and quotes around this point", loc=loc)


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> list[Any]:
    """libyaml composes ~10x faster with the same nodes and marks; PyYAML words errors better,
    so a file libyaml rejects is parsed again by PyYAML for the message."""
    try:
        return list(yaml.compose_all(text, Loader=_FAST))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into PosDict/PosList/scalars; raise SpecError on problems."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError("Y003", f"the file is larger than {MAX_BYTES // 1_000_000} MB",
                        "a spec is a page of YAML; split out data", loc=Location(file, 1, 1))
    try:
        nodes = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError("Y001", f"YAML syntax error: {exc}", "check the file is YAML",
                        loc=Location(file, 1, 1)) from None
    if not nodes or nodes[0] is None:
        raise SpecError("Y005", "the spec is empty", "start with 'specc: 1' and a 'layers:' list",
                        loc=Location(file, 1, 1))
    if len(nodes) > 1:
        raise SpecError("Y005", "the file holds several YAML documents ('---'); a spec is one",
                        "put each spec in its own file", loc=_loc(file, nodes[1]))
    return _Builder(file).build(nodes[0])
