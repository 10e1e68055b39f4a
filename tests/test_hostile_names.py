"""Names and text are untrusted: no spec can smuggle code into a generated module.

A corpus of hostile names (quotes, newlines, '#', ';', dunders, keywords, nn.Module
attributes, names the generated code uses, Unicode look-alikes such as 'ﬁlter' (U+FB01)
and a Cyrillic 'а', spaces, very long names, '0abc') is used in every place a spec names
something: layers, blocks, block arguments, inputs, outputs and the model; hostile text
goes into string values, vars, descriptions and symbols.  Each spec is either rejected by
`specc check` with a location (exit 1), or it compiles to a module whose AST passes the
gate and imports nothing but the header's modules.  The gate itself is unit-tested too.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import specc
from specc.cli import main
from specc.targets.torch.emit import compile_source
from specc.targets.torch.emit.gate import MODULE_IMPORTS, TRAIN_IMPORTS, GateError, gate

HOSTILE_NAMES = [
    "a'b", 'a"b', "a\nb", "a\rb", "a#b", "a;b", "a b", "a-b", "a.b", "a(b)", "a\\b", "", " ",
    "__class__", "__init__", "__dict__", "__import__", "__builtins__", "_private",
    "class", "def", "import", "lambda", "None", "True", "False", "match", "case", "type", "_",
    "forward", "training", "to", "eval", "train", "parameters", "state_dict", "cuda", "modules",
    "exec", "getattr", "open", "print", "os", "sys", "super",
    "x", "out", "input", "self", "nn", "torch", "F", "math", "Tensor", "annotations",
    "ﬁlter", "fil\u0430", "\u0430", "naïve", "ｆｕｌｌ", "a\u200bb", "a\u2028b",
    "x" * 300, "0abc", "1", "a'); import os; #", '"""', "a\tb",
    "INPUT_SHAPES", "OUTPUT_SHAPES", "SCHEDULER_INTERVAL", "build_loss", "build_optimizer", "build_scheduler",
    "rnn_last", "rnn_final", "PositionalEncoding", "ConvLSTM2d", "int", "zip", "len", "tuple", "Nested",
    "main", "np", "evaluate", "TRAIN",
]

HEADER_IMPORTS = {"__future__", "math", "torch", "torch.nn", "torch.nn.functional"}


def _q(text: str) -> str:
    """A YAML double-quoted scalar holding exactly ``text``."""
    return json.dumps(text)


# The specs use support code (rnn_last) and every training section, so that a name that
# shadows a helper, a builder or a builtin would break the module, not just look odd.
SECTIONS = """loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
scheduler: {type: StepLR, step_size: 2}
"""


def _layer_name(name: str) -> str:
    # Read twice, so the value is kept in a variable named after the layer.
    return f"""specc: 1
inputs:
  feats: [B, T, 4]
layers:
  - {{type: LSTM, hidden_size: 3, bidirectional: true, output: last, name: {_q(name)}}}
  - {{type: ReLU, name: act}}
  - {{type: Add, from: [{_q(name)}, act]}}
{SECTIONS}"""


def _block_name(name: str) -> str:
    return f"""specc: 1
inputs:
  feats: [B, 4]
blocks:
  {_q(name)}:
    layers:
      - {{type: Linear, out_features: 4}}
      - {{type: ReLU}}
layers:
  - {{type: {_q(name)}}}
  - {{type: {_q(name)}}}
"""


def _block_arg(name: str) -> str:
    # Two instances with different values, so the argument becomes a constructor parameter.
    return f"""specc: 1
inputs:
  feats: [B, 4]
blocks:
  Blk:
    args: {{{_q(name)}: 4}}
    layers:
      - {{type: Linear, out_features: "${{{name}}}"}}
layers:
  - {{type: Blk, {_q(name)}: 5}}
  - {{type: Blk, {_q(name)}: 6}}
"""


def _input_name(name: str) -> str:
    return f"""specc: 1
inputs:
  {_q(name)}: [B, T, 4]
layers:
  - {{type: LSTM, hidden_size: 3, bidirectional: true, output: last}}
  - {{type: Linear, out_features: 3}}
{SECTIONS}"""


def _output_name(name: str) -> str:
    return f"""specc: 1
inputs:
  feats: [B, 4]
layers:
  - {{type: Linear, out_features: 3, name: head}}
outputs: {{{_q(name)}: head}}
"""


def _model_name(name: str) -> str:
    return f"""specc: 1
name: {_q(name)}
inputs:
  feats: [B, T, 4]
blocks:
  Nested:
    layers:
      - {{type: Linear, out_features: 4}}
layers:
  - {{type: Nested}}
  - {{type: LSTM, hidden_size: 3, bidirectional: true, output: last}}
  - {{type: Linear, out_features: 3}}
{SECTIONS}"""


def _symbol(name: str) -> str:
    return f"""specc: 1
inputs:
  feats: [B, 4, {_q(name)}]
layers:
  - {{type: Conv1d, out_channels: 2, kernel_size: 1}}
"""


PLACES = {"layer": _layer_name, "block": _block_name, "block_arg": _block_arg, "input": _input_name,
          "output": _output_name, "model": _model_name, "symbol": _symbol}

HOSTILE_TEXT = [
    "zeros'); import os; #", 'zeros"); import os; #', "zeros\nimport os", '""" + __import__("os") + """',
    "\\N{x}", "\\x", "#", "line1\nline2\r\nline3\u2028line4", "'''", "\x00", "{{ ctx }}", "{% raw %}",
]


def _string_values(text: str) -> list[str]:
    return [
        # A string field straight from the spec (padding_mode takes a few words only).
        f"specc: 1\ninputs: {{sig: [B, 2, 8]}}\nlayers:\n"
        f"  - {{type: Conv1d, out_channels: 2, kernel_size: 3, padding_mode: {_q(text)}}}\n",
        # The same through a var.
        f"specc: 1\nvars: {{mode: {_q(text)}}}\ninputs: {{sig: [B, 2, 8]}}\nlayers:\n"
        "  - {type: Conv1d, out_channels: 2, kernel_size: 3, padding_mode: \"${mode}\"}\n",
        # Free text: the description ends up in comments.
        f"specc: 1\ndescription: {_q(text)}\ninputs: {{feats: [B, 4]}}\n"
        "layers: [{type: Linear, out_features: 3}]\n",
        # A reshape target written with a symbol.
        f"specc: 1\ninputs: {{feats: [B, 4]}}\nlayers:\n  - {{type: Reshape, shape: [B, 2, {_q(text)}]}}\n",
        # A GELU's approximation, a Literal of two words.
        f"specc: 1\ninputs: {{feats: [B, 4]}}\nlayers:\n  - {{type: GELU, approximate: {_q(text)}}}\n",
    ]


CORPUS = [(f"{place}-{i}", make(name)) for place, make in PLACES.items() for i, name in enumerate(HOSTILE_NAMES)]
CORPUS += [(f"text-{i}-{j}", spec) for i, text in enumerate(HOSTILE_TEXT)
           for j, spec in enumerate(_string_values(text))]


def _imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize(("case", "text"), CORPUS, ids=[c for c, _ in CORPUS])
def test_hostile_spec_is_rejected_with_a_location_or_compiles_safely(case: str, text: str, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    spec = specc.load(path)
    code = main(["check", str(path)])
    out = capsys.readouterr()
    if not spec.ok:
        assert code == 1
        for d in spec.errors:
            assert d.loc is not None and d.loc.line >= 1, f"{d.code} {d.message} has no location"
        assert f"{path}:" in out.out + out.err
        assert "Traceback" not in out.out + out.err
        return
    assert code == 0, out.out + out.err
    source = compile_source(spec)  # must not raise: check said the spec is fine
    tree = gate(source)
    assert _imports(tree) <= HEADER_IMPORTS
    if spec.document is not None and spec.document.loss is not None:
        gate(compile_source(spec, train=True), TRAIN_IMPORTS)  # the training script too
    # Everything the spec named is a plain ASCII identifier in the code; only comments and
    # docstrings may carry free text.
    for node in ast.walk(tree):
        for attr in ("id", "attr", "arg", "name"):
            value = getattr(node, attr, None)
            if isinstance(value, str):
                assert value.isascii() and value.isidentifier(), value
    # And it runs.
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module, example_inputs

    with torch.no_grad():
        build_module(spec, seed=0).eval()(*example_inputs(spec, 2))


def test_compile_cli_refuses_hostile_specs_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "model.py"
    target.write_text("previous\n")
    for name in ("__class__", "forward", "ﬁlter", "a'b"):
        path = tmp_path / "hostile.yaml"
        path.write_text(_layer_name(name), encoding="utf-8")
        assert main(["compile", str(path), "-o", str(target)]) == 1
        err = capsys.readouterr().err
        assert f"{path}:5:" in err, err
        assert target.read_text() == "previous\n"


def test_spec_path_with_quotes_and_backslashes_stays_in_the_docstring(tmp_path: Path) -> None:
    for stem in ('a""" + print(1) + """b', "C:\\Users\\net", "x\\N{y}"):
        path = tmp_path / f"{stem}.yaml"
        path.write_text(_model_name("Net"), encoding="utf-8")
        spec = specc.load(path)
        assert spec.ok
        tree = gate(compile_source(spec))
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Net")
        assert str(path) in (ast.get_docstring(cls) or "")
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert not any(c.func.id == "print" for c in calls)


# -- the gate ---------------------------------------------------------------------------------------

OK_SOURCE = """
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class M(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(x)) * math.pi
"""

BAD_SNIPPETS = {
    "import os": "import os",
    "import os.path": "import os.path",
    "from os import system": "from os import system",
    "relative import": "from . import model",
    "import torch as os": "import subprocess as torch",
    "exec": "exec('1')",
    "eval": "eval('1')",
    "compile": "compile('1', 'f', 'exec')",
    "__import__": "__import__('os')",
    "getattr": "getattr(torch, 'load')",
    "setattr": "setattr(torch, 'x', 1)",
    "globals": "globals()",
    "vars": "vars()",
    "open": "open('f')",
    "breakpoint": "breakpoint()",
    "__builtins__": "__builtins__",
    "dunder attribute": "torch.__class__",
    "dunder subclasses": "().__class__.__bases__[0].__subclasses__()",
    "dunder dict": "nn.Module.__dict__",
    "global": "def f():\n    global torch",
    "syntax error": "def f(:",
}


def test_gate_accepts_a_plain_module() -> None:
    tree = gate(OK_SOURCE)
    assert _imports(tree) == {"__future__", "math", "torch", "torch.nn"}


@pytest.mark.parametrize("snippet", list(BAD_SNIPPETS.values()), ids=list(BAD_SNIPPETS))
def test_gate_rejects(snippet: str) -> None:
    with pytest.raises(GateError):
        gate(OK_SOURCE + "\n" + snippet + "\n")


def test_gate_allows_only_the_header_imports() -> None:
    assert set(MODULE_IMPORTS) == HEADER_IMPORTS


@pytest.mark.parametrize(("stem", "cls"), [("F", "FModel"), ("focal_loss", "FocalLossModel"),
                                           ("positional_encoding", "PositionalEncodingModel"),
                                           ("build_loss", "BuildLoss"), ("7up", "Model7Up")])
def test_a_file_name_that_would_name_a_generated_class_badly_gets_another(stem: str, cls: str, tmp_path: Path) -> None:
    """The class name comes from the file when the spec has no name:; what check accepts,
    compile writes, with one class of each name (focal_loss.yaml with a FocalLoss loss)."""
    path = tmp_path / f"{stem}.yaml"
    path.write_text("specc: 1\ninputs: {x: [B, 4, 8]}\nlayers:\n  - {type: PositionalEncoding}\n"
                    "  - {type: Flatten}\n  - {type: Linear, out_features: 2}\nloss: {type: FocalLoss}\n"
                    "optimizer: {type: Adam}\n", encoding="utf-8")
    spec = specc.load(path)
    assert spec.ok, [str(d) for d in spec.errors]
    assert spec.name == cls
    tree = gate(compile_source(spec))
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert sorted(classes) == sorted({"FocalLoss", "PositionalEncoding", cls}), classes
