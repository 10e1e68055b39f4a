"""Several outputs, a loss per output: `loss: {OUTPUT: {type, weight}}` is checked per output,
trains Σ weight · loss over the outputs from one shared trunk, and scores, predicts and exports
each output in its own task's terms (labels for the classifier, original units for the regression)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

import specc

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from specc.backends.torch_build import generated_module  # noqa: E402
from specc.backends.train import DataError  # noqa: E402
from specc.backends.train.predict import load_run, predict  # noqa: E402

# iris with two heads: the species, and the petal width regressed from the other three measurements
TWO_HEADS = """\
    specc: 1
    name: IrisTwoHeads
    inputs: {{x: [B, 3]}}
    layers:
      - {{type: Linear, out_features: 32, name: trunk}}
      - {{type: ReLU, name: act}}
      - {{type: Linear, out_features: 3, name: species, from: act}}
      - {{type: Linear, out_features: 1, name: width, from: act}}
    outputs: [species, width]
    loss:
      species: {{type: CrossEntropyLoss}}
      width: {{type: MSELoss, weight: {weight}}}
    optimizer: {{type: Adam, lr: 0.01}}
    train:
      epochs: {epochs}
      batch_size: 16
      seed: 0
      data: {{source: {source}, val_split: 0.25{data}}}
    """


def iris_npz(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    d = load_iris()
    path = tmp_path / "iris.npz"
    np.savez(path, x=d.data[:, :3], species=d.target, width=d.data[:, 3:4])
    return path


def two_heads(tmp_path: Path, *, weight: float = 1.0, epochs: int = 25, source: str = "iris.npz",
              data: str = ", y_key: {species: species, width: width}") -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(textwrap.dedent(TWO_HEADS.format(weight=weight, epochs=epochs, source=source, data=data)))
    return path


def test_iris_species_and_petal_width_from_one_trunk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    iris_npz(tmp_path)
    spec, run = two_heads(tmp_path), tmp_path / "run"
    result = specc.train(str(spec), run)
    final = result.report["final"]
    assert final["val_species_accuracy"] >= 0.95
    assert final["val_width_r2"] >= 0.8
    # the summed loss is the weighted sum of the per-output terms, and each is logged every epoch
    assert final["val_loss"] == pytest.approx(final["val_species_loss"] + final["val_width_loss"], rel=1e-4)
    assert {"species_loss", "width_loss", "val_species_f1", "val_width_rmse"} <= set(result.history[-1])
    assert "val_width_mae" in (run / "history.csv").read_text().splitlines()[0]
    assert result.report["preprocess"] == {"input x": "standardize", "targets species": "none",
                                           "targets width": "standardize"}

    # predict answers per output, on raw inputs, the width in centimetres
    from sklearn.datasets import load_iris

    iris = load_iris()
    x = iris.data[::25, :3].astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli(capsys, "predict", str(run), "--input", str(tmp_path / "x.npy"), "--format", "json")
    assert code == 0, err
    answer = json.loads(out)["outputs"]
    assert answer["species"]["label"] == iris.target[::25].tolist()
    width = np.asarray(answer["width"]["prediction"])[:, 0]
    assert np.abs(width - iris.data[::25, 3]).mean() < 0.3

    # the exported graph bakes the input and the width's scaling: ORT on raw inputs = predict
    onnx_path = tmp_path / "two.onnx"
    code, _, err = run_cli(capsys, "export", str(spec), "--weights", str(run), "-o", str(onnx_path))
    assert code == 0, err
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits, w = session.run(None, {"x": x})
    assert w[:, 0] == pytest.approx(width, abs=1e-4)
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert probs == pytest.approx(np.asarray(answer["species"]["probabilities"]), abs=1e-5)

    code, out, _ = run_cli(capsys, "evaluate", str(run), "--format", "json")
    assert code == 0
    assert json.loads(out)["width_r2"] == pytest.approx(final["val_width_r2"], abs=1e-6)


def test_early_stopping_on_an_outputs_error_keeps_its_lowest_epoch(tmp_path: Path) -> None:
    # val_width_rmse is an error, lower is better like val_rmse: its direction was read from the
    # whole name, so the run kept the epoch of the highest error
    iris_npz(tmp_path)
    spec = two_heads(tmp_path, epochs=6)
    spec.write_text(spec.read_text().replace("  batch_size: 16\n", "  batch_size: 16\n  early_stopping: {monitor: "
                                             "val_width_rmse, patience: 10}\n"))
    result = specc.train(str(spec), tmp_path / "run")
    errors = [epoch["val_width_rmse"] for epoch in result.history]
    assert result.report["best_epoch"] == errors.index(min(errors)) + 1
    assert result.report["best"] == pytest.approx(min(errors))


@pytest.mark.parametrize(("monitor", "direction"), [
    ("loss", "min"), ("val_loss", "min"), ("val_mae", "min"), ("val_width_rmse", "min"), ("species_loss", "min"),
    ("val_accuracy", "max"), ("val_species_accuracy", "max"), ("val_roc_auc", "max"), ("val_r2", "max"),
])
def test_a_monitors_direction_is_its_metrics(monitor: str, direction: str) -> None:
    from specc.validate.document import better

    assert better(monitor) == direction


def test_a_weight_of_0_leaves_its_head_untrained(tmp_path: Path) -> None:
    iris_npz(tmp_path)
    spec = two_heads(tmp_path, weight=0, epochs=5)
    result = specc.train(str(spec), None)
    torch.manual_seed(0)  # the loop builds the model right after seeding with train.seed
    fresh = generated_module(specc.load(str(spec))).IrisTwoHeads()
    assert torch.equal(result.model.width.weight, fresh.width.weight)
    assert torch.equal(result.model.width.bias, fresh.width.bias)
    assert not torch.equal(result.model.species.weight, fresh.species.weight)
    assert result.report["final"]["val_width_r2"] < 0.5  # the trunk learnt species, not the width
    # the summed loss counts the untrained term with weight 0
    final = result.report["final"]
    assert final["val_loss"] == pytest.approx(final["val_species_loss"], rel=1e-5)


def test_csv_columns_and_synthetic_data_per_output(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = ["a,b,c,species,width"] + [f"{a},{b},{c},{iris.target_names[t]},{w}"
                                        for (a, b, c, w), t in zip(iris.data, iris.target)]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    spec = two_heads(tmp_path, epochs=2, source="iris.csv", data=", target: [species, width]")
    run = tmp_path / "run"
    result = specc.train(str(spec), run)
    assert result.report["data"]["train_samples"] + result.report["data"]["val_samples"] == 150
    assert result.report["data"]["classes"] == {"species": list(iris.target_names)}
    answer = predict(load_run(run, generated_module(specc.load(str(spec)))),
                                                  {"x": iris.data[:2, :3]})
    assert answer["outputs"]["species"]["class"][0] in iris.target_names
    assert len(answer["outputs"]["width"]["prediction"]) == 2
    spec = two_heads(tmp_path, epochs=1, source="synthetic", data="")
    assert "val_width_r2" in specc.train(str(spec), None).history[-1]
    # keys the file does not have are found when the data is read, at the data's line
    iris_npz(tmp_path)
    with pytest.raises(DataError) as err:
        specc.train(str(two_heads(tmp_path, epochs=1, data=", y_key: {species: species, width: petal}")), None)
    assert err.value.code == "T002" and "'petal'" in err.value.message


BASE = ("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 8, name: h}\n"
        "  - {type: Linear, out_features: 3, name: head}\n  - {type: Linear, out_features: 1, name: size, from: h}\n"
        "outputs: [head, size]\noptimizer: {type: Adam}\n")


@pytest.mark.parametrize(("fragment", "code", "line", "words"), [
    ("loss: {type: CrossEntropyLoss}", "V022", 9, ("head: {type: ...}, size: {type: ...}",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  szie: {type: MSELoss}", "V025", 11, ("did you mean 'size'?",)),
    ("loss:\n  head: {type: CrossEntropyLoss}", "V027", 10, ("size has no loss", "weight: 0")),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss, weight: -1}", "V026", 11, ("≥ 0",)),
    ("loss:\n  head: {type: CrossEntropyLoss, weight: .nan}\n  size: {type: MSELoss}", "V026", 10, ("nan",)),
    ("loss:\n  head: {type: CrossEntropyLoss, weight: [1, 2]}\n  size: {type: MSELoss}", "T052", 10,
     ("output 'head'", "3 classes")),
    ("loss:\n  head: {type: NLLLoss}\n  size: {type: MSELoss}", "T050", 10, ("output 'head'", "log-probabilities")),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: BCELoss}", "T053", 11, ("output 'size'",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\n"
     "train: {early_stopping: {monitor: val_size_acuracy}}", "V023", 12, ("did you mean 'val_head_accuracy'?",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: CTCLoss}", "V028", 11, ("output 'size'",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\ntrain: {data: {source: iris}}", "V029", 12,
     ("holds one target", "y_key: {head: ..., size: ...}")),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\ntrain: {data: {source: d.npz, y_key: y}}",
     "V029", 12, ("y_key needs one array for each",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\ntrain: {data: {source: d.csv, target: [a]}}",
     "V029", 12, ("target needs one column for each",)),
    ("loss:\n  head: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\ntrain: {class_weights: auto}", "V024", 12,
     ("per output",)),
])
def test_per_output_loss_errors_are_located(fragment: str, code: str, line: int, words: tuple[str, ...]) -> None:
    spec = specc.loads(BASE + fragment + "\n", "t.yaml")
    assert [d.code for d in spec.errors] == [code], [str(d) for d in spec.errors]
    d = spec.errors[0]
    assert d.loc is not None and d.loc.line == line
    text = f"{d.message} {d.hint}"
    assert all(w in text for w in words), text


def test_targets_per_output_need_a_loss_per_output() -> None:
    spec = specc.loads(BASE.replace("outputs: [head, size]\n", "outputs: head\n") +
                       "loss: {type: CrossEntropyLoss}\ntrain: {data: {source: d.npz, y_key: {head: y}}}\n", "t.yaml")
    assert [(d.code, d.loc.line if d.loc else None) for d in spec.errors] == [("V029", 10)]
    assert "one loss" in spec.errors[0].message


def test_a_per_output_loss_checks_ok_and_monitors_an_output_metric() -> None:
    spec = specc.loads(BASE + "loss:\n  head: {type: CrossEntropyLoss, weight: [1, 2, 1]}\n"
                       "  size: {type: HuberLoss, weight: 0.25}\ntrain: {early_stopping: {monitor: val_size_r2}}\n",
                       "t.yaml")
    assert spec.ok, [str(d) for d in spec.errors]
    from specc.targets.torch.emit.plan import plan_module

    loss = plan_module(spec).builders.loss
    assert loss == ('MultiLoss({"head": nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 1.0])), '
                    '"size": nn.HuberLoss()}, weights={"head": 1.0, "size": 0.25})')
