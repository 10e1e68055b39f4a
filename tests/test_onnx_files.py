"""The model writer (specc/backends/onnx_files.py): weights handed over as numpy arrays go to disk
straight from their memory, inline (protobuf framed by hand) or in a side file past
EXTERNAL_ABOVE, and what onnx and ONNX Runtime read back is exactly the model onnx would write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from specc.backends import onnx_files
from specc.backends.onnx_files import ALIGN, publish, save

RNG = np.random.default_rng(0)
# One tensor of each dtype a lowering keeps, several shapes (a scalar, an empty one, big-endian).
TENSORS = {
    "w_f32": RNG.standard_normal((64, 33)).astype(np.float32),
    "w_f16": RNG.standard_normal((7, 5, 3)).astype(np.float16),
    "w_f64": RNG.standard_normal(300),
    "w_i64": RNG.integers(-(2**40), 2**40, (129,)),
    "w_i32_be": RNG.integers(-9, 9, (40, 30)).astype(">i4"),
    "w_i8": RNG.integers(-128, 127, (1000,)).astype(np.int8),
    "w_u8": RNG.integers(0, 255, (2, 2)).astype(np.uint8),
    "w_bool": RNG.integers(0, 2, (17, 3)).astype(bool),
    "w_scalar": np.array(3.5, dtype=np.float32),
    "w_empty": np.zeros((0, 4), dtype=np.float32),
    "w_strided": RNG.standard_normal((20, 40)).astype(np.float32)[:, ::2],  # not contiguous
}


def _model() -> onnx.ModelProto:
    """Every tensor summed into one output (by its own dtype cast to float), plus one small inline
    constant, so ONNX Runtime must read every byte."""
    nodes, outs = [], []
    for name in TENSORS:
        nodes.append(helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("ReduceSum", [f"{name}_f"], [f"{name}_s"], keepdims=0))
        outs.append(f"{name}_s")
    nodes.append(helper.make_node("Concat", [*(f"{o}_r" for o in outs), "x"], ["y"], axis=0))
    for o in outs:
        nodes.insert(-1, helper.make_node("Reshape", [o, "one"], [f"{o}_r"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
                              [numpy_helper.from_array(np.array([1], dtype=np.int64), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="test")
    model.ir_version = 9
    return model


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("="), order="C")


def _expected() -> np.ndarray:
    return np.array([a.astype(np.float32).sum() for a in TENSORS.values()], dtype=np.float32)


def _check(path: Path) -> None:
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    got = {t.name: numpy_helper.to_array(t) for t in loaded.graph.initializer}
    assert set(got) == {*TENSORS, "one"}
    for name, arr in TENSORS.items():
        assert got[name].dtype == arr.dtype.newbyteorder("=") and got[name].shape == arr.shape
        np.testing.assert_array_equal(got[name], arr)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.array([7.0], dtype=np.float32)})
    np.testing.assert_allclose(y, [*_expected(), 7.0], rtol=1e-5)


def test_inline_write_is_the_model_onnx_writes(tmp_path: Path) -> None:
    model = _model()
    files = save(model, tmp_path, "m.onnx", TENSORS)
    assert files == [tmp_path / "m.onnx"]
    _check(files[0])
    # byte for byte what protobuf gives the whole message, the initialisers last
    whole = onnx.ModelProto()
    whole.CopyFrom(model)
    whole.graph.initializer.extend(numpy_helper.from_array(_native(a), k) for k, a in TENSORS.items())
    assert files[0].read_bytes() == whole.SerializeToString()
    assert len(model.graph.initializer) == 1  # the caller's model is left as it was


def test_external_write_past_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_files, "EXTERNAL_ABOVE", 1000)
    model = _model()
    files = save(model, tmp_path, "m.onnx", TENSORS)
    assert len(files) == 2 and files[1].parent == tmp_path and files[1].name.startswith("m.onnx.")
    _check(files[0])
    light = onnx.load(str(files[0]), load_external_data=False)
    for t in light.graph.initializer:
        if t.name in TENSORS and TENSORS[t.name].size:  # an empty tensor has no data to point at
            where = {e.key: e.value for e in t.external_data}
            assert t.data_location == TensorProto.EXTERNAL and where["location"] == files[1].name
            assert int(where["offset"]) % ALIGN == 0
    onnx.checker.check_model(str(files[0]), full_check=True)
    assert len(model.graph.initializer) == 1


def test_a_model_with_its_weights_inside_goes_external_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch route hands over a model holding its weights: same threshold, onnx's own writer."""
    monkeypatch.setattr(onnx_files, "EXTERNAL_ABOVE", 1000)
    model = _model()
    model.graph.initializer.extend(numpy_helper.from_array(_native(a), k) for k, a in TENSORS.items())
    files = save(model, tmp_path, "m.onnx")
    assert len(files) == 2
    _check(files[0])


def test_publish_moves_the_files_in_and_drops_stale_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_files, "EXTERNAL_ABOVE", 1000)
    dest = tmp_path / "out"
    dest.mkdir()
    stale = dest / "m.onnx.0123456789ab.data"
    stale.write_bytes(b"old")
    (dest / "m.onnx").write_bytes(b"old model")
    (dest / "m.onnx").chmod(0o640)
    work = dest / ".work"
    work.mkdir()
    files = save(_model(), work, "m.onnx", TENSORS)
    publish(files, dest)
    assert not any(work.iterdir())  # moved, not copied
    assert not stale.exists() and (dest / files[1].name).is_file()
    assert (dest / "m.onnx").stat().st_mode & 0o777 == 0o640  # the replaced file's permissions
    _check(dest / "m.onnx")
