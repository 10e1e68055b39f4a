"""Ids a model computes from its own sequence (position ids numbered by CumSum, ArgMax's indices)
reach sizes the graph knows: an Embedding that looks them up needs a row for the largest, so
``check`` records the longest sequence its table takes (or refuses a fixed one with S070) rather
than saying ok to a model PyTorch fails on with an index error past that length."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

ARCH = Path(__file__).resolve().parent / "corpus" / "architectures"

HEAD = "specc: 1\ninputs:\n  ids: {shape: [B, %s], dtype: int64}\nlayers:\n"


def _check(length: str, body: str) -> specc.Spec:
    return specc.loads(HEAD % length + body, "ids.yaml")


@pytest.mark.parametrize(("stem", "symbol", "longest"), [
    # HF RoBERTa: cumsum(ids != 1) * (ids != 1) + 1 into 514 rows reaches T + 1: T up to 512
    ("roberta_base", "T", 512),
    # SASRec: positions 1..L (0 under the padding) into maxlen + 1 = 201 rows: L up to 200
    ("sasrec", "L", 200),
])
def test_position_ids_bound_the_sequence_length(stem: str, symbol: str, longest: int) -> None:
    pytest.importorskip("torch")
    from specc.backends.onnx_export import sizes_valid

    spec = specc.load(ARCH / f"{stem}.yaml")
    assert spec.ok
    valid = sizes_valid(spec)
    assert valid({"B": 2, symbol: longest}) and not valid({"B": 2, symbol: longest + 1})


def test_the_longest_length_check_allows_runs() -> None:
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    built = build_module(specc.load(ARCH / "sasrec.yaml")).eval()
    with torch.no_grad():
        assert built(torch.randint(1, 3417, (1, 200))).shape == (1, 3417)


def test_a_fixed_length_past_the_table_is_s070() -> None:
    body = ("  - {type: Compare, op: ne, value: 0}\n  - {type: CumSum, dim: 1}\n"
            "  - {type: Add, value: 2}\n  - {type: Embedding, num_embeddings: 40, embedding_dim: 4}\n")
    assert [d.code for d in _check("37", body).errors] == []          # ids up to 37 + 2 = 39
    errors = _check("38", body).errors
    assert [d.code for d in errors] == ["S070"] and "set num_embeddings: 41" in errors[0].hint


@pytest.mark.parametrize("between", [
    "  - {type: Unsqueeze, dim: 1}\n  - {type: Flatten}\n",           # moves keep the bound
    "  - {type: Cast, dtype: int32}\n",
    "  - {type: Slice, dim: 1, start: 1}\n",
])
def test_the_bound_goes_through_layers_that_move_values(between: str) -> None:
    body = ("  - {type: Compare, op: ge, value: 0}\n  - {type: CumSum, dim: 1}\n" + between +
            "  - {type: Embedding, num_embeddings: 8, embedding_dim: 4}\n")
    assert [d.code for d in _check("8", body).errors] == ["S070"]
    assert not _check("7", body).errors


def test_argmax_indices_reach_the_size_searched() -> None:
    body = ("  - {type: Embedding, num_embeddings: 10, embedding_dim: 6, name: e}\n"
            "  - {type: ArgMax, dim: -1}\n  - {type: Embedding, num_embeddings: %d, embedding_dim: 3}\n")
    assert not _check("T", body % 6).errors                           # indices 0..5 of 6 features
    assert [d.code for d in _check("T", body % 5).errors] == ["S070"]


def test_values_that_may_leave_the_range_give_no_bound() -> None:
    # a negative constant may take ids below 0, and a raw input's ids are the data's to check (T004)
    body = ("  - {type: Compare, op: ge, value: 0}\n  - {type: CumSum, dim: 1}\n  - {type: Add, value: -1}\n"
            "  - {type: Embedding, num_embeddings: 4, embedding_dim: 4}\n")
    assert not _check("9", body).errors
    assert not _check("9", "  - {type: Embedding, num_embeddings: 4, embedding_dim: 4}\n").errors
