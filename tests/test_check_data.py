"""`specc check` reads the data a spec trains on, with the code `specc train` reads it with.

Each case writes a spec and its data into a temporary folder: check must report the mismatch at
the spec line of the key it contradicts, `specc train` must refuse the same data with the same
code (nothing trained), and the spec with the hint applied must check ok and train.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from specc.cli import main
from specc.pipeline import load, loads

ROOT = Path(__file__).resolve().parents[1]


def _spec(features: str = "[B, 4]", width: int = 3, data: str = "{source: data.csv, val_split: 0.2}",
          loss: str = "CrossEntropyLoss") -> str:
    return f"""\
specc: 1
inputs:
  x: {features}
layers:
  - {{type: Flatten}}
  - {{type: Linear, out_features: 8}}
  - {{type: ReLU}}
  - {{type: Linear, out_features: {width}}}
loss: {{type: {loss}}}
optimizer: {{type: Adam, lr: 0.01}}
train:
  epochs: 1
  batch_size: 8
  data: {data}
"""


def _csv(path: Path, rows: int = 40, columns: str = "a,b,c,d,label", label: Callable[[int], str] = lambda i: str(i % 3),
         cell: Callable[[int, int], str] | None = None) -> None:
    rng = np.random.default_rng(0)
    names = columns.split(",")
    lines = [columns]
    for i in range(rows):
        values = [cell(i, j) if cell else f"{rng.normal():.4f}" for j in range(len(names) - 1)]
        lines.append(",".join([*values, label(i)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _images(folder: Path, classes: int, mode: str = "RGB", each: int = 3) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (folder / f"class{c}").mkdir(parents=True)
        for k in range(each):
            pixels = rng.integers(0, 255, size=(8, 8, 3) if mode == "RGB" else (8, 8), dtype=np.uint8)
            Image.fromarray(pixels, mode).save(folder / f"class{c}" / f"{k}.png")


@dataclass
class Case:
    name: str
    spec: str  # the spec as written, with its mistake
    write: Callable[[Path], None]  # the data, into the spec's folder
    code: str
    line: int  # where check reports it
    hint: str  # a substring of the hint
    fixed: str  # the spec with the hint applied, or None where the data is to change
    fix_data: Callable[[Path], None] | None = None


def _npz(x_shape: tuple[int, ...], n_y: int, classes: int = 3) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        rng = np.random.default_rng(0)
        np.savez(folder / "data.npz", x=rng.normal(size=x_shape).astype(np.float32),
                 y=np.arange(n_y) % classes)
    return write


CASES = [
    Case("csv-feature-count", _spec("[B, 5]"), lambda d: _csv(d / "data.csv"), "T003", 3, "[B, 4]", _spec("[B, 4]")),
    Case("csv-target-column-missing", _spec(data="{source: data.csv, target: species}"),
         lambda d: _csv(d / "data.csv"), "T002", 14, "column names of the file",
         _spec(data="{source: data.csv, target: label}")),
    Case("labels-past-the-head", _spec(width=5), lambda d: _csv(d / "data.csv", label=lambda i: str(i % 10)),
         "T005", 8, "width to 10", _spec(width=10)),
    Case("text-classes-past-the-head", _spec(width=2),
         lambda d: _csv(d / "data.csv", label=lambda i: ("cat", "dog", "fox", "owl")[i % 4]),
         "T005", 8, "width to 4", _spec(width=4)),
    Case("npz-sample-shape", _spec("[B, 4]", data="{source: data.npz}"), _npz((40, 2, 3), 40), "T003", 3,
         "[B, 2, 3]", _spec("[B, 2, 3]", data="{source: data.npz}")),
    Case("npz-lengths-differ", _spec(data="{source: data.npz}"), _npz((40, 4), 30), "T003", 14,
         "same number of rows", _spec(data="{source: data.npz}"), _npz((40, 4), 40)),
    Case("image-classes-past-the-head", _spec("[B, 3, 8, 8]", width=3, data="{source: photos/}"),
         lambda d: _images(d / "photos", 5), "T005", 8, "width to 5",
         _spec("[B, 3, 8, 8]", width=5, data="{source: photos/}")),
    Case("csv-text-cell", _spec(),
         lambda d: _csv(d / "data.csv", cell=lambda i, j: "n/a" if (i, j) == (7, 1) else "0.5"),
         "T004", 14, "encode it as numbers", _spec("[B, 3]", data="{source: data.csv, features: [a, c, d]}")),
    Case("csv-empty-cell", _spec(), lambda d: _csv(d / "data.csv", cell=lambda i, j: "" if (i, j) == (3, 2) else "0.5"),
         "T004", 14, "fill the missing values", _spec(),
         lambda d: _csv(d / "data.csv", cell=lambda i, j: "0.5")),
    Case("missing-file", _spec(data="{source: data/train.csv}"), lambda d: _csv(d / "data.csv"), "T001", 14,
         "spec's folder", _spec(data="{source: data.csv}")),
    Case("regression-on-text", _spec(width=1, loss="MSELoss"),
         lambda d: _csv(d / "data.csv", label=lambda i: ("low", "high")[i % 2]), "T006", 14, "CrossEntropyLoss",
         _spec(width=2)),
]


def _where(case: Case, tmp: Path) -> Path:
    folder = tmp / case.name
    folder.mkdir()
    case.write(folder)
    path = folder / "spec.yaml"
    path.write_text(case.spec, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_reports_the_data_mismatch_at_its_line(case: Case, tmp_path: Path) -> None:
    path = _where(case, tmp_path)
    errors = load(path).errors
    assert [(d.code, d.loc.line if d.loc else None) for d in errors] == [(case.code, case.line)], errors
    assert case.hint in (errors[0].hint or ""), errors[0]
    assert load(path, data=False).ok  # the spec alone is fine: only its data is wrong
    path.write_text(case.fixed, encoding="utf-8")
    if case.fix_data is not None:
        case.fix_data(path.parent)
    fixed = load(path)
    assert fixed.ok, fixed.diagnostics


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_train_refuses_what_check_refuses_and_trains_the_fix(case: Case, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _where(case, tmp_path)
    assert main(["train", str(path), "--run", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"error[{case.code}]" in err and f"spec.yaml:{case.line}:" in err and "nothing was trained" in err, err
    path.write_text(case.fixed, encoding="utf-8")
    if case.fix_data is not None:
        case.fix_data(path.parent)
    assert main(["check", str(path)]) == 0
    import specc

    result = specc.train(str(path), epochs=1)
    assert len(result.history) == 1


def test_cli_check_exits_1_and_no_data_skips_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _where(CASES[0], tmp_path)
    assert main(["check", str(path)]) == 1
    assert "error[T003]" in capsys.readouterr().out
    assert main(["check", "--no-data", str(path)]) == 0


def test_greyscale_images_feed_a_colour_input(tmp_path: Path) -> None:
    """Pillow converts each image to the input's channels, as training reads them: no error."""
    folder = tmp_path / "grey"
    folder.mkdir()
    _images(folder / "photos", 3, mode="L")
    (folder / "spec.yaml").write_text(_spec("[B, 3, 8, 8]", data="{source: photos/}"), encoding="utf-8")
    assert load(folder / "spec.yaml").ok


def test_val_source_is_read_with_the_training_classes(tmp_path: Path) -> None:
    _csv(tmp_path / "data.csv", label=lambda i: ("cat", "dog")[i % 2])
    _csv(tmp_path / "val.csv", label=lambda i: ("cat", "emu")[i % 2])
    (tmp_path / "spec.yaml").write_text(_spec(data="{source: data.csv, val_source: val.csv}"), encoding="utf-8")
    errors = load(tmp_path / "spec.yaml").errors
    assert [(d.code, d.loc.line if d.loc else None) for d in errors] == [("T005", 14)], errors
    assert "'emu'" in errors[0].message


def test_val_split_too_large_is_found_without_drawing_it(tmp_path: Path) -> None:
    _csv(tmp_path / "data.csv", rows=6)
    (tmp_path / "spec.yaml").write_text(_spec(data="{source: data.csv, val_split: 0.9}"), encoding="utf-8")
    errors = load(tmp_path / "spec.yaml").errors
    assert [d.code for d in errors] == ["T007"] and errors[0].loc is not None and errors[0].loc.line == 14


def test_a_large_file_is_read_in_part_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from specc.data import probe

    monkeypatch.setattr(probe, "CHECK_BYTES", dict.fromkeys(probe.CHECK_BYTES, 1000))
    monkeypatch.setattr(probe, "SAMPLE_ROWS", 5)
    read_rows: list[int | None] = []
    real = probe._read
    monkeypatch.setattr(probe, "_read", lambda cfg, base, rows: read_rows.append(rows) or real(cfg, base, rows))
    _csv(tmp_path / "data.csv", rows=200)
    (tmp_path / "spec.yaml").write_text(_spec(), encoding="utf-8")
    spec = load(tmp_path / "spec.yaml")
    assert spec.ok and [d.code for d in spec.diagnostics] == ["T011"] and read_rows == [5]
    assert spec.diagnostics[0].loc is not None and spec.diagnostics[0].loc.line == 14
    assert load(tmp_path / "spec.yaml", ignore=["T011"]).diagnostics == []
    (tmp_path / "spec.yaml").write_text(_spec("[B, 6]"), encoding="utf-8")  # the first rows show the shape
    assert [d.code for d in load(tmp_path / "spec.yaml").errors] == ["T003"]


def test_npz_head_reads_the_first_samples_of_each_member(tmp_path: Path) -> None:
    from specc.data.read import _npz_head

    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.savez(tmp_path / "plain.npz", x=x)
    np.savez_compressed(tmp_path / "packed.npz", x=x)
    for name in ("plain.npz", "packed.npz"):
        with np.load(tmp_path / name) as arrays:
            np.testing.assert_array_equal(_npz_head(arrays, "x", 4), x[:4])
            np.testing.assert_array_equal(_npz_head(arrays, "x", 99), x)


def test_the_editor_sees_the_data_errors(tmp_path: Path) -> None:
    from specc.lsp.analysis import Analysis

    path = _where(CASES[2], tmp_path)
    found = Analysis.of(path.read_text(encoding="utf-8"), path.as_uri(), str(path)).diagnostics()
    assert [(span[0][0], d.code) for span, d in found] == [(7, "T005")]  # 0-based: the head's line
    assert loads(path.read_text(encoding="utf-8"), "unsaved.yaml").ok  # no file on disk: no folder to read from


def test_check_without_a_data_file_imports_no_numpy(tmp_path: Path) -> None:
    probe = ("import sys; from specc.pipeline import load; s = load('specs/resnet18.yaml'); "
             "print(s.ok, 'numpy' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr
    # a classifier's CSV: its split is sized, not drawn (a stratified draw would import scikit-learn)
    _csv(tmp_path / "data.csv")
    (tmp_path / "spec.yaml").write_text(_spec(), encoding="utf-8")
    probe = (f"import sys; from specc.pipeline import load; s = load({str(tmp_path / 'spec.yaml')!r}); "
             "print(s.ok, 'numpy' in sys.modules, 'sklearn' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "True", "False", "False"], out.stderr


def _write_bytes(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


def _save(name: str, array: np.ndarray, *, as_name: str | None = None) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        np.save(folder / name, array)
        if as_name:
            (folder / name).rename(folder / as_name)
    return write


def _savez(name: str, **arrays: np.ndarray) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        np.savez(folder / "tmp.npz", **arrays)
        (folder / "tmp.npz").rename(folder / name)
    return write


def _bad_image(folder: Path) -> None:
    _images(folder / "photos", 2)
    (folder / "photos" / "class0" / "0.png").write_bytes(b"not a png")


# Files that once raised from inside NumPy or Pillow (a traceback at train, E999 at check): each
# is now a located T-code error, the same for both.
UNREADABLE = [
    ("empty-npz", "{source: data.npz}", "[B, 4]", _write_bytes("data.npz", b""), "T001"),
    ("npy-named-npz", "{source: data.npz}", "[B, 4]", _save("data.npy", np.zeros((5, 4)), as_name="data.npz"), "T001"),
    ("npz-named-npy", "{source: data.npy, targets: y.npy}", "[B, 4]",
     _savez("data.npy", x=np.zeros((5, 4))), "T001"),
    ("scalar-in-npz", "{source: data.npz}", "[B, 4]", _savez("data.npz", x=np.array(3.0), y=np.array(1)), "T003"),
    ("object-npy", "{source: data.npy, targets: data.npy}", "[B, 4]",
     _save("data.npy", np.array([None, 1], dtype=object)), "T001"),
    ("unreadable-first-image", "{source: photos/}", "[B, 3, H, W]", _bad_image, "T001"),
]


@pytest.mark.parametrize(("data", "shape", "write", "code"), [u[1:] for u in UNREADABLE],
                         ids=[u[0] for u in UNREADABLE])
def test_unreadable_files_are_located_errors(data: str, shape: str, write: Callable[[Path], None], code: str,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path)
    layers = ("  - {type: Conv2d, out_channels: 4, kernel_size: 3}\n  - {type: AdaptiveAvgPool2d, output_size: 1}\n"
              if "H" in shape else "")
    text = _spec(shape, data=data).replace("layers:\n", "layers:\n" + layers)
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    errors = load(tmp_path / "spec.yaml").errors
    assert [(d.code, d.loc.line if d.loc else None) for d in errors] == [(code, text.count("\n"))], errors
    from specc.data import probe

    monkeypatch.setattr(probe, "CHECK_BYTES", dict.fromkeys(probe.CHECK_BYTES, 0))  # read in part: same refusal
    assert [d.code for d in load(tmp_path / "spec.yaml").errors] == [code]


def test_synthetic_data_is_checked_as_training_draws_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # synthetic data is the spec's own: 8 samples of 1000 classes hold 8 labels, and val_split 0.2
    # leaves 7 to train on, which specc train refused (T007) after check had said ok
    text = _spec(width=1000, data="{source: synthetic, num_samples: 8}")
    errors = loads(text, "synthetic.yaml").errors
    assert [(d.code, d.loc.line if d.loc else None) for d in errors] == [("T007", 14)], errors
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    assert main(["train", str(tmp_path / "spec.yaml"), "--run", str(tmp_path / "run")]) == 1
    assert "T007" in capsys.readouterr().err
    fixed = text.replace("num_samples: 8}", "num_samples: 8, val_split: 0}")  # the hint's other way
    assert loads(fixed, "synthetic.yaml").ok
    assert main(["train", str(tmp_path / "spec.yaml"), "--run", str(tmp_path / "r2"),
                 "--set", "train.data.val_split=0"]) == 0


def test_large_synthetic_data_is_not_drawn_by_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from specc.data import probe

    drawn: list[object] = []
    monkeypatch.setattr(probe, "_read", lambda *a: drawn.append(a))
    many = _spec(width=1000, data="{source: synthetic, num_samples: 8}")  # 8 samples of 4 values
    monkeypatch.setattr(probe, "SYNTHETIC_VALUES", 8 * 4 - 1)
    assert loads(many, "big.yaml").ok and not drawn
    monkeypatch.setattr(probe, "SYNTHETIC_VALUES", 8 * 4)
    loads(many, "small.yaml")
    assert len(drawn) == 1
    # 3 classes: every draw leaves 7 samples to train on, so check draws nothing
    loads(_spec(width=3, data="{source: synthetic, num_samples: 8}"), "few.yaml")
    assert len(drawn) == 1
