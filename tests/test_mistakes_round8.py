"""Mistakes people make, round 8 (helper a27): a sliding-window mask over more queries than keys, a divisor
made by a product with an adjacency, train's warnings against check's, sequence-first inputs into batch-first
layers, and a round of forum mistakes. Each mistake is checked at its line with its fix, its corrected spec
is quiet, and the correct look-alikes stay quiet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc
from tests.test_mistakes_round7 import MHA  # the encoder with a float key-padding mask

ROOT = Path(__file__).resolve().parents[1]
H = "specc: 1\n"
T = "optimizer: {type: Adam}\ntrain: {epochs: 1, batch_size: 8, data: {source: synthetic, num_samples: 32}}\n"


def _check(text: str) -> specc.Spec:
    return specc.loads(text, "m.yaml")


def _codes(spec: specc.Spec, code: str) -> list[specc.Diagnostic]:
    return [d for d in spec.diagnostics if d.code == code]


# --- V161: a sliding-window causal mask over scores with more queries than keys -----------------------------

WINDOW = (ROOT / "tests" / "corpus" / "bad" / "v161_window_mask_on_cross_attention_scores.yaml").read_text()


def test_v161_the_rows_it_names_are_the_rows_pytorch_fills_with_nan() -> None:
    torch = pytest.importorskip("torch")
    from specc.targets.torch.support.relative_position import causal_mask

    fixed = WINDOW.replace("[B, T, 16]", "[B, 10, 16]").replace("[B, S, 16]", "[B, 4, 16]")
    (d,) = _check(fixed).errors
    assert d.code == "V161" and "the queries from position 7 of 0 .. 9 are past all 4 keys" in d.message
    hidden = torch.randn(10, 4).masked_fill(causal_mask(10, 4, torch.device("cpu"), window=4), float("-inf"))
    rows = hidden.softmax(-1).isnan().all(-1)
    assert rows[7:].all() and not rows[:7].any()  # what V161 says, from PyTorch


def test_v161_symbolic_lengths_give_the_smallest_sizes_that_show_it() -> None:
    (d,) = _check(WINDOW).errors
    assert d.code == "V161" and (d.loc.line, d.loc.col) == (13, 5)
    assert "at S = 1, T = 5, the queries from position 4 of 0 .. 4" in d.message


@pytest.mark.parametrize("edit", [
    ("[B, S, 16]", "[B, T, 16]"),  # self-attention: T = S, the window's own case
    ("[B, T, 16]\n  memory: [B, S, 16]", "[B, 6, 16]\n  memory: [B, 4, 16]"),  # 6 < 4 + 4: every query keeps one
    ("window: 4, ", ""),  # no window: key 0 is every query's
    ("value: -.inf", "value: -1.0e4"),  # a finite fill: no nan
])
def test_v161_quiet_look_alikes(edit: tuple[str, str]) -> None:
    spec = _check(WINDOW.replace(*edit))
    assert spec.ok and not _codes(spec, "V161"), [d.message for d in spec.diagnostics]


def test_v161_quiet_on_a_cache_of_past_keys() -> None:
    """Keys = past + new (S = P + T) are never fewer than the queries."""
    text = WINDOW.replace("memory: [B, S, 16]", "past: [B, P, 16]").replace(
        "  - {type: Linear, from: x", "  - {type: Concat, from: [past, x], dim: 1, name: keys}\n"
        "  - {type: Linear, from: x").replace("from: memory", "from: keys").replace("[softmax_1, memory]",
                                                                                   "[softmax_1, keys]")
    spec = _check(text)
    assert spec.ok and not spec.diagnostics, [d.message for d in spec.diagnostics]


def test_v177_keeps_the_diagonal_case() -> None:
    spec = _check(WINDOW.replace("window: 4,", "window: 4, diagonal: 0,").replace("[B, S, 16]", "[B, T, 16]"))
    assert [d.code for d in spec.errors] == ["V177"]


CROSS = H + """inputs:
  x: [B, T, 16]
  mem: [B, S, 16]
layers:
  - {type: Transpose, from: mem, dim0: 1, dim1: 2, name: mt}
  - {type: MatMul, from: [x, mt], name: pairs}
  - {type: CausalMask, from: pairs, window: 8, name: hide}
  - {type: MultiheadAttention, from: [x, mem, hide], masks: [attn], num_heads: 2}
"""


def test_v161_and_v177_on_an_attention_layers_own_mask() -> None:
    """The mask given to MultiheadAttention as its bool attn mask empties the same rows: PyTorch's
    attention gives nan in them as the Softmax does."""
    torch = pytest.importorskip("torch")
    (d,) = _check(CROSS).errors
    assert d.code == "V161" and d.loc.line == 8 and "at S = 1, T = 9, the queries from position 8" in d.message
    mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    ones = torch.ones(9, 1, dtype=torch.bool)
    out = mha(torch.randn(2, 9, 16), *[torch.randn(2, 1, 16)] * 2, attn_mask=ones.triu(1) | ones.tril(-8))[0]
    assert out[:, 8].isnan().all() and not out[:, :8].isnan().any()
    own = CROSS.replace("from: pairs, window: 8,", "from: x, dims: [1, 1], diagonal: 0,").replace(
        "from: [x, mem, hide]", "from: [x, hide]")
    (d,) = _check(own).errors
    assert d.code == "V177" and "give MultiheadAttention 'multihead_attention_1' causal: true" in d.hint
    fixed = own.replace("  - {type: CausalMask, from: x, dims: [1, 1], diagonal: 0, name: hide}\n", "").replace(
        "from: [x, hide], masks: [attn],", "from: x, causal: true,")
    assert not _check(fixed).errors
    assert not _check(own.replace("diagonal: 0", "diagonal: 1")).errors


# --- L019: a divisor made by a product with a 0/1 adjacency -------------------------------------------------

SAGE = H + """inputs:
  x: [B, N, 16]
  adj: {shape: [B, N, N], dtype: bool}
layers:
  - {type: Cast, from: adj, dtype: float32, name: a}
  - {type: Reduce, from: a, op: sum, dim: -1, keepdim: true, name: deg1}
  - {type: Add, from: deg1, value: 1.0, name: deg}
  - {type: MatMul, from: [a, x], name: agg}
  - {type: Div, from: [deg, agg], name: mean}
  - {type: Linear, out_features: 8}
"""


def test_l019_graphsage_mean_with_its_operands_swapped() -> None:
    (d,) = _check(SAGE).diagnostics
    assert d.code == "L019" and d.loc.line == 10 and "MatMul 'agg'" in d.message
    assert "row of a node with no edge" in d.message and "adjacency Cast 'a'" in d.message
    assert d.hint.startswith("divide by the degree")
    assert not _check(SAGE.replace("[deg, agg]", "[agg, deg]")).diagnostics  # (A @ x) / (deg + 1)


def test_l019_the_isolated_node_divides_by_zero_in_pytorch() -> None:
    torch = pytest.importorskip("torch")
    a = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # node 2 has no edge
    quotient = (a.sum(-1, keepdim=True) + 1) / (a @ torch.randn(3, 4))
    assert quotient[2].isinf().all() and quotient[:2].isfinite().all()


@pytest.mark.parametrize("edit", [
    # a one-hot (T, V) matrix has a 1 in every row: its product is never a zero row
    ("adj: {shape: [B, N, N], dtype: bool}", "adj: {shape: [B, N, 12], dtype: bool}"),
    # float weights, not 0/1: nothing says a row is 0
    ("  - {type: Cast, from: adj, dtype: float32, name: a}\n", "  - {type: Softmax, from: x2, dim: -1, name: a}\n"),
])
def test_l019_quiet_on_products_that_are_not_an_adjacencys(edit: tuple[str, str]) -> None:
    text = SAGE.replace(*edit).replace("from: [a, x]", "from: [a, x12]" if "12]" in edit[1] else "from: [a, x]")
    text = text.replace("  x: [B, N, 16]\n", "  x: [B, N, 16]\n  x12: [B, 12, 16]\n  x2: [B, N, N]\n")
    text = text.replace("dtype: bool}\n", "dtype: bool}\n", 1)
    spec = _check(text.replace("  - {type: Reduce, from: a, op: sum, dim: -1, keepdim: true, name: deg1}\n"
                               "  - {type: Add, from: deg1, value: 1.0, name: deg}\n", "")
                  .replace("from: [deg, agg]", "from: [x, agg]"))
    assert not _codes(spec, "L019"), [d.message for d in spec.diagnostics]


def test_l019_a_std_without_eps_as_a_divisor() -> None:
    text = H + """inputs: {x: [B, T, 8]}
layers:
  - {type: Reduce, from: x, op: std, dim: 1, keepdim: true, name: sd}
  - {type: Div, from: [x, sd]}
  - {type: Linear, out_features: 1}
"""
    (d,) = _check(text).diagnostics
    assert d.code == "L019" and "exactly 0 for a constant series" in d.message
    assert d.hint.startswith("set eps: 1.0e-5 on 'sd'")
    assert not _check(text.replace("keepdim: true,", "keepdim: true, eps: 1.0e-5,")).diagnostics


# --- train warns of what check warns, once both have read the data -----------------------------------------

def _masks(tmp_path: Path, additive: bool) -> Path:
    rng = np.random.default_rng(0)
    pad = np.arange(6)[None, :] >= rng.integers(1, 7, 40)[:, None]
    mask = np.where(pad, -np.inf, 0.0) if additive else pad.astype(np.float32)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 6, 16)).astype(np.float32), pad=mask.astype(np.float32),
             y=rng.integers(0, 2, 40))
    (tmp_path / "s.yaml").write_text(MHA)
    return tmp_path / "s.yaml"


@pytest.mark.parametrize("additive", [True, False])
def test_train_prints_l040_exactly_where_check_with_data_does(tmp_path: Path, additive: bool,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Before, train printed L040 from the spec alone, then read a 0/-inf mask check had accepted."""
    from specc.backends.train import api
    from specc.backends.train.loop import TrainError
    from specc.cli import main

    path = _masks(tmp_path, additive)
    with_data = [d.code for d in specc.load(path).diagnostics]
    assert with_data == ([] if additive else ["L040"])

    def stop(request: object) -> None:
        raise TrainError("stopped before training: the test reads what was printed")

    monkeypatch.setattr(api, "run_training", stop)
    assert main(["train", str(path), "--run", str(tmp_path / "run")]) != 0
    printed = capsys.readouterr().err
    assert ("warning[L040]" in printed) == ("L040" in with_data), printed


@pytest.mark.parametrize("here", ["other data", "nothing"])
def test_train_resume_settles_l040_on_the_data_the_run_reads(tmp_path: Path, here: str,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Before, --resume read the data for L040 beside the spec's path as run.json records it (relative to
    where the run was started), not from the run's own base: from another folder it read that folder's data
    (a 0/1 mask: L040 warned) or none (L040 from the spec alone), though the run trains on a 0/-inf mask."""
    import json

    from specc.backends.train import api
    from specc.backends.train.loop import TrainError
    from specc.cli import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    spec = _masks(tmp_path / "a", additive=True)
    if here == "other data":  # a spec of the same name beside data check would warn of
        _masks(tmp_path / "b", additive=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.yaml").write_text(MHA)
    # as specc train writes it, started in a/ as `specc train s.yaml`
    (run / "run.json").write_text(json.dumps({"spec": "s.yaml", "base": str(spec.parent), "overrides": []}))

    def stop(request: api.TrainRequest) -> None:
        assert request.options.resume
        raise TrainError("stopped before training: the test reads what was printed")

    monkeypatch.setattr(api, "run_training", stop)
    monkeypatch.chdir(tmp_path / "b")
    assert main(["train", "--resume", str(run)]) != 0
    printed = capsys.readouterr().err
    assert "stopped before training" in printed and "warning[L040]" not in printed, printed


# --- L065: a sequence-first input read by a batch-first layer ------------------------------------------------

SEQ_FIRST = H + """inputs:
  ids: {shape: [T, B], dtype: int64}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 32}
  - {type: PositionalEncoding, kind: learned, max_len: 64}
  - {type: MultiheadAttention, num_heads: 4}
  - {type: Linear, out_features: 1000}
"""


def test_l065_sequence_first_ids_into_batch_first_attention() -> None:
    (d,) = _check(SEQ_FIRST).diagnostics
    assert d.code == "L065" and (d.loc.line, d.loc.col) == (3, 8)  # the input's declaration
    assert "MultiheadAttention 'multihead_attention_1' (batch_first: true) reads (T, B, 32)" in d.message
    assert "attends across the batch" in d.message
    assert d.hint.startswith("declare ids: [B, T]")
    assert not _check(SEQ_FIRST.replace("[T, B]", "[B, T]")).diagnostics  # the fix


def test_l065_mixing_the_batch_is_what_pytorch_does() -> None:
    """A batch-first layer fed (T, B, F): sample 0's output at step 0 depends on the other samples."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    gru = torch.nn.GRU(4, 4, batch_first=True)
    seq_first = torch.randn(5, 3, 4)  # (T, B, F)
    moved = seq_first.clone()
    moved[0, 1] += 1.0  # sample 1 at step 0
    assert not torch.allclose(gru(seq_first)[0][0, 2], gru(moved)[0][0, 2])  # sample 2 sees it


@pytest.mark.parametrize("text", [
    H + "inputs: {x: [T, B, 8]}\nlayers:\n  - {type: LSTM, hidden_size: 16, batch_first: false}\n",
    H + "inputs: {x: [T, B, 8]}\nlayers:\n  - {type: Transpose, dim0: 0, dim1: 1}\n  - {type: GRU, hidden_size: 16}\n",
    H + "inputs: {x: [B, N, 8]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 2}\n",  # points of a cloud
    H + "inputs: {x: [T, B, 8]}\nlayers:\n  - {type: Linear, out_features: 4}\n",  # no layer mixes steps
])
def test_l065_quiet_look_alikes(text: str) -> None:
    spec = _check(text)
    assert spec.ok and not _codes(spec, "L065"), [d.message for d in spec.diagnostics]


# --- T094: a sparse embedding gradient where training cannot step on it -------------------------------------

SPARSE = (ROOT / "tests" / "corpus" / "bad" / "t094_sparse_embedding_under_adam.yaml").read_text()


@pytest.mark.parametrize(("edit", "said"), [
    (("optimizer: {type: Adam, lr: 1.0e-3}", "optimizer: {type: RMSprop}"), "RMSprop takes none"),
    (("optimizer: {type: Adam, lr: 1.0e-3}", "optimizer: {type: SGD, lr: 0.1, weight_decay: 1.0e-4}"),
     "add(sparse, dense) is not supported"),
    (("optimizer: {type: Adam, lr: 1.0e-3}", "optimizer: {type: Adagrad, weight_decay: 1.0e-4}"),
     "weight_decay option is not compatible with sparse gradients"),
    (("optimizer: {type: Adam, lr: 1.0e-3}\ntrain: {epochs: 1, batch_size: 8,",
      "optimizer: {type: SGD, lr: 0.1}\ntrain: {epochs: 1, batch_size: 8, grad_clip: 1.0,"), "grad_clip: 1"),
])
def test_t094_what_pytorch_refuses_of_a_sparse_gradient(edit: tuple[str, str], said: str) -> None:
    (d,) = _check(SPARSE.replace(*edit)).errors
    assert d.code == "T094" and said in d.message and d.hint.startswith("set sparse: false")
    assert _check(SPARSE.replace(*edit).replace("sparse: true", "sparse: false")).ok


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
def test_t094_pytorch_refuses_as_said_and_sgd_steps() -> None:
    torch = pytest.importorskip("torch")

    def step(make: object, clip: bool = False) -> str:
        emb = torch.nn.Embedding(10, 4, sparse=True)
        emb(torch.tensor([1, 2])).sum().backward()
        try:
            if clip:
                torch.nn.utils.clip_grad_norm_(emb.parameters(), 1.0)
            make(emb.parameters()).step()
        except (RuntimeError, NotImplementedError) as exc:
            return str(exc)
        return "stepped"

    assert "Adam does not support sparse gradients" in step(torch.optim.Adam)
    assert "add(sparse, dense) is not supported" in step(lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=1e-4))
    assert "not compatible with sparse" in step(lambda p: torch.optim.Adagrad(p, weight_decay=1e-4))
    assert step(lambda p: torch.optim.SGD(p, lr=0.1), clip=True) != "stepped"
    assert step(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)) == "stepped"
    assert step(torch.optim.Adagrad) == "stepped"


@pytest.mark.parametrize("edit", [
    ("optimizer: {type: Adam, lr: 1.0e-3}", "optimizer: {type: SGD, lr: 0.1, momentum: 0.9}"),
    ("optimizer: {type: Adam, lr: 1.0e-3}", "optimizer: {type: Adagrad}"),
    ("sparse: true}", "sparse: true, trainable: false}"),  # a frozen table has no gradient
])
def test_t094_quiet_where_the_sparse_gradient_steps(edit: tuple[str, str]) -> None:
    spec = _check(SPARSE.replace(*edit))
    assert not _codes(spec, "T094"), [d.message for d in spec.diagnostics]


# --- L012: a text CNN's Conv1d given in_channels: T, S001's other way out ----------------------------------

TEXT_CNN = H + """inputs: {ids: {shape: [B, 100], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 32}
  - {type: Conv1d, in_channels: 100, out_channels: 64, kernel_size: 3}
  - {type: AdaptiveMaxPool1d, output_size: 1}
  - {type: Flatten}
  - {type: Linear, out_features: 2}
"""


def test_l012_in_channels_written_as_the_steps_of_an_embedding() -> None:
    """Kim's CNN without its permute: PyTorch's error names 100 channels, and in_channels: 100 'fixes' it."""
    wrong = _check(TEXT_CNN.replace("in_channels: 100", "in_channels: 32")).errors
    assert [d.code for d in wrong] == ["S001"] and "set in_channels: 100" in wrong[0].hint
    (d,) = _check(TEXT_CNN).diagnostics
    assert d.code == "L012" and (d.loc.line, d.loc.col) == (5, 20)
    assert "in_channels: 100 is the 100 steps" in d.message and "slides over the 32 features" in d.message
    assert "set in_channels: 32" in d.hint
    fixed = TEXT_CNN.replace("  - {type: Conv1d, in_channels: 100,",
                             "  - {type: Permute, dims: [0, 2, 1]}\n  - {type: Conv1d, in_channels: 32,")
    assert not _check(fixed).diagnostics


def test_l012_quiet_on_in_channels_of_a_channels_first_signal() -> None:
    text = TEXT_CNN.replace("ids: {shape: [B, 100], dtype: int64}", "x: [B, 100, 32]").replace(
        "  - {type: Embedding, num_embeddings: 1000, embedding_dim: 32}\n", "")
    assert not _check(text).diagnostics  # 100 channels of 32 samples each, as declared


# --- S001: LayerNorm given a conv's channel count ------------------------------------------------------------

def test_s001_layernorm_of_conv_channels_offers_no_width_as_a_fix() -> None:
    """nn.LayerNorm(16) after a Conv2d(16): the hint led with 'set normalized_shape: 32', the map's width."""
    text = H + """inputs: {x: [B, 3, 32, 32]}
layers:
  - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}
  - {type: LayerNorm, normalized_shape: 16}
"""
    (d,) = _check(text).errors
    assert d.code == "S001" and d.hint.startswith("to normalise over the 16 channels")
    assert "set normalized_shape" not in d.hint and "would normalise over the map's 32 columns" in d.hint
    (d,) = _check(text.replace("normalized_shape: 16", "normalized_shape: 30")).errors  # not the channels
    assert d.hint.startswith("set normalized_shape: 32")


# --- L066: patches that do not tile the image -----------------------------------------------------------------

def test_l066_the_pixels_it_names_change_nothing_in_pytorch() -> None:
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(3, 8, kernel_size=15, stride=15)
    image = torch.randn(1, 3, 224, 224)
    edited = image.clone()
    edited[..., 210:, :] = 100.0  # the last 14 rows
    edited[..., :, 210:] = 100.0  # and columns
    assert torch.equal(conv(image), conv(edited))


@pytest.mark.parametrize(("shape", "conv", "fires"), [
    ("[B, 3, 224, 224]", "kernel_size: 15, stride: 15", True),
    ("[B, 1, 1000]", "kernel_size: 16, stride: 16", True),  # Conv1d: 62 patches of a 1000-sample signal
    ("[B, 3, 224, 224]", "kernel_size: 16, stride: 16", False),
    ("[B, 3, H, W]", "kernel_size: 16, stride: 16", False),  # any size: the size is the data's
    ("[B, 3, 225, 225]", "kernel_size: 2, stride: 2, padding: 1", False),  # padding completes the last one
    ("[B, 3, 225, 225]", "kernel_size: 3, stride: 2", False),  # overlapping windows: not patches
])
def test_l066_fires_on_patches_only(shape: str, conv: str, fires: bool) -> None:
    kind = "Conv1d" if shape.count(",") == 2 else "Conv2d"
    spec = _check(H + f"inputs: {{x: {shape}}}\nlayers:\n  - {{type: {kind}, out_channels: 8, {conv}}}\n")
    assert bool(_codes(spec, "L066")) == fires, [d.message for d in spec.diagnostics]


# --- V003: Keras' Conv1D(padding="causal") --------------------------------------------------------------------

CAUSAL = H + "inputs: {x: [B, 4, T]}\nlayers:\n  - {type: Conv1d, out_channels: 8, kernel_size: 3, dilation: 2, " \
    "padding: causal}\n"


def test_v003_causal_padding_names_the_pad_that_writes_it() -> None:
    (d,) = _check(CAUSAL).errors
    assert d.code == "V003" and "(kernel_size - 1) x dilation = 4 zeros before the first step" in d.message
    assert d.hint == "write padding: 0 and add - {type: ZeroPad1d, padding: [4, 0]} before this layer"
    fixed = CAUSAL.replace("  - {type: Conv1d", "  - {type: ZeroPad1d, padding: [4, 0]}\n  - {type: Conv1d").replace(
        ", padding: causal}", "}")
    spec = _check(fixed)
    assert spec.ok and str(spec.graph.value(spec.graph.outputs[0][1])) == "(B, 8, T)"


def test_v003_the_fix_is_causal_in_pytorch() -> None:
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv1d(4, 8, kernel_size=3, dilation=2)
    x = torch.randn(1, 4, 10)
    later = x.clone()
    later[..., 6:] += 1.0  # the steps after step 5
    out, moved = (conv(torch.nn.functional.pad(t, (4, 0))) for t in (x, later))
    assert out.shape[-1] == 10 and torch.equal(out[..., :6], moved[..., :6])


# --- L067: an adaptive pool asked for a larger map than it reads --------------------------------------------

def test_l067_pytorch_copies_a_1x1_map_into_49_cells() -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 5, 1, 1)
    out = torch.nn.AdaptiveAvgPool2d(7)(x)
    assert out.shape == (2, 5, 7, 7) and torch.equal(out, x.expand(2, 5, 7, 7))


@pytest.mark.parametrize(("shape", "size", "hint"), [
    ("[B, 64, 1, 1]", "7", "set output_size: 1, or"),
    ("[B, 64, 4, 4]", "7", "set output_size: 4 (or 1, a global pool)"),
    ("[B, 64, 2, 14]", "[7, 7]", "set output_size: [2, 7]"),
])
def test_l067_fires_with_the_size_the_map_has(shape: str, size: str, hint: str) -> None:
    (d,) = _check(H + f"inputs: {{x: {shape}}}\nlayers:\n  - {{type: AdaptiveAvgPool2d, output_size: {size}}}\n"
                  ).diagnostics
    assert d.code == "L067" and d.hint.startswith(hint)


# --- Reduce op: std without eps: left alone, as PyTorch's gradient is finite --------------------------------

def test_std_without_eps_on_a_constant_series_is_left_alone() -> None:
    """The brief asked whether a std without eps gives a nan gradient on a constant series (sqrt at 0):
    the generated code calls x.std(), whose backward PyTorch writes as 0 where the std is 0, so nothing
    to warn of while training. sqrt(var) written by hand is nan there; dividing by the std is L019's."""
    torch = pytest.importorskip("torch")
    x = torch.ones(2, 4, requires_grad=True)
    x.std(dim=1).sum().backward()
    assert torch.equal(x.grad, torch.zeros(2, 4))
    y = torch.ones(2, 4, requires_grad=True)
    y.var(dim=1).sqrt().sum().backward()
    assert y.grad.isnan().all()
    text = H + """inputs: {x: [B, T, 8]}
layers:
  - {type: Linear, out_features: 16}
  - {type: Reduce, op: std, dim: 1}
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
""" + T
    assert not _check(text).diagnostics


# --- the round's other mistakes, already refused at their line: kept so -------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    # nn.LSTM(num_layers=1, dropout=0.5): PyTorch only warns, the dropout does nothing
    ("inputs: {x: [B, T, 8]}\nlayers:\n  - {type: LSTM, hidden_size: 16, dropout: 0.5, output: last}\n", "V003"),
    # SGD(nesterov=True) without momentum: PyTorch refuses it when the optimizer is made
    ("inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 2}\nloss: {type: CrossEntropyLoss}\n"
     "optimizer: {type: SGD, lr: 0.1, nesterov: true}\n", "V003"),
    # InstanceNorm2d after a global pool: statistics of one element
    ("inputs: {x: [B, 3, 32, 32]}\nlayers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n"
     "  - {type: AdaptiveAvgPool2d, output_size: 1}\n  - {type: InstanceNorm2d, affine: true}\n", "S002"),
    # a U-Net's ConvTranspose2d(k=3, s=2, p=1) without output_padding: 63 meets 64 at the skip
    ("inputs: {x: [B, 3, 64, 64]}\nlayers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, "
     "name: skip}\n  - {type: MaxPool2d, kernel_size: 2}\n  - {type: ConvTranspose2d, out_channels: 8, kernel_size: 3, "
     "stride: 2, padding: 1, name: up}\n  - {type: Concat, from: [up, skip], dim: 1}\n", "S006"),
    # a squeeze-and-excitation gate (B, C) multiplied into (B, C, H, W) without its unsqueezes
    ("inputs: {x: [B, 16, 16, 16]}\nlayers:\n  - {type: Conv2d, out_channels: 16, kernel_size: 1, name: f}\n"
     "  - {type: AdaptiveAvgPool2d, output_size: 1}\n  - {type: Flatten}\n  - {type: Sigmoid, name: s}\n"
     "  - {type: Mul, from: [f, s]}\n", "S006"),
    # Keras' Dense(1) + binary_crossentropy ported as BCELoss on the raw output
    ("inputs: {x: [B, 16]}\nlayers:\n  - {type: Linear, out_features: 1}\nloss: {type: BCELoss}\n"
     "optimizer: {type: Adam}\n", "T053"),
    # KLDivLoss given probabilities where it reads log-probabilities
    ("inputs: {x: [B, 16]}\nlayers:\n  - {type: Linear, out_features: 5}\n  - {type: Softmax, dim: -1}\n"
     "loss: {type: KLDivLoss}\noptimizer: {type: Adam}\n", "T050"),
    # a channels-first segmentation map given Keras' default softmax axis
    ("inputs: {x: [B, 4, 8, 8]}\nlayers:\n  - {type: Conv2d, out_channels: 5, kernel_size: 1}\n"
     "  - {type: Softmax}\n", "L041"),
])
def test_round8_mistakes_specc_already_catches(text: str, code: str) -> None:
    assert code in [d.code for d in _check(H + text).diagnostics]


# --- T003: a head on a sequence, one target per sample (Keras' Dense on a 3-d tensor) ----------------------

def test_t003_names_the_positions_a_head_on_a_sequence_keeps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 1000, (32, 50)), y=rng.integers(0, 2, 32).astype(np.float32))
    text = H + """inputs: {ids: {shape: [B, 50], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 16}
  - {type: Linear, out_features: 1}
  - {type: Sigmoid}
loss: {type: BCELoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 8, data: {source: d.npz}}
"""
    (tmp_path / "s.yaml").write_text(text)
    (d,) = specc.load(tmp_path / "s.yaml").errors
    assert d.code == "T003" and "the output has [50, 1]" in d.message
    assert d.hint.startswith("the output keeps 50 positions the targets do not have")
    assert "- {type: Mean, dim: 1}" in d.hint
    (tmp_path / "s.yaml").write_text(text.replace("  - {type: Linear", "  - {type: Mean, dim: 1}\n  - {type: Linear"))
    assert specc.load(tmp_path / "s.yaml").ok  # the fix
