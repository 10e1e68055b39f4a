"""Published sequence, audio, set and tabular architectures (tests/corpus/architectures/) hold the
parameters their papers or reference code give them.

Every stage on these specs is tests/test_every_stage.py's job; here the oracle is the count each
spec's header derives from its reference (the torchaudio tutorial's printed 26,915 for M5, the
NVIDIA Tacotron 2 postnet, Whisper's AudioEncoder plus the key biases PyTorch's attention adds),
compared with the built PyTorch module's own sum of p.numel().
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
from specc.backends.torch_build import build_module  # noqa: E402

ARCH = Path(__file__).resolve().parent / "corpus" / "architectures"

PUBLISHED: dict[str, int] = {
    "whisper_tiny_encoder": 7_633_920,
    "tacotron2_postnet": 4_348_144,
    "m5_audio": 26_915,
    "patchtst": 77_656,
    "lstnet": 68_898,
    "deep_sets": 17_482,
    "set_transformer": 133_317,
    "autoint": 20_193,
    "gmlp": 123_010,
    "nhits": 316_232,
    "hifigan_v2": 928_514,
    "rnnt": 377_565,
    "han": 347_105,
    "dpcnn": 2_989_752,
}


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_parameter_count_matches_the_reference(stem: str) -> None:
    path = ARCH / f"{stem}.yaml"
    header = path.read_text().split("\nspecc:")[0]
    # the count the header derives is the one tested: a stale comment fails here too
    assert f"{PUBLISHED[stem]:,} param" in re.sub(r"\s*\n#\s*", " ", header)
    spec = specc.load(path)
    assert spec.ok, [d.code for d in spec.diagnostics]
    module = build_module(spec)
    assert sum(p.numel() for p in module.parameters()) == PUBLISHED[stem]
    assert spec.graph.totals()[0] == PUBLISHED[stem]
