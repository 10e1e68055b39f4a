"""An image folder that trains, but perhaps not as meant: fewer class folders than the output's
classes (T021), a class folder without images (T022), images resized (T023) or converted (T024).
Each is a warning at its spec line from `specc check`, and a note in the trained run's report;
more class folders than outputs stays an error (T005) at the output layer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

import specc  # noqa: E402

SPEC = """\
    specc: 1
    inputs: {image: [B, 1, 8, 8]}
    layers:
      - {type: Flatten}
      - {type: Linear, out_features: WIDTH}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam, lr: 0.01}
    train: {epochs: 1, batch_size: 8, data: {source: img/, val_split: 0.25}}
    """


def folder(tmp_path: Path, classes: dict[str, list[tuple[tuple[int, int], str]]]) -> None:
    for cls, images in classes.items():
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i, (size, mode) in enumerate(images):
            Image.new(mode, size, color=40 * i % 255 if mode == "L" else None).save(tmp_path / "img" / cls / f"{i}.png")


def check(tmp_path: Path, width: int) -> tuple[specc.Spec, dict[str, specc.Diagnostic]]:
    path = tmp_path / "img.yaml"
    path.write_text(textwrap.dedent(SPEC).replace("WIDTH", str(width)))
    spec = specc.load(path)
    return spec, {d.code: d for d in spec.diagnostics}


GREY = [((8, 8), "L")] * 4


def test_fewer_class_folders_than_outputs_warn_at_the_output_and_train_with_a_note(tmp_path: Path) -> None:
    folder(tmp_path, {"cat": GREY, "dog": GREY})
    spec, found = check(tmp_path, 10)
    assert spec.ok and set(found) == {"T021"}, found
    d = found["T021"]
    assert d.severity == "warning" and d.loc.line == 5  # the output's layer
    assert "has 2 class folders (cat, dog), but output" in d.message and "gives 10 scores" in d.message
    assert "width to 2" in d.hint
    pytest.importorskip("torch")
    result = specc.train(spec, None)
    assert any("T021" in n for n in result.report["notes"]), result.report["notes"]
    assert check(tmp_path, 2)[1] == {}  # the width that fits: quiet


def test_more_class_folders_than_outputs_is_an_error_at_the_output(tmp_path: Path) -> None:
    folder(tmp_path, {"a": GREY, "b": GREY, "c": GREY})
    spec, found = check(tmp_path, 2)
    assert not spec.ok and found["T005"].loc.line == 5 and "3 classes" in found["T005"].message


def test_an_empty_class_folder_resized_and_converted_images_each_warn(tmp_path: Path) -> None:
    folder(tmp_path, {"a": [((8, 8), "L"), ((12, 6), "L"), ((8, 8), "RGBA"), ((8, 8), "L")],
                      "b": GREY, "c": []})
    spec, found = check(tmp_path, 3)
    assert spec.ok and set(found) == {"T022", "T023", "T024"}, found
    assert "without images (c)" in found["T022"].message
    assert "1 of the 8 images read from img are not 8x8" in found["T023"].message and "12x6 (1)" in \
        found["T023"].message
    assert "RGBA (1: their transparency dropped)" in found["T024"].message
    assert all(d.loc.line == 8 for d in found.values())  # at source:
    quiet = specc.load(tmp_path / "img.yaml", ignore=["T022", "T023", "T024"])
    assert quiet.ok and not quiet.diagnostics


def test_16_bit_greyscale_images_are_read_at_their_depth_not_clipped_at_255(tmp_path: Path) -> None:
    """Pillow's convert("L") of a 16-bit PNG clips every value above 255: a scan or a depth map read
    as nearly all white, silently, at train and at predict alike (both read with image_array)."""
    from specc.data.read import image_array

    values = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    grey = image_array(tmp_path / "deep.png", (1, 8, 8))
    assert grey.shape == (1, 8, 8) and np.allclose(grey[0], values / 65535.0, atol=1e-6)
    rgb = image_array(tmp_path / "deep.png", (3, 8, 8))
    assert np.array_equal(rgb[0], rgb[2]) and np.allclose(rgb[1], values / 65535.0, atol=1e-6)
    for cls in ("a", "b"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(values + i).save(tmp_path / "img" / cls / f"{i}.png")
    assert check(tmp_path, 2)[1] == {}  # 16-bit grey into one channel: nothing converted, nothing to say
