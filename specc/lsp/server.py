"""The Language Server Protocol side of `specc lsp` (pygls): each open spec is checked on every
edit by the same pipeline as `specc check`, and hover, inlay hints, completion and
definition are answered from that check (see analysis.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from ..version import __version__
from .analysis import Analysis

_EDITOR_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class EditorDocument(TextDocument):
    """pygls' document splits its lines with str.splitlines, which also ends them at U+2028,
    U+2029, U+0085 and other characters no editor breaks at; every position an editor sends after
    one (an incremental edit's range included) would then land on the wrong line. LSP ends lines
    at \\n, \\r\\n and \\r only, and so does this document."""

    @property
    def lines(self) -> Sequence[str]:
        return tuple(_EDITOR_LINE.findall(self.source))


def _editor_document(doc_uri: str, source: str | None = None, version: int | None = None,
                     language_id: str | None = None, *, codec: Any) -> TextDocument:
    return EditorDocument(doc_uri, source=source, version=version, language_id=language_id,
                          sync_kind=lsp.TextDocumentSyncKind.Incremental, position_codec=codec)


_SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


class SpeccServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("specc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.last_good: dict[str, Analysis] = {}  # the last check whose YAML parsed, for definition

    def analyse(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        a = Analysis.of(doc.source, uri, to_fs_path(uri) or uri)
        self.analyses[uri] = a
        if a.spec.raw is not None:
            self.last_good[uri] = a
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=doc.version,
            diagnostics=[_diagnostic(_range(doc, span), d) for span, d in a.diagnostics()]))
        return a

    def current(self, uri: str) -> Analysis:
        return self.analyses.get(uri) or self.analyse(uri)


# Analysis counts columns in characters (code points); LSP counts them in the negotiated code units,
# UTF-16 unless the client asked otherwise, so an emoji before a position counts twice there.
def _to_client(doc: TextDocument, at: tuple[int, int]) -> lsp.Position:
    line, col = at
    lines = doc.lines
    if line >= len(lines):
        return lsp.Position(line=line, character=col)
    text = lines[line].rstrip("\r\n")
    units = doc.position_codec.client_num_units(text[:col])
    return lsp.Position(line=line, character=units + max(0, col - len(text)))


def _from_client(doc: TextDocument, position: lsp.Position) -> tuple[int, int]:
    if position.line >= len(doc.lines):
        return position.line, position.character
    p = doc.position_codec.position_from_client_units(
        doc.lines, lsp.Position(line=position.line, character=position.character))
    return p.line, p.character


def _range(doc: TextDocument, span: tuple[tuple[int, int], tuple[int, int]]) -> lsp.Range:
    return lsp.Range(start=_to_client(doc, span[0]), end=_to_client(doc, span[1]))


def _diagnostic(where: lsp.Range, d: Any) -> lsp.Diagnostic:
    from ..codes import CODES

    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return lsp.Diagnostic(range=where, message=message, severity=_SEVERITY[d.severity], code=d.code,
                          source="specc", data={"name": CODES[d.code].name})


def build_server() -> SpeccServer:
    server = SpeccServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: SpeccServer, params: lsp.InitializeParams) -> None:
        # pygls makes the workspace just before this handler; its documents count lines as editors do
        codec = ls.workspace.position_codec
        ls.workspace._create_text_document = (  # type: ignore[method-assign]
            lambda uri, source=None, version=None, language_id=None:
            _editor_document(uri, source, version, language_id, codec=codec))

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SpeccServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.analyse(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SpeccServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.analyse(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SpeccServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.last_good.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: SpeccServer, params: lsp.HoverParams) -> lsp.Hover | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        text = ls.current(params.text_document.uri).hover(_from_client(doc, params.position))
        if text is None:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
    def inlay_hints(ls: SpeccServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        a = ls.current(params.text_document.uri)
        doc = ls.workspace.get_text_document(params.text_document.uri)
        return [lsp.InlayHint(position=_to_client(doc, h.at), label=h.label,
                              kind=lsp.InlayHintKind.Type, padding_left=True)
                for h in a.inlay_hints(params.range.start.line, params.range.end.line)]

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ":", "{", ","]))
    def completion(ls: SpeccServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        # Completion reads the text as it is now: the check of the last edit may lag a keystroke.
        doc = ls.workspace.get_text_document(params.text_document.uri)
        a = ls.current(params.text_document.uri)
        if a.text != doc.source:
            a = ls.analyse(params.text_document.uri)
        items = [lsp.CompletionItem(label=c.label, detail=c.detail, insert_text=c.insert,
                                    kind=lsp.CompletionItemKind.Class if c.kind == "class" else
                                    lsp.CompletionItemKind.Field)
                 for c in a.completions(_from_client(doc, params.position))]
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: SpeccServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        uri = params.text_document.uri
        a = ls.current(uri)
        if a.spec.raw is None:  # mid-edit, the YAML does not parse: answer from the last check that did
            a = ls.last_good.get(uri, a)
        doc = ls.workspace.get_text_document(uri)
        at = a.definition(_from_client(doc, params.position))
        if at is None:
            return None
        return lsp.Location(uri=uri, range=_range(doc, (at, at)))

    return server


def serve() -> None:
    build_server().start_io()
