"""`specc run` and specc.backends.ort: provider choice, untrusted models, inputs and outputs.

Models here are written by hand with onnx.helper (no torch needed), so each case is exact
and fast; tests/test_onnx_export.py covers models that come from specs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from specc.backends import ort as rt
from specc.backends.errors import InputError, ModelError, ProviderUnavailable, UnsafeModel
from specc.cli import main

CUDA_USABLE = rt.cuda_status()[0]


def _model(path: Path, *, meta: dict[str, str] | None = None) -> Path:
    """y = x @ W + b with x (B, 3) float32 and a second input n (B, T) int64 summed to (B,)."""
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "W")
    b = numpy_helper.from_array(np.array([1.0, -1.0], np.float32), "b")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, ["B", "T"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 2])
    s = helper.make_tensor_value_info("s", TensorProto.INT64, ["B"])
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"]),
             helper.make_node("ReduceSum", ["n", "axes"], ["s"], keepdims=0)]
    graph = helper.make_graph(nodes, "hand", [x, n], [y, s], initializer=[w, b, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def _external_model(folder: Path, location: str) -> Path:
    """A model whose only weight lives in an external file at ``location``."""
    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        w.external_data.add(key=key, value=value)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Add", ["x", "W"], ["y"])], "ext", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = folder / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    return path


# -- providers --------------------------------------------------------------------------------------------------

@pytest.mark.skipif(CUDA_USABLE, reason="this machine really has CUDA")
def test_provider_cuda_fails_loudly_on_a_cpu_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path / "m.onnx")
    out = tmp_path / "out.npz"
    assert main(["run", str(model), "--provider", "cuda", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--provider cuda: CUDA cannot run here" in err
    assert "Traceback" not in err
    assert not out.exists()
    with pytest.raises(ProviderUnavailable):
        rt.select_providers("cuda")


@pytest.mark.skipif(CUDA_USABLE, reason="this machine really has CUDA")
def test_failed_cuda_probe_is_silent(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    # as on a machine with a GPU device but without the CUDA libraries onnxruntime needs
    monkeypatch.setattr(rt, "_gpu_present", lambda: True)
    rt.cuda_status.cache_clear()
    try:
        usable, why = rt.cuda_status()
    finally:
        rt.cuda_status.cache_clear()
    assert not usable and "CUDA" in why
    out, err = capfd.readouterr()
    assert out == "" and err == "", "onnxruntime's error spew leaked"


def test_auto_uses_cpu_when_cuda_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path / "m.onnx")
    assert main(["run", str(model), "--size", "T=2"]) == 0
    out = capsys.readouterr().out
    want = rt.CUDA if CUDA_USABLE else rt.CPU
    assert f"on {want}" in out
    sess = rt.create_session(model, "auto")
    assert sess.get_providers()[0] == want
    assert rt.create_session(model, "cpu").get_providers() == [rt.CPU]


def test_session_is_tuned(tmp_path: Path) -> None:
    so = rt.session_options()
    assert so.graph_optimization_level == rt.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert so.intra_op_num_threads == rt.physical_cores() >= 1


# -- untrusted external data ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("location", ["../secret.bin", "/etc/hostname", "sub/../../secret.bin", "..\\secret.bin",
                                      "C:\\secret.bin", ""])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, location: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.ones(2, np.float32).tobytes())
    model = _external_model(folder, location)
    with pytest.raises(UnsafeModel, match="refusing to load"):
        rt.load_untrusted(model)
    assert main(["run", str(model)]) == 1
    err = capsys.readouterr().err
    assert "refusing to load" in err and "Traceback" not in err


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_external_data_symlink_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.ones(2, np.float32).tobytes())
    (folder / "weights.bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(UnsafeModel, match="outside the model's folder"):
        rt.load_untrusted(_external_model(folder, "weights.bin"))


def test_external_data_inside_the_folder_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "weights.bin").write_bytes(np.array([1.0, 2.0], np.float32).tobytes())
    model = _external_model(tmp_path, "weights.bin")
    np.save(tmp_path / "x.npy", np.array([10.0, 20.0], np.float32))
    out = tmp_path / "y.npz"
    assert main(["run", str(model), "-i", f"x={tmp_path / 'x.npy'}", "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out)["y"], [11.0, 22.0])


def test_garbage_file_is_a_model_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffnot a protobuf at all" * 10)
    with pytest.raises(ModelError):
        rt.load_untrusted(bad)
    assert main(["run", str(bad)]) == 1
    assert "Traceback" not in capsys.readouterr().err


# -- inputs and outputs ------------------------------------------------------------------------------------------------

def test_run_with_given_arrays_writes_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path / "m.onnx")
    x = np.array([[1, 0, 0], [0, 1, 1]], np.float64)  # float64 is cast to the model's float32
    n = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.int64)
    np.savez(tmp_path / "in.npz", x=x, n=n)
    out = tmp_path / "out.npz"
    assert main(["run", str(model), "-i", str(tmp_path / "in.npz"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input  x: (2, 3) float32 (given)" in text
    got = np.load(out)
    np.testing.assert_allclose(got["y"], x.astype(np.float32) @ np.arange(6).reshape(3, 2) + [1, -1])
    np.testing.assert_array_equal(got["s"], [10, 26])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "m.onnx", "out.npz"]  # no temp files left


def test_token_id_past_the_table_is_the_users_to_fix(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # ONNX Runtime checks a Gather's indices only while running: an id past the table is the
    # inputs' fault (exit 2, the node named), not "a bug in specc", and its red log line stays quiet
    table = numpy_helper.from_array(np.zeros((10, 4), np.float32), "E")
    tok = helper.make_tensor_value_info("tok", TensorProto.INT64, ["B", 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 5, 4])
    graph = helper.make_graph([helper.make_node("Gather", ["E", "tok"], ["y"], name="embed")], "emb", [tok], [y],
                              initializer=[table])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / "emb.onnx"
    onnx.save(model, str(path))
    np.save(tmp_path / "ok.npy", np.array([[1, 2, 3, 4, 9]], np.int64))
    np.save(tmp_path / "big.npy", np.array([[1, 2, 3, 4, 50]], np.int64))
    assert main(["run", str(path), "-i", str(tmp_path / "ok.npy")]) == 0
    capfd.readouterr()
    assert main(["run", str(path), "-i", str(tmp_path / "big.npy")]) == 2
    got = capfd.readouterr()
    assert "refused the inputs' values at its Gather node 'embed'" in got.err and "idx=50" in got.err
    assert "bug in specc" not in got.err and "ONNXRuntimeError" not in got.err + got.out


def test_an_input_name_is_checked_before_its_file_is_read(tmp_path: Path) -> None:
    # -i y=data.csv once read the CSV for 'y' and reported its columns, not the missing input
    (tmp_path / "data.csv").write_text("a,note\n1,text\n")
    with pytest.raises(InputError, match=r"-i y=.*no input named 'y'; its inputs are x, n"):
        rt.load_arrays([f"y={tmp_path / 'data.csv'}"], ["x", "n"])
    odd = tmp_path / "run=3.npy"  # a file whose name holds '=' is a file, not NAME=FILE
    np.save(odd, np.ones((2, 3), np.float32))
    assert rt.load_arrays([str(odd)], ["x"])["x"].shape == (2, 3)


def test_random_inputs_take_batch_and_sizes(tmp_path: Path) -> None:
    model = onnx.load(str(_model(tmp_path / "m.onnx")))
    feeds, random = rt.prepare_inputs(model, {}, batch=3, sizes={"T": 5})
    assert random == ["x", "n"]
    assert feeds["x"].shape == (3, 3) and feeds["x"].dtype == np.float32
    assert feeds["n"].shape == (3, 5) and feeds["n"].dtype == np.int64
    assert feeds["n"].min() >= 0 and feeds["n"].max() < 2


def test_sizes_recorded_by_the_exporter_are_defaults(tmp_path: Path) -> None:
    meta = {"specc_sizes": '{"B": 2, "T": 7}', "specc_int_high": '{"n": 50}'}
    model = onnx.load(str(_model(tmp_path / "m.onnx", meta=meta)))
    feeds, _ = rt.prepare_inputs(model, {}, batch=4)
    assert feeds["n"].shape == (4, 7)
    assert feeds["n"].max() < 50


def test_a_given_array_fixes_the_symbols_of_the_others(tmp_path: Path) -> None:
    model = onnx.load(str(_model(tmp_path / "m.onnx")))
    feeds, random = rt.prepare_inputs(model, {"n": np.zeros((6, 9), np.int64)}, batch=1)
    assert random == ["x"] and feeds["x"].shape == (6, 3)


@pytest.mark.parametrize(("given", "message"), [
    ({"x": np.zeros((2, 4), np.float32)}, "axis 1 must be 3"),
    ({"x": np.zeros((2,), np.float32)}, "needs 2 dims"),
    ({"x": np.zeros((2, 3), np.float32), "n": np.zeros((5, 1), np.int64)}, "another input has B = 2"),
    ({"n": np.zeros((2, 2), np.float32)}, "needs int64"),
    ({"z": np.zeros(1)}, "no input named 'z'"),
])
def test_bad_arrays_are_explained(tmp_path: Path, given: dict, message: str) -> None:
    model = onnx.load(str(_model(tmp_path / "m.onnx")))
    with pytest.raises(InputError, match=message):
        rt.prepare_inputs(model, given)


def test_missing_size_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path / "m.onnx")
    assert main(["run", str(model)]) == 2  # T has no export size recorded and no --size
    assert "--size T=N" in capsys.readouterr().err
    assert main(["run", str(model), "--size", "T=3", "--batch", "2"]) == 0
    assert main(["run", str(model), "--size", "T"]) == 2
    capsys.readouterr()
    # a mistyped symbol would have run at the default size without a word
    assert main(["run", str(model), "--size", "T=3", "--size", "Q=5"]) == 2
    assert "the model's inputs have no dim 'Q'; their symbolic dims are" in capsys.readouterr().err
    assert main(["run", str(model), "-i", str(tmp_path / "nope.npy")]) == 2
    assert main(["run", str(tmp_path / "nope.onnx")]) == 2


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    model = _model(tmp_path / "m.onnx")
    assert main(["run", str(model), "--size", "T=3", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["provider"] in (rt.CPU, rt.CUDA)
    assert report["outputs"]["y"]["shape"] == [1, 2]
    assert report["random_inputs"] == ["x", "n"]


def test_output_must_be_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path / "m.onnx")
    assert main(["run", str(model), "--size", "T=3", "-o", str(tmp_path / "out.txt")]) == 2
    assert not (tmp_path / "out.txt").exists()
