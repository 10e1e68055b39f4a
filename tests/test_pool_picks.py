"""Near-ties of max pools in the direct route's comparison with PyTorch (specc/backends/pool_picks.py):
the reference takes ONNX Runtime's pick only where that element is a maximum in PyTorch's values
too, so a tie moves nothing and a wrong pick still shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from specc.backends.pool_picks import PoolPicks  # noqa: E402
from specc.backends.torch_build import build_module  # noqa: E402
from specc.targets.onnx.lower import lower_graph  # noqa: E402
from specc.targets.onnx.weights import Weights  # noqa: E402

SPEC = """specc: 1
inputs: {x: [B, 2, 4, 4]}
layers:
  - {type: MaxPool2d, kernel_size: 2, return_indices: true, name: pool}
  - {type: MaxUnpool2d, kernel_size: 2, from: [pool.values, pool.indices], name: up}
"""


def _setup(tmp_path: Path) -> tuple[PoolPicks, torch.nn.Module]:
    spec = specc.loads(SPEC, "picks.yaml")
    spec.require_ok()
    lowered = lower_graph(spec.graph, Weights())
    assert lowered.picks == [("pool", lowered.picks[0][1])]
    picks = PoolPicks(lowered, tmp_path / "probe", "m.onnx", rtol=1e-3, atol=1e-5)
    module = build_module(spec, seed=0).eval()
    picks.attach(module)
    return picks, module


def _x() -> np.ndarray:
    """Every 2x2 window holds its maximum twice: at its first element, and once more (up to rounding)."""
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    x[..., 0::2, 0::2] = 5.0
    x[..., 1::2, 1::2] = 5.0 * (1 + 2e-7)  # what another runtime's rounding could give
    x[..., 0::2, 1::2] = -1.0
    return x


def test_onnx_runtimes_pick_among_equal_maxima_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    picks, module = _setup(tmp_path)
    x = _x()
    with torch.no_grad():
        _, plain_idx = module.get_submodule("pool")(torch.from_numpy(x))
    # ONNX Runtime (as if rounding differently) picks the other maximum of every window
    theirs = plain_idx.numpy() + np.where(plain_idx.numpy() % 2 == 0, 5, -5)
    monkeypatch.setattr(picks.session, "run", lambda names, feeds: [theirs])
    picks.load({"x": x})
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    assert picks.taken == theirs.size
    flat = out.reshape(1, 2, -1)
    assert (np.take_along_axis(flat, theirs.reshape(1, 2, -1), -1) != 0).all()  # values sit at ORT's picks
    assert picks.note() is not None and f"at {theirs.size} positions" in picks.note()


def test_a_pick_that_is_no_maximum_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong lowering's indices (here: the -1 elements) leave PyTorch's own picks, so the outputs differ."""
    picks, module = _setup(tmp_path)
    x = _x()
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()  # no picks loaded: PyTorch's own
        _, plain_idx = module.get_submodule("pool")(torch.from_numpy(x))
    wrong = plain_idx.numpy() - 4  # the -1 of each window, above the maximum PyTorch picks
    monkeypatch.setattr(picks.session, "run", lambda names, feeds: [wrong])
    picks.load({"x": x})
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    assert picks.taken == 0 and picks.note() is None
    np.testing.assert_array_equal(out, expected)


def test_the_probe_gives_onnx_runtimes_indices_in_pytorchs_numbering(tmp_path: Path) -> None:
    picks, module = _setup(tmp_path)
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    (got,) = picks.session.run(picks.values, {"x": x})
    with torch.no_grad():
        _, idx = module.get_submodule("pool")(torch.from_numpy(x))
    np.testing.assert_array_equal(got, idx.numpy())  # no ties in random floats: the same picks
