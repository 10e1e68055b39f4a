"""What the language server knows about one open spec, without any LSP library: the checked
Spec (the same pipeline as `specc check`), where each layer item sits in the text, and the
answers to hover, inlay-hint, completion and definition questions.

Positions here are 0-based (line, character), as in LSP; the pipeline's are 1-based. Lines end
where an editor ends them, at \\n, \\r\\n or \\r (the LSP rule); YAML also ends them at U+0085,
U+2028 and U+2029, so the pipeline's positions are converted (``at``).
Completion reads the text itself, since what is being typed is rarely valid YAML yet.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Location
from ..graph.ir import Node
from ..pipeline import loads
from ..report.summary import format_count, format_macs
from ..shapes.dims import fmt_shape
from ..spec import Spec

Pos = tuple[int, int]
Span = tuple[Pos, Pos]

_ITEM = re.compile(r"^(\s*)-\s")
_TYPE_TYPED = re.compile(r"""\btype:\s*["']?([A-Za-z_][A-Za-z0-9_]*)?$""")
_TYPE_IN = re.compile(r"""\btype:\s*["']?([A-Za-z_][A-Za-z0-9_]*)""")
_KEY = re.compile(r"""(?:^|[{,\s])([A-Za-z_][A-Za-z0-9_]*):""")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_SECTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):")
_EDITOR_BREAK = re.compile(r"\r\n|\r|\n")
_YAML_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def editor_lines(text: str) -> list[str]:
    """The text's lines as an editor (and LSP) counts them, without their ends."""
    lines = _EDITOR_BREAK.split(text)
    return lines[:-1] if lines and not lines[-1] else lines


def _starts(text: str, breaks: re.Pattern[str]) -> list[int]:
    return [0] + [m.end() for m in breaks.finditer(text)]


@dataclass
class Hint:
    at: Pos
    label: str


@dataclass
class Completion:
    label: str
    detail: str
    insert: str
    kind: str  # "class" for a layer type or block, "field" for a key


@dataclass
class Analysis:
    uri: str
    text: str
    spec: Spec
    lines: list[str] = field(default_factory=list)
    by_line: dict[int, list[tuple[int, Node]]] = field(default_factory=dict)  # 0-based line → (depth, node)
    # where each line starts in the text, as YAML and as an editor count lines; None when they agree
    _starts: tuple[list[int], list[int]] | None = None

    def at(self, loc: Location) -> Pos:
        """A pipeline position (1-based, YAML's lines) as an editor's (0-based, LSP's lines)."""
        line, col = loc.line - 1, loc.col - 1
        if self._starts is None:
            return line, col
        yaml, editor = self._starts
        offset = (yaml[line] if line < len(yaml) else len(self.text)) + col
        row = bisect_right(editor, offset) - 1
        return row, offset - editor[row]

    @classmethod
    def of(cls, text: str, uri: str, path: str) -> Analysis:
        try:
            spec = loads(text, path)
        except Exception as exc:  # noqa: BLE001 -- a specc bug must reach the editor as a diagnostic, not end the check
            # Without this the handler fails, nothing is published and the last edit's diagnostics stay shown.
            spec = Spec(path, text, [Diagnostic(
                "E999", f"internal error: {type(exc).__name__}: {exc}", Location(path, 1, 1),
                "this is a bug in specc, not in the spec; report it with the spec attached "
                "(`specc check` with SPECC_DEBUG=1 shows the traceback)")])
        a = cls(uri, text, spec, editor_lines(text))
        if any(c in text for c in "\x85\u2028\u2029"):
            a._starts = (_starts(text, _YAML_BREAK), _starts(text, _EDITOR_BREAK))
        if spec.graph is not None:
            for depth, n in spec.graph.walk():
                if n.loc is not None and n.loc.file == path:
                    a.by_line.setdefault(a.at(n.loc)[0], []).append((depth, n))
        return a

    # -- diagnostics ---------------------------------------------------------------------------
    def diagnostics(self) -> list[tuple[Span, Diagnostic]]:
        out = []
        for d in self.spec.diagnostics:
            here = d.loc is not None and d.loc.file == self.spec.path
            line, col = self.at(d.loc) if here and d.loc else (0, 0)
            out.append(((((line, col), (line, self._token_end(line, col)))), d))
        return out

    def _token_end(self, line: int, col: int) -> int:
        """Where the value or key starting at (line, col) ends: a quoted string, or up to the next
        separator; at least one character, so that an editor can underline it."""
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        if col >= len(text):
            return col + 1
        if text[col] in "\"'":
            close = text.find(text[col], col + 1)
            return close + 1 if close > 0 else len(text)
        if text[col] in "{[":
            return col + 1
        m = re.compile(r"[^,\]\}#\n]*").match(text, col)
        end = col + len(m.group(0).rstrip()) if m else col + 1
        return max(end, col + 1)

    # -- where layer items are -----------------------------------------------------------------
    def item_span(self, line: int) -> tuple[int, int] | None:
        """The lines of the list item (a layer) around ``line``: from its '- ' to the last line
        indented deeper than that dash."""
        start = line
        while start >= 0:
            m = _ITEM.match(self.lines[start]) if start < len(self.lines) else None
            if m:
                break
            text = self.lines[start] if start < len(self.lines) else ""
            if text.strip() and not text.startswith((" ", "\t")):
                return None  # reached a top-level key: not inside a list item
            start -= 1
        if start < 0:
            return None
        dash = len(_ITEM.match(self.lines[start]).group(1))  # type: ignore[union-attr]
        end = start
        for i in range(start + 1, len(self.lines)):
            text = self.lines[i]
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            if len(text) - len(text.lstrip()) <= dash:
                break
            end = i
        return (start, end) if end >= line else None

    def nodes_at(self, line: int) -> list[Node]:
        """The layers the item at ``line`` became: one for a top-level item, one per instance
        for an item inside a block, the group first for a repeat."""
        span = self.item_span(line)
        if span is None:
            return []
        found = [dn for i in range(span[0], span[1] + 1) for dn in self.by_line.get(i, [])]
        if not found:
            return []
        top = min(d for d, _ in found)
        return [n for d, n in found if d == top]

    # -- hover -----------------------------------------------------------------------------------
    def hover(self, pos: Pos) -> str | None:
        line = self.lines[pos[0]] if pos[0] < len(self.lines) else ""
        word = _word_at(line, pos[1])
        if word and "from:" in line[:pos[1]]:  # a name that a layer reads: what it is
            target = self.definition(pos)
            if target is not None:
                read = self._input_hover(target[0]) or self.hover((target[0], 0))
                if read:
                    return f"reads `{word}`:\n\n{read}"
        nodes = self.nodes_at(pos[0])
        if not nodes:
            return self._input_hover(pos[0])
        first = nodes[0]
        head = f"**{first.type}**" + (f" `{first.path}`" if len(nodes) == 1 else
                                      f" — {len(nodes)} instances of this line")
        out = [head, ""]
        for n in nodes[:8]:
            out.append(("- " if len(nodes) > 1 else "") + _describe(n))
        if len(nodes) > 8:
            out.append(f"- … and {len(nodes) - 8} more")
        errors = [d for d in self.spec.errors if d.layer and any(d.layer == n.path for n in nodes)]
        for d in errors[:3]:
            out += ["", f"⚠ {d.code} {d.message}" + (f" — {d.hint}" if d.hint else "")]
        return "\n".join(out)

    def _input_hover(self, line: int) -> str | None:
        raw, g = self.spec.raw, self.spec.graph
        inputs = raw.get("inputs") if isinstance(raw, dict) else None
        if not isinstance(inputs, dict) or g is None:
            return None
        for name in inputs:
            loc = inputs.key_loc(name)
            if loc is not None and self.at(loc)[0] == line and name in g.inputs:
                t = g.inputs[name]
                return f"**input** `{name}` → `{fmt_shape(t.shape)}` {t.dtype}"
        return None

    # -- inlay hints -----------------------------------------------------------------------------
    def inlay_hints(self, first: int = 0, last: int | None = None) -> list[Hint]:
        last = len(self.lines) - 1 if last is None else last
        out: list[Hint] = []
        seen: set[int] = set()
        for line in sorted(self.by_line):
            span = self.item_span(line)
            if span is None or span[1] in seen or not first <= span[1] <= last:
                continue
            seen.add(span[1])
            nodes = self.nodes_at(line)
            shapes = list(dict.fromkeys(" | ".join(fmt_shape(t.shape) for t in n.result.outs)
                                        if n.result is not None and n.result.outs else
                                        fmt_shape(n.out.shape) if n.out else "?" for n in nodes))
            if not shapes:
                continue
            label = "→ " + " | ".join(shapes[:3]) + (" | …" if len(shapes) > 3 else "")
            out.append(Hint((span[1], _code_end(self.lines[span[1]])), label))
        return out

    # -- completion ------------------------------------------------------------------------------
    def completions(self, pos: Pos) -> list[Completion]:
        from ..layers import ALIASES, REGISTRY
        from ..load.expand import LAYER_META

        line = self.lines[pos[0]] if pos[0] < len(self.lines) else ""
        before = line[:pos[1]]
        blocks = self._blocks()
        if _TYPE_TYPED.search(before):
            out = [Completion(name, kind.summary, name, "class") for name, kind in sorted(REGISTRY.items())]
            out += [Completion(a, f"Keras name of {t}", a, "class") for a, t in sorted(ALIASES.items())]
            out += [Completion(b, "block of this spec", b, "class") for b in sorted(blocks)]
            return out
        span = self.item_span(pos[0])
        if span is None:
            if not line[:pos[1]].startswith((" ", "\t")):
                from ..validate.document import Document

                present = {m.group(1) for m in (_SECTION.match(x) for x in self.lines) if m}
                return [Completion(k, "section", f"{k}: ", "field") for k in Document.model_fields
                        if k not in present]
            return []
        text = "\n".join(self.lines[span[0]:span[1] + 1])
        m = _TYPE_IN.search(text)
        if m is None:
            return [Completion("type", "the layer type", "type: ", "field")]
        present = {k.group(1) for k in _KEY.finditer(text)}
        kind_name = m.group(1)
        kind = REGISTRY.get(ALIASES.get(kind_name, kind_name))
        keys: list[tuple[str, str]] = []
        if kind is not None:
            for name, info in kind.Params.model_fields.items():
                default = "" if info.is_required() else f" (default {info.default!r})"
                keys.append((name, f"{kind.type_name} parameter{default}"))
        elif kind_name in blocks:
            keys += [(str(a), f"argument of block {kind_name} (default {v!r})") for a, v in blocks[kind_name].items()]
        keys += [(k, "any layer") for k in LAYER_META if k != "type"]
        return [Completion(k, detail, f"{k}: ", "field") for k, detail in keys if k not in present]

    def _blocks(self) -> dict[str, dict[str, Any]]:
        raw = self.spec.raw
        blocks = raw.get("blocks") if isinstance(raw, dict) else None
        if not isinstance(blocks, dict):
            return {}
        return {str(k): (v.get("args") or {}) if isinstance(v, dict) else {} for k, v in blocks.items()}

    # -- definition ------------------------------------------------------------------------------
    def definition(self, pos: Pos) -> Pos | None:
        """Where the name under the cursor is defined: a `from:` (or outputs:) name → its layer
        or input, in the scope of the cursor; a block's type → the block."""
        word = _word_at(self.lines[pos[0]] if pos[0] < len(self.lines) else "", pos[1])
        raw = self.spec.raw
        if not word or not isinstance(raw, dict):
            return None
        blocks = raw.get("blocks")
        if isinstance(blocks, dict) and word in blocks and blocks.key_loc(word):
            loc = blocks.key_loc(word)
            return self.at(loc)
        scope = self._scope_items(pos[0])
        word = word.split(".", 1)[0]  # one output of a Split, split.0 or split.left: the Split
        for item in scope:
            if isinstance(item, dict) and item.get("name") == word:
                loc = item.value_loc("name")
                return self.at(loc) if loc else None
        inputs = raw.get("inputs")
        if scope is raw.get("layers") and isinstance(inputs, dict) and word in inputs:
            loc = inputs.key_loc(word)
            return self.at(loc) if loc else None
        return None

    def _scope_items(self, line: int) -> list[Any]:
        """The layers list the cursor is in: a block's, or the top-level one."""
        raw = self.spec.raw
        assert isinstance(raw, dict)
        blocks = raw.get("blocks")
        if isinstance(blocks, dict):
            for body in blocks.values():
                items = body.get("layers") if isinstance(body, dict) else None
                if isinstance(items, list) and items and getattr(items, "loc", None):
                    first = self.at(items.loc)[0]
                    last = max((self.at(loc)[0] for loc in items.item_locs if loc), default=first)
                    span = self.item_span(last)
                    if first <= line <= (span[1] if span else last):
                        return items
        layers = raw.get("layers")
        return layers if isinstance(layers, list) else []


def _describe(n: Node) -> str:
    r = n.result
    if r is None:
        return f"`{n.path}`: not inferred (see the error)"
    macs = format_macs(r.macs, human=True) if not isinstance(r.macs, int) or r.macs else "0"
    group = f" in {len(list(n.sub.leaves()))} layers" if n.sub is not None else ""
    shown = " | ".join(fmt_shape(t.shape) for t in r.outs) if r.outs else fmt_shape(r.out.shape)
    return (f"`{n.path}` → `{shown}` {r.out.dtype} · {format_count(r.params)} params{group} · "
            f"{macs} MACs/sample")


def _code_end(line: str) -> int:
    """The end of a line's YAML, before a trailing # comment (outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return len(line[:i].rstrip())
    return len(line.rstrip())


def _word_at(line: str, col: int) -> str | None:
    for m in _WORD.finditer(line):
        if m.start() <= col <= m.end():
            return m.group(0)
    return None
