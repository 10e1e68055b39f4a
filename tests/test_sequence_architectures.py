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
    "ds_cnn_kws": 23_180,
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


def _wn(conv: torch.nn.Module) -> torch.nn.Module:
    return torch.nn.utils.parametrizations.weight_norm(conv)


class _ResBlock1(torch.nn.Module):
    """jik876/hifi-gan models.py ResBlock1."""

    def __init__(self, ch: int, k: int, dilation: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        conv = torch.nn.Conv1d
        self.convs1 = torch.nn.ModuleList([_wn(conv(ch, ch, k, 1, dilation=d, padding=(k * d - d) // 2))
                                           for d in dilation])
        self.convs2 = torch.nn.ModuleList([_wn(conv(ch, ch, k, 1, padding=(k - 1) // 2)) for _ in dilation])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(torch.nn.functional.leaky_relu(c1(torch.nn.functional.leaky_relu(x, 0.1)), 0.1))
            x = xt + x
        return x


class _HiFiGANV2(torch.nn.Module):
    """jik876/hifi-gan models.py Generator with config_v2.json."""

    def __init__(self) -> None:
        super().__init__()
        rates, kernels, ch = (8, 8, 2, 2), (16, 16, 4, 4), 128
        self.conv_pre = _wn(torch.nn.Conv1d(80, ch, 7, 1, padding=3))
        self.ups = torch.nn.ModuleList([_wn(torch.nn.ConvTranspose1d(ch // 2 ** i, ch // 2 ** (i + 1), k, u,
                                                                     padding=(k - u) // 2))
                                        for i, (u, k) in enumerate(zip(rates, kernels))])
        self.resblocks = torch.nn.ModuleList([_ResBlock1(ch // 2 ** (i + 1), k) for i in range(4) for k in (3, 7, 11)])
        self.conv_post = _wn(torch.nn.Conv1d(ch // 16, 1, 7, 1, padding=3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(torch.nn.functional.leaky_relu(x, 0.1))
            x = sum(self.resblocks[i * 3 + j](x) for j in range(3)) / 3
        return torch.tanh(self.conv_post(torch.nn.functional.leaky_relu(x)))

    def convolutions(self) -> list[torch.nn.Module]:
        """In the order the spec writes them: each stage's upsampling, then its three blocks' pairs."""
        out = [self.conv_pre]
        for i, up in enumerate(self.ups):
            out.append(up)
            for j in range(3):
                block = self.resblocks[i * 3 + j]
                out += [c for pair in zip(block.convs1, block.convs2) for c in pair]
        return [*out, self.conv_post]


def test_hifigan_v2_computes_what_the_reference_generator_computes() -> None:
    """The multi-receptive-field fusion (a Mean over the stacked blocks is xs / 3), the dilated
    convolutions' padding and the upsampling to 256 samples per frame, with the same weights."""
    module = build_module(specc.load(ARCH / "hifigan_v2.yaml")).eval()
    ref = _HiFiGANV2().eval()
    ours = [m for m in module.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))]
    theirs = ref.convolutions()
    assert len(ours) == len(theirs) == 1 + 4 * (1 + 18) + 1
    for a, b in zip(ours, theirs):
        b.load_state_dict(a.state_dict())
    mel = torch.randn(2, 80, 5)
    with torch.no_grad():
        out = module(mel)
        assert out.shape == (2, 1, 256 * 5)
        assert torch.allclose(out, ref(mel), atol=1e-5)
