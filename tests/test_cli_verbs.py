"""The command line's table of verbs (specc/cli/dispatch.py) and the modules that declare them
agree, and each verb's parser is built from its own module alone."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from cli_run import run_cli

from specc.cli import main
from specc.cli.dispatch import VERBS, build_parser


def test_every_verb_is_declared_by_its_module_and_only_there() -> None:
    modules = {module for module, _ in VERBS.values()}
    declared = {}
    for module in modules:
        for verb in importlib.import_module(f"specc.cli.{module}").VERBS:
            assert verb not in declared, f"{verb} is declared by {declared[verb]} and {module}"
            declared[verb] = module
    assert declared == {verb: module for verb, (module, _) in VERBS.items()}


@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_has_its_own_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: specc {verb} [-h]")
    # the other verbs' parsers stay bare: only the verb being run had its options declared
    parser = build_parser(verb)
    sub = next(a for a in parser._actions if a.dest == "verb")
    bare = [name for name, p in sub.choices.items() if name != verb and len(p._actions) > 1]
    assert bare == []


def test_the_top_level_help_lists_every_verb_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    positions = [text.index(f"\n    {verb} ") for verb in VERBS]
    assert positions == sorted(positions)


def test_layers_type_describes_one_layer_against_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`specc layers TYPE`: every parameter of the layer's Pydantic model, required ones marked, each
    default as the model has it; a Keras alias finds its type, any letter case; a typo gets a suggestion."""
    import json

    from specc.layers import REGISTRY

    assert main(["layers", "conv2D"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Conv2d (also Conv2D): ")
    fields = REGISTRY["Conv2d"].Params.model_fields
    for key, info in fields.items():
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(key))
        assert line.rstrip().endswith("required") == info.is_required()
    assert "out_channels (filters)" in text and "default zeros" in text
    assert "use: - {type: Conv2d, out_channels: ..., kernel_size: ...}" in text
    assert main(["layers", "Dense", "--format", "json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["type"] == "Linear" and one["required"] == ["out_features"] and "Dense" in one["aliases"]
    assert main(["layers", "Lineer"]) == 2
    assert "did you mean Linear?" in capsys.readouterr().err


def test_check_reads_a_spec_from_standard_input(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # an editor's unsaved buffer or a pipe: `specc check -`, reported as <stdin>
    import io

    text = "specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 8.5}\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["check", "-"]) == 1
    out = capsys.readouterr().out
    assert "<stdin>:4:34: error[V003]" in out and "<stdin>: 1 error, 0 warnings" in out


def test_summary_of_a_spec_with_errors_shows_what_is_known_not_a_total_of_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("specc: 1\ninputs: {x: [B, 13]}\nlayers:\n  - {type: Linear, out_features: -2}\n"
                    "  - {type: Linear, out_features: 3}\n")
    code, out, err = run_cli(capsys, "summary", str(spec))
    assert code == 1 and "1 error; the table shows what could be inferred" in err
    assert "Total params:          ? (0 in the layers known; 2 unknown" in out and "Total params:          0" not in out


@pytest.mark.parametrize(("argv", "blocked", "says"), [
    (["train", "specs/xor.yaml", "--epochs", "1"], ["torch"], "pip install 'specc[torch]'"),
    (["export", "specs/xor.yaml", "-o", "{tmp}/xor.onnx"], ["onnx", "onnxruntime"], "pip install 'specc[deploy]'"),
])
def test_a_missing_optional_package_is_an_installation_to_make_not_a_bug(
        argv: list[str], blocked: list[str], says: str, tmp_path: Path) -> None:
    # `pip install specc` brings neither torch nor ONNX: a verb that needs them said "internal error,
    # a bug in specc" (exit 3); it is what the user installs next (exit 2), and nothing is written
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = (f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
            f"from specc.cli import main\nsys.exit(main({[a.replace('{tmp}', str(tmp_path)) for a in argv]!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"needs {blocked[0]}, which is not installed here" in done.stderr and says in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_missing_module_of_specc_itself_stays_a_bug() -> None:
    from specc.cli.dispatch import missing_extra

    assert missing_extra("specc.targets.nothing") is None
    assert missing_extra("torch.nn") is not None
