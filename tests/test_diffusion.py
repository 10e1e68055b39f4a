"""Diffusion backbones: the sinusoidal timestep embedding against diffusers' and DiT's code, bit for
bit and through ONNX; Modulate (adaLN, FiLM) and what check says of the broadcasting written by hand
instead; DiT-S/2, a DDPM U-Net and a cross-attention (latent diffusion) U-Net pinned to their
reference modules' parameter counts, and DiT's outputs against a twin written from its models.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
from layer_cases import diffusers_timestep_embedding, dit_timestep_embedding  # noqa: E402
from torch import nn  # noqa: E402

ARCH = Path(__file__).resolve().parent / "corpus" / "architectures"


def _built(text: str) -> nn.Module:
    from specc.backends.torch_build import build_module

    spec = specc.loads(text, "m.yaml")
    assert spec.ok, [f"{d.code} {d.message}" for d in spec.errors]
    return build_module(spec).eval()


def _errors(text: str) -> list[tuple[str, str, str]]:
    spec = specc.loads(text, "m.yaml")
    return [(d.code, d.message, d.hint or "") for d in spec.diagnostics if d.severity == "error"]


def _timesteps(dtype: str, n: int = 7) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if dtype == "int64":
        return torch.randint(0, 1000, (n,), generator=gen)
    return torch.rand(n, generator=gen) * 999.0  # a continuous-time sampler's float timesteps


def _one_layer(layer: str, dtype: str) -> str:
    return f"specc: 1\ninputs:\n  t: {{shape: [B], dtype: {dtype}}}\nlayers:\n  - {layer}\n"


# (layer, its reference, timestep dtype): DiT's embedder, diffusers' defaults, a UNet2DModel's, an odd dim
SINUSOIDS = [
    ("{type: SinusoidalEmbedding, dim: 256, flip_sin_to_cos: true, downscale_freq_shift: 0}",
     lambda t: dit_timestep_embedding(t, 256), "int64"),
    ("{type: SinusoidalEmbedding, dim: 320}", lambda t: diffusers_timestep_embedding(t, 320), "float32"),
    ("{type: SinusoidalEmbedding, dim: 128, flip_sin_to_cos: true, downscale_freq_shift: 0}",
     lambda t: diffusers_timestep_embedding(t, 128, flip_sin_to_cos=True, downscale_freq_shift=0), "int64"),
    ("{type: SinusoidalEmbedding, dim: 33, flip_sin_to_cos: true, downscale_freq_shift: 0}",
     lambda t: dit_timestep_embedding(t, 33), "float32"),
    ("{type: SinusoidalEmbedding, dim: 15, max_period: 50, scale: 1000.0}",
     lambda t: diffusers_timestep_embedding(t, 15, scale=1000.0, max_period=50), "float32"),
]


@pytest.mark.parametrize(("layer", "reference", "dtype"), SINUSOIDS, ids=[s[0][33:60] for s in SINUSOIDS])
def test_the_embedding_is_the_references_bit_for_bit(layer: str, reference: object, dtype: str) -> None:
    t = _timesteps(dtype)
    got, want = _built(_one_layer(layer, dtype))(t), reference(t)  # type: ignore[operator]
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert torch.equal(got, want)


@pytest.mark.parametrize("opset", [9, 18])
def test_the_embedding_in_onnx_runtime_is_the_references(opset: int, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from specc.backends.direct_export import export_direct

    for k in (0, 3):  # DiT's (int64 timesteps); cosines first with an odd dim (float timesteps)
        layer, reference, dtype = SINUSOIDS[k]
        spec = specc.loads(_one_layer(layer, dtype) + f"export: {{opset: {opset}}}\n", "t.yaml")
        assert spec.ok
        result = export_direct(spec, tmp_path / f"m{k}.onnx")
        assert result.verification.runs  # export verified it against PyTorch at several batch sizes
        session = ort.InferenceSession(str(tmp_path / f"m{k}.onnx"))
        for n in (1, 5):
            t = _timesteps(dtype, n)
            got = torch.from_numpy(session.run(None, {"t": t.numpy()})[0])
            # arguments reach 1000: one float32 rounding of a frequency moves a sine by about 1e-4
            torch.testing.assert_close(got, reference(t), atol=2e-4, rtol=0)  # type: ignore[operator]


@pytest.mark.parametrize(("layer", "dtype", "shape", "code", "says"), [
    ("{type: SinusoidalEmbedding, dim: 64}", "int64", "[B, 1]", "S003", "one timestep per sample"),
    ("{type: SinusoidalEmbedding, dim: 64}", "float32", "[B, 4, 4]", "S003", "(B, 4, 4)"),
    ("{type: SinusoidalEmbedding, dim: 64}", "bool", "[B]", "S007", "bool"),
    ("{type: SinusoidalEmbedding, dim: 1}", "int64", "[B]", "V134", "no sine and cosine pair"),
    ("{type: SinusoidalEmbedding, dim: 2}", "int64", "[B]", "V134", "NaN"),
    ("{type: SinusoidalEmbedding, dim: 4, downscale_freq_shift: 3}", "int64", "[B]", "V134", "grow"),
    ("{type: SinusoidalEmbedding, dim: 8, scale: 0}", "float32", "[B]", "V053", "every timestep"),
    ("{type: SinusoidalEmbedding, dim: 8, max_period: 0}", "float32", "[B]", "V003", ""),
])
def test_check_refuses_what_the_references_would_break_on(layer: str, dtype: str, shape: str, code: str,
                                                          says: str) -> None:
    errors = _errors(f"specc: 1\ninputs:\n  t: {{shape: {shape}, dtype: {dtype}}}\nlayers:\n  - {layer}\n")
    assert errors and errors[0][0] == code and says in errors[0][1], errors
    assert errors[0][2], "every refusal carries its fix"


MOD_HEAD = "specc: 1\ninputs:\n  x: [B, 256, 384]\n  c: [B, 384]\n  m: [B, 64, H, W]\nlayers:\n"


@pytest.mark.parametrize(("layers", "code", "hint"), [
    # the adaLN vector not split: 2·384 wide against 384 features
    ("  - {type: Linear, from: c, out_features: 768, name: ada}\n  - {type: Modulate, from: [x, ada, ada]}\n",
     "S063", "Chunk, chunks: 2"),
    # shift and scale unsqueezed by hand before Modulate
    ("  - {type: Unsqueeze, from: c, dim: 1, name: u}\n  - {type: Modulate, from: [x, u, u]}\n", "S063",
     "before any Unsqueeze"),
    # a map's channels modulated with the default dim -1 (its width)
    ("  - {type: Linear, from: c, out_features: 64, name: t}\n  - {type: Modulate, from: [m, t, t]}\n", "S063",
     "set dim: 1"),
    ("  - {type: Modulate, from: [x, c, c], dim: 0}\n", "S063", "set dim: 2"),
    # DiT's gate, and its modulate, written without unsqueeze(1): (B, D) against (B, N, D)
    ("  - {type: Mul, from: [x, c]}\n", "S006", "- {type: Unsqueeze, dim: 1} on input 2"),
    ("  - {type: Add, value: 1, from: c, name: s}\n  - {type: Mul, from: [x, s]}\n", "S006",
     "- {type: Unsqueeze, dim: 1} on input 2"),
    # the ResnetBlock2D's time embedding added to a (B, C, H, W) map without [:, :, None, None]
    ("  - {type: Linear, from: c, out_features: 64, name: t}\n  - {type: Add, from: [m, t]}\n", "S006",
     "(B, 64, 1, 1)"),
    # ... unsqueezed once, or at the front: broadcasting lines the 64 up with the width
    ("  - {type: Linear, from: c, out_features: 64}\n  - {type: Unsqueeze, dim: -1, name: t}\n"
     "  - {type: Add, from: [m, t]}\n", "S006", "- {type: Reshape, shape: [B, 64, 1, 1]} on input 2"),
    ("  - {type: Linear, from: c, out_features: 64}\n  - {type: Unsqueeze, dim: 1}\n  - {type: Unsqueeze, dim: 1, "
     "name: t}\n  - {type: Mul, from: [t, m]}\n", "S006", "- {type: Reshape, shape: [B, 64, 1, 1]} on input 1"),
])
def test_modulation_mistakes_are_refused_with_the_fix(layers: str, code: str, hint: str) -> None:
    errors = _errors(MOD_HEAD + layers)
    assert errors and errors[0][0] == code and hint in errors[0][2], errors


def test_modulate_is_dits_modulate_and_the_resnet_scale_shift() -> None:
    model = _built(MOD_HEAD + "  - {type: Linear, from: c, out_features: 768}\n"
                   "  - {type: Chunk, chunks: 2, name: mod}\n"
                   "  - {type: Modulate, from: [x, mod.0, mod.1], name: seq}\n"
                   "  - {type: Linear, from: c, out_features: 128}\n  - {type: Chunk, chunks: 2, name: film}\n"
                   "  - {type: Modulate, dim: 1, from: [m, film.1, film.0], name: map}\n"
                   "outputs: [seq, map]\n")
    x, c, m = torch.randn(2, 256, 384), torch.randn(2, 384), torch.randn(2, 64, 5, 3)
    seq, fmap = model(x, c, m)
    shift, scale = model.linear_1(c).chunk(2, dim=1)
    assert torch.equal(seq, x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1))  # DiT's modulate
    scale, shift = model.linear_2(c)[:, :, None, None].chunk(2, dim=1)  # diffusers' scale_shift
    assert torch.equal(fmap, m * (1 + scale) + shift)


# -- DiT (facebookresearch/DiT models.py), timm's Attention and Mlp written out -------------------------------------

def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class _Attention(nn.Module):  # timm Attention(dim, num_heads, qkv_bias=True)
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class _DiTBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = _Attention(d, heads)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(_modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(_modulate(self.norm2(x), shift_mlp, scale_mlp))


class _DiT(nn.Module):
    def __init__(self, d: int, heads: int, depth: int, input_size: int = 32, patch: int = 2, in_channels: int = 4,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.patch, self.out_channels = patch, 2 * in_channels  # learn_sigma
        self.x_embedder = nn.Conv2d(in_channels, d, patch, stride=patch)
        self.t_embedder = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embedder = nn.Embedding(num_classes + 1, d)  # class_dropout_prob 0.1: the null class's row
        self.pos_embed = nn.Parameter(torch.randn(1, (input_size // patch) ** 2, d), requires_grad=False)
        self.blocks = nn.ModuleList([_DiTBlock(d, heads) for _ in range(depth)])
        self.norm_final = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(d, patch * patch * self.out_channels)
        self.final_adaLN = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder(dit_timestep_embedding(t, 256)) + self.y_embedder(y)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.final_adaLN(c).chunk(2, dim=1)
        x = self.linear(_modulate(self.norm_final(x), shift, scale))
        p, ch, h = self.patch, self.out_channels, int(x.shape[1] ** 0.5)
        x = torch.einsum("nhwpqc->nchpwq", x.reshape(x.shape[0], h, h, p, p, ch))
        return x.reshape(x.shape[0], ch, h * p, h * p)


def _dit_weights(spec_model: nn.Module, twin: _DiT) -> None:
    """The twin's tensors, under the spec's state-dict names, loaded into the spec's module."""
    rename = {"x_embedder.": "x_embedder.", "t_embedder.0.": "t_embedder.mlp0.", "t_embedder.2.": "t_embedder.mlp2.",
              "y_embedder.": "y_embedder.", "final_adaLN.1.": "final_layer.adaLN_modulation.",
              "linear.": "final_layer.linear."}
    state = {}
    for k, v in twin.state_dict().items():
        if k == "pos_embed":
            state["pos_embed.pe"] = v[0]
            continue
        if k.startswith("blocks."):
            k = (k.replace("adaLN_modulation.1.", "adaLN_modulation.").replace("attn.qkv.weight", "attn.in_proj_weight")
                 .replace("attn.qkv.bias", "attn.in_proj_bias").replace("attn.proj.", "attn.out_proj.")
                 .replace("mlp.0.", "mlp.fc1.").replace("mlp.2.", "mlp.fc2."))
        else:
            k = next(new + k[len(old):] for old, new in rename.items() if k.startswith(old))
        state[k] = v
    spec_model.load_state_dict(state, strict=True)


def test_dit_computes_what_dits_models_py_computes() -> None:
    torch.manual_seed(0)
    twin = _DiT(d=64, heads=2, depth=2).eval()
    model = _built((ARCH / "dit_s2.yaml").read_text())  # its reduced vars: d 64, 2 heads, depth 2
    _dit_weights(model, twin)
    x, t, y = torch.randn(3, 4, 32, 32), torch.randint(0, 1000, (3,)), torch.randint(0, 1001, (3,))
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, y), twin(x, t, y), atol=1e-5, rtol=1e-5)


def test_dit_starts_as_adaln_zero_does() -> None:
    # the spec's init: is DiT's initialize_weights: zero adaLN modulations make every block the identity
    # (its gates are 0), and the zero final linear makes the first prediction 0
    model = _built((ARCH / "dit_s2.yaml").read_text())
    x, t, y = torch.randn(2, 4, 32, 32), torch.randint(0, 1000, (2,)), torch.randint(0, 1000, (2,))
    blocks = dict(model.named_modules())["blocks"]
    tokens, c = torch.randn(2, 256, 64), torch.randn(2, 64)
    with torch.no_grad():
        assert torch.equal(blocks[0](tokens, c), tokens)
        assert torch.equal(model(x, t, y), torch.zeros(2, 8, 32, 32))


# Published parameter counts: DiT's own models.py (DiT_S_2(input_size=32, num_classes=1000), counting its frozen
# pos_embed Parameter), diffusers 0.42.1's UNet2DModel and UNet2DConditionModel of the configs in ddpm_unet.yaml's
# and ldm_unet.yaml's headers, each built in a throwaway venv (where the two U-Nets, given diffusers' weights
# renamed, computed diffusers' outputs to 1e-7); the twin above at DiT-S/2's size has the same count.
@pytest.mark.parametrize(("stem", "overrides", "published"), [
    ("dit_s2", {"d": 384, "heads": 6, "depth": 12}, 32_963_360),
    ("ddpm_unet", {}, 702_499),
    ("ldm_unet", {}, 985_444),
])
def test_parameter_counts_are_the_reference_modules(stem: str, overrides: dict[str, int], published: int) -> None:
    spec = specc.load(ARCH / f"{stem}.yaml", overrides=overrides)
    assert spec.ok and spec.graph.totals()[0] == published
    if stem == "dit_s2":
        assert sum(p.numel() for p in _DiT(d=384, heads=6, depth=12).parameters()) == published
    header = (ARCH / f"{stem}.yaml").read_text().split("specc: 1")[0]
    assert f"{published:,} parameters" in header.replace("\n# ", " ")
