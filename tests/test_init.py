"""`specc init`: every scaffold checks clean under --strict, is written atomically and never
over an existing file without --force, and trains: its generated training script runs on
the scaffold's own data source, and the model fits a batch of that data (the loss falls)."""

from __future__ import annotations

import importlib.util
import math
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import specc
from specc.cli import main
from specc.scaffold import SCAFFOLDS

TASKS = sorted(SCAFFOLDS)


def test_the_five_tasks_are_offered(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(TASKS) == {"image-classification", "sequence-classification", "tagging", "regression",
                          "text-classification"}
    assert main(["init", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(t in listing for t in TASKS)
    assert main(["init"]) == 2  # no task: a usage error that lists them
    assert "--task" in capsys.readouterr().err


@pytest.mark.parametrize("task", TASKS)
def test_scaffold_checks_clean_under_strict(task: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.yaml"
    assert main(["init", "--task", task, "-o", str(out)]) == 0
    assert main(["check", "--strict", str(out)]) == 0, capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("#") and text.count("#") >= 8  # it teaches: comments throughout
    assert not list(tmp_path.glob(".*"))  # atomic write: no temp file left beside it


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.yaml"
    out.write_text("mine\n")
    assert main(["init", "--task", "regression", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "mine\n"
    assert main(["init", "--task", "regression", "-o", str(out), "--force"]) == 0
    assert out.read_text() == SCAFFOLDS["regression"].text


def test_a_directory_is_not_a_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--task", "regression", "-o", str(tmp_path), "--force"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_next_steps_quote_a_path_with_spaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "my models ü" / "net's.yaml"
    assert main(["init", "--task", "regression", "-o", str(out)]) == 0
    said = capsys.readouterr().err
    check = said.split("next: ", 1)[1].split(", then ")[0]
    assert shlex.split(check) == ["specc", "check", str(out)]  # pasted into a shell, it names the file
    assert out.read_text(encoding="utf-8") == SCAFFOLDS["regression"].text


def test_an_unwritable_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["init", "--task", "regression", "-o", str(tmp_path / "file" / "model.yaml")]) == 2  # not E999
    assert "cannot write" in capsys.readouterr().err


def test_stdout_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--task", "tagging"]) == 0
    assert capsys.readouterr().out == SCAFFOLDS["tagging"].text


# -- it trains ------------------------------------------------------------------------------------

def _training_script(tmp_path: Path, spec: specc.Spec) -> ModuleType:
    from specc.targets.torch.emit import compile_source

    path = tmp_path / "train_scaffold.py"
    path.write_text(compile_source(spec, train=True))
    module_spec = importlib.util.spec_from_file_location("train_scaffold", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    # As `import` does (and as the script's main() relies on to hand itself to specc's loop).
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small models on a shared CPU: more threads than cores only makes them slower."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("task", TASKS)
def test_scaffold_trains(task: str, tmp_path: Path, one_thread: None) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    spec = specc.loads(SCAFFOLDS[task].text, f"{task}.yaml")
    script = _training_script(tmp_path, spec)
    history = script.main(["--epochs", "1", "--max-steps", "3", "--seed", "0"])["history"]
    assert history and math.isfinite(history[-1]["loss"])

    # Fit one batch of the scaffold's own data with its own loss and optimizer: the loss must fall.
    import numpy as np

    from specc.data import read as train_data

    torch.manual_seed(0)
    cfg = script.TRAIN_CONFIG
    data = train_data.load(cfg["train"]["data"]["source"], cfg, tmp_path, np.random.default_rng(0))
    model = specc.build(spec, seed=0)
    loss_fn, optimizer = script.build_loss(), script.build_optimizer(model)
    batch = [torch.as_tensor(data.inputs[name][:8]) for name in spec.graph.inputs]
    labels = torch.as_tensor(data.targets[:8])
    model.train()
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = loss_fn(model(*batch), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-10:]) / 10 < 0.9 * losses[0], losses[::10]
