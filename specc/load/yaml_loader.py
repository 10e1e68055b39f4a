"""Safe YAML → plain data that remembers where every key and value came from.

PyYAML only *composes* the node tree here; specc never lets it construct Python
objects, so no tag can build one.  Scalars are resolved with YAML 1.2 core rules, which
is what a spec author means: ``1e-3`` is 0.001, ``010`` is 10, and ``yes``/``no``/
``on``/``off`` stay text (a layer called ``no`` keeps its name).
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import itertools
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import LINE_BREAK, Location, SpecError, source_lines
from .limits import MAX_BYTES, MAX_DEPTH, MAX_INT, MAX_LAYERS, MAX_NODES, MIN_INT

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}

_INT = re.compile(r"^[-+]?[0-9][0-9_]*$")
_HEX = re.compile(r"^0x[0-9a-fA-F_]+$")
_OCT = re.compile(r"^0o[0-7_]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")
# A Python tuple of numbers or words, as a plain scalar's text begins with it: (3, 3), (1,)
_TUPLE = re.compile(r"\(\s*(-?[\w.]+(?:\s*,\s*-?[\w.]+)+\s*,?|-?[\w.]+\s*,)\s*\)")  # a comma: (3) is 3
_WORDS = frozenset({"null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"})


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


@dataclasses.dataclass(frozen=True)
class Dropped:
    """An item a false ``when:`` left out: enough to tell whether the item after it, reading
    "the item above", now reads something its author did not write it after."""

    name: str | None
    type: str
    source: Any  # its from: as filled in (None without one: it read the item above it)
    loc: Location | None
    when: Location | None


class PosList(list):
    def __init__(self, *args: Any, loc: Location | None = None):
        super().__init__(*args)
        self.loc = loc
        self.item_locs: list[Location | None] = []
        # names of the items a false `when:` (or a `repeat:` of 0) left out, with that key and where
        # its value is: reading one is then explained by it rather than as a name that does not exist
        self.omitted: dict[str, tuple[str, Location | None]] = {}
        # by the index of the kept item they stood above (len(self) for the end), the items a false
        # `when:` left out there, in the order written
        self.dropped: dict[int, list[Dropped]] = {}

    def item_loc(self, i: int) -> Location | None:
        return self.item_locs[i] if 0 <= i < len(self.item_locs) else self.loc


@functools.lru_cache(maxsize=4096)  # aliases and long lists repeat the same few scalars
def resolve_plain(text: str) -> Any:
    """YAML 1.2 core-schema resolution of an unquoted scalar; SpecError (Y008, without a
    location) for a number beyond what a 64-bit integer or float holds."""
    if text[:1].isalpha() and text not in _WORDS:  # most scalars are names: no number starts with a letter
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        digits = text.replace("_", "").lstrip("+-").lstrip("0")
        if len(digits) > len(str(MAX_INT)):  # before int(): a huge digit string is slow or refused
            raise _too_large(text)
        return _bounded(int(text.replace("_", "")), text)
    if _HEX.match(text) or _OCT.match(text):
        digits = text[2:].replace("_", "").lstrip("0")
        if len(digits) > 64:
            raise _too_large(text)
        return _bounded(int(digits or "0", 16 if text[1] == "x" else 8), text)
    if _FLOAT.match(text):
        value = float(text.replace("_", ""))
        if math.isinf(value):  # 1e400: an overflow, not a deliberate .inf
            raise _too_large(text)
        return value
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _too_many(loc: Location) -> SpecError:
    return SpecError("Y003", f"the document holds more than {MAX_NODES:,} values, counting every value an alias "
                     "repeats", "a spec is a page of YAML: look for aliases (*name) that repeat a large part, "
                     "or a list generated far too long", loc=loc)


def _too_deep(loc: Location) -> SpecError:
    return SpecError("Y003", f"lists and mappings nest more than {MAX_DEPTH} levels once aliases are expanded "
                     "(an alias inside the anchor it names nests forever)",
                     "use each *alias outside the &anchor it names", loc=loc)


def _bounded(value: int, text: str) -> int:
    if not MIN_INT <= value <= MAX_INT:
        raise _too_large(text)
    return value


def _too_large(text: str) -> SpecError:
    shown = text if len(text) <= 40 else f"{text[:12]}…{text[-6:]} ({len(text):,} characters)"
    return SpecError("Y008", f"the number {shown} is too large: specc reads integers from {MIN_INT:,} to "
                     f"{MAX_INT:,} (64 bits) and floats up to about 1.8e308",
                     "write the size you mean; no tensor, count or seed is this large")


def read_spec(path: str | Path, display: str) -> str:
    """The text of a spec file, refused by its size before it is read into memory.

    A 500 MB file once cost 1.46 GB of memory before the size limit refused it; now the size
    is taken from the file system, and at most MAX_BYTES + 1 bytes are ever read (a device
    or pipe reports no size).  Binary files are refused by their NUL bytes, other non-UTF-8
    files at the first bad byte.
    """
    at = Location(display, 1, 1)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(MAX_BYTES + 1) if size <= MAX_BYTES else b""
    if size > MAX_BYTES or len(data) > MAX_BYTES:
        raise _file_too_large(at, size if size > MAX_BYTES else None)
    return decode_spec(data, display)


def decode_spec(data: bytes, display: str) -> str:
    """Bytes as a spec's text: refused, located, if binary (a NUL byte) or not UTF-8."""
    at = Location(display, 1, 1)
    if len(data) > MAX_BYTES:
        raise _file_too_large(at, len(data))
    # UTF-16 and UTF-32 with a byte-order mark (Windows editors' "Unicode"): YAML text by the spec
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise SpecError("Y006", f"cannot read the spec: it starts as {codec.upper()} text but is not",
                                "save the file as UTF-8", loc=at) from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise SpecError("Y006", "cannot read the spec: it is a binary file, not YAML text",
                        "pass the .yaml spec file, not a model or data file", loc=_byte_loc(data, nul, display))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("Y006", f"cannot read the spec: it is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                        "save the file as UTF-8", loc=_byte_loc(data, exc.start, display)) from None


def _forbidden_character(text: str, exc: yaml.reader.ReaderError, file: str) -> SpecError:
    """YAML refuses control characters (other than tab and line breaks) anywhere in a file, even
    quoted; the reader reports them by offset, with a message that names no line."""
    char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)[:1] or "?"
    # libyaml counts the offset in UTF-8 bytes, PyYAML in characters; the reader stops at the
    # first such character, so finding it in the text is right for both.
    at = text.find(char)
    name = unicodedata.name(char, "a control character").lower()
    return SpecError("Y006", f"the spec holds the character U+{ord(char):04X} ({name}), which YAML does not allow "
                     "anywhere in a file", f"delete it; inside a double-quoted string write it as \\u{ord(char):04x}",
                     loc=text_loc(text, at if at >= 0 else min(max(exc.position, 0), len(text)), file))


def text_loc(text: str, offset: int, file: str) -> Location:
    """The line and column of a character offset, counted as the YAML parser counts them."""
    line, start = 1, 0
    for m in LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, m.end()
    return Location(file, line, offset - start + 1)


def _byte_loc(data: bytes, offset: int, file: str) -> Location:
    before = data[:offset].decode("utf-8", "replace")
    return text_loc(before, len(before), file)


def _file_too_large(at: Location, size: int | None) -> SpecError:
    what = f"the file is {size / 1e6:,.1f} MB, over" if size else "the spec is larger than"
    return SpecError("Y003", f"{what} the limit of {MAX_BYTES // 1_000_000} MB for a spec",
                     "a spec is a page of YAML; keep data and weights in their own files", loc=at)


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str, text: str = ""):
        self.file = file
        self.count = 0
        self.text = text
        self._lines: list[str] | None = None  # split on first need: only a scalar starting with '(' reads them

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _too_many(_loc(self.file, node))
        if depth > MAX_DEPTH:
            raise _too_deep(_loc(self.file, node))
        if node.tag is not None and node.tag not in _ALLOWED_TAGS:
            raise SpecError("Y004", f"YAML tag '{node.tag.replace(_CORE, '!!')}' is not allowed in a spec",
                            "specs are plain data: remove the tag", loc=_loc(self.file, node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            out = PosList(loc=_loc(self.file, node))
            # [0,9, 0.999]: a comma without a space where the others have one (not [1,0,2])
            if node.flow_style and any(self.text[a.end_mark.index:b.start_mark.index].strip() == ","
                                       and b.start_mark.index > a.end_mark.index + 1
                                       for a, b in itertools.pairwise(node.value)):
                for item, after in itertools.pairwise(node.value):
                    self._decimal_comma(item, after, None)
            for item in node.value:
                out.append(self.build(item, depth + 1))
                out.item_locs.append(_loc(self.file, item))
            return out
        assert isinstance(node, yaml.MappingNode)
        return self.mapping(node, depth)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.style or node.tag == _CORE + "str":  # quoted, a block scalar or !!str: always text
            return node.value  # (libyaml gives '' for a plain scalar's style, PyYAML None)
        if node.value.startswith("("):
            self._tuple(node)
        try:
            return resolve_plain(node.value)
        except SpecError as err:
            err.loc = _loc(self.file, node)
            raise

    def _tuple(self, node: yaml.ScalarNode) -> None:
        """Refuse a Python tuple where its source line writes one (a plain scalar from '(' on)."""
        if self._lines is None:
            self._lines = source_lines(self.text)  # YAML's line breaks, as its marks count them
        line = self._lines[node.start_mark.line] if node.start_mark.line < len(self._lines) else ""
        m = _TUPLE.match(line, node.start_mark.column)
        # the whole value, or, inside { }, the part before the comma that split it: "(draft) notes"
        # and "(a, b) notes" are text
        if m and (node.value == m.group(0) or m.group(0).startswith(node.value + ",")):
            items = [x.strip() for x in m.group(1).split(",") if x.strip()]
            raise SpecError("Y009", f"{m.group(0)} is a Python tuple, which YAML does not have",
                            f"write [{', '.join(items)}]: YAML writes a list in square brackets",
                            loc=_loc(self.file, node))

    def mapping(self, node: yaml.MappingNode, depth: int) -> PosDict:
        out = PosDict(loc=_loc(self.file, node))
        merged: list[PosDict] = []
        if node.flow_style:
            for (key_node, value_node), (after, after_value) in itertools.pairwise(node.value):
                if isinstance(after_value, yaml.ScalarNode) and after_value.value in ("", "null", "~"):
                    self._decimal_comma(value_node, after, key_node)
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

    def _decimal_comma(self, value: yaml.Node, after: yaml.Node, key: yaml.Node | None) -> None:
        """A decimal comma ({lr: 0,001}, [0,9, 0.999]), which inside { } or [ ] splits the number in
        two (lr: 0 and a key 001; the items 0 and 9), giving errors that never name the comma:
        refused as the number it was meant to be.  ``key``: the key whose value is ``value``."""
        if not (isinstance(value, yaml.ScalarNode) and isinstance(after, yaml.ScalarNode)
                and not value.style and not after.style):
            return
        whole, fraction = value.value, after.value
        adjacent = after.start_mark.index == value.end_mark.index + 1 and \
            self.text[value.end_mark.index:value.end_mark.index + 1] == ","
        # 0,5 or 1,05 is a decimal; 3,3 may as well be a pair of sizes (the errors as they were)
        decimal = whole.lstrip("-") == "0" or fraction.startswith("0")
        if adjacent and decimal and re.fullmatch(r"-?\d+", whole) and fraction.isdigit():
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            split = f"{name}: {whole} and a key {fraction}" if name else f"the items {whole} and {fraction}"
            fix = f"write {name + ': ' if name else ''}{whole}.{fraction}"
            if name and not fraction.startswith("0"):  # {padding: 0,1} may be two values
                fix += f" (a decimal point), or {name}: [{whole}, {fraction}] for two values"
            raise SpecError("Y010", f"{whole},{fraction} has a decimal comma: inside {{ }} or [ ] YAML splits it "
                            f"into {split}", fix, loc=_loc(self.file, value))

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
_REPARSE_BYTES = 200_000


def _compose(text: str, file: str) -> list[yaml.Node]:
    """libyaml parses ~10x faster with the same events and marks; PyYAML words errors better,
    so a file libyaml rejects is parsed again by PyYAML for the message."""
    try:
        return _compose_events(_FAST, text, file)
    except yaml.YAMLError:
        if len(text) > _REPARSE_BYTES:  # PyYAML's scanner is pure Python: 1 MB takes seconds
            raise
        return _compose_events(yaml.SafeLoader, text, file)


def _compose_events(loader_cls: type, text: str, file: str) -> list[yaml.Node]:
    """PyYAML's node tree, composed from the parser's events without recursion.

    PyYAML's own composer recurses once per level of nesting, in C for libyaml: 30,000
    nested '[' overflowed the C stack and killed the process (and any editor or server that
    called specc.loads).  Both parsers are state machines with their own stacks, so they
    are safe at any depth; here the depth is counted as the events arrive, and the file is
    refused at the first collection past MAX_DEPTH, before anything deeper is read.

    A scalar without an explicit tag keeps the tag None: :meth:`_Builder.scalar` resolves
    it with YAML 1.2 rules, so PyYAML's YAML 1.1 resolution would be wasted work.
    """
    loader = loader_cls(text)
    docs: list[yaml.Node] = []
    open_: list[Any] = []  # the collections being filled, innermost last
    keys: list[Any] = []  # beside each: a mapping's key that waits for its value (None: none)
    anchors: dict[str, yaml.Node] = {}
    count = 0
    get, end = loader.get_event, yaml.StreamEndEvent
    scalar, alias, seq, mapping = yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent
    closers = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    try:
        while True:
            ev = get()
            cls = ev.__class__
            if cls is scalar:
                node = yaml.ScalarNode(ev.tag if ev.tag != "!" else None, ev.value, ev.start_mark, ev.end_mark,
                                       style=ev.style)
            elif cls in closers:
                open_.pop().end_mark = ev.end_mark
                keys.pop()
                continue
            elif cls is seq or cls is mapping:
                if len(open_) > MAX_DEPTH:
                    raise SpecError("Y003", f"lists and mappings are nested more than {MAX_DEPTH} levels deep",
                                    "a spec nests a few levels; look for a '[' or '{' that is never closed",
                                    loc=Location(file, ev.start_mark.line + 1, ev.start_mark.column + 1))
                default = _CORE + ("seq" if cls is seq else "map")
                kind = yaml.SequenceNode if cls is seq else yaml.MappingNode
                node = kind(ev.tag if ev.tag not in (None, "!") else default, [], ev.start_mark, None,
                            flow_style=ev.flow_style)
            elif cls is alias:
                if ev.anchor not in anchors:
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {ev.anchor!r}",
                                                      ev.start_mark)
                node = anchors[ev.anchor]
            elif cls is end:
                break
            else:
                if cls is yaml.DocumentStartEvent:
                    anchors = {}
                continue
            count += 1
            if count > MAX_NODES:  # the builder counts again after aliases: this bounds the parse
                raise _too_many(Location(file, ev.start_mark.line + 1, ev.start_mark.column + 1))
            if cls is not alias and ev.anchor is not None:
                if ev.anchor in anchors:
                    raise yaml.composer.ComposerError(
                        f"found duplicate anchor {ev.anchor!r}; first occurrence", anchors[ev.anchor].start_mark,
                        "second occurrence", ev.start_mark)
                anchors[ev.anchor] = node
            if not open_:
                docs.append(node)
            elif open_[-1].__class__ is yaml.SequenceNode:
                open_[-1].value.append(node)
            elif keys[-1] is None:
                keys[-1] = node
            else:
                open_[-1].value.append((keys[-1], node))
                keys[-1] = None
            if cls is seq or cls is mapping:
                open_.append(node)
                keys.append(None)
    finally:
        loader.dispose()
    return docs


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into PosDict/PosList/scalars; raise SpecError on problems."""
    if len(text) > MAX_BYTES:  # a character is at least one byte: no need to encode it to know
        raise _file_too_large(Location(file, 1, 1), None)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate, from a caller's str: libyaml would raise on it
        raise SpecError("Y006", f"cannot read the spec: it holds {text[exc.start]!r}, half of a UTF-16 pair, which "
                        "is not Unicode text", "pass the text as read from a UTF-8 file",
                        loc=text_loc(text, exc.start, file)) from None
    if size > MAX_BYTES:
        raise _file_too_large(Location(file, 1, 1), None)
    try:
        nodes = _compose(text, file)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.reader.ReaderError as exc:
        raise _forbidden_character(text, exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError("Y001", f"YAML syntax error: {exc}", "check the file is YAML",
                        loc=Location(file, 1, 1)) from None
    if not nodes or nodes[0] is None:
        raise SpecError("Y005", "the spec is empty", "start with 'specc: 1' and a 'layers:' list",
                        loc=Location(file, 1, 1))
    if len(nodes) > 1:
        raise SpecError("Y005", "the file holds several YAML documents ('---'); a spec is one",
                        "put each spec in its own file", loc=_loc(file, nodes[1]))
    _count_layers(nodes[0], file)
    return _Builder(file, text).build(nodes[0])


def _count_layers(root: yaml.Node, file: str) -> None:
    """A list of layers longer than the expanded limit is refused before a value is built
    (the expansion counts repeat: and blocks; this is what is written out)."""
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value == "layers" and isinstance(value, yaml.SequenceNode) and len(value.value) > MAX_LAYERS:
            raise SpecError("X005", f"the model has {len(value.value):,} layers, over the limit of {MAX_LAYERS:,}",
                            "a real network has hundreds or a few thousand layers; is a part of the spec "
                            "generated by mistake?", loc=_loc(file, value.value[MAX_LAYERS]))
