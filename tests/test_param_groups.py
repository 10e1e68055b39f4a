"""optimizer: {no_decay: [...], param_groups: [...]}: the groups PyTorch builds are the ones the
rule names (counted against oracles written with PyTorch's own module types), a run trains and
resumes with them, and the mistakes are located errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import specc  # noqa: E402
from specc.backends.torch_build import compile_source, generated_module  # noqa: E402
from specc.pipeline import Spec, loads  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

BERT_TINY = """\
specc: 1
name: BertTiny
inputs:
  tokens: {shape: [B, T], dtype: int64}
blocks:
  BertLayer:
    layers:
      - {type: MultiheadAttention, num_heads: 2, name: attention}
      - {type: Add, from: [attention, input]}
      - {type: LayerNorm, name: attention_norm}
      - {type: Linear, out_features: 128, name: intermediate}
      - {type: GELU}
      - {type: Linear, out_features: 32, name: output}
      - {type: Add, from: [output, attention_norm]}
      - {type: LayerNorm, name: output_norm}
layers:
  - {type: Embedding, num_embeddings: 100, embedding_dim: 32, name: word_embeddings}
  - {type: PositionalEncoding, kind: learned, max_len: 16, name: position_embeddings}
  - {type: LayerNorm, name: embedding_norm}
  - {type: BertLayer, repeat: 2, name: encoder}
  - {type: Select, dim: 1, index: 0}
  - {type: Linear, out_features: 32, name: pooler}
  - {type: Tanh}
  - {type: Linear, out_features: 2, name: classifier}
loss: {type: CrossEntropyLoss}
"""


def checked(text: str) -> Spec:
    spec = loads(text)
    assert spec.ok, [d.render() if hasattr(d, "render") else d for d in spec.errors]
    return spec


def optimizer_of(spec: Spec) -> tuple[nn.Module, torch.optim.Optimizer]:
    module = generated_module(spec)
    model = getattr(module, spec.name)()
    return model, module.build_optimizer(model)


def names_by_group(model: nn.Module, opt: torch.optim.Optimizer) -> dict[str, set[str]]:
    name_of = {id(p): n for n, p in model.named_parameters()}
    return {g["name"]: {name_of[id(p)] for p in g["params"]} for g in opt.param_groups}


def test_bert_no_decay_gives_decay_to_the_matrices_alone() -> None:
    """BERT's `no_decay = ["bias", "LayerNorm.weight"]` (every bias, the LayerNorms' scales) against
    the same rule written with PyTorch's module types; counted by hand: 32 tensors, 20 without decay."""
    spec = checked(BERT_TINY + "optimizer: {type: AdamW, lr: 1.0e-4, weight_decay: 0.01, "
                               "no_decay: [bias, LayerNorm.weight]}\n")
    model, opt = optimizer_of(spec)
    oracle = {f"{m_name}.{p_name}".lstrip(".") for m_name, m in model.named_modules()
              for p_name, _ in m.named_parameters(recurse=False)
              if isinstance(m, nn.LayerNorm) or "bias" in p_name}
    groups = names_by_group(model, opt)
    assert groups["no_decay"] == oracle
    assert (len(groups["rest"]), len(groups["no_decay"])) == (12, 20)
    assert {g["name"]: g["weight_decay"] for g in opt.param_groups} == {"rest": 0.01, "no_decay": 0.0}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_timm_rule_on_resnet18_decays_only_conv_and_linear_weights() -> None:
    text = (ROOT / "specs" / "resnet18.yaml").read_text().replace(
        "nesterov: true}", "nesterov: true, no_decay: [1d]}")
    spec = checked(text)
    model, opt = optimizer_of(spec)
    decayed = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    groups = names_by_group(model, opt)
    assert groups["rest"] == decayed and len(decayed) == 21  # 20 convs and fc
    assert len(groups["no_decay"]) == 41  # 20 BatchNorm2d x 2 and fc.bias
    assert [(g["name"], g["weight_decay"], g["lr"]) for g in opt.param_groups] == [
        ("rest", 1e-4, 0.1), ("no_decay", 0.0, 0.1)]


def test_a_head_at_ten_times_the_lr_split_by_no_decay_and_scaled_by_one_cycle() -> None:
    spec = checked(BERT_TINY + textwrap.dedent("""\
        optimizer:
          type: AdamW
          lr: 1.0e-4
          no_decay: [norm, bias]
          param_groups:
            - {name: head, params: [pooler, classifier], lr: 1.0e-3, betas: [0.9, 0.98]}
            - {params: ["encoder.0.*"], lr: 5.0e-5}
        scheduler: {type: OneCycleLR, max_lr: 2.0e-4}
        """))
    model, opt = optimizer_of(spec)
    groups = names_by_group(model, opt)
    assert groups["head"] == {"pooler.weight", "classifier.weight"}
    assert groups["head/no_decay"] == {"pooler.bias", "classifier.bias"}
    assert groups["param_groups[1]"] == {"encoder.0.attention.in_proj_weight", "encoder.0.attention.out_proj.weight",
                                         "encoder.0.intermediate.weight", "encoder.0.output.weight"}
    assert len(groups["param_groups[1]/no_decay"]) == 8
    settings = {g["name"]: (g["lr"], g["weight_decay"], g["betas"]) for g in opt.param_groups}
    assert settings["head"] == (1e-3, 0.01, (0.9, 0.98)) and settings["head/no_decay"][1] == 0.0
    assert settings["rest"] == (1e-4, 0.01, (0.9, 0.999))
    sched = generated_module(spec).build_scheduler(opt, 1, 10)
    # each group peaks at its own lr times max_lr / lr, not all at max_lr
    peaks = {g["name"]: g["max_lr"] for g in opt.param_groups}
    assert sched is not None
    assert peaks["rest"] == pytest.approx(2e-4) and peaks["head"] == pytest.approx(2e-3)
    assert peaks["param_groups[1]"] == pytest.approx(1e-4)


def test_frozen_layers_leave_their_group_and_lora_adapters_train_in_the_rest() -> None:
    spec = loads(BERT_TINY.replace("name: word_embeddings}", "name: word_embeddings, trainable: false}")
                 + "optimizer: {type: AdamW, param_groups: [{params: [word_embeddings], lr: 1.0e-5}]}\n")
    assert spec.ok and [d.code for d in spec.diagnostics if d.code == "T065"] == ["T065"]
    lora = checked(BERT_TINY + "lora: {targets: [intermediate, output], rank: 4}\n"
                   "optimizer: {type: AdamW, no_decay: [1d], param_groups: [{params: [classifier], lr: 1.0e-3}]}\n")
    model, opt = optimizer_of(lora)
    groups = names_by_group(model, opt)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set().union(*groups.values()) == trainable  # frozen weights are in no group
    assert all("lora" in n for n in groups["rest"]) and len(groups["rest"]) == 8  # 4 adapted layers x (A, B)
    # a group naming an adapted layer takes its adapters
    named = checked(BERT_TINY + "lora: {targets: [intermediate, output], rank: 4}\n"
                    "optimizer: {type: AdamW, param_groups: [{params: [intermediate], lr: 1.0e-3}]}\n")
    assert not [d for d in named.diagnostics if d.code == "T065"]
    model, opt = optimizer_of(named)
    groups = names_by_group(model, opt)
    assert groups["param_groups[0]"] == {f"encoder.{i}.intermediate.parametrizations.weight.0.lora_{ab}"
                                         for i in (0, 1) for ab in "AB"}
    assert len(groups["rest"]) == 4  # output's adapters


def test_generated_source_lists_the_groups_by_state_dict_name() -> None:
    spec = checked(BERT_TINY + "optimizer: {type: SGD, lr: 0.01, momentum: 0.9, no_decay: [bias]}\n")
    source = compile_source(spec)
    assert "PARAM_GROUPS = [" in source and '"classifier.bias",' in source
    assert "params = param_groups(model, PARAM_GROUPS)" in source


@pytest.mark.parametrize("optimizer, code, words", [
    ("{type: AdamW, no_decay: [bias, LayerNrom]}", "V113", "did you mean 'LayerNorm'?"),
    ("{type: AdamW, no_decay: [BatchNorm1d]}", "V113", "LayerNorm"),
    ("{type: AdamW, param_groups: [{params: [pooler]}, {params: [Linear]}]}", "V114", "pooler.weight"),
    ("{type: SGD, param_groups: [{params: [pooler], betas: [0.9, 0.99]}]}", "V115", "momentum"),
    ("{type: AdamW, param_groups: [{params: [pooler], lr: 0}]}", "V115", "lr"),
    ("{type: AdamW, param_groups: [{params: [pooler], lr: 5}]}", "T058", "param_groups[0]"),
    ("{type: Adam, no_decay: [bias, norm]}", "T066", "weight_decay: 0.0001"),
    ("{type: AdamW, param_groups: [{params: [pooler], name: a}, {params: [classifier], name: a}]}", "V115",
     "an earlier group"),
])
def test_group_mistakes_are_located(optimizer: str, code: str, words: str) -> None:
    spec = loads(BERT_TINY + f"optimizer: {optimizer}\n")
    found = [d for d in spec.diagnostics if d.code == code]
    assert found and found[0].loc is not None and found[0].loc.line == BERT_TINY.count("\n") + 1, spec.diagnostics
    assert words in found[0].message + " " + (found[0].hint or "")


IRIS = """\
    specc: 1
    name: Net
    inputs: {x: [B, 4]}
    layers:
      - {type: Linear, out_features: 16, name: hidden}
      - {type: LayerNorm, name: norm}
      - {type: ReLU}
      - {type: Linear, out_features: 3, name: head}
    loss: {type: CrossEntropyLoss}
    optimizer:
      type: SGD
      lr: 0.05
      momentum: 0.9
      weight_decay: 0.001
      no_decay: [1d]
      param_groups: [{name: head, params: [head], lr: 0.2}]
    scheduler: {type: StepLR, step_size: 1, gamma: 0.5, warmup: {epochs: 1}}
    train: {epochs: 2, batch_size: 16, data: {source: iris, val_split: 0.2}}
    """


def test_a_run_trains_with_the_groups_reports_them_and_resumes_them(tmp_path: Path) -> None:
    from specc.cli import main

    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(IRIS))
    whole = specc.train(path, None)
    groups = {g["name"]: (g["tensors"], g["lr"], g["weight_decay"]) for g in whole.report["param_groups"]}
    assert groups == {"rest": (1, 0.05, 0.001), "no_decay": (3, 0.05, 0.0), "head": (1, 0.2, 0.001),
                      "head/no_decay": (1, 0.2, 0.0)}
    # stopped inside epoch 2 and resumed: the groups' momentum buffers and lrs come back from the checkpoint
    assert main(["train", str(path), "--run", str(tmp_path / "part"), "--max-steps", "10"]) == 0
    again = specc.train(path, tmp_path / "part", resume=True)
    a, b = whole.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    line = "parameter groups: rest 1 tensor (64 weights) lr 0.05 weight_decay 0.001; no_decay 3 tensors"
    assert line in (tmp_path / "part" / "report.txt").read_text()
    assert json.loads((tmp_path / "part" / "report.json").read_text())["param_groups"][2]["name"] == "head"
    assert [r["loss"] for r in again.history] == [r["loss"] for r in whole.history]


def test_the_standalone_script_trains_the_same_groups(tmp_path: Path) -> None:
    import importlib.util
    import sys

    spec = loads(textwrap.dedent(IRIS), "net.yaml")
    assert spec.ok, spec.diagnostics
    path = tmp_path / "train_groups_net.py"
    path.write_text(compile_source(spec, train=True))
    module_spec = importlib.util.spec_from_file_location("train_groups_net", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["train_groups_net"] = module
    try:
        module_spec.loader.exec_module(module)
        result = module.main(["--epochs", "1", "--device", "cpu"])
    finally:
        sys.modules.pop("train_groups_net", None)
    direct = specc.train(spec, None, epochs=1, device="cpu")
    assert result["report"]["param_groups"] == direct.report["param_groups"]
    assert [g["name"] for g in direct.report["param_groups"]] == ["rest", "no_decay", "head", "head/no_decay"]
    assert result["history"][0]["loss"] == direct.history[0]["loss"]


def test_every_kind_names_its_parameters_as_pytorch_does() -> None:
    """PARAM_GROUPS lists state-dict names that check predicts from each layer's weights: for one
    case of every kind with parameters (and every weight_norm / spectral_norm case, which
    parametrize renames), the names equal those of the module specc writes for it."""
    import math

    from layer_cases import CASES
    from torch.nn import functional as F

    from specc.graph.groups import state_name
    from specc.targets.torch.lower import init_expr, support_texts

    seen: set[str] = set()
    checked_kinds = 0
    for case in CASES:
        reparam = "weight_norm" in case.layer or "spectral_norm" in case.layer
        if case.kind in seen and not reparam:
            continue
        node = loads(case.yaml()).graph.nodes[-1]  # type: ignore[union-attr]
        assert node.kind is not None and node.result is not None
        want = set(node.kind.weights(node.result.args))
        if not want:
            continue
        seen.add(case.kind)
        ns: dict[str, object] = {"torch": torch, "nn": nn, "F": F, "math": math}
        for code in support_texts(node.kind, node.result.args):
            exec(code, ns)
        module = eval(init_expr(node.kind, node.result.args), ns)
        got = {state_name(f"layer.{name}").removeprefix("layer.") for name, _ in module.named_parameters()}
        assert got == want, case.id
        checked_kinds += 1
    assert checked_kinds > 40
