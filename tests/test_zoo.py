"""Published architectures (specs/zoo) through the whole pipeline: check -> summary -> compile -> build.

The oracle is what the papers and torchvision publish: every parameter of
torchvision.models.X (counts from its documentation, since torchvision is not installed
here) and its multiply-accumulates.  LeNet-5's classic variant is counted by hand, and the
SE-ResNet has no published count; those two and a small ViT have hand-written PyTorch
twins in tests/zoo_reference.py whose weights are copied in to compare outputs, as do the two
sequence models (an encoder-decoder Transformer whose core is nn.Transformer, and a
decoder-only language model), whose causal masks are tested too.

Each generated module is built twice: at the published size on the meta device (no
memory, no arithmetic: counts and output shape), and at a small image size for a real
forward pass at batch 2.

Then the mistakes people make when porting these models, each as a small edit of the
real spec: specc must name the right code at the right line, with the fixing number in
the hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import specc
from specc.cli import main
from specc.diagnostics import Diagnostic
from specc.shapes.dims import evaluate

torch = pytest.importorskip("torch")
import zoo_reference as ref  # noqa: E402  (needs torch)

from specc.backends.torch_build import generated_module  # noqa: E402

ZOO = Path(__file__).resolve().parents[1] / "specs" / "zoo"

# torchvision.models documentation: parameters, and GFLOPS (really multiply-accumulates) at 224x224.
PUBLISHED: dict[str, tuple[int, float | None]] = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "vgg11_bn": (132_868_840, 7.61),
    "resnet50": (25_557_032, 4.09),
    "resnext50_32x4d": (25_028_904, 4.23),
    "mobilenet_v2": (3_504_872, 0.30),
    "squeezenet1_0": (1_248_424, 0.82),
    "squeezenet1_1": (1_235_496, 0.35),
    "densenet121": (7_978_856, 2.83),
    "efficientnet_b0": (5_288_548, 0.39),
    # LeNet-5, 6-16-120-84-10 with full C3 connectivity: 156 + 2,416 + 48,120 + 10,164 + 850.
    "lenet5": (61_706, None),
    "vit_b16": (86_567_656, 17.56),
    # The PyTorch DCGAN tutorial (nz = 100, ngf = ndf = 64) and pytorch/examples' fast_neural_style.
    "dcgan_generator": (3_576_704, None),
    "dcgan_discriminator": (2_765_568, None),
    "style_transfer": (1_679_235, None),
}
UNPUBLISHED = {"se_resnet_cifar", "espcn", "unet", "seq2seq_transformer", "decoder_lm", "siamese", "segnet_basic"}

# Overrides that keep the real forward pass cheap on CPU (the architecture is unchanged).
SMALL: dict[str, list[str]] = {
    "lenet5": [],
    "alexnet": ["image_size=64"],
    "vgg16": ["image_size=32", "hidden=256"],
    "vgg11_bn": ["image_size=32", "hidden=256"],
    "resnet50": ["image_size=64"],
    "resnext50_32x4d": ["image_size=64"],
    "mobilenet_v2": ["image_size=64"],
    "squeezenet1_0": ["image_size=64"],
    "squeezenet1_1": ["image_size=64"],
    "densenet121": ["image_size=64"],
    "efficientnet_b0": ["image_size=64"],
    "se_resnet_cifar": [],
    "siamese": [],
    "vit_b16": ["image_size=64", "d_model=64", "depth=2", "heads=4", "mlp=128"],
    "espcn": ["image_size=8"],
    "dcgan_generator": ["ngf=8"],
    "dcgan_discriminator": ["ndf=8"],
    "style_transfer": ["image_size=32"],
    "unet": ["image_size=32", "base=8"],
    "segnet_basic": ["height=45", "width=60"],
    "seq2seq_transformer": [],
    "decoder_lm": [],
}
HEAVY = {"vgg16", "vgg11_bn", "alexnet"}  # 60-140M parameters even when small: slow to initialise

# Warnings a zoo spec carries on purpose, with the reason. (vgg11_bn keeps torchvision's conv
# bias before BatchNorm and says so in the spec itself with lint: {ignore: [L004]}.)
JUSTIFIED_WARNINGS: dict[str, set[str]] = {}

STEMS = sorted(p.stem for p in ZOO.glob("*.yaml"))


@pytest.fixture(scope="module")
def loaded() -> dict[str, specc.Spec]:
    return {stem: specc.load(ZOO / f"{stem}.yaml") for stem in STEMS}


def _problems(spec: specc.Spec) -> str:
    return "\n".join(f"{d.code} {d.loc}: {d.message} (hint: {d.hint})" for d in spec.diagnostics)


def _conv_linear_macs(report: dict) -> int:
    # The leaves that do the multiplying; published counts leave out norms, pools and adds.
    return sum(r["macs"] for r in report["layers"] if r["type"] in ("Conv2d", "Linear", "TransformerEncoder"))


def test_every_zoo_spec_has_an_oracle() -> None:
    assert set(STEMS) == set(PUBLISHED) | UNPUBLISHED
    assert set(SMALL) == set(STEMS)


# -- check and summary -------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_checks_clean(stem: str, loaded: dict[str, specc.Spec]) -> None:
    spec = loaded[stem]
    assert spec.ok, _problems(spec)
    warnings = {d.code for d in spec.diagnostics if d.severity != "error"}
    assert warnings <= JUSTIFIED_WARNINGS.get(stem, set()), _problems(spec)
    for section in ("loss", "optimizer", "train"):
        assert getattr(spec.document, section) is not None


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_parameter_count_is_the_published_one(stem: str, loaded: dict[str, specc.Spec]) -> None:
    report = loaded[stem].check()
    assert report["total_params"] == PUBLISHED[stem][0]
    assert report["trainable_params"] == PUBLISHED[stem][0]


@pytest.mark.parametrize("stem", sorted(s for s, (_, g) in PUBLISHED.items() if g is not None))
def test_macs_match_the_published_ones(stem: str, loaded: dict[str, specc.Spec]) -> None:
    report = loaded[stem].check()
    published = PUBLISHED[stem][1] * 1e9  # type: ignore[operator]
    # Convs and linears alone are what torchvision counts; its figures are rounded to 0.01 G.
    assert _conv_linear_macs(report) == pytest.approx(published, rel=0.012, abs=0.005e9)
    # specc's total also counts BatchNorm (2 per element), pools and element-wise adds: a few
    # percent more for the BN-heavy mobile nets, well under 2% for the classic ones.
    tolerance = 0.05 if stem in ("mobilenet_v2", "efficientnet_b0") else 0.02
    assert report["macs_per_sample"] == pytest.approx(published, rel=tolerance, abs=0.005e9)


def test_classic_macs_to_the_digit(loaded: dict[str, specc.Spec]) -> None:
    """The well-known exact counts (conv + linear multiply-accumulates per image)."""
    exact = {"alexnet": 714_188_480, "vgg16": 15_470_264_320, "resnet50": 4_089_184_256,
             "mobilenet_v2": 300_774_272}
    for stem, macs in exact.items():
        assert _conv_linear_macs(loaded[stem].check()) == macs, stem


@pytest.mark.parametrize("stem", ["resnet50", "densenet121", "efficientnet_b0"])
def test_summary_and_check_verbs(stem: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ZOO / f"{stem}.yaml")
    assert main(["check", path]) == 0
    assert f"{PUBLISHED[stem][0]:,} params" in capsys.readouterr().out
    assert main(["summary", path]) == 0
    out = capsys.readouterr().out
    assert f"Total params:          {PUBLISHED[stem][0]:,}" in out


def test_image_size_changes_nothing_but_shapes(loaded: dict[str, specc.Spec]) -> None:
    # Adaptive/global pooling heads: the parameter count does not depend on the resolution.
    for stem in ("resnet50", "mobilenet_v2", "densenet121", "efficientnet_b0", "squeezenet1_1"):
        small = specc.load(ZOO / f"{stem}.yaml", ["image_size=160"]).check()
        assert small["ok"] and small["total_params"] == PUBLISHED[stem][0], stem
        assert small["macs_per_sample"] < loaded[stem].check()["macs_per_sample"]



def test_efficientnet_stochastic_depth_grows_with_depth_as_in_torchvision(loaded: dict[str, specc.Spec]) -> None:
    """torchvision: block i of 16 gets p = 0.2 · i / 16; only blocks that add their input use it."""
    graph = loaded["efficientnet_b0"].graph
    assert graph is not None
    got = [n.result.args["p"] for n in graph.leaves() if n.type == "StochasticDepth" and n.result is not None]
    assert got == [0.2 * float(i) / 16 for i in (2, 4, 6, 7, 9, 10, 12, 13, 14)]

# -- compile and build -------------------------------------------------------------------------------

SEQ = 7  # the size of every symbol but the batch B (sequence lengths S and T)


def _env(dims: tuple, batch: int) -> dict[str, int]:
    names = {s for d in dims if not isinstance(d, int) for s in d.symbols()}
    return {s: batch if s == "B" else SEQ for s in names}


def _static_out(spec: specc.Spec, batch: int) -> tuple[int, ...]:
    g = spec.graph
    assert g is not None and len(g.outputs) == 1
    value = g.value(g.outputs[0][1])
    assert value is not None
    return tuple(evaluate(d, _env(value.shape, batch)) for d in value.shape)


def _inputs(spec: specc.Spec, batch: int, device: str = "cpu") -> list[torch.Tensor]:
    """One tensor per model input: images as floats, token ids as small integers (every vocabulary here
    holds them)."""
    g = spec.graph
    assert g is not None
    out = []
    for t in g.inputs.values():
        size = tuple(evaluate(d, _env(t.shape, batch)) for d in t.shape)
        dtype = getattr(torch, t.dtype)
        out.append(torch.randn(*size, device=device) if dtype.is_floating_point
                   else torch.randint(0, 10, size, dtype=dtype, device=device))
    return out


@pytest.mark.parametrize("stem", STEMS)
def test_published_size_module_on_meta(stem: str, loaded: dict[str, specc.Spec]) -> None:
    """The generated source at full size: same parameters, buffers and output shape as the graph."""
    spec = loaded[stem]
    cls = getattr(generated_module(spec), spec.name)
    assert spec.graph is not None
    params, _, _, buffers = spec.graph.totals()
    with torch.device("meta"):
        model = cls().eval()
        out = model(*_inputs(spec, 2, "meta"))
    assert sum(p.numel() for p in model.parameters()) == params
    assert sum(b.numel() for b in model.buffers()) == buffers
    assert tuple(out.shape) == _static_out(spec, 2)


@pytest.mark.parametrize("stem", [pytest.param(s, marks=pytest.mark.slow) if s in HEAVY else s for s in STEMS])
def test_small_module_runs_a_forward(stem: str) -> None:
    spec = specc.load(ZOO / f"{stem}.yaml", SMALL[stem])
    assert spec.ok, _problems(spec)
    model = specc.build(spec, seed=0).eval()
    assert spec.graph is not None
    params, _, _, buffers = spec.graph.totals()
    assert sum(p.numel() for p in model.parameters()) == params == spec.check()["total_params"]
    assert sum(b.numel() for b in model.buffers()) == buffers
    with torch.no_grad():
        out = model(*_inputs(spec, 2))
    assert tuple(out.shape) == _static_out(spec, 2)
    assert torch.isfinite(out).all()


def test_vgg16_stages_of_equal_width_get_their_own_input_channels() -> None:
    """Regression: stage 4 (256 -> 512) and stage 5 (512 -> 512) have equal block args; the
    emitter once gave both one class, built for 256 input channels."""
    source = specc.targets.torch.emit.compile_source(specc.load(ZOO / "vgg16.yaml", SMALL["vgg16"]))
    assert "ConvReLU(out=512, in_channels=256)" in source
    assert source.count("ConvReLU(out=512, in_channels=512)") == 2 + 3


# -- hand-written twins: copy the weights, compare the outputs -------------------------------------------

def _copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    ps, pd = list(src.parameters()), list(dst.parameters())
    assert [tuple(p.shape) for p in ps] == [tuple(p.shape) for p in pd]
    bs, bd = list(src.buffers()), list(dst.buffers())
    assert [tuple(b.shape) for b in bs] == [tuple(b.shape) for b in bd]
    with torch.no_grad():
        for a, b in zip(ps + bs, pd + bd):
            b.copy_(a)


TWINS = {
    "lenet5": ([], lambda: ref.LeNet5(), [[], []]),
    "se_resnet_cifar": ([], lambda: ref.SEResNetCifar(), [["image_size=32"], ["image_size=40"]]),
    "siamese": ([], lambda: ref.SiameseNet(), [[]]),
    "vit_b16": (["d_model=48", "depth=2", "heads=3", "mlp=96"],
                lambda: ref.ViT(32, 16, 48, 2, 3, 96, 1000), [["image_size=32"]]),
    "espcn": ([], lambda: ref.ESPCN(3, 1), [["image_size=8"], ["image_size=11"]]),
    "dcgan_generator": (["ngf=8"], lambda: ref.DCGANGenerator(100, 8, 3), [[]]),
    "dcgan_discriminator": (["ndf=8"], lambda: ref.DCGANDiscriminator(8, 3), [[]]),
    "style_transfer": ([], lambda: ref.TransformerNet(), [["image_size=32"], ["image_size=44"]]),
    "unet": (["base=4"], lambda: ref.UNet(3, 2, 4), [["image_size=32"], ["image_size=48"]]),
    # odd sizes on the way down (45 -> 22, 29 -> 14 -> 7 -> 3): each unpool restores its encoder's size
    "segnet_basic": (["features=16"], lambda: ref.SegNetBasic(3, 12, 16), [["height=45", "width=60"],
                                                                          ["height=37", "width=29"]]),
    "seq2seq_transformer": ([], lambda: ref.Seq2SeqTransformer(1000, 1200, 128, 4, 512, 3, 3, 256), [[]]),
    "decoder_lm": ([], lambda: ref.DecoderLM(2000, 128, 4, 4, 256), [[]]),
}


@pytest.mark.parametrize("stem", sorted(TWINS))
def test_matches_hand_written_twin(stem: str) -> None:
    base, make, sizes = TWINS[stem]
    torch.manual_seed(0)
    twin = make().eval()
    for extra in sizes:
        spec = specc.load(ZOO / f"{stem}.yaml", base + extra)
        assert spec.ok, _problems(spec)
        model = specc.build(spec, seed=1).eval()
        _copy_weights(twin, model)
        for batch in (1, 3):
            xs = _inputs(spec, batch)
            with torch.no_grad():
                got, want = model(*xs), twin(*xs)
            assert tuple(got.shape) == _static_out(spec, batch)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_seq2seq_counts_are_nn_transformers() -> None:
    """The encoder and decoder are exactly nn.Transformer(128, 4, 3, 3, 512): its parameters plus the two
    embeddings and the generator."""
    spec = specc.load(ZOO / "seq2seq_transformer.yaml")
    core = sum(p.numel() for p in torch.nn.Transformer(128, 4, 3, 3, 512, batch_first=True).parameters())
    assert spec.check()["total_params"] == core + 1000 * 128 + 1200 * 128 + (128 * 1200 + 1200) == 1_825_456


@pytest.mark.parametrize("stem", ["seq2seq_transformer", "decoder_lm"])
def test_a_later_token_never_changes_an_earlier_output(stem: str) -> None:
    """Causal: the logits at step t read target tokens 0..t only, at every length the model runs at."""
    spec = specc.load(ZOO / f"{stem}.yaml")
    model = specc.build(spec, seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    for t in (5, 11):
        xs = [torch.randint(0, 10, (2, n), generator=gen) for n in ((9, t) if len(spec.graph.inputs) == 2 else (t,))]
        changed = [x.clone() for x in xs]
        changed[-1][:, 3:] = torch.randint(10, 20, (2, t - 3), generator=gen)  # the target's steps 3..t-1
        with torch.no_grad():
            a, b = model(*xs), model(*changed)
        assert a.shape == (2, t, spec.check()["outputs"][0]["shape"][-1])
        torch.testing.assert_close(a[:, :3], b[:, :3])
        assert not torch.allclose(a[:, 3:], b[:, 3:])


# -- the mistakes people make when porting these models ----------------------------------------------------

def _edit(stem: str, *subs: tuple[str, str]) -> str:
    text = (ZOO / f"{stem}.yaml").read_text(encoding="utf-8")
    for old, new in subs:
        assert text.count(old) == 1, f"{stem}: {old!r} must occur once"
        text = text.replace(old, new)
    return text


def _line(text: str, needle: str) -> int:
    """The line holding ``needle``; ``needle#2`` is its second occurrence."""
    needle, _, nth = needle.partition("#")
    hits = [i for i, line in enumerate(text.splitlines(), start=1)
            if needle in line and not line.lstrip().startswith("#")]
    if nth:
        return hits[int(nth) - 1]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


LENET_LINEAR = """\
specc: 1
name: LeNetMNIST
inputs:
  image: [B, 1, 28, 28]           # MNIST, but the head was copied from a 32x32 LeNet
layers:
  - {type: Conv2d, out_channels: 6, kernel_size: 5}
  - {type: ReLU}
  - {type: MaxPool2d, kernel_size: 2}
  - {type: Conv2d, out_channels: 16, kernel_size: 5}
  - {type: ReLU}
  - {type: MaxPool2d, kernel_size: 2}
  - {type: Flatten}
  - {type: Linear, in_features: 400, out_features: 120}
  - {type: ReLU}
  - {type: Linear, out_features: 84}
  - {type: ReLU}
  - {type: Linear, out_features: 10}
"""

NARROWED_VGG = """\
specc: 1
name: SlimVGG
inputs:
  image: [B, 3, 32, 32]
layers:
  - {type: Conv2d, out_channels: 32, kernel_size: 3, padding: 1, bias: false}   # was 64
  - {type: BatchNorm2d, num_features: 64}
  - {type: ReLU}
  - {type: MaxPool2d, kernel_size: 2}
  - {type: GlobalAvgPool}
  - {type: Linear, out_features: 10}
"""

ALEX_POOL = "  - {type: AdaptiveAvgPool2d, output_size: [6, 6], name: avgpool}\n"
VGG_POOL = "  - {type: AdaptiveAvgPool2d, output_size: [7, 7], name: avgpool}\n"
VGG_FLATTEN = "  - {type: Flatten}                                   # (B, 25088)\n"

# (id, spec text, overrides, code, text on the reported line, hint must contain, severity)
MISTAKES: list[tuple[str, str, list[str], str, str, str, str]] = [
    # LeNet-5 fed 28x28 MNIST without padding C1: C5's 5x5 window no longer fits the 4x4 map.
    ("lenet5-mnist-28x28", _edit("lenet5", ("[B, 1, 32, 32]", "[B, 1, 28, 28]")), [],
     "S002", "name: c5", "kernel_size: 4", "error"),
    ("lenet-linear-head-400-at-28x28", LENET_LINEAR, [], "S001", "in_features: 400", "in_features: 256", "error"),
    # AlexNet at 64x64 without the adaptive pool, keeping torchvision's 9216 = 256·6·6.
    ("alexnet-no-adaptive-pool", _edit("alexnet", (ALEX_POOL, ""),
                                       ("  - {type: Linear, out_features: 4096}\n  - {type: ReLU, inplace: true}\n"
                                        "  - {type: Dropout",
                                        "  - {type: Linear, in_features: 9216, out_features: 4096}\n"
                                        "  - {type: ReLU, inplace: true}\n  - {type: Dropout")),
     ["image_size=64"], "S001", "in_features: 9216", "in_features: 256", "error"),
    # AlexNet on 32x32 CIFAR: the third max pool has a 1x1 map left.
    ("alexnet-cifar-32x32", _edit("alexnet", (ALEX_POOL, "")),
     ["image_size=32"], "S002", "name: features", "kernel_size: 1", "error"),
    # VGG-16 ported to CIFAR: adaptive pool dropped, classifier still reads 25088 = 512·7·7.
    ("vgg16-cifar-keeps-25088", _edit("vgg16", (VGG_POOL, ""),
                                      (VGG_FLATTEN + '  - {type: Linear, out_features: "${hidden}"}',
                                       "  - {type: Flatten}\n  - {type: Linear, in_features: 25088, "
                                       "out_features: 4096}")),
     ["image_size=32"], "S001", "in_features: 25088", "in_features: 512 (= 512·1·1)", "error"),
    # VGG-16 without the Flatten: Linear would act on the last dim of (B, 512, 7, 7).
    ("vgg16-no-flatten", _edit("vgg16", (VGG_FLATTEN, "")),
     [], "L007", 'out_features: "${hidden}"}#1', "25088 = 512·7·7", "warning"),
    # VGG with BatchNorm, a stage narrowed to 32 filters but BatchNorm2d(64) kept.
    ("vgg-bn-width-not-updated", NARROWED_VGG, [], "S001", "num_features: 64", "num_features: 32", "error"),
    # ResNet-50: the first block of a stage adds its input unprojected; even layer1 (stride 1)
    # needs the projection, because the bottleneck expands 64 -> 256 channels.
    ("resnet50-unprojected-shortcut", _edit("resnet50", ("{type: Add, from: [bn3, downsample_bn]}",
                                                         "{type: Add, from: [bn3, input]}")),
     [], "S006", "{type: Add, from: [bn3, input]}#2", "1x1 conv (out_channels: 256)", "error"),
    # ... and the projection conv written without the stage's stride.
    ("resnet50-projection-not-strided", _edit("resnet50", ('kernel_size: 1, stride: "${stride}",\n         bias',
                                                           "kernel_size: 1,\n         bias")),
     [], "S006", "{type: Add, from: [bn3, downsample_bn]}", "(out_channels: 512, stride: 2)", "error"),
    # ResNet-50: the bottleneck's last 1x1 conv without the expansion of 4.
    ("resnet50-no-expansion", _edit("resnet50", ('      - {type: Conv2d, out_channels: "${width * 4}", kernel_size: 1, '
                                                 'bias: false, name: conv3}\n      - {type: BatchNorm2d, name: bn3}\n'
                                                 '      - {type: Add, from: [bn3, input]}',
                                                 '      - {type: Conv2d, out_channels: "${width}", kernel_size: 1, '
                                                 'bias: false, name: conv3}\n      - {type: BatchNorm2d, name: bn3}\n'
                                                 '      - {type: Add, from: [bn3, input]}')),
     [], "S006", "{type: Add, from: [bn3, input]}#1", "out_channels: 256", "error"),
    # ResNeXt: a cardinality that does not divide the bottleneck width (128 in layer1).
    ("resnext50-cardinality-48", _edit("resnext50_32x4d"), ["groups=48"],
     "S004", 'groups: "${groups}"#2', "or 32)", "error"),
    # MobileNetV2: the depthwise conv's groups copied from the stem (32) into a 144-wide block.
    ("mobilenet_v2-depthwise-groups", _edit("mobilenet_v2", ('out: "${ch * t}", groups: "${ch * t}"}',
                                                             'out: "${ch * t}", groups: 32}')),
     [], "S004", 'groups: "${groups}"', "144 for a depthwise conv", "error"),
    # MobileNetV2: every block written with the shortcut, also where the width changes.
    ("mobilenet_v2-residual-everywhere", _edit("mobilenet_v2", (
        '      - {type: Inverted, inp: "${inp}", out: "${out}", stride: "${stride}", t: "${t}"}',
        '      - {type: Residual, ch: "${out}", t: "${t}"}')),
     [], "S006", "{type: Add, from: [project, input]}", "out_channels: 24", "error"),
    # SqueezeNet: the 3x3 expand branch without padding cannot be concatenated with the 1x1 one.
    ("squeezenet-expand3x3-unpadded", _edit("squeezenet1_1", ("kernel_size: 3, padding: 1, name: expand3x3",
                                                              "kernel_size: 3, name: expand3x3")),
     # reported at the unpadded conv (the one stride-1 layer that makes the branches differ), not the Concat
     [], "S006", "kernel_size: 3, name: expand3x3", "padding: 1", "error"),
    # DenseNet: Keras habit, concatenating on the last axis.
    ("densenet-concat-last-axis", _edit("densenet121", ("{type: Concat, from: [input, conv2]}",
                                                        "{type: Concat, from: [input, conv2], dim: -1}")),
     [], "S006", "from: [input, conv2], dim: -1", "dim: 1?", "error"),
    # DenseNet: the first BatchNorm's width written out, as if it did not grow by k per layer.
    ("densenet-fixed-norm-width", _edit("densenet121", ("{type: BatchNorm2d, name: norm1}",
                                                        "{type: BatchNorm2d, num_features: 64, name: norm1}")),
     [], "S001", "num_features: 64, name: norm1", "num_features: 96", "error"),
    # SE: the gate (B, C) multiplied into (B, C, H, W) without the Reshape to (B, C, 1, 1).
    ("se-gate-not-reshaped", _edit("se_resnet_cifar", ("{type: Sigmoid}\n", "{type: Sigmoid, name: gate}\n"),
                                   ('      - {type: Reshape, shape: [B, "${ch}", 1, 1], name: gate}', "      #")),
     [], "S006", "{type: Mul, from: [input, gate]}", "(B, 16, 1, 1)", "error"),
    # EfficientNet: squeeze-excitation sized by the block input instead of the expanded width.
    ("efficientnet-se-unexpanded", _edit("efficientnet_b0", (
        '      - {type: SqueezeExcite, ch: "${inp * t}", squeeze: "${max(1, inp // 4)}"}',
        '      - {type: SqueezeExcite, ch: "${inp}", squeeze: "${max(1, inp // 4)}"}')),
     [], "S006", "{type: Mul, from: [input, scale]}", "out_channels: 96", "error"),
    # EfficientNet: padding: 1 hard-coded in the shared conv block (right for 3x3 only): the 1x1
    # expansion convs grow each map by 2, and the first residual add fails.
    ("efficientnet-padding-1-everywhere", _edit("efficientnet_b0", ('padding: "${(kernel - 1) // 2}"', "padding: 1")),
     [], "S006", "{type: Add, from: [drop_path, input]}", "0 for 1x1", "error"),
    # ViT: patches flattened but not transposed: (B, 768, 196) reads as 768 steps of 196 features,
    # too many steps for the 196-row position table ...
    ("vit-no-transpose", _edit("vit_b16", ("  - {type: Transpose, dim0: 1, dim1: 2}", "  #")),
     [], "S001", "name: pos_embedding}", "Transpose, dim0: 1, dim1: 2", "error"),
    # ... and at ViT-Ti width (192 < 196) the table fits, but 12 heads cannot split 196 features.
    ("vit-ti-no-transpose", _edit("vit_b16", ("  - {type: Transpose, dim0: 1, dim1: 2}", "  #")),
     ["d_model=192", "heads=3"], "S004", 'nhead: "${heads}"', "Transpose, dim0: 1, dim1: 2", "error"),
    # ViT fine-tuned at 384 with the 224 position table (196 rows) hard-coded.
    ("vit-384-with-197-positions", _edit("vit_b16", ('max_len: "${(image_size // patch) ** 2 + 1}"',
                                                     "max_len: 197")),
     ["image_size=384"], "S001", "max_len: 197", "max_len: 577", "error"),
    # ViT-Ti width with the head count of ViT-S.
    ("vit-heads-do-not-divide", _edit("vit_b16", ("  d_model: 768\n", "  d_model: 192\n"),
                                      ("  heads: 12\n", "  heads: 5\n")),
     [], "S004", 'nhead: "${heads}"', "make d_model a multiple of 5 (190 or 195)", "error"),
]


@pytest.mark.parametrize("case", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_reported_where_it_is_with_the_fix(case: tuple) -> None:
    name, text, overrides, code, needle, hint, severity = case
    spec = specc.loads(text, f"{name}.yaml", overrides)
    found: list[Diagnostic] = [d for d in spec.diagnostics if d.severity == severity]
    assert found, f"{name}: nothing reported\n{_problems(spec)}"
    first = found[0]
    assert first.code == code, _problems(spec)
    assert first.loc is not None and first.loc.line == _line(text, needle), _problems(spec)
    assert any(hint in (d.hint or "") for d in found if d.code == code and d.loc == first.loc), _problems(spec)
    assert first.message and not re.search(r"Traceback|Error\(", first.message)
    if severity == "error":
        assert not spec.ok


def test_inplace_activation_never_overwrites_a_value_read_again() -> None:
    """`ReLU inplace: true` on a tensor that a shortcut also reads would change the sum in PyTorch;
    the spec means a + c(relu(a)), so the generated module must not write over ``a``."""
    spec = specc.loads("""\
specc: 1
name: InplaceShortcut
inputs:
  image: [B, 4, 8, 8]
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: a}
  - {type: ReLU, inplace: true, name: r}
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: c}
  - {type: Add, from: [c, a]}
  - {type: ReLU, inplace: true}
""")
    assert spec.ok, _problems(spec)
    model = specc.build(spec, seed=0).eval()
    assert model.r.inplace is False  # type: ignore[union-attr]
    assert model.relu_1.inplace is True  # type: ignore[union-attr]  # nothing else reads the sum
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        a = model.a(x)  # type: ignore[operator]
        want = torch.relu(model.c(torch.relu(a)) + a)  # type: ignore[operator]
        torch.testing.assert_close(model(x), want)
