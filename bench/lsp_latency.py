"""How long from an edit to its diagnostics in `specc lsp`, on the ResNet-18 spec?

In-process: the server's own JSON-RPC protocol receives each `textDocument/didChange`
notification (as pygls decodes it off the wire) and the time runs until the
`textDocument/publishDiagnostics` message for that version has been serialised and written.
Each edit changes one number (a width that still fits, then one that does not), so the
diagnostics alternate between none and one S001 — what a user sees when typing. Prints the
median and the 90th percentile next to the goal (median under 50 ms), and what part of it
is the check itself (`specc.loads`).

Run:  .venv/bin/python bench/lsp_latency.py [--edits 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from specc.lsp.server import build_server  # noqa: E402
from specc.pipeline import loads  # noqa: E402

SPEC = ROOT / "specs" / "resnet18.yaml"
GOAL_MS = 50.0


class Capture:
    """Stands in for stdout: keeps what the server writes, stamped with when it was written."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []

    def write(self, data: bytes) -> None:
        body = data.split(b"\r\n\r\n", 1)[1]
        self.messages.append((time.perf_counter(), json.loads(body)))

    def close(self) -> None:
        pass


def _send(server: Any, message: dict[str, Any]) -> None:
    server.protocol.handle_message(server.protocol.structure_message(message))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=60)
    args = parser.parse_args()

    server = build_server()
    out = Capture()
    server.protocol.set_writer(out)
    _send(server, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    _send(server, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    text = SPEC.read_text(encoding="utf-8")
    uri = SPEC.as_uri()
    _send(server, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
    # the edit: the classifier's in_features, written right (512) or wrong (513)
    line_no = next(i for i, line in enumerate(text.splitlines()) if "name: fc}" in line)
    line = text.splitlines()[line_no]
    col = line.index("name: fc}")
    times, diag_counts = [], []
    for k in range(args.edits):
        value = "in_features: 513, " if k % 2 else "in_features: 512, "
        start = {"line": line_no, "character": col}
        end = {"line": line_no, "character": col + (len(value) if k else 0)}
        before = len(out.messages)
        t0 = time.perf_counter()
        _send(server, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": k + 2},
            "contentChanges": [{"range": {"start": start, "end": end}, "text": value}]}})
        published = [(t, m) for t, m in out.messages[before:] if m.get("method") == "textDocument/publishDiagnostics"]
        assert published and published[-1][1]["params"]["version"] == k + 2, "no diagnostics for this edit"
        times.append((published[-1][0] - t0) * 1000)
        diag_counts.append(len(published[-1][1]["params"]["diagnostics"]))
    assert set(diag_counts[1:]) == {0, 1}, f"the edits should flip the diagnostics: {diag_counts}"
    doc = server.workspace.get_text_document(uri).source
    check = []
    for _ in range(20):
        t0 = time.perf_counter()
        loads(doc, str(SPEC))
        check.append((time.perf_counter() - t0) * 1000)
    times = times[3:]  # the first edits warm the layer schemas up
    median = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    print(f"specc lsp, {SPEC.relative_to(ROOT)}: edit → publishDiagnostics, in-process, {len(times)} edits")
    print(f"  median {median:.1f} ms   p90 {p90:.1f} ms   (goal: median < {GOAL_MS:.0f} ms: "
          f"{'met' if median < GOAL_MS else 'NOT met'})")
    print(f"  of which the check itself (specc.loads): median {statistics.median(check):.1f} ms")


if __name__ == "__main__":
    main()
