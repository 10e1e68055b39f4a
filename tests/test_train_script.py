"""`specc compile --train`: the generated file is the standalone model module plus a `main`
that trains it with specc's own loop (the one `specc train` runs), configured by a literal
dict; it learns on the bundled data, writes a run folder, and fails clearly without specc."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import specc
from specc.targets.torch.emit import compile_source

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")

ROOT = Path(__file__).resolve().parent.parent


def script(folder: Path, spec: specc.Spec, name: str = "train_model", script_dir: Path | None = None) -> ModuleType:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(compile_source(spec, train=True, script_dir=script_dir))
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def mlp(source: str, n_in: int, n_out: int, loss: str = "CrossEntropyLoss", extra: str = "") -> specc.Spec:
    text = textwrap.dedent(f"""\
        specc: 1
        name: Net
        inputs: {{x: [B, {n_in}]}}
        layers:
          - {{type: Linear, out_features: 32}}
          - {{type: ReLU}}
          - {{type: Linear, out_features: {n_out}}}
        loss: {{type: {loss}}}
        optimizer: {{type: Adam, lr: 0.01}}
        train: {{epochs: 20, batch_size: 32, data: {{source: {source}, val_split: 0.25}}{extra}}}
        """)
    spec = specc.loads(text, "net.yaml")
    assert spec.ok, spec.diagnostics
    return spec


def test_the_script_runs_specc_loop_and_matches_specc_train(tmp_path: Path) -> None:
    spec = mlp("wine", 13, 3)
    result = script(tmp_path, spec).main(["--epochs", "5", "--device", "cpu"])
    direct = specc.train(spec, None, epochs=5, device="cpu")
    assert [r["loss"] for r in result["history"]] == [r["loss"] for r in direct.history]  # one loop, not two
    assert result["history"][-1]["val_accuracy"] >= 0.85


def test_the_script_writes_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = script(tmp_path, mlp("iris", 4, 3)).main(["--epochs", "3", "--run", str(run)])
    assert len(result["history"]) == 3
    state = safetensors_torch.load_file(str(run / "model.safetensors"))  # safetensors: no pickle anywhere
    specc.build(mlp("iris", 4, 3)).load_state_dict(state)
    assert (run / "report.json").is_file() and (run / "last" / "state.json").is_file()


def test_a_data_set_that_does_not_fit_the_input_says_so_at_the_spec_line(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()  # as a file: check knows the bundled set's shapes and refuses the spec before any script
    np.savez(tmp_path / "iris.npz", x=iris.data, y=iris.target)
    with pytest.raises(SystemExit, match=r"net.yaml:3:\d+: error T003: input 'x' takes samples of shape \[5\]"):
        script(tmp_path, mlp(str(tmp_path / "iris.npz"), 5, 3)).main([])


def test_the_script_runs_standalone_with_its_cli(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text(compile_source(specc.load(ROOT / "specs" / "digits_cnn.yaml"), train=True))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(path), "--epochs", "1", "--max-steps", "2", "--device", "cpu",
                          "--run", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "epoch 1/1" in out.stdout
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_the_script_s_help_names_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # in this process: the standalone run above is the subprocess that proves `python model.py` works
    with pytest.raises(SystemExit) as stop:
        script(tmp_path, mlp("iris", 4, 3)).main(["--help"])
    assert stop.value.code == 0 and "--run" in capsys.readouterr().out


def test_the_script_finds_the_spec_data_files_from_any_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Data paths are the spec's folder's; the script, written elsewhere and run from a third folder,
    still reads the same files (they were 'looked in' the folder it was run from). Its main() in this
    process, run from the third folder: the paths lead from the script's own file, as under `python`
    (test_the_script_runs_standalone_with_its_cli runs one so)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    (tmp_path / "project" / "data").mkdir(parents=True)
    np.savez(tmp_path / "project" / "data" / "iris.npz", x=iris.data, y=iris.target)
    spec_path = tmp_path / "project" / "net.yaml"
    spec_path.write_text(textwrap.dedent("""\
        specc: 1
        name: Net
        inputs: {x: [B, 4]}
        layers: [{type: Linear, out_features: 3}]
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, data: {source: data/iris.npz}}
        """))
    (tmp_path / "elsewhere").mkdir()
    module = script(tmp_path / "scripts", specc.load(spec_path), "train_net", script_dir=tmp_path / "scripts")
    assert '"source": "../project/data/iris.npz"' in (tmp_path / "scripts" / "train_net.py").read_text()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = module.main(["--epochs", "1", "--device", "cpu"])
    assert len(result["history"]) == 1 and result["report"]["data"]["train_samples"] + \
        result["report"]["data"]["val_samples"] == 150  # the file's iris, read from a third folder


def test_the_model_part_needs_no_specc(tmp_path: Path) -> None:
    """Without specc installed, the module still imports and builds; only training asks for specc."""
    path = tmp_path / "model.py"
    path.write_text(compile_source(mlp("iris", 4, 3), train=True))
    blocker = tmp_path / "block" / "specc"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('specc is not installed here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "block")}
    code = "import model; m = model.Net(); print(sum(p.numel() for p in m.parameters()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(4 * 32 + 32 + 32 * 3 + 3)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    assert out.returncode == 1 and "pip install 'specc[train]'" in out.stderr


def test_cuda_asked_for_where_there_is_none_fails_clearly(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit, match="CUDA is not available"):
        script(tmp_path, mlp("iris", 4, 3)).main(["--device", "cuda"])


def test_compile_train_without_an_optimizer_is_a_located_error(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from specc.cli import main

    path = tmp_path / "noopt.yaml"
    path.write_text("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 2}\n"
                    "loss: {type: CrossEntropyLoss}\n")
    assert main(["compile", str(path), "--train"]) == 1
    err = capsys.readouterr().err
    assert "V021" in err and "E999" not in err and "optimizer" in err


def test_compile_train_works_on_every_example_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from specc.cli import main

    specs = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
    assert len(specs) > 20
    for path in specs:
        code = main(["compile", "--train", str(path), "-o", str(tmp_path / f"{path.stem}.py")])
        err = capsys.readouterr().err
        assert code == 0 and "E999" not in err and "internal error" not in err, (path.name, err)
        text = (tmp_path / f"{path.stem}.py").read_text()
        compile(text, path.name, "exec")  # a valid Python script
        assert "script_main(" in text  # it runs specc's one loop
