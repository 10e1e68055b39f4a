"""The loss, optimizer and scheduler sections: what build_loss/build_optimizer/build_scheduler
compute (against reference formulas and PyTorch), and the check-time errors about the loss
against the model's output layout."""

from __future__ import annotations

import math
import typing
from types import ModuleType

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import specc
from specc.backends.torch_build import build_module, generated_module
from specc.pipeline import Spec
from specc.validate.document import Optimizer


def spec_of(inputs: str, layers: str, extra: str) -> Spec:
    return specc.loads(f"specc: 1\ninputs: {{{inputs}}}\nlayers:\n{layers}{extra}\n", "t.yaml")


def ok(inputs: str, layers: str, extra: str) -> Spec:
    spec = spec_of(inputs, layers, extra)
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    return spec


def errors(inputs: str, layers: str, extra: str) -> list[tuple[str, int, str, str]]:
    spec = spec_of(inputs, layers, extra)
    return [(d.code, d.loc.line if d.loc else 0, d.message, d.hint or "") for d in spec.errors]


def module_of(spec: Spec) -> ModuleType:
    return generated_module(spec)


LINEAR5 = "  - {type: Linear, out_features: 5, name: fc}\n"

# -- FocalLoss ----------------------------------------------------------------------------------------


def focal_reference(logits: torch.Tensor, target: torch.Tensor, gamma: float,
                    alpha: list[float] | None = None) -> torch.Tensor:
    """Lin et al.'s formula, written out per sample: -alpha_t (1 - p_t)^gamma log p_t, averaged."""
    p = torch.softmax(logits.double(), dim=1)
    total = 0.0
    for i, t in enumerate(target.tolist()):
        pt = p[i, t]
        a = alpha[t] if alpha else 1.0
        total += -a * (1 - pt) ** gamma * torch.log(pt)
    return total / len(target)


@pytest.mark.parametrize("gamma,alpha", [(2.0, None), (0.5, [0.25, 1.0, 2.0, 1.0, 0.5]), (3.0, None)])
def test_focal_multiclass_matches_the_reference_formula(gamma: float, alpha: list[float] | None) -> None:
    extra = f"loss: {{type: FocalLoss, gamma: {gamma}" + (f", alpha: {alpha}" if alpha else "") + "}"
    loss = module_of(ok("x: [B, 8]", LINEAR5, extra)).build_loss()
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(32, 5, generator=g) * 3, torch.randint(0, 5, (32,), generator=g)
    assert torch.allclose(loss(logits, target).double(), focal_reference(logits, target, gamma, alpha), atol=1e-6)


def test_focal_with_gamma_0_is_cross_entropy_and_binary_is_bce_with_logits() -> None:
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(16, 5, 7, generator=g), torch.randint(0, 5, (16, 7), generator=g)
    target[0, :3] = -100  # ignored, as in CrossEntropyLoss
    multi = module_of(ok("x: [B, 8, 7]", "  - {type: Conv1d, out_channels: 5, kernel_size: 1}\n",
                         "loss: {type: FocalLoss, gamma: 0}")).build_loss()
    assert torch.allclose(multi(logits, target), F.cross_entropy(logits, target), atol=1e-6)
    one = module_of(ok("x: [B, 8]", "  - {type: Linear, out_features: 1}\n",
                       "loss: {type: FocalLoss, gamma: 0}")).build_loss()
    x, y = torch.randn(64, 1, generator=g), torch.randint(0, 2, (64, 1), generator=g).float()
    assert one.binary
    assert torch.allclose(one(x, y), F.binary_cross_entropy_with_logits(x, y), atol=1e-6)


def test_focal_binary_alpha_weights_positives() -> None:
    loss = module_of(ok("x: [B, 8]", "  - {type: Linear, out_features: 3}\n",
                        "loss: {type: FocalLoss, mode: binary, alpha: 0.25, gamma: 2}")).build_loss()
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(10, 3, generator=g), torch.randint(0, 2, (10, 3), generator=g).float()
    p = torch.sigmoid(x.double())
    pt = torch.where(y.bool(), p, 1 - p)
    at = torch.where(y.bool(), 0.25, 0.75)
    assert torch.allclose(loss(x, y).double(), (-at * (1 - pt) ** 2 * torch.log(pt)).mean(), atol=1e-6)


def test_focal_learns_an_imbalanced_problem_without_nan() -> None:
    spec = ok("x: [B, 2]", "  - {type: Linear, out_features: 16}\n  - {type: ReLU}\n"
              "  - {type: Linear, out_features: 3}\n",
              "loss: {type: FocalLoss, gamma: 2, alpha: [0.2, 1.0, 1.0]}\noptimizer: {type: Adam, lr: 0.02}")
    mod, model = module_of(spec), build_module(spec, seed=0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 2, generator=g)
    y = torch.where(x[:, 0] > 0.8, 1, torch.where(x[:, 1] > 0.8, 2, 0))  # class 0 dominates
    loss_fn, opt = mod.build_loss(), mod.build_optimizer(model)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] / 4
    assert (model(x).argmax(1) == y).float().mean() > 0.95


def test_focal_alpha_list_on_a_binary_output_is_an_error() -> None:
    found = errors("x: [B, 8]", "  - {type: Linear, out_features: 1}\n", "loss: {type: FocalLoss, alpha: [1, 2]}")
    assert [(c, line) for c, line, _, _ in found] == [("T052", 5)]
    found = errors("x: [B, 8]", LINEAR5, "loss: {type: FocalLoss, mode: binary, alpha: [1, 2]}")
    assert [c for c, *_ in found] == ["V003"]


# -- the class dim -------------------------------------------------------------------------------------

TAGGER = "  - {type: Linear, out_features: 5, name: tags}\n"


def test_cross_entropy_on_b_t_k_is_an_error_with_both_fixes() -> None:
    (code, line, message, hint), = errors("x: [B, T, 8]", TAGGER, "loss: {type: CrossEntropyLoss}")
    assert (code, line) == ("T051", 5) and "(B, T, 5)" in message and "symbol T" in message
    assert "class_dim: -1" in hint and "Permute, dims: [0, 2, 1]" in hint
    # A fixed length does not hide it: the Linear writes its classes to the last dim.
    (code, _, message, _), = errors("x: [B, 12, 8]", TAGGER, "loss: {type: NLLLoss}\n")[:1]
    assert code == "T050" or code == "T051"
    found = errors("x: [B, 12, 8]", TAGGER, "loss: {type: CrossEntropyLoss}")
    assert [c for c, *_ in found] == ["T051"] and "Linear 'tags' writes its 5 features" in found[0][2]


def test_both_fixes_are_accepted_and_class_dim_moves_the_classes() -> None:
    ok("x: [B, T, 8]", TAGGER + "  - {type: Permute, dims: [0, 2, 1]}\n", "loss: {type: CrossEntropyLoss}")
    spec = ok("x: [B, T, 8]", TAGGER, "loss: {type: CrossEntropyLoss, class_dim: -1, label_smoothing: 0.1}")
    loss = module_of(spec).build_loss()
    g = torch.Generator().manual_seed(3)
    logits, target = torch.randn(4, 9, 5, generator=g), torch.randint(0, 5, (4, 9), generator=g)
    want = F.cross_entropy(logits.permute(0, 2, 1), target, label_smoothing=0.1)
    assert torch.allclose(loss(logits, target), want)
    # Not ln T: the loss of uniform logits is ln K, the number of classes.
    assert math.isclose(loss(torch.zeros(4, 9, 5), target).item(), math.log(5) * 0.9 + math.log(5) * 0.1,
                        rel_tol=1e-5)


def test_a_class_dim_that_is_not_a_dim_is_an_error() -> None:
    found = errors("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss, class_dim: 2}")
    assert [(c, line) for c, line, *_ in found] == [("T054", 5)]
    # a batch folded into the classes is said once, at the Flatten that folded it
    found = errors("x: [B, 8]", LINEAR5 + "  - {type: Flatten, start_dim: 0}\n", "loss: {type: CrossEntropyLoss}")
    assert [(c, line) for c, line, *_ in found] == [("T003", 5)]


def test_single_logit_follows_the_class_dim() -> None:
    spec = ok("x: [B, T, 8]", "  - {type: Linear, out_features: 1}\n", "loss: {type: CrossEntropyLoss, class_dim: -1}")
    assert [d.code for d in spec.diagnostics] == ["L008"]


def test_weight_lengths_are_checked_against_the_classes() -> None:
    found = errors("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss, weight: [1, 2, 3]}")
    assert [(c, line) for c, line, *_ in found] == [("T052", 5)] and "give 5 entries" in found[0][3]
    found = errors("x: [B, 8]", LINEAR5, "loss: {type: BCEWithLogitsLoss, pos_weight: [1, 2]}")
    assert [c for c, *_ in found] == ["T052"]
    ok("x: [B, 8]", LINEAR5, "loss: {type: BCEWithLogitsLoss, pos_weight: [2.0]}")
    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss, weight: [1, 2, 3, 4, 5]}")
    assert torch.equal(module_of(spec).build_loss().weight, torch.tensor([1.0, 2, 3, 4, 5]))


def test_bce_needs_a_sigmoid() -> None:
    found = errors("x: [B, 8]", "  - {type: Linear, out_features: 1}\n", "loss: {type: BCELoss}")
    assert [(c, line) for c, line, *_ in found] == [("T053", 5)] and "BCEWithLogitsLoss" in found[0][3]
    ok("x: [B, 8]", "  - {type: Linear, out_features: 1}\n  - {type: Sigmoid}\n", "loss: {type: BCELoss}")


# -- KLDivLoss and NLLLoss: log-probabilities --------------------------------------------------------------


@pytest.mark.parametrize("last,loss", [("Softmax", "KLDivLoss"), ("Sigmoid", "KLDivLoss"), (None, "KLDivLoss"),
                                       ("Softmax", "NLLLoss"), (None, "NLLLoss")])
def test_log_space_losses_need_log_probabilities(last: str | None, loss: str) -> None:
    layers = LINEAR5 + (f"  - {{type: {last}{', dim: 1' if last == 'Softmax' else ''}}}\n" if last else "")
    (code, line, _, hint), = errors("x: [B, 8]", layers, f"loss: {{type: {loss}}}")
    assert code == "T050"
    assert line == 5  # at the layer that is wrong, or at the loss when no layer is
    assert "LogSoftmax" in hint
    assert ("from_logits: true" in hint) == (loss == "KLDivLoss")


def test_log_softmax_over_the_wrong_dim_is_caught_for_nll() -> None:
    (code, line, _, hint), = errors("x: [B, 8, 7]", "  - {type: Conv1d, out_channels: 5, kernel_size: 1}\n"
                                           "  - {type: LogSoftmax, dim: -1}\n", "loss: {type: NLLLoss}")
    assert (code, line) == ("T050", 5) and "dim: 1" in hint


def test_log_softmax_over_another_dim_than_kl_div_class_dim_is_caught() -> None:
    tagger = "  - {type: Linear, out_features: 4}\n  - {type: LogSoftmax, dim: -1}\n"
    (code, line, message, hint), = errors("x: [B, T, 8]", tagger, "loss: {type: KLDivLoss}")
    assert (code, line) == ("T050", 5) and "dim 1" in message and "class_dim: 2" in hint and "dim: 1" in hint
    ok("x: [B, T, 8]", tagger, "loss: {type: KLDivLoss, class_dim: -1}")
    ok("x: [B, T, 8]", tagger, "loss: {type: KLDivLoss, class_dim: 2}")


@pytest.mark.parametrize(("alpha", "word"), [(0, "positive"), (1, "negative"), (0.0, "positive")])
def test_a_binary_focal_alpha_that_drops_a_class_is_an_error_at_alpha(alpha: float, word: str) -> None:
    (code, line, message, hint), = errors("x: [B, 8]", "  - {type: Linear, out_features: 1}\n",
                                          f"loss: {{type: FocalLoss, alpha: {alpha}}}")
    assert (code, line) == ("T057", 5) and f"{word} class no weight" in message and "alpha: 0.25" in hint
    ok("x: [B, 8]", "  - {type: Linear, out_features: 1}\n", "loss: {type: FocalLoss, alpha: 0.25}")
    ok("x: [B, 8]", "  - {type: Linear, out_features: 1}\n", "loss: {type: FocalLoss}")


def test_kl_with_log_softmax_or_from_logits_learns_probability_targets() -> None:
    ok("x: [B, 8]", LINEAR5 + "  - {type: LogSoftmax, dim: 1}\n", "loss: {type: KLDivLoss}")
    found = errors("x: [B, 8]", LINEAR5 + "  - {type: Softmax, dim: 1}\n", "loss: {type: KLDivLoss, from_logits: true}")
    assert [c for c, *_ in found] == ["T050"]
    spec = ok("x: [B, 8]", "  - {type: Linear, out_features: 32}\n  - {type: Tanh}\n" + LINEAR5,
              "loss: {type: KLDivLoss, from_logits: true}\noptimizer: {type: Adam, lr: 0.01}")
    mod, model = module_of(spec), build_module(spec, seed=0)
    loss_fn, opt = mod.build_loss(), mod.build_optimizer(model)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(128, 8, generator=g)
    target = torch.softmax(x[:, :5] * 2, dim=1)  # probability targets
    first = loss_fn(model(x), target).item()
    assert math.isclose(first, F.kl_div(F.log_softmax(model(x), 1), target, reduction="batchmean").item(),
                        rel_tol=1e-6)
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        assert torch.isfinite(loss)
        loss.backward()
        opt.step()
    assert 0 <= loss.item() < first / 5


# -- optimizer ----------------------------------------------------------------------------------------


def test_adafactor_builds_and_steps() -> None:
    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adafactor, lr: 0.05}")
    model = build_module(spec, seed=0)
    opt = module_of(spec).build_optimizer(model)
    assert type(opt) is torch.optim.Adafactor and opt.defaults["lr"] == 0.05
    before = model.fc.weight.detach().clone()
    nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    assert not torch.equal(before, model.fc.weight)


def test_adafactor_without_it_in_torch_is_a_located_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from specc.backends.finetune import torch_support_problems

    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adafactor}")
    assert torch_support_problems(spec) == []
    mod = module_of(spec)
    monkeypatch.delattr(torch.optim, "Adafactor")
    (d,) = torch_support_problems(spec)
    assert d.code == "T055" and d.loc is not None and (d.loc.line, d.loc.col) == (6, 19)
    assert "2.5" in d.message and "torch>=2.5" in (d.hint or "")
    with pytest.raises(RuntimeError, match=r"Adafactor needs PyTorch 2\.5"):
        mod.build_optimizer(build_module(spec, seed=0))


# -- warmup -------------------------------------------------------------------------------------------


def lrs(spec: Spec, n: int, steps_per_epoch: int = 1) -> list[float]:
    mod, model = module_of(spec), build_module(spec, seed=0)
    opt = mod.build_optimizer(model)
    sched = mod.build_scheduler(opt, n, steps_per_epoch)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_then_cosine_follows_the_formula_and_the_hand_built_torch_schedule() -> None:
    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss}\noptimizer: {type: SGD, lr: 0.1}\n"
              "scheduler: {type: CosineAnnealingLR, T_max: 10, eta_min: 0.001, warmup: {epochs: 4, "
              "start_factor: 0.1}}")
    assert module_of(spec).SCHEDULER_INTERVAL == "epoch"
    got = lrs(spec, 16)
    formula = [0.1 * (0.1 + 0.9 * e / 4) if e < 4 else
               0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * (e - 4) / 10)) / 2 for e in range(16)]
    assert got == pytest.approx(formula, rel=1e-9)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    hand = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)], milestones=[4])
    want = []
    for _ in range(16):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        hand.step()
    assert got == want


def test_warmup_in_steps_before_step_decay() -> None:
    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 0.01}\n"
              "scheduler: {type: StepLR, step_size: 3, gamma: 0.5, interval: step, warmup: {steps: 2}}")
    assert module_of(spec).SCHEDULER_INTERVAL == "step"
    assert lrs(spec, 9) == pytest.approx([0.001, 0.0055, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025])


@pytest.mark.parametrize("sched,word", [
    ("{type: CosineAnnealingLR, T_max: 5, warmup: {steps: 100}}", "N = 100 / the batches per epoch"),
    ("{type: OneCycleLR, max_lr: 0.1, warmup: {steps: 100}}", "pct_start"),
    ("{type: ReduceLROnPlateau, warmup: {epochs: 2}}", "CosineAnnealingLR"),
    ("{type: StepLR, step_size: 2, warmup: {start_factor: 0.5}}", "epochs: 5"),
])
def test_warmup_mistakes_are_located(sched: str, word: str) -> None:
    (code, line, _, hint), = errors("x: [B, 8]", LINEAR5, f"loss: {{type: CrossEntropyLoss}}\nscheduler: {sched}")
    assert (code, line) == ("V003", 6) and word in hint


def test_a_conv_output_keeps_its_classes_at_dim_1() -> None:
    conv = "  - {type: Conv2d, out_channels: 4, kernel_size: 1}\n"
    ok("x: [B, 3, H, W]", conv, "loss: {type: CrossEntropyLoss}")  # segmentation: (B, C, H, W)
    (code, line, message, hint), = errors("x: [B, 3, 8, 8]", conv, "loss: {type: CrossEntropyLoss, class_dim: -1}")
    assert (code, line) == ("T051", 5) and "channels, the classes, to dim 1" in message and "class_dim at 1" in hint


# -- review of issue 9: FocalLoss against torchvision's formula, ignore_index, logits only --------


def sigmoid_focal_reference(x: torch.Tensor, t: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss, written out (reduction none)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    return (alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_binary_focal_with_alpha_is_torchvisions_sigmoid_focal_loss(reduction: str) -> None:
    spec = ok("x: [B, 8]", "  - {type: Linear, out_features: 4}\n",
              f"loss: {{type: FocalLoss, mode: binary, alpha: 0.25, gamma: 2, reduction: {reduction}}}")
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(6, 4, generator=g).double(), (torch.rand(6, 4, generator=g) > 0.5).double()
    ref = sigmoid_focal_reference(x, t, 0.25, 2.0)
    want = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    assert torch.allclose(module_of(spec).build_loss()(x, t), want, atol=1e-12)


def test_binary_focal_skips_missing_labels_marked_with_ignore_index() -> None:
    spec = ok("x: [B, 8]", "  - {type: Linear, out_features: 4}\n",
              "loss: {type: FocalLoss, mode: binary, alpha: 0.25, ignore_index: -1}")
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(6, 4, generator=g).double(), (torch.rand(6, 4, generator=g) > 0.5).double()
    t[0, 0] = t[3, 2] = -1
    keep = t != -1
    want = sigmoid_focal_reference(x[keep], t[keep], 0.25, 2.0).mean()
    assert torch.allclose(module_of(spec).build_loss()(x, t), want, atol=1e-12)


def test_multiclass_focal_on_a_tagger_reads_the_classes_last_and_skips_ignored_steps() -> None:
    spec = ok("x: [B, T, 8]", "  - {type: Linear, out_features: 3}\n",
              "loss: {type: FocalLoss, class_dim: -1, alpha: [0.2, 1.0, 3.0], gamma: 1.5, reduction: none, "
              "ignore_index: 7}")
    g = torch.Generator().manual_seed(2)
    x, t = torch.randn(2, 5, 3, generator=g).double(), torch.randint(0, 3, (2, 5), generator=g)
    t[1, 2] = 7
    want = torch.zeros(2, 5, dtype=torch.float64)
    for i, j in ((i, j) for i in range(2) for j in range(5) if t[i, j] != 7):
        p_t = torch.softmax(x[i, j], 0)[t[i, j]]
        want[i, j] = -[0.2, 1.0, 3.0][int(t[i, j])] * (1 - p_t) ** 1.5 * torch.log(p_t)
    assert torch.allclose(module_of(spec).build_loss()(x, t), want, atol=1e-10)


def test_kl_from_logits_on_a_tagger_is_kl_div_of_log_softmax_over_the_last_dim() -> None:
    spec = ok("x: [B, T, 8]", "  - {type: Linear, out_features: 4}\n",
              "loss: {type: KLDivLoss, from_logits: true, class_dim: -1}")
    g = torch.Generator().manual_seed(3)
    x, q = torch.randn(2, 3, 4, generator=g), torch.softmax(torch.randn(2, 3, 4, generator=g), -1)
    want = F.kl_div(F.log_softmax(x, -1), q, reduction="batchmean")
    assert torch.allclose(module_of(spec).build_loss()(x, q), want)


@pytest.mark.parametrize("tail,loss,quiet", [
    ("  - {type: Sigmoid}\n", "{type: FocalLoss}", False),
    ("  - {type: Softmax, dim: 1}\n  - {type: Dropout, p: 0.1}\n", "{type: FocalLoss}", False),
    ("  - {type: LogSoftmax, dim: 1}\n", "{type: FocalLoss, mode: binary}", False),
    ("  - {type: LogSoftmax, dim: 1}\n", "{type: FocalLoss}", True),  # log_softmax twice is log_softmax
    ("", "{type: FocalLoss}", True),
])
def test_focal_loss_reads_raw_logits(tail: str, loss: str, quiet: bool) -> None:
    found = [e[0] for e in errors("x: [B, 8]", "  - {type: Linear, out_features: 4}\n" + tail, f"loss: {loss}")]
    assert found == ([] if quiet else ["T056"])


@pytest.mark.parametrize("sched,main", [
    ("{type: StepLR, step_size: 2, gamma: 0.5", lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5)),
    ("{type: MultiStepLR, milestones: [2, 5], gamma: 0.5",
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5], 0.5)),
    ("{type: ExponentialLR, gamma: 0.8", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    ("{type: CosineAnnealingWarmRestarts, T_0: 3, T_mult: 2",
     lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 3, 2)),
    ("{type: LinearLR, start_factor: 0.5, total_iters: 4",
     lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.5, total_iters=4)),
])
def test_warmup_then_any_scheduler_runs_that_scheduler_from_its_start(sched: str, main: object) -> None:
    """After the warmup, the scheduler's trajectory is the one it has alone from epoch 0 (SequentialLR
    re-steps a scheduler at its milestone; a chainable one could otherwise start one step late)."""
    spec = ok("x: [B, 8]", LINEAR5, "loss: {type: CrossEntropyLoss}\noptimizer: {type: SGD, lr: 0.1}\n"
              f"scheduler: {sched}, warmup: {{epochs: 3, start_factor: 0.1}}}}")
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    alone = main(opt)  # type: ignore[operator]
    want = [0.1 * (0.1 + 0.9 * e / 3) for e in range(3)]
    for _ in range(11):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        alone.step()
    assert lrs(spec, 14) == pytest.approx(want, rel=1e-9)


OPTIMIZERS = [typing.get_args(c.model_fields["type"].annotation)[0]
              for c in typing.get_args(typing.get_args(Optimizer)[0])]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_cycle_runs_with_every_optimizer(optimizer: str) -> None:
    """OneCycleLR cycles momentum or beta1 where the optimizer has one; with Adagrad, Adadelta or
    Adafactor (neither) PyTorch raises unless told not to, so only the lr cycles there."""
    spec = ok("x: [B, 8]", LINEAR5, f"loss: {{type: CrossEntropyLoss}}\noptimizer: {{type: {optimizer}}}\n"
              "scheduler: {type: OneCycleLR, max_lr: 0.1}")
    got = lrs(spec, 6, steps_per_epoch=6)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    hand = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=6, steps_per_epoch=6)
    want = []
    for _ in range(6):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        hand.step()
    assert got == pytest.approx(want, rel=1e-9)


# -- CTCLoss: (B, T, C) log-probabilities, the blank one of the classes ---------------------------------

GRU29 = "  - {type: GRU, hidden_size: 16}\n  - {type: Linear, out_features: 29}\n"


@pytest.mark.parametrize("layers,inputs,want", [
    ("  - {type: Conv1d, out_channels: 29, kernel_size: 1, name: chars}\n  - {type: LogSoftmax, dim: 1}\n",
     "x: [B, 40, T]", "Permute, dims: [0, 2, 1]} after Conv1d 'chars'"),
    ("  - {type: Conv1d, out_channels: 29, kernel_size: 1, name: chars}\n  - {type: LogSoftmax, dim: 1}\n",
     "x: [B, 40, 50]", "Permute, dims: [0, 2, 1]} after Conv1d 'chars'"),  # a fixed length is no class count
    ("  - {type: GRU, hidden_size: 16, output: last}\n  - {type: Linear, out_features: 29}\n"
     "  - {type: LogSoftmax, dim: -1}\n", "x: [B, T, 40]", "output: sequence"),
])
def test_ctc_needs_the_classes_last_at_every_step(layers: str, inputs: str, want: str) -> None:
    (code, line, _, hint), = errors(inputs, layers, "loss: {type: CTCLoss}")
    assert (code, line) == ("T009", 4 + layers.count("\n")) and want in hint


def test_ctc_reads_log_probabilities_over_the_classes() -> None:
    (code, _, _, hint), = errors("x: [B, T, 40]", GRU29, "loss: {type: CTCLoss}")
    assert code == "T050" and "LogSoftmax, dim: -1" in hint
    (code, line, message, hint), = errors("x: [B, T, 40]", GRU29 + "  - {type: LogSoftmax, dim: 1}\n",
                                          "loss: {type: CTCLoss}")
    assert (code, line) == ("T050", 6) and "dim 2" in message and "set dim: -1" in hint
    ok("x: [B, T, 40]", GRU29 + "  - {type: LogSoftmax, dim: -1}\n", "loss: {type: CTCLoss}")
    ok("x: [B, T, 40]", GRU29 + "  - {type: LogSoftmax, dim: 2}\n", "loss: {type: CTCLoss}")
    # a sequence-first model returns (T, B, C): the classes are still last
    ok("x: [T, B, 40]", "  - {type: GRU, hidden_size: 16, batch_first: false}\n  - {type: Linear, out_features: 29}\n"
       "  - {type: LogSoftmax, dim: -1}\n", "loss: {type: CTCLoss}")


def test_ctc_blank_must_be_one_of_the_classes() -> None:
    layers = GRU29 + "  - {type: LogSoftmax, dim: -1}\n"
    (code, line, message, hint), = errors("x: [B, T, 40]", layers, "loss: {type: CTCLoss, blank: 29}")
    assert (code, line) == ("T009", 7) and "0 to 28" in message and "30 outputs" in hint
    ok("x: [B, T, 40]", layers, "loss: {type: CTCLoss, blank: 28}")


@pytest.mark.parametrize("written,meant", [
    ("sparse_categorical_crossentropy", "CrossEntropyLoss"), ("binary_crossentropy", "BCEWithLogitsLoss"),
    ("F.binary_cross_entropy", "BCELoss"), ("keras.losses.MeanAbsoluteError", "L1Loss"),
    ("kl_divergence", "KLDivLoss")])
def test_another_framework_names_loss_gets_the_class_that_computes_it(written: str, meant: str) -> None:
    # spelling alone took binary_crossentropy for CrossEntropyLoss, the wrong loss for a yes/no logit
    (code, _, _, hint), = errors("x: [B, 4]", "  - {type: Linear, out_features: 1}\n", f"loss: {{type: {written}}}")
    assert code == "V008" and hint.startswith(f"use type: {meant} "), hint
    from specc.validate.document import LOSS_CLASSES
    from specc.validate.errors import FRAMEWORK_LOSSES

    known = {c.model_fields["type"].annotation.__args__[0] for c in LOSS_CLASSES}
    assert set(FRAMEWORK_LOSSES.values()) <= known
