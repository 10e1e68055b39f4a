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


class _LSTNet(torch.nn.Module):
    """laiguokun/LSTNet models/LSTNet.py's forward (window 168, m 8, output_fun None), at eval."""

    def __init__(self) -> None:
        super().__init__()
        self.P, self.m, self.hidR, self.hidC, self.hidS, self.Ck, self.skip, self.hw = 168, 8, 100, 100, 5, 6, 24, 24
        self.pt = (self.P - self.Ck) // self.skip
        self.conv1 = torch.nn.Conv2d(1, self.hidC, kernel_size=(self.Ck, self.m))
        self.GRU1 = torch.nn.GRU(self.hidC, self.hidR)
        self.GRUskip = torch.nn.GRU(self.hidC, self.hidS)
        self.linear1 = torch.nn.Linear(self.hidR + self.skip * self.hidS, self.m)
        self.highway = torch.nn.Linear(self.hw, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_size = x.size(0)
        c = x.view(-1, 1, self.P, self.m)
        c = torch.relu(self.conv1(c))
        c = torch.squeeze(c, 3)
        r = c.permute(2, 0, 1).contiguous()
        _, r = self.GRU1(r)
        r = torch.squeeze(r, 0)
        s = c[:, :, int(-self.pt * self.skip):].contiguous()
        s = s.view(batch_size, self.hidC, self.pt, self.skip)
        s = s.permute(2, 0, 3, 1).contiguous()
        s = s.view(self.pt, batch_size * self.skip, self.hidC)
        _, s = self.GRUskip(s)
        s = s.view(batch_size, self.skip * self.hidS)
        r = torch.cat((r, s), 1)
        res = self.linear1(r)
        z = x[:, -self.hw:, :]
        z = z.permute(0, 2, 1).contiguous().view(-1, self.hw)
        z = self.highway(z)
        z = z.view(-1, self.m)
        return res + z


def test_lstnet_computes_what_the_reference_module_computes() -> None:
    """The skip-GRU's fold of (B, C, pt·skip) into (B·skip, pt, C) and the highway over each series'
    last 24 values, against the reference forward with the same weights."""
    module = build_module(specc.load(ARCH / "lstnet.yaml")).eval()
    ref = _LSTNet().eval()
    names = {"conv2d_1": "conv1", "gru_1": "GRU1", "gru_2": "GRUskip", "res": "linear1", "linear_1": "highway"}
    state = {names[k.split(".")[0]] + k[k.index("."):]: v for k, v in module.state_dict().items()}
    ref.load_state_dict(state)
    x = torch.randn(3, 168, 8)
    with torch.no_grad():
        assert torch.allclose(module(x), ref(x), atol=1e-5)
