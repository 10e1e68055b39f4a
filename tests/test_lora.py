"""LoRA adapters: counted by check/summary as PyTorch counts them, only they train, shown in
the generated code, merged at export (ONNX Runtime equals the unmerged module), and a
state dict with adapters loads back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import specc
from specc.backends.finetune import has_lora, merge_lora
from specc.backends.torch_build import build_module, example_inputs, generated_module
from specc.pipeline import Spec
from specc.targets.torch.emit import compile_source

TEXT = """\
specc: 1
name: Tagger
inputs: {tokens: [B, T, 12]}
layers:
  - {type: Linear, out_features: 16, name: fc1}
  - {type: BatchNorm1d, num_features: T, name: bn}
  - {type: MultiheadAttention, num_heads: 2, name: attn}
  - {type: Linear, out_features: 16, name: fc2}
  - {type: ReLU}
  - {type: Linear, out_features: 5, name: head}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: Adam, lr: 0.01}
lora: {rank: 4, alpha: 8, targets: [fc1, attn]}
export: {sizes: {T: 6}}
"""


def load(text: str = TEXT) -> Spec:
    spec = specc.loads(text, "t.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    return spec


@pytest.fixture(scope="module")
def spec() -> Spec:
    # BatchNorm1d over T needs a fixed T: the batch norm sees (B, T, 16) with T channels.
    return load(TEXT.replace("[B, T, 12]", "[B, 6, 12]").replace("num_features: T", "num_features: 6"))


def test_check_and_summary_count_what_pytorch_counts(spec: Spec) -> None:
    model = build_module(spec, seed=0)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report = spec.check()
    assert (report["total_params"], report["trainable_params"]) == (total, trainable)
    assert report["lora_params"] == trainable == 4 * (12 + 16) + 4 * (16 + 48) + 4 * (16 + 16)
    summary = spec.summary()
    rows = {r.name: r for r in summary.rows}
    assert rows["fc1"].trainable == 4 * 28 and rows["head"].trainable == 0
    assert rows["fc1"].params == 12 * 16 + 16 + 4 * 28
    text = summary.render()
    assert f"LoRA adapter params:   {trainable:,} (rank 4, alpha 8, on fc1, attn)" in text


def test_the_generated_code_shows_the_adapters(spec: Spec) -> None:
    source = compile_source(spec)
    assert "class LoRA(nn.Module):" in source
    for line in ('self.requires_grad_(False)', 'add_lora(self.fc1, "weight", rank=4, alpha=8.0)',
                 'add_lora(self.attn, "in_proj_weight", rank=4, alpha=8.0)',
                 'add_lora(self.attn.out_proj, "weight", rank=4, alpha=8.0)', "freeze_norm_stats(self)"):
        assert line in source


def test_only_the_adapters_train_and_the_norm_statistics_stay(spec: Spec) -> None:
    model = build_module(spec, seed=0)
    mod = generated_module(spec)
    base = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    adapters = {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}
    opt = mod.build_optimizer(model)
    loss_fn = mod.build_loss()
    model.train()
    x = example_inputs(spec, batch=8)
    y = torch.randint(0, 5, (8, 6))
    for _ in range(3):
        opt.zero_grad()
        loss_fn(model(*x), y).backward()
        opt.step()
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in base.items()), "a base weight or statistic changed"
    assert all(not torch.equal(after[k], v) for k, v in adapters.items() if k.endswith("lora_B"))


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_export_merges_the_adapters_and_onnx_equals_the_unmerged_module(spec: Spec, tmp_path: Path,
                                                                        exporter: str) -> None:
    """Both exporters: the merged (frozen) attention weights once sent torchscript into PyTorch's
    fused attention kernel, which has no ONNX form."""
    import onnx
    import onnxruntime as ort

    from specc.backends.onnx_export import export_spec

    model = build_module(spec, seed=0)
    with torch.no_grad():  # trained adapters: B is no longer zero
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.5)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    result = export_spec(spec, tmp_path / "lora.onnx", weights=weights, exporter=exporter)
    plain = load(spec.text.replace("lora: {rank: 4, alpha: 8, targets: [fc1, attn]}\n", ""))
    export_spec(plain, tmp_path / "plain.onnx", exporter=result.exporter)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "lora.onnx")).graph.node]
    assert sorted(ops) == sorted(n.op_type for n in onnx.load(str(tmp_path / "plain.onnx")).graph.node)
    model.eval()
    x = example_inputs(spec, batch=3, seed=7)
    with torch.no_grad():
        want = model(*x).numpy()
    session = ort.InferenceSession(str(tmp_path / "lora.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"tokens": x[0].numpy()})[0]
    assert abs(got - want).max() < 1e-4
    # The adapters changed the function: the merged model is not the base model.
    with torch.no_grad():
        base = build_module(plain, seed=0).eval()
        assert (base(*x).numpy() - want).__abs__().max() > 1e-3


def test_a_state_dict_with_adapters_loads_back(spec: Spec, tmp_path: Path) -> None:
    from specc.backends.onnx_export import load_weights

    model = build_module(spec, seed=0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    again = build_module(spec, seed=1)
    load_weights(again, path)
    x = example_inputs(spec, batch=2)
    model.eval(), again.eval()
    assert torch.allclose(model(*x), again(*x), atol=1e-6)
    merged = merge_lora(again)
    # W + s·B·A rounds differently from x·Aᵀ·Bᵀ: with adapters of std 1 the outputs reach ~1e3, and an
    # output near 0 made of such terms cancels, so the tolerance follows the outputs' scale
    want = model(*x)
    assert not has_lora(merged)
    assert torch.allclose(merged(*x), want, rtol=1e-5, atol=1e-6 * float(want.abs().max()))


def test_targets_inside_blocks_and_repeats() -> None:
    text = """\
specc: 1
inputs: {x: [B, T, 8]}
blocks:
  Mlp:
    layers:
      - {type: Linear, out_features: 8, name: up}
      - {type: GELU}
      - {type: Linear, out_features: 8, name: down}
layers:
  - {type: Mlp, repeat: 2, name: stack}
  - {type: Mlp, name: last}
lora: {rank: 2, targets: [up, last.down]}
"""
    spec = load(text)
    model = build_module(spec, seed=0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == spec.check()["trainable_params"] == 3 * 2 * 16 + 2 * 16
    assert sum(p.numel() for p in model.parameters()) == spec.check()["total_params"]
    source = compile_source(spec)
    assert 'add_lora(self.stack[1].up, "weight"' in source and 'add_lora(self.last.down, "weight"' in source
    assert model(torch.randn(2, 5, 8)).shape == (2, 5, 8)


@pytest.mark.parametrize("lora,code,hint", [
    ("{rank: 4, targets: [fc]}", "V030", "did you mean 'fc1'?"),
    ("{rank: 4, targets: [fc1.weight]}", "V030", "name the layer, 'fc1'"),
    ("{rank: 4, targets: [conv]}", "V031", "Linear, MultiheadAttention or TransformerEncoder"),
    ("{rank: 0, targets: [fc1]}", "V003", "rank"),
    ("{rank: 4, targets: [fc1, fc1]}", "V003", "once"),
    ("{rank: 4, targets: []}", "V003", ""),
])
def test_bad_targets_are_located(lora: str, code: str, hint: str) -> None:
    text = ("specc: 1\ninputs: {x: [B, 3, 8, 8]}\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, "
            "name: conv}\n  - {type: Flatten}\n  - {type: Linear, out_features: 2, name: fc1}\n"
            f"lora: {lora}\n")
    spec = specc.loads(text, "t.yaml")
    found = [(d.code, d.loc.line if d.loc else 0) for d in spec.errors]
    assert found == [(code, 7)], [(d.code, d.message) for d in spec.errors]
    assert hint in (spec.errors[0].hint or "") + spec.errors[0].message


def test_cross_attention_adapts_its_separate_q_k_v_projections() -> None:
    text = ("specc: 1\ninputs: {q: [B, T, 8], kv: [B, S, 6]}\nlayers:\n"
            "  - {type: MultiheadAttention, num_heads: 4, from: [q, kv], name: cross}\n"
            "lora: {rank: 2, alpha: 4, targets: [cross]}\n")
    spec = load(text)
    source = compile_source(spec)
    for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        assert f'add_lora(self.cross, "{name}", rank=2, alpha=4.0)' in source
    model = build_module(spec, seed=0)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.check()["trainable_params"] \
        == 2 * (16 + 14 + 14 + 16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_()
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 5, 6)
    model.eval()
    with torch.no_grad():
        adapted = model(q, kv)
        merged = merge_lora(model)(q, kv)
    assert torch.allclose(adapted, merged, atol=1e-5)


def test_the_corpus_lora_tagger_trains_its_adapters_without_nan() -> None:
    spec = specc.load(Path(__file__).parent / "corpus" / "good" / "finetune_tagger.yaml")
    assert spec.ok
    mod, model = generated_module(spec), build_module(spec, seed=0)
    loss_fn, opt = mod.build_loss(), mod.build_optimizer(model)
    sched = mod.build_scheduler(opt, 20, 1)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 1000, (32, 7), generator=g)
    tags = tokens % 9  # a tag per token, learnable from the token alone
    model.train()
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = loss_fn(model(tokens), tags)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert sum(p.numel() for g_ in opt.param_groups for p in g_["params"]) == spec.check()["trainable_params"]


ENCODER = """\
specc: 1
inputs: {x: [B, T, 8]}
layers:
  - {type: TransformerEncoderLayer, d_model: 8, nhead: 2, dim_feedforward: 16, dropout: 0.0, name: one}
  - {type: TransformerEncoder, d_model: 8, nhead: 2, dim_feedforward: 12, dropout: 0.0, num_layers: 2,
     norm: true, name: stack}
  - {type: Linear, out_features: 3, name: head}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: Adam, lr: 0.01}
lora: {rank: 2, alpha: 4, targets: [one, stack]}
export: {sizes: {T: 5}}
"""


def _randomise_adapters(model: torch.nn.Module) -> None:
    with torch.no_grad():  # as after training: B is no longer zero
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.3)


def test_transformer_encoders_adapt_every_projection_and_export_merged(tmp_path: Path) -> None:
    """The encoder's projections are not layers of the spec: naming the encoder adapts its
    attention (in_proj, out_proj) and feed-forward (linear1, linear2) in every layer.  (The
    torchscript exporter fixes T inside attention's reshapes, adapters or not: dynamo here.)"""
    import onnxruntime as ort

    from specc.backends.onnx_export import export_spec

    spec = load(ENCODER)
    model = build_module(spec, seed=0)
    def per_layer(f: int) -> int:  # attention in/out projections, then linear1 and linear2
        return 2 * (8 + 24) + 2 * (8 + 8) + 2 * (8 + f) * 2

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == spec.check()["trainable_params"] == per_layer(16) + 2 * per_layer(12)
    assert sum(p.numel() for p in model.parameters()) == spec.check()["total_params"]
    assert 'add_lora(self.stack.layers[1].linear2, "weight", rank=2, alpha=4.0)' in compile_source(spec)
    # Only the adapters move under the optimizer.
    mod = generated_module(spec)
    opt, loss_fn = mod.build_optimizer(model), mod.build_loss()
    base = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    model.train()
    x = example_inputs(spec, batch=4)
    for _ in range(2):
        opt.zero_grad()
        loss_fn(model(*x), torch.randint(0, 3, (4, x[0].shape[1]))).backward()
        opt.step()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in base.items())
    _randomise_adapters(model)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    export_spec(spec, tmp_path / "m.onnx", weights=weights, exporter="dynamo")
    model.eval()
    for t in (5, 9):  # the export size and another length of T
        x = torch.randn(2, t, 8)
        with torch.no_grad():
            want = model(x).numpy()
        got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
            None, {"x": x.numpy()})[0]
        assert abs(got - want).max() < 1e-4


def test_a_repeated_layer_is_named_by_its_repeat_and_a_block_through_its_layers() -> None:
    text = """\
specc: 1
inputs: {x: [B, 8]}
blocks:
  Mlp:
    layers:
      - {type: Linear, out_features: 8, name: up}
      - {type: ReLU}
layers:
  - {type: Linear, out_features: 8, repeat: 3, name: r}
  - {type: ReLU}
  - {type: Mlp, name: mlp}
lora: {rank: 2, targets: [r, TARGET]}
"""
    spec = load(text.replace("TARGET", "mlp.up"))
    model = build_module(spec, seed=0)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.check()["trainable_params"] \
        == 4 * 2 * 16
    bad = specc.loads(text.replace("TARGET", "mlp"), "t.yaml")
    assert [(d.code, d.loc.line) for d in bad.errors] == [("V031", 12)]
    assert "Mlp block" in bad.errors[0].message and "mlp.up" in (bad.errors[0].hint or "")


def test_a_rank_above_what_any_target_can_use_is_a_warning_and_still_works() -> None:
    text = ("specc: 1\ninputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 6, name: a}\n"
            "  - {type: ReLU}\n  - {type: Linear, out_features: 2, name: b}\nlora: {rank: RANK, targets: [a, b]}\n")
    spec = load(text.replace("RANK", "10"))
    (warning,) = [d for d in spec.diagnostics if d.code == "V032"]
    assert warning.severity == "warning" and (warning.loc.line, warning.loc.col) == (7, 14)
    # Every adapter's update has rank <= min(in, out): a beyond 6, b beyond 2.
    assert "above 6" in warning.message and f"{4 * 14 + 8 * 8:,} of the {10 * 14 + 10 * 8:,}" in warning.message
    assert "rank: 6" in (warning.hint or "")
    model = build_module(spec, seed=0)  # a warning, not an error: it builds and counts right
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.check()["trainable_params"]
    # A rank that only a small head cannot use stays quiet: the rank is one for all targets.
    assert not [d for d in load(text.replace("RANK", "4")).diagnostics if d.code == "V032"]
    assert not [d for d in specc.loads(text.replace("RANK", "10") + "lint: {ignore: [V032]}\n", "t.yaml")
                .diagnostics if d.code == "V032"]


HEAD = """\
specc: 1
inputs: {x: [B, 8]}
blocks:
  Out:
    layers:
      - {type: Linear, out_features: 6, name: proj}
      - {type: BatchNorm1d, name: norm}
      - {type: Linear, out_features: 3, name: logits}
layers:
  - {type: Linear, out_features: 6, name: fc1}
  - {type: BatchNorm1d, name: bn}
  - {type: ReLU}
  - {type: Out, name: head, trainable: true}
loss: {type: CrossEntropyLoss}
optimizer: {type: SGD, lr: 0.1}
lora: {rank: 2, targets: [fc1]}
"""


def test_layers_marked_trainable_true_train_in_full_beside_the_adapters() -> None:
    """A new task's head must train: with LoRA, trainable: true (here on a block) keeps a layer
    trainable, its norm statistics too, while the rest of the base model stays frozen."""
    spec = load(HEAD)
    model = build_module(spec, seed=0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if not n.startswith("head.")} == {
        "fc1.parametrizations.weight.0.lora_A", "fc1.parametrizations.weight.0.lora_B"}
    head = 6 * 6 + 6 + 2 * 6 + 6 * 3 + 3
    assert sum(p.numel() for n, p in model.named_parameters() if n in trainable) \
        == spec.check()["trainable_params"] == 2 * 14 + head
    rows = {r.name: r for r in spec.summary().rows}
    assert (rows["head"].trainable, rows["head.norm"].trainable, rows["bn"].trainable) == (head, 12, 0)
    assert "self.head.requires_grad_(True)" not in compile_source(spec)  # the leaves, by path
    assert "self.head.logits.requires_grad_(True)  # trainable: true: trained in full" in compile_source(spec)
    mod = generated_module(spec)
    opt, loss_fn = mod.build_optimizer(model), mod.build_loss()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    model.train()  # after eval(), train() again: the frozen statistics stay frozen, the head's move
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    for _ in range(2):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert {k for k in changed if not k.startswith("head.")} == {"fc1.parametrizations.weight.0.lora_A",
                                                                 "fc1.parametrizations.weight.0.lora_B"}
    assert {"head.norm.running_mean", "head.logits.weight", "head.proj.weight"} <= changed


def test_a_target_also_marked_trainable_true_is_an_error() -> None:
    spec = specc.loads(HEAD.replace("targets: [fc1]", "targets: [fc1, logits]"), "t.yaml")
    assert [(d.code, d.loc.line, d.loc.col) for d in spec.errors] == [("V033", 16, 32)]
    assert "head.logits" in (spec.errors[0].hint or "")


def test_a_time_distributed_linear_is_adapted_and_exports_merged(tmp_path: Path) -> None:
    import onnxruntime as ort

    from specc.backends.onnx_export import export_spec

    text = """\
specc: 1
inputs: {frames: [B, T, 3, 6, 6]}
layers:
  - {type: TimeDistributed, layer: {type: Conv2d, out_channels: 4, kernel_size: 3}, name: conv}
  - {type: TimeDistributed, layer: {type: Flatten}}
  - {type: TimeDistributed, layer: {type: Linear, out_features: 6}, name: proj}
  - {type: ReLU}
  - {type: Linear, out_features: 3, name: head}
lora: {rank: 2, targets: [TARGETS]}
export: {sizes: {T: 4}}
"""
    spec = load(text.replace("TARGETS", "proj, head"))
    model = build_module(spec, seed=0)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.check()["trainable_params"] \
        == 2 * (64 + 6) + 2 * (6 + 3)
    _randomise_adapters(model)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    export_spec(spec, tmp_path / "m.onnx", weights=weights)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    model.eval()
    for t in (4, 7):
        x = torch.randn(2, t, 3, 6, 6)
        with torch.no_grad():
            assert abs(session.run(None, {"frames": x.numpy()})[0] - model(x).numpy()).max() < 1e-4
    bad = specc.loads(text.replace("TARGETS", "conv"), "t.yaml")
    assert [d.code for d in bad.errors] == ["V031"] and "TimeDistributed of Conv2d" in bad.errors[0].message
