"""Fine-tuning: trainable: false freezes normalisation statistics too (a real optimisation
step), and load_init brings a base checkpoint into a LoRA model with only the adapter keys
reported missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import specc
from specc.backends.errors import WeightsError
from specc.backends.finetune import load_init
from specc.backends.torch_build import build_module, generated_module
from specc.pipeline import Spec
from specc.targets.torch.emit import compile_source

FROZEN = """\
specc: 1
inputs: {image: [B, 3, 8, 8]}
blocks:
  Stem:
    layers:
      - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, bias: false}
      - {type: BatchNorm2d, name: norm}
      - {type: ReLU}
layers:
  - {type: Stem, name: stem, trainable: false}
  - {type: BatchNorm2d, name: bn, trainable: false}
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {type: BatchNorm2d, name: live}
  - {type: Flatten}
  - {type: Linear, out_features: 3, name: head}
loss: {type: CrossEntropyLoss}
optimizer: {type: SGD, lr: 0.1}
"""


def load(text: str) -> Spec:
    spec = specc.loads(text, "t.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    return spec


def test_frozen_layers_keep_their_norm_statistics_while_the_rest_trains() -> None:
    spec = load(FROZEN)
    source = compile_source(spec)
    assert "freeze_norm_stats(self.stem)" in source and "freeze_norm_stats(self.bn)" in source
    assert "freeze_norm_stats(self.live)" not in source
    model, mod = build_module(spec, seed=0), generated_module(spec)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("stem.", "bn."))}
    live = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("live.", "head."))}
    opt = mod.build_optimizer(model)
    model.train()
    assert model.training and not model.bn.training and not model.stem.norm.training and model.live.training
    x, y = torch.randn(16, 3, 8, 8) * 3 + 1, torch.randint(0, 3, (16,))
    opt.zero_grad()
    mod.build_loss()(model(x), y).backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items()), "a frozen weight or statistic changed"
    for k in ("live.running_mean", "live.running_var", "live.num_batches_tracked", "head.weight"):
        assert not torch.equal(after[k], live[k]), k
    model.eval()
    assert not model.live.training


def test_a_frozen_block_used_unfrozen_elsewhere_keeps_only_its_frozen_instance_fixed() -> None:
    spec = load(FROZEN.replace("  - {type: BatchNorm2d, name: bn, trainable: false}\n",
                               "  - {type: Stem, name: stem2}\n"))
    model = build_module(spec, seed=0)
    model.train()
    assert not model.stem.norm.training and model.stem2.norm.training


def base_and_lora() -> tuple[Spec, Spec]:
    base = load("specc: 1\ninputs: {x: [B, 6]}\nlayers:\n  - {type: Linear, out_features: 8, name: fc1}\n"
                "  - {type: BatchNorm1d, name: bn}\n  - {type: ReLU}\n  - {type: Linear, out_features: 2, name: fc2}\n")
    return base, load(base.text + "lora: {rank: 2, targets: [fc1, fc2]}\n")


def test_a_base_checkpoint_loads_into_a_lora_model_with_only_adapter_keys_missing(tmp_path: Path) -> None:
    base_spec, lora_spec = base_and_lora()
    base = build_module(base_spec, seed=3)
    with torch.no_grad():
        base.bn.running_mean.uniform_()  # something only a loaded checkpoint has
    path = tmp_path / "base.safetensors"
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(path))
    model = build_module(lora_spec, seed=0)
    report = load_init(model, path)
    assert report.missing_adapters_only
    assert sorted(report.missing) == sorted(k for k in model.state_dict() if "lora_" in k) and len(report.missing) == 4
    assert report.unexpected == [] and report.mismatched == []
    assert "LoRA adapters start fresh (4 tensors)" in report.describe()
    x = torch.randn(5, 6)
    base.eval(), model.eval()
    assert torch.allclose(model(x), base(x), atol=1e-6)  # B = 0: the adapted model is the base model


def test_load_init_reports_what_does_not_fit(tmp_path: Path) -> None:
    base_spec, _ = base_and_lora()
    model = build_module(base_spec, seed=0)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["fc2.weight"] = torch.zeros(3, 8)
    state["old_head.weight"] = torch.zeros(1)
    del state["bn.running_var"]
    path = tmp_path / "other.safetensors"
    save_file(state, str(path))
    before = model.fc2.weight.clone()
    report = load_init(model, path)
    assert report.missing == ["bn.running_var"] and report.unexpected == ["old_head.weight"]
    assert report.mismatched == [("fc2.weight", (3, 8), (2, 8))] and not report.missing_adapters_only
    assert torch.equal(model.fc2.weight, before)
    text = report.describe()
    assert "fc2.weight: the checkpoint has shape (3, 8), the model needs (2, 8)" in text
    with pytest.raises(WeightsError, match="no such file"):
        load_init(model, tmp_path / "nope.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="not a readable"):
        load_init(model, tmp_path / "junk.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "unrelated.safetensors"))
    with pytest.raises(WeightsError, match="nothing in"):
        load_init(model, tmp_path / "unrelated.safetensors")


def test_a_frozen_attention_layer_exports_with_torchscript(tmp_path: Path) -> None:
    """Frozen weights let MultiheadAttention take PyTorch's fused inference kernel, which has no
    ONNX form; the export traces the plain path, and ONNX Runtime agrees with the module."""
    from specc.backends.onnx_export import export_spec

    spec = specc.loads("specc: 1\ninputs: {x: [B, 6, 8]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 2, "
                       "trainable: false}\n  - {type: Linear, out_features: 3}\n", "t.yaml")
    assert spec.ok
    result = export_spec(spec, tmp_path / "m.onnx", exporter="torchscript")
    assert result.exporter == "torchscript" and (tmp_path / "m.onnx").is_file()


@pytest.mark.parametrize("norm,shape", [
    ("{type: BatchNorm1d, num_features: 4}", "[B, 4, 10]"),
    ("{type: BatchNorm3d, num_features: 4}", "[B, 4, 3, 4, 4]"),
    ("{type: InstanceNorm1d, num_features: 4, track_running_stats: true, affine: true}", "[B, 4, 10]"),
])
def test_frozen_norm_statistics_in_repeats_survive_eval_then_train(norm: str, shape: str) -> None:
    """Statistics of frozen norms in every copy of a repeat stay fixed through a user's
    .eval() / .train() cycle; the unfrozen copy of the same norm keeps learning its own."""
    spec = load(f"specc: 1\ninputs: {{x: {shape}}}\nlayers:\n  - {{{norm[1:-1]}, repeat: 2, name: frozen, "
                f"trainable: false}}\n  - {{{norm[1:-1]}, name: live}}\n  - {{type: Flatten}}\n"
                "  - {type: Linear, out_features: 2}\nloss: {type: CrossEntropyLoss}\n"
                "optimizer: {type: SGD, lr: 0.1}\n")
    model, mod = build_module(spec, seed=0), generated_module(spec)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = mod.build_optimizer(model)
    model.eval()
    model.train()
    x = torch.randn(8, *(int(d) for d in shape.strip("[]").split(", ")[1:])) * 2 + 3
    opt.zero_grad()
    mod.build_loss()(model(x), torch.randint(0, 2, (8,))).backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items() if k.startswith("frozen."))
    assert not torch.equal(after["live.running_mean"], before["live.running_mean"])
