"""Published architectures of tests/corpus/architectures against their reference code: each spec's
built module has the parameter and buffer counts of a PyTorch twin written the way its reference
module is (ultralytics/yolov5 common.py, junyanz pix2pix networks.py, Tramac Fast-SCNN, timm's
Res2Net and SKNet, SaoYan DnCNN, zalandoresearch VQ-VAE), so a spec that drops a bias, a norm or a
branch fails here even though it checks, builds and exports."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
from layer_cases import (  # noqa: E402
    NflowsMaskedLinear,
    PixelCNNConv2d,
    RosinalityQuantize,
    levit_bias_idxs,
    t5_buckets,
    timm_relative_position_index,
    ultralytics_make_anchors,
)
from torch import nn  # noqa: E402

from specc.backends.torch_build import build_module, generated_module  # noqa: E402

ARCH = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "architectures"


def counts(module: nn.Module) -> tuple[int, int]:
    return sum(p.numel() for p in module.parameters()), sum(b.numel() for b in module.buffers())


# -- ultralytics/yolov5 models/common.py ------------------------------------------------------------------------

class YConv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=0.001, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class YBottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1, self.cv2 = YConv(c1, c_, 1, 1), YConv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1) -> None:
        super().__init__()
        c_ = c2 // 2
        self.cv1, self.cv2, self.cv3 = YConv(c1, c_), YConv(c1, c_), YConv(2 * c_, c2)
        self.m = nn.Sequential(*(YBottleneck(c_, c_, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = YConv(c1, c_), YConv(c_ * 4, c2)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


def yolov5n_backbone(classes: int = 10) -> nn.Module:
    # yolov5n.yaml's backbone (depth 0.33, width 0.25), then the spec's classifier
    return nn.Sequential(YConv(3, 16, 6, 2, 2), YConv(16, 32, 3, 2), C3(32, 32, 1), YConv(32, 64, 3, 2), C3(64, 64, 2),
                         YConv(64, 128, 3, 2), C3(128, 128, 3), YConv(128, 256, 3, 2), C3(256, 256, 1),
                         SPPF(256, 256, 5), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, classes))


# -- junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py ----------------------------------------------------

class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, use_dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu, downnorm = nn.LeakyReLU(0.2, True), nn.BatchNorm2d(inner_nc)
        uprelu, upnorm = nn.ReLU(True), nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=False)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            model += [nn.Dropout(0.5)] if use_dropout else []
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet_256(ngf: int) -> nn.Module:
    block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(8 - 5):
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=True)
    block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
    block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
    block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
    return UnetSkipConnectionBlock(3, ngf, input_nc=3, submodule=block, outermost=True)


# -- SaoYan/DnCNN-PyTorch models.py -----------------------------------------------------------------------------

def dncnn(depth: int = 17, features: int = 64) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(1, features, 3, padding=1, bias=False), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU(True)]
    layers.append(nn.Conv2d(features, 1, 3, padding=1, bias=False))
    return nn.Sequential(*layers)


# -- Tramac/Fast-SCNN-pytorch models/fast_scnn.py ---------------------------------------------------------------

def _cbr(i: int, o: int, k: int = 3, s: int = 1, p: int = 0) -> nn.Module:
    return nn.Sequential(nn.Conv2d(i, o, k, s, p, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))


def _dsconv(i: int, o: int, s: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), nn.BatchNorm2d(i), nn.ReLU(True),
                         nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))


def _bottleneck(i: int, o: int, t: int = 6, s: int = 1) -> nn.Module:
    return nn.Sequential(_cbr(i, i * t, 1), nn.Conv2d(i * t, i * t, 3, s, 1, groups=i * t, bias=False),
                         nn.BatchNorm2d(i * t), nn.ReLU(True), nn.Conv2d(i * t, o, 1, bias=False), nn.BatchNorm2d(o))


def fast_scnn(classes: int = 19) -> nn.Module:
    gfe = [_bottleneck(64, 64, s=2), _bottleneck(64, 64), _bottleneck(64, 64), _bottleneck(64, 96, s=2),
           _bottleneck(96, 96), _bottleneck(96, 96), _bottleneck(96, 128), _bottleneck(128, 128),
           _bottleneck(128, 128)]
    ppm = [_cbr(128, 32, 1) for _ in range(4)] + [_cbr(256, 128, 1)]
    ffm = [nn.Conv2d(128, 128, 3, 1, 1, groups=128, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
           nn.Sequential(nn.Conv2d(128, 128, 1), nn.BatchNorm2d(128)),
           nn.Sequential(nn.Conv2d(64, 128, 1), nn.BatchNorm2d(128))]
    head = [_dsconv(128, 128), _dsconv(128, 128), nn.Dropout(0.1), nn.Conv2d(128, classes, 1)]
    return nn.ModuleList([_cbr(3, 32, 3, 2), _dsconv(32, 48, 2), _dsconv(48, 64, 2), *gfe, *ppm, *ffm, *head])


# -- zalandoresearch/pytorch-vq-vae (the encoder and decoder; the quantiser left out) ---------------------------

def _residual_stack(h: int, rh: int) -> nn.Module:
    return nn.ModuleList([nn.Sequential(nn.ReLU(True), nn.Conv2d(h, rh, 3, 1, 1, bias=False), nn.ReLU(True),
                                        nn.Conv2d(rh, h, 1, bias=False)) for _ in range(2)])


def vqvae(h: int = 128, rh: int = 32, d: int = 64) -> nn.Module:
    encoder = [nn.Conv2d(3, h // 2, 4, 2, 1), nn.Conv2d(h // 2, h, 4, 2, 1), nn.Conv2d(h, h, 3, 1, 1),
               _residual_stack(h, rh)]
    decoder = [nn.Conv2d(d, h, 3, 1, 1), _residual_stack(h, rh), nn.ConvTranspose2d(h, h // 2, 4, 2, 1),
               nn.ConvTranspose2d(h // 2, 3, 4, 2, 1)]
    return nn.ModuleList([*encoder, nn.Conv2d(h, d, 1), *decoder])


# -- timm res2net.Bottle2neck (res2net50_26w_4s's stem and layer1) ----------------------------------------------

class Bottle2neck(nn.Module):
    def __init__(self, inplanes: int, planes: int, first: bool, base_width: int = 26, scale: int = 4) -> None:
        super().__init__()
        width = int(planes * base_width / 64.0)
        self.conv1, self.bn1 = nn.Conv2d(inplanes, width * scale, 1, bias=False), nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(scale - 1)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(width) for _ in range(scale - 1)])
        self.pool = nn.AvgPool2d(3, 1, 1) if first else None
        self.conv3, self.bn3 = nn.Conv2d(width * scale, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.downsample = (nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
                           if first else None)


def res2net_stage1(classes: int = 10) -> nn.Module:
    return nn.ModuleList([nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), Bottle2neck(64, 64, True),
                          Bottle2neck(256, 64, False), Bottle2neck(256, 64, False), nn.Linear(256, classes)])


# -- timm sknet / layers/selective_kernel.py (SKNet-50's first stage, after the spec's reduced stem) ------------

class SelectiveKernel(nn.Module):
    def __init__(self, c: int, groups: int = 32, rd_ratio: int = 16, min_rd: int = 32) -> None:
        super().__init__()
        self.paths = nn.ModuleList([nn.Sequential(nn.Conv2d(c, c, 3, padding=d, dilation=d, groups=groups, bias=False),
                                                  nn.BatchNorm2d(c), nn.ReLU()) for d in (1, 2)])
        rd = max(c // rd_ratio, min_rd)
        self.attn = nn.Sequential(nn.Conv2d(c, rd, 1, bias=False), nn.BatchNorm2d(rd), nn.ReLU(),
                                  nn.Conv2d(rd, 2 * c, 1, bias=False))


def sknet_stage(classes: int = 10, mid: int = 128, out: int = 256) -> nn.Module:
    def unit(cin: int) -> nn.Module:
        project = [nn.Conv2d(cin, out, 1, bias=False), nn.BatchNorm2d(out)] if cin != out else []
        return nn.ModuleList([nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), SelectiveKernel(mid),
                              nn.Conv2d(mid, out, 1, bias=False), nn.BatchNorm2d(out), *project])
    return nn.ModuleList([nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), unit(64), unit(out), unit(out),
                          nn.Linear(out, classes)])


# -- xinntao/ESRGAN RRDBNet_arch.py ---------------------------------------------------------------------------

class ResidualDenseBlock5C(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(nf + i * gc, gc, 3, 1, 1) for i in range(4)])
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs:
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.rdbs = nn.Sequential(*(ResidualDenseBlock5C(nf, gc) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdbs(x) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, nb: int = 1, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.trunk = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv1, self.upconv2, self.hr_conv = (nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(3))
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.trunk(fea))
        fea = self.lrelu(self.upconv1(nn.functional.interpolate(fea, scale_factor=2, mode="nearest")))
        fea = self.lrelu(self.upconv2(nn.functional.interpolate(fea, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.hr_conv(fea)))


# -- facebookresearch/dino vision_transformer.DINOHead ------------------------------------------------------

class DINOHead(nn.Module):
    def __init__(self, in_dim: int = 384, out_dim: int = 1024, hidden: int = 512, bottleneck: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, bottleneck))
        self.last_layer = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(nn.functional.normalize(self.mlp(x), dim=-1, p=2))


TWINS = {
    "dino_head": DINOHead,
    "esrgan_rrdb": RRDBNet,
    "yolov5n_backbone": yolov5n_backbone,
    "pix2pix_unet256": lambda: unet_256(8),
    "dncnn": dncnn,
    "fast_scnn": fast_scnn,
    "vqvae_no_quantizer": vqvae,
    "res2net_stage1": res2net_stage1,
    "sknet_stage": sknet_stage,
}


def assert_counts_are_the_twins(stem: str, twin: nn.Module) -> None:
    spec = specc.load(ARCH / f"{stem}.yaml")
    assert spec.ok, [d.render() for d in spec.errors]
    built = build_module(spec)
    assert counts(built) == counts(twin)
    assert spec.check()["total_params"] == counts(built)[0]


@pytest.mark.parametrize("stem", sorted(TWINS))
def test_counts_are_the_reference_modules(stem: str) -> None:
    assert_counts_are_the_twins(stem, TWINS[stem]())


def twin_weights(stem: str, twin: nn.Module, x: torch.Tensor) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """The spec's module (eval) holding the twin's weights, copied layer by layer in the order both run."""
    built, twin = build_module(specc.load(ARCH / f"{stem}.yaml")).eval(), twin.eval()
    ours, theirs = _run_order(built, x), _run_order(twin, x)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    for a, b in zip(ours, theirs):
        a.load_state_dict(b.state_dict())
    return built, twin, x


def _run_order(module: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The modules holding tensors of their own, in the order a forward pass calls them."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, *_: order.append(m)) for m in module.modules()
             if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))]
    with torch.no_grad():
        module(x)
    for h in hooks:
        h.remove()
    return order


@pytest.mark.parametrize(("stem", "size"), [("yolov5n_backbone", (2, 3, 64, 96)), ("pix2pix_unet256", (1, 3, 256, 256)),
                                            ("dncnn", (2, 1, 21, 19)), ("esrgan_rrdb", (2, 3, 7, 9)),
                                            ("dino_head", (3, 384))])
def test_the_spec_computes_what_the_reference_module_does(stem: str, size: tuple[int, ...]) -> None:
    # the twin's weights, copied layer by layer in the order both run, give the twin's outputs: pix2pix's
    # skips carry the in-place LeakyReLU's output as the reference's do, DnCNN returns input - noise,
    # ESRGAN scales each residual by 0.2, DINO L2-normalises its bottleneck
    built, twin, x = twin_weights(stem, TWINS[stem](), torch.randn(*size))
    with torch.no_grad():
        want = twin(x)
        torch.testing.assert_close(built(x), x - want if stem == "dncnn" else want)


def test_esrgan_at_its_published_depth_has_its_published_size() -> None:
    # RRDBNet(3, 3, 64, 23, gc=32): 16,697,987 parameters, ESRGAN's published model
    spec = specc.load(ARCH / "esrgan_rrdb.yaml", overrides={"nb": 23})
    assert spec.check()["total_params"] == counts(RRDBNet(23))[0] == 16_697_987


def test_dino_head_at_its_published_size() -> None:
    # DINOHead(384, 65536): hidden 2048, bottleneck 256; weight_norm's g counted (65,536), as PyTorch does
    spec = specc.load(ARCH / "dino_head.yaml", overrides={"hidden": 2048, "prototypes": 65536})
    with torch.device("meta"):
        twin = DINOHead(384, 65536, 2048)
    assert spec.check()["total_params"] == counts(twin)[0] == 22_352_128


def test_pix2pix_at_its_published_width_has_its_published_size() -> None:
    # unet_256 at ngf 64: the reference module's count, which pix2pix prints as 54.414 M
    spec = specc.load(ARCH / "pix2pix_unet256.yaml", overrides={"ngf": 64})
    assert spec.check()["total_params"] == counts(unet_256(64))[0] == 54_413_955


# -- published architectures written from their reference code, round 21 ------------------------------------------

def _meta_count(make: object) -> int:
    with torch.device("meta"):
        return counts(make())[0]  # type: ignore[operator]


# torchvision.models.googlenet (aux_logits=False): BasicConv2d is conv (no bias) + BatchNorm(eps 0.001) + ReLU

class BasicConv2d(nn.Sequential):
    def __init__(self, i: int, o: int, k: int = 1, s: int = 1) -> None:
        super().__init__(nn.Conv2d(i, o, k, s, k // 2, bias=False), nn.BatchNorm2d(o, eps=0.001), nn.ReLU(True))


class Inception(nn.Module):
    def __init__(self, i: int, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(i, c1)
        self.b2 = nn.Sequential(BasicConv2d(i, r3), BasicConv2d(r3, c3, 3))
        self.b3 = nn.Sequential(BasicConv2d(i, r5), BasicConv2d(r5, c5, 3))  # torchvision's 3x3 "5x5"
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv2d(i, pp))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def googlenet(classes: int = 1000) -> nn.Module:
    pool = lambda k=3: nn.MaxPool2d(k, 2, ceil_mode=True)
    return nn.Sequential(
        BasicConv2d(3, 64, 7, 2), pool(), BasicConv2d(64, 64), BasicConv2d(64, 192, 3), pool(),
        Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64), pool(),
        Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
        Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
        Inception(528, 256, 160, 320, 32, 128, 128), pool(2),
        Inception(832, 256, 160, 320, 32, 128, 128), Inception(832, 384, 192, 384, 48, 128, 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1024, classes))


# ultralytics nn/modules: Conv, Bottleneck, C2f, SPPF (BatchNorm eps and momentum as initialize_weights sets them)

class UConv(nn.Sequential):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2, eps=0.001, momentum=0.03),
                         nn.SiLU())


class UBottleneck(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.cv1, self.cv2 = UConv(c, c, 3), UConv(c, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x))


class C2f(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1, self.cv2 = UConv(c1, 2 * self.c), UConv((2 + n) * self.c, c2)
        self.m = nn.ModuleList(UBottleneck(self.c) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF8(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        self.cv1, self.cv2, self.m = UConv(c1, c1 // 2), UConv(c1 // 2 * 4, c2), nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


def yolov8n_backbone(classes: int = 10) -> nn.Module:
    return nn.Sequential(UConv(3, 16, 3, 2), UConv(16, 32, 3, 2), C2f(32, 32, 1), UConv(32, 64, 3, 2), C2f(64, 64, 2),
                         UConv(64, 128, 3, 2), C2f(128, 128, 2), UConv(128, 256, 3, 2), C2f(256, 256, 1),
                         SPPF8(256, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, classes))


# davidtvs/PyTorch-ENet models/enet.py: one activation module per bottleneck, called at every place in it

def _cbn(i: int, o: int, act: nn.Module | None, k: int | tuple[int, int] = 1, s: int = 1,
         p: int | tuple[int, int] = 0, d: int = 1) -> nn.Sequential:
    layers = [nn.Conv2d(i, o, k, s, p, dilation=d, bias=False), nn.BatchNorm2d(o)]
    return nn.Sequential(*layers, *([act] if act is not None else []))


class ERegular(nn.Module):
    def __init__(self, ch: int, k: int = 3, p: int = 1, d: int = 1, asym: bool = False, drop: float = 0.1,
                 relu: bool = False) -> None:
        super().__init__()
        act, c = nn.ReLU() if relu else nn.PReLU(), ch // 4
        self.conv1 = _cbn(ch, c, act)
        self.conv2 = (nn.Sequential(_cbn(c, c, act, (k, 1), p=(p, 0), d=d), _cbn(c, c, act, (1, k), p=(0, p), d=d))
                      if asym else _cbn(c, c, act, k, p=p, d=d))
        self.conv3, self.regul, self.out = _cbn(c, ch, act), nn.Dropout2d(drop), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x + self.regul(self.conv3(self.conv2(self.conv1(x)))))


class EDown(nn.Module):
    def __init__(self, i: int, o: int, drop: float) -> None:
        super().__init__()
        act, c = nn.PReLU(), i // 4
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.conv1, self.conv2, self.conv3 = _cbn(i, c, act, 2, 2), _cbn(c, c, act, 3, p=1), _cbn(c, o, act)
        self.regul, self.out, self.pad = nn.Dropout2d(drop), act, o - i

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        main, idx = self.pool(x)
        ext = self.regul(self.conv3(self.conv2(self.conv1(x))))
        main = torch.cat((main, main.new_zeros(main.shape[0], self.pad, *main.shape[2:])), 1)
        return self.out(main + ext), idx


class EUp(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        c = i // 4
        self.main = _cbn(i, o, None)
        self.unpool = nn.MaxUnpool2d(2)
        self.conv1 = _cbn(i, c, nn.ReLU())
        self.tconv = nn.ConvTranspose2d(c, c, 2, 2, bias=False)
        self.tbn = nn.BatchNorm2d(c)
        self.conv2, self.regul = _cbn(c, o, nn.ReLU()), nn.Dropout2d(0.1)

    def forward(self, x: torch.Tensor, idx: torch.Tensor, size: torch.Size) -> torch.Tensor:
        main = self.unpool(self.main(x), idx, output_size=size)
        ext = torch.relu(self.tbn(self.tconv(self.conv1(x), output_size=size)))
        return torch.relu(main + self.regul(self.conv2(ext)))


class ENet(nn.Module):
    def __init__(self, classes: int = 12) -> None:
        super().__init__()
        self.initial_conv, self.initial_pool = nn.Conv2d(3, 13, 3, 2, 1, bias=False), nn.MaxPool2d(3, 2, 1)
        self.initial_bn, self.initial_act = nn.BatchNorm2d(16), nn.PReLU()
        self.down1 = EDown(16, 64, 0.01)
        self.stage1 = nn.Sequential(*(ERegular(64, drop=0.01) for _ in range(4)))
        self.down2 = EDown(64, 128, 0.1)
        twice = [dict(), dict(d=2, p=2), dict(k=5, p=2, asym=True), dict(d=4, p=4), dict(), dict(d=8, p=8),
                 dict(k=5, p=2, asym=True), dict(d=16, p=16)] * 2
        self.stages23 = nn.Sequential(*(ERegular(128, **kw) for kw in twice))  # type: ignore[arg-type]
        self.up4 = EUp(128, 64)
        self.stage4 = nn.Sequential(ERegular(64, relu=True), ERegular(64, relu=True))
        self.up5 = EUp(64, 16)
        self.regular5 = ERegular(16, relu=True)
        self.transposed_conv = nn.ConvTranspose2d(16, classes, 3, 2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.size()
        x = self.initial_act(self.initial_bn(torch.cat((self.initial_conv(x), self.initial_pool(x)), 1)))
        size1 = x.size()
        x, idx1 = self.down1(x)
        x = self.stage1(x)
        size2 = x.size()
        x, idx2 = self.down2(x)
        x = self.stage4(self.up4(self.stages23(x), idx2, size2))
        x = self.regular5(self.up5(x, idx1, size1))
        return self.transposed_conv(x, output_size=size)


# The U-Net of Ronneberger et al. (2015): valid 3x3 convs, cropped skips

class UNetValid(nn.Module):
    def __init__(self, base: int = 8, classes: int = 2) -> None:
        super().__init__()
        def double(i: int, o: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU(True), nn.Conv2d(o, o, 3), nn.ReLU(True))
        w = [base * 2 ** i for i in range(5)]
        self.downs = nn.ModuleList([double(1, w[0]), double(w[0], w[1]), double(w[1], w[2]), double(w[2], w[3])])
        self.bottom = double(w[3], w[4])
        self.ups = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, 2) for i in range(3, -1, -1)])
        self.decs = nn.ModuleList([double(w[i + 1], w[i]) for i in range(3, -1, -1)])
        self.logits = nn.Conv2d(w[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.ups, self.decs, reversed(skips)):
            x = up(x)
            c = (skip.shape[-1] - x.shape[-1]) // 2
            x = dec(torch.cat([skip[..., c:-c, c:-c], x], 1))
        return self.logits(x)


# NVIDIA/tacotron2 model.py Encoder (every step run: no packing)

class Tacotron2Encoder(nn.Module):
    def __init__(self, symbols: int = 148, d: int = 512) -> None:
        super().__init__()
        self.embedding = nn.Embedding(symbols, d)
        self.convolutions = nn.ModuleList(nn.Sequential(nn.Conv1d(d, d, 5, padding=2), nn.BatchNorm1d(d))
                                          for _ in range(3))
        self.lstm = nn.LSTM(d, d // 2, 1, batch_first=True, bidirectional=True)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        x = self.embedding(text).transpose(1, 2)
        for conv in self.convolutions:
            x = nn.functional.dropout(nn.functional.relu(conv(x)), 0.5, self.training)
        return self.lstm(x.transpose(1, 2))[0]


# timeseriesAI/tsai InceptionTime (c_in 3, nf 32, depth 6, residual)

class InceptionModule1d(nn.Module):
    def __init__(self, ni: int, nf: int = 32) -> None:
        super().__init__()
        self.bottleneck = nn.Conv1d(ni, nf, 1, bias=False)
        self.convs = nn.ModuleList(nn.Conv1d(nf, nf, k, padding=k // 2, bias=False) for k in (39, 19, 9))
        self.maxconvpool = nn.Sequential(nn.MaxPool1d(3, 1, 1), nn.Conv1d(ni, nf, 1, bias=False))
        self.bn = nn.BatchNorm1d(4 * nf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bottleneck(x)
        return torch.relu(self.bn(torch.cat([c(b) for c in self.convs] + [self.maxconvpool(x)], 1)))


class InceptionTime(nn.Module):
    def __init__(self, c_in: int = 3, c_out: int = 5, nf: int = 32) -> None:
        super().__init__()
        self.inception = nn.ModuleList(InceptionModule1d(c_in if d == 0 else 4 * nf, nf) for d in range(6))
        self.shortcut = nn.ModuleList([nn.Sequential(nn.Conv1d(c_in, 4 * nf, 1, bias=False), nn.BatchNorm1d(4 * nf)),
                                       nn.BatchNorm1d(4 * nf)])
        self.fc = nn.Linear(4 * nf, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x
        for d, module in enumerate(self.inception):
            x = module(x)
            if d % 3 == 2:
                res = x = torch.relu(x + self.shortcut[d // 3](res))
        return self.fc(x.mean(-1))


# yjn870/FSRCNN-pytorch models.py

def fsrcnn(scale: int = 3, d: int = 56, s: int = 12, m: int = 4) -> nn.Module:
    mapping = [mod for _ in range(m) for mod in (nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s))]
    return nn.Sequential(nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s), *mapping,
                         nn.Conv2d(s, d, 1), nn.PReLU(d),
                         nn.ConvTranspose2d(d, 1, 9, scale, 4, output_padding=scale - 1))


# The ConvMixer paper's own listing

def convmixer(dim: int = 64, depth: int = 2, kernel: int = 9, patch: int = 7, classes: int = 1000) -> nn.Module:
    class Residual(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) + x
    return nn.Sequential(
        nn.Conv2d(3, dim, patch, patch), nn.GELU(), nn.BatchNorm2d(dim),
        *[nn.Sequential(Residual(nn.Conv2d(dim, dim, kernel, groups=dim, padding="same"), nn.GELU(),
                                 nn.BatchNorm2d(dim)),
                        nn.Conv2d(dim, dim, 1), nn.GELU(), nn.BatchNorm2d(dim)) for _ in range(depth)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(dim, classes))


# HuggingFace GPT2LMHeadModel's parameters: wte, wpe, per block ln_1, c_attn, c_proj, ln_2, c_fc, c_proj; ln_f

def gpt2_params(vocab: int = 50257, ctx: int = 1024, d: int = 768, layers: int = 12) -> int:
    block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return vocab * d + ctx * d + layers * block + 2 * d


TWINS_21 = {
    "googlenet": googlenet,
    "yolov8n_backbone": yolov8n_backbone,
    "enet": ENet,
    "unet_valid": UNetValid,
    "tacotron2_encoder": Tacotron2Encoder,
    "inception_time": InceptionTime,
    "fsrcnn": fsrcnn,
    "convmixer": convmixer,
}


@pytest.mark.parametrize("stem", sorted(TWINS_21))
def test_round21_counts_are_the_reference_modules(stem: str) -> None:
    assert_counts_are_the_twins(stem, TWINS_21[stem]())


@pytest.mark.parametrize(("stem", "size"), [("yolov8n_backbone", (2, 3, 64, 96)), ("enet", (2, 3, 32, 48)),
                                            ("unet_valid", (1, 1, 188, 188)), ("inception_time", (2, 3, 30)),
                                            ("fsrcnn", (2, 1, 9, 7)), ("convmixer", (2, 3, 28, 35))])
def test_round21_the_spec_computes_what_the_reference_module_does(stem: str, size: tuple[int, ...]) -> None:
    # weights copied layer by layer in the order both run: ENet's one PReLU per bottleneck runs at
    # every place in it in both; the U-Net's crops and C2f's chunk-and-concat give the same maps
    built, twin, x = twin_weights(stem, TWINS_21[stem](), torch.randn(*size))
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x))


def test_tacotron2_encoder_computes_the_references_encoding() -> None:
    built, twin, text = twin_weights("tacotron2_encoder", Tacotron2Encoder(), torch.randint(0, 148, (2, 11)))
    with torch.no_grad():
        torch.testing.assert_close(built(text), twin(text))


def test_gcn_is_pygcns_two_layer_network() -> None:
    # pygcn: adj @ (x @ W) + b; the spec: (adj @ x) @ W + b, the same map with the same 23,063 parameters
    spec = specc.load(ARCH / "gcn.yaml")
    built = build_module(spec).eval()
    assert spec.check()["total_params"] == counts(built)[0] == 1433 * 16 + 16 + 16 * 7 + 7
    x, a = torch.randn(2, 9, 1433), torch.rand(2, 9, 9)
    gc1, gc2 = (m for m in built.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        h = torch.relu(a @ (x @ gc1.weight.T) + gc1.bias)
        want = torch.log_softmax(a @ (h @ gc2.weight.T) + gc2.bias, -1)
        torch.testing.assert_close(built(x, a), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("stem", "overrides", "published"), [
    ("googlenet", [], 6_624_904),                                                    # torchvision googlenet
    ("mobilenet_v3_large", [], 5_483_032),                                           # torchvision
    ("mobilenet_v1", [], 4_231_976),                                                 # Keras MobileNet, trainable
    ("mobilenet_v1", ["alpha=0.5"], 1_331_592),
    ("deit_tiny_distilled", ["image_size=224", "patch=16", "d=192", "depth=12", "heads=3"], 5_910_800),  # timm
    ("convmixer", ["dim=768", "depth=32", "kernel=7", "patch=7"], 21_110_248),         # timm convmixer_768_32
    ("poolformer", ["l1=2", "l2=2", "l3=6", "l4=2"], 11_915_176),                    # timm poolformer_s12
    ("gpt2", ["d=768", "n_layer=12", "heads=12", "vocab=50257", "ctx=1024"], 124_439_808),  # HF gpt2
    ("albert_base", ["vocab=30000", "d=768", "heads=12"], 11_683_584 + 768 * 2 + 2),  # HF AlbertModel + head
    ("unet_valid", ["base=64", "size=572"], 31_030_658),
    ("tacotron2_encoder", [], 5_589_504),
    ("t5_encoder", ["vocab=32128", "d=512", "heads=8"], 35_330_816),                  # HF T5EncoderModel t5-small
    # HF BloomForCausalLM(BloomConfig(vocab_size=250880, hidden_size=1024, n_layer=24, n_head=16)), bloom-560m
    # (transformers 5.24, on the meta device); at the spec's width, with HF's weights, the logits agree to 1.4e-6
    ("bloom", ["vocab=250880", "d=1024", "n_layer=24", "heads=16"], 559_214_592),
])
def test_round21_published_sizes(stem: str, overrides: list[str], published: int) -> None:
    assert specc.load(ARCH / f"{stem}.yaml", overrides=overrides).check()["total_params"] == published


def test_round21_formulas_match_the_published_counts() -> None:
    assert gpt2_params() == 124_439_808
    assert _meta_count(lambda: convmixer(768, 32, 7, 7)) == 21_110_248
    assert _meta_count(lambda: UNetValid(64)) == 31_030_658
    assert _meta_count(googlenet) == 6_624_904


# facebookresearch/ConvNeXt-V2 models/convnextv2.py (Block, GRN, ConvNeXtV2), at Atto's depths and dims

class GRN(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma, self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim)), nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm, self.pwconv1 = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim)
        self.grn, self.pwconv2 = GRN(4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pwconv2(self.grn(nn.functional.gelu(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1))))))
        return x + y.permute(0, 3, 1, 2)


def convnextv2_atto(classes: int = 1000, depths: tuple[int, ...] = (2, 2, 6, 2),
                    dims: tuple[int, ...] = (40, 80, 160, 320)) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6)]
    for i, (depth, dim) in enumerate(zip(depths, dims)):
        if i:
            layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)]
        layers += [ConvNeXtV2Block(dim) for _ in range(depth)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(dims[-1], eps=1e-6),
                         nn.Linear(dims[-1], classes))


def test_convnextv2_atto_is_the_reference_network() -> None:
    # 3,708,400 parameters (timm convnextv2_atto); GRN's gamma and beta are the spec's 1x1 depthwise
    # conv, so the weights map one to one, and the outputs agree up to GRN's 1e-6 in the divisor
    spec = specc.load(ARCH / "convnextv2_atto.yaml")
    built, twin = build_module(spec).eval(), convnextv2_atto().eval()
    assert spec.check()["total_params"] == counts(built)[0] == counts(twin)[0] == 3_708_400
    ours = [m for m in built.modules() if isinstance(m, (nn.Conv2d, nn.LayerNorm, nn.Linear))]
    theirs = [m for m in twin.modules() if isinstance(m, (nn.Conv2d, nn.LayerNorm, nn.Linear, GRN))]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, GRN):
            nn.init.normal_(b.gamma), nn.init.normal_(b.beta)  # not the identity it starts as
            a.weight.data, a.bias.data = b.gamma.data.reshape(-1, 1, 1, 1).clone(), b.beta.data.reshape(-1).clone()
        else:
            a.load_state_dict(b.state_dict())
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


class T5Reference(nn.Module):
    """HF transformers' T5EncoderModel (modeling_t5.py: T5LayerNorm, T5Attention with compute_bias in the first
    block, T5DenseActDense with ReLU), written out at eval: the position bias (1, heads, T, T) from
    _relative_position_bucket, the padding as the dtype's minimum added to it, no 1/sqrt(d) on the scores."""

    def __init__(self, vocab: int, d: int, heads: int, layers: int, buckets: int = 32) -> None:
        super().__init__()
        self.heads, self.buckets = heads, buckets
        self.shared = nn.Embedding(vocab, d)
        self.rel = nn.Embedding(buckets, heads)
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "ln0": nn.RMSNorm(d, eps=1e-6), "q": nn.Linear(d, d, bias=False), "k": nn.Linear(d, d, bias=False),
            "v": nn.Linear(d, d, bias=False), "o": nn.Linear(d, d, bias=False), "ln1": nn.RMSNorm(d, eps=1e-6),
            "wi": nn.Linear(d, 4 * d, bias=False), "wo": nn.Linear(4 * d, d, bias=False)}) for _ in range(layers))
        self.final = nn.RMSNorm(d, eps=1e-6)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h, (b, t) = self.shared(ids), ids.shape
        position_bias = self.rel(t5_buckets(t, t, num_buckets=self.buckets)).permute([2, 0, 1]).unsqueeze(0)
        position_bias = position_bias + (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(h.dtype).min
        for blk in self.blocks:
            x = blk["ln0"](h)
            q, k, v = (blk[n](x).view(b, t, self.heads, -1).transpose(1, 2) for n in "qkv")
            scores = q @ k.transpose(3, 2) + position_bias
            a = (scores.float().softmax(-1).type_as(scores) @ v).transpose(1, 2).reshape(b, t, -1)
            h = h + blk["o"](a)
            h = h + blk["wo"](torch.relu(blk["wi"](blk["ln1"](h))))
        return self.final(h)


def test_t5_encoder_computes_its_buckets_as_hf_does() -> None:
    # the buckets the spec computes from the length, past max_distance (128) at T = 140, with one sample padded:
    # the same output as HF's T5EncoderModel written out (and as transformers 5.24's own at t5-small's config,
    # with its weights copied: max |diff| 2e-6 at T up to 300)
    spec = specc.load(ARCH / "t5_encoder.yaml")
    built = build_module(spec).eval()
    twin = T5Reference(1000, 64, 4, 6).eval()
    mine = dict(built.named_parameters())
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        mine["shared.weight"].copy_(twin.shared.weight)
        mine["relative_attention_bias.weight"].copy_(twin.rel.weight)
        mine["final_layer_norm.weight"].copy_(twin.final.weight)
        for i, blk in enumerate(twin.blocks):
            mine[f"block.{i}.rms_norm_1.weight"].copy_(blk["ln0"].weight)
            mine[f"block.{i}.attn.in_proj_weight"].copy_(torch.cat([blk[n].weight for n in "qkv"]))
            mine[f"block.{i}.attn.out_proj.weight"].copy_(blk["o"].weight)
            mine[f"block.{i}.rms_norm_2.weight"].copy_(blk["ln1"].weight)
            mine[f"block.{i}.wi.weight"].copy_(blk["wi"].weight)
            mine[f"block.{i}.wo.weight"].copy_(blk["wo"].weight)
        ids, pad = torch.randint(0, 1000, (2, 140)), torch.zeros(2, 140, dtype=torch.bool)
        pad[1, 130:] = True
        got, want = built(ids, pad), twin(ids, (~pad).long())
    torch.testing.assert_close(got[~pad], want[~pad], rtol=1e-4, atol=1e-4)


def test_t5s_position_bias_beside_a_bool_padding_mask() -> None:
    # PyTorch deprecates a bool key-padding mask beside a float attention mask (it warns, and may
    # refuse one day): the generated forward passes the padding as 0 / -inf in the bias's dtype
    import warnings

    built = build_module(specc.load(ARCH / "t5_encoder.yaml")).eval()
    ids = torch.randint(0, 1000, (2, 6))
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[0, 4:] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.no_grad():
            y = built(ids, pad)
            other = ids.clone()
            other[0, 4:] = 7  # what sits under the padding is not read
            torch.testing.assert_close(built(other, pad)[0, :4], y[0, :4])


# -- published architectures written from their reference code, round 22 ------------------------------------------

def copy_in_run_order(built: nn.Module, twin: nn.Module, *args: torch.Tensor) -> None:
    """The twin's tensors into the spec's module, layer by layer in the order both run; a tensor may
    change shape but not size (torchvision's layer scale, a (C, 1, 1) parameter, is the spec's 1x1
    depthwise conv weight, (C, 1, 1, 1))."""
    ours, theirs = _run_order_of(built, *args), _run_order_of(twin, *args)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        mine, given = _own_tensors(a), _own_tensors(b)
        assert [v.numel() for v in mine] == [v.numel() for v in given], (a, b)
        with torch.no_grad():
            for v, w in zip(mine, given):
                v.copy_(w.reshape(v.shape))


def _own_tensors(m: nn.Module) -> list[torch.Tensor]:
    return [*m.parameters(recurse=False), *m.buffers(recurse=False)]


def _run_order_of(module: nn.Module, *args: torch.Tensor) -> list[nn.Module]:
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, *_: order.append(m)) for m in module.modules()
             if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))]
    with torch.no_grad():
        module.eval()(*args)
    for h in hooks:
        h.remove()
    return order


# torchvision.models.resnet (BasicBlock, Bottleneck; groups and width_per_group give ResNeXt and Wide
# ResNet) and timm's SEModule for SE-ResNeXt: the reference modules, written the same way

class TVBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 **_: object) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1, self.relu = nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class TVBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, se: bool = False) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1, self.bn1 = nn.Conv2d(inplanes, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.se = SEModule(planes * 4) if se else None
        self.relu, self.downsample = nn.ReLU(inplace=True), downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TVResNet(nn.Module):
    def __init__(self, block: type, layers: list[int], classes: int = 1000, **kw: object) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        self.layers = nn.Sequential(*(self._make_layer(block, 64 * 2 ** i, n, 1 if i == 0 else 2, kw)
                                      for i, n in enumerate(layers)))
        self.fc = nn.Linear(512 * block.expansion, classes)  # type: ignore[attr-defined]

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int, kw: dict) -> nn.Module:
        out = planes * block.expansion  # type: ignore[attr-defined]
        down = (nn.Sequential(nn.Conv2d(self.inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                if stride != 1 or self.inplanes != out else None)
        layers = [block(self.inplanes, planes, stride, down, **kw)]
        self.inplanes = out
        layers += [block(out, planes, **kw) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


# torchvision.models.shufflenetv2

def _channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.size()
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)


class ShuffleInvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride, bf = stride, oup // 2
        self.branch1 = (nn.Sequential(nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                                      nn.Conv2d(inp, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
                        if stride > 1 else nn.Sequential())
        first = inp if stride > 1 else bf
        self.branch2 = nn.Sequential(nn.Conv2d(first, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True),
                                     nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False), nn.BatchNorm2d(bf),
                                     nn.Conv2d(bf, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return _channel_shuffle(out, 2)


def shufflenet_v2_x1_0(classes: int = 1000) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    inp = 24
    for repeats, out in zip((4, 8, 4), (116, 232, 464)):
        layers += [ShuffleInvertedResidual(inp, out, 2), *(ShuffleInvertedResidual(out, out, 1)
                                                           for _ in range(repeats - 1))]
        inp = out
    layers += [nn.Conv2d(inp, 1024, 1, bias=False), nn.BatchNorm2d(1024), nn.ReLU(inplace=True),
               Lambda(lambda x: x.mean([2, 3])), nn.Linear(1024, classes)]
    return nn.Sequential(*layers)


class Lambda(nn.Module):
    def __init__(self, fn: object) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)  # type: ignore[operator]


# torchvision.models.mnasnet (_InvertedResidual, _stack) at alpha 1.0

class MnasInvertedResidual(nn.Module):
    def __init__(self, i: int, o: int, k: int, stride: int, expand: int, momentum: float) -> None:
        super().__init__()
        mid, self.residual = i * expand, i == o and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(i, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=momentum), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid, momentum=momentum),
            nn.ReLU(inplace=True), nn.Conv2d(mid, o, 1, bias=False), nn.BatchNorm2d(o, momentum=momentum))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x) + x if self.residual else self.layers(x)


def mnasnet1_0(classes: int = 1000) -> nn.Module:
    m = 1 - 0.9997
    stacks = [(16, 24, 3, 2, 3, 3), (24, 40, 5, 2, 3, 3), (40, 80, 5, 2, 6, 3), (80, 96, 3, 1, 6, 2),
              (96, 192, 5, 2, 6, 4), (192, 320, 3, 1, 6, 1)]
    layers: list[nn.Module] = [
        nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32, momentum=m), nn.ReLU(inplace=True),
        nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False), nn.BatchNorm2d(32, momentum=m), nn.ReLU(inplace=True),
        nn.Conv2d(32, 16, 1, bias=False), nn.BatchNorm2d(16, momentum=m)]
    for i, o, k, s, e, r in stacks:
        layers += [MnasInvertedResidual(i, o, k, s, e, m), *(MnasInvertedResidual(o, o, k, 1, e, m)
                                                             for _ in range(1, r))]
    layers += [nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280, momentum=m), nn.ReLU(inplace=True),
               Lambda(lambda x: x.mean([2, 3])), nn.Dropout(0.2, inplace=True), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


# torchvision.models.regnet (SimpleStemIN, ResBottleneckBlock with bottleneck ratio 1, no SE)

class RegNetXBlock(nn.Module):
    def __init__(self, w_in: int, w_out: int, stride: int, group_width: int = 16) -> None:
        super().__init__()
        self.proj = (nn.Sequential(nn.Conv2d(w_in, w_out, 1, stride, bias=False), nn.BatchNorm2d(w_out))
                     if w_in != w_out or stride != 1 else None)
        self.f = nn.Sequential(
            nn.Conv2d(w_in, w_out, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(inplace=True),
            nn.Conv2d(w_out, w_out, 3, stride, 1, groups=w_out // group_width, bias=False), nn.BatchNorm2d(w_out),
            nn.ReLU(inplace=True), nn.Conv2d(w_out, w_out, 1, bias=False), nn.BatchNorm2d(w_out))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x) + self.f(x) if self.proj is not None else x + self.f(x)
        return self.activation(x)


def regnet_x_400mf(classes: int = 1000) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True)]
    w_in = 32
    for w, d in zip((32, 64, 160, 400), (1, 2, 7, 12)):
        layers += [RegNetXBlock(w_in if i == 0 else w, w, 2 if i == 0 else 1) for i in range(d)]
        w_in = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(400, classes))


# torchvision.models.convnext (CNBlock with its layer_scale parameter, LayerNorm2d)

class TVLayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
                                   Lambda(lambda x: x.permute(0, 2, 3, 1)), nn.LayerNorm(dim, eps=1e-6),
                                   nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
                                   Lambda(lambda x: x.permute(0, 3, 1, 2)))
        self.layer_scale = nn.Parameter(torch.randn(dim, 1, 1))  # 1e-6 in torchvision; random to test it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * self.block(x) + x  # stochastic depth is the identity in eval


def convnext_tiny(classes: int = 1000) -> nn.Module:
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    layers: list[nn.Module] = [nn.Conv2d(3, 96, 4, 4), TVLayerNorm2d(96, eps=1e-6)]
    for i, (dim, depth) in enumerate(zip(dims, depths)):
        if i:
            layers += [TVLayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)]
        layers += [CNBlock(dim) for _ in range(depth)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), TVLayerNorm2d(768, eps=1e-6), nn.Flatten(),
                         nn.Linear(768, classes))


# torchvision.models.efficientnet (FusedMBConv, MBConv with SqueezeExcitation) at efficientnet_v2_s's settings

def _cna(i: int, o: int, k: int = 3, s: int = 1, act: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, k, s, (k - 1) // 2, bias=False), nn.BatchNorm2d(o, eps=1e-3),
                         *([nn.SiLU(inplace=True)] if act else []))


class TVMBConv(nn.Module):
    def __init__(self, fused: bool, expand: int, stride: int, i: int, o: int) -> None:
        super().__init__()
        e, self.residual = i * expand, stride == 1 and i == o
        if fused:
            layers = [_cna(i, e, 3, stride), _cna(e, o, 1, act=False)] if expand != 1 else [_cna(i, o, 3, stride)]
        else:
            dw = nn.Sequential(nn.Conv2d(e, e, 3, stride, 1, groups=e, bias=False), nn.BatchNorm2d(e, eps=1e-3),
                               nn.SiLU(True))
            layers = [_cna(i, e, 1), dw, SqueezeExcitation(e, max(1, i // 4)), _cna(e, o, 1, act=False)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x if self.residual else self.block(x)  # stochastic depth: identity in eval


class SqueezeExcitation(nn.Module):
    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.activation = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1), nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(self.activation(self.fc1(nn.functional.adaptive_avg_pool2d(x, 1)))))


def efficientnet_v2_s(classes: int = 1000) -> nn.Module:
    settings = [(True, 1, 1, 24, 24, 2), (True, 4, 2, 24, 48, 4), (True, 4, 2, 48, 64, 4),
                (False, 4, 2, 64, 128, 6), (False, 6, 1, 128, 160, 9), (False, 6, 2, 160, 256, 15)]
    layers: list[nn.Module] = [_cna(3, 24, 3, 2)]
    for fused, e, s, i, o, n in settings:
        layers += [TVMBConv(fused, e, s if j == 0 else 1, i if j == 0 else o, o) for j in range(n)]
    return nn.Sequential(*layers, _cna(256, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(1280, classes))


TWINS_22 = {
    "resnet34": lambda: TVResNet(TVBasicBlock, [3, 4, 6, 3]),
    "wide_resnet50_2": lambda: TVResNet(TVBottleneck, [3, 4, 6, 3], base_width=128),
    "seresnext50_32x4d": lambda: TVResNet(TVBottleneck, [3, 4, 6, 3], groups=32, base_width=4, se=True),
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "mnasnet1_0": mnasnet1_0,
    "regnet_x_400mf": regnet_x_400mf,
    "convnext_tiny": convnext_tiny,
    "efficientnet_v2_s": efficientnet_v2_s,
}
PUBLISHED_22 = {"resnet34": 21_797_672, "wide_resnet50_2": 68_883_240, "seresnext50_32x4d": 27_559_896,
                "shufflenet_v2_x1_0": 2_278_604, "mnasnet1_0": 4_383_312, "regnet_x_400mf": 5_495_976,
                "convnext_tiny": 28_589_128, "efficientnet_v2_s": 21_458_488}


@pytest.mark.parametrize("stem", sorted(TWINS_22))
def test_round22_counts_are_the_published_reference_modules(stem: str) -> None:
    # torchvision's model table (timm's for SE-ResNeXt-50) gives the count; the twin is the module
    # that reference code builds, and the spec's check, build and twin all have it
    assert _meta_count(TWINS_22[stem]) == PUBLISHED_22[stem]
    spec = specc.load(ARCH / f"{stem}.yaml")
    assert spec.ok, [d.render() for d in spec.errors]
    assert spec.check()["total_params"] == PUBLISHED_22[stem]
    with torch.device("meta"):
        assert counts(build_module(spec)) == counts(TWINS_22[stem]())


@pytest.mark.parametrize(("stem", "size"), [("resnet34", (2, 3, 32, 40)), ("shufflenet_v2_x1_0", (2, 3, 32, 48)),
                                            ("mnasnet1_0", (2, 3, 40, 32)), ("regnet_x_400mf", (2, 3, 32, 32)),
                                            ("convnext_tiny", (2, 3, 64, 32)), ("seresnext50_32x4d", (1, 3, 32, 32)),
                                            ("efficientnet_v2_s", (2, 3, 48, 40))])
def test_round22_the_spec_computes_what_the_reference_module_does(stem: str, size: tuple[int, ...]) -> None:
    built, twin, x = build_module(specc.load(ARCH / f"{stem}.yaml")), TWINS_22[stem](), torch.randn(*size)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-4)


# HuggingFace transformers' BERT family (modeling_bert BertSelfAttention/BertLayer/BertPooler, DistilBERT's
# TransformerBlock, RoBERTa's embeddings), written as HF writes them: separate query/key/value Linears, the
# padding mask added as the dtype's minimum, post-norm residuals. The spec's fused in-projection is their
# concatenation; everything else maps one to one.

class HFLayer(nn.Module):
    def __init__(self, d: int, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.attn_out = (nn.Linear(d, d) for _ in range(4))
        self.attn_norm, self.intermediate = nn.LayerNorm(d, eps=eps), nn.Linear(d, 4 * d)
        self.output, self.out_norm = nn.Linear(4 * d, d), nn.LayerNorm(d, eps=eps)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (m(x).view(b, t, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        scores = scores + pad[:, None, None, :].to(x.dtype) * torch.finfo(x.dtype).min
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        h = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.output(nn.functional.gelu(self.intermediate(h))) + h)


class HFEncoderClassifier(nn.Module):
    """BertModel (+ classifier), DistilBertForSequenceClassification or RobertaModel (+ classifier)."""

    def __init__(self, kind: str, vocab: int = 1000, d: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.kind, eps = kind, 1e-5 if kind == "roberta" else 1e-12
        self.word = nn.Embedding(vocab, d, padding_idx=1 if kind == "roberta" else 0)
        self.position = nn.Embedding(514, d, padding_idx=1) if kind == "roberta" else nn.Embedding(512, d)
        self.token_type = None if kind == "distilbert" else nn.Embedding(1 if kind == "roberta" else 2, d)
        self.emb_norm = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(HFLayer(d, heads, eps) for _ in range(layers))
        self.pooler, self.classifier = nn.Linear(d, d), nn.Linear(d, 2)

    def forward(self, ids: torch.Tensor, pad: torch.Tensor, token_types: torch.Tensor | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        if positions is None:
            positions = torch.arange(ids.shape[1]).expand_as(ids)
        x = self.word(ids) + self.position(positions)
        if self.token_type is not None:
            x = x + self.token_type(token_types)
        x = self.emb_norm(x)
        for layer in self.layers:
            x = layer(x, pad)
        pooled = self.pooler(x[:, 0])
        return self.classifier(torch.relu(pooled) if self.kind == "distilbert" else torch.tanh(pooled))


def roberta_position_ids(ids: torch.Tensor, padding_idx: int = 1) -> torch.Tensor:
    # transformers' create_position_ids_from_input_ids
    mask = ids.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


def hf_state_as_the_specs(twin: HFEncoderClassifier, encoder: str, pre: str) -> dict[str, torch.Tensor]:
    """The twin's weights under the spec's module names (``encoder``: the TransformerEncoder's name)."""
    out = {"word_embeddings.weight": twin.word.weight, "layer_norm_1.weight": twin.emb_norm.weight,
           "layer_norm_1.bias": twin.emb_norm.bias, f"{pre}.weight": twin.pooler.weight,
           f"{pre}.bias": twin.pooler.bias, "classifier.weight": twin.classifier.weight,
           "classifier.bias": twin.classifier.bias}
    out["position_embeddings.weight" if twin.kind == "roberta" else "position_embeddings.pe"] = twin.position.weight
    if twin.token_type is not None:
        out["token_type_embeddings.weight"] = twin.token_type.weight
    for i, layer in enumerate(twin.layers):
        p = f"{encoder}.layers.{i}."
        qkv = (layer.query, layer.key, layer.value)
        out |= {p + "self_attn.in_proj_weight": torch.cat([m.weight for m in qkv]),
                p + "self_attn.in_proj_bias": torch.cat([m.bias for m in qkv]),
                p + "self_attn.out_proj.weight": layer.attn_out.weight,
                p + "self_attn.out_proj.bias": layer.attn_out.bias,
                p + "linear1.weight": layer.intermediate.weight, p + "linear1.bias": layer.intermediate.bias,
                p + "linear2.weight": layer.output.weight, p + "linear2.bias": layer.output.bias,
                p + "norm1.weight": layer.attn_norm.weight, p + "norm1.bias": layer.attn_norm.bias,
                p + "norm2.weight": layer.out_norm.weight, p + "norm2.bias": layer.out_norm.bias}
    return out


@pytest.mark.parametrize(("stem", "encoder", "pre", "layers"), [("bert_base", "encoder", "pooler", 2),
                                                                ("distilbert", "transformer", "pre_classifier", 6),
                                                                ("roberta_base", "encoder", "pooler", 2)])
def test_round22_bert_family_computes_what_hfs_modules_do(stem: str, encoder: str, pre: str, layers: int) -> None:
    kind = stem.split("_")[0]
    twin = HFEncoderClassifier(kind, layers=layers).eval()
    built = build_module(specc.load(ARCH / f"{stem}.yaml")).eval()
    state = hf_state_as_the_specs(twin, encoder, pre)
    assert set(state) == set(built.state_dict())  # every tensor of the spec's module, and no other
    built.load_state_dict(state)
    ids = torch.randint(2, 1000, (3, 9))
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[0, 6:], pad[2, 3:] = True, True
    ids[pad] = twin.word.padding_idx
    types = torch.zeros_like(ids) if kind == "roberta" else torch.randint(0, 2, ids.shape)
    with torch.no_grad():
        if kind == "bert":
            got, want = built(ids, types, pad), twin(ids, pad, types)
        elif kind == "distilbert":
            got, want = built(ids, pad), twin(ids, pad)
        else:
            # the spec numbers the positions from the ids itself, as RobertaEmbeddings does
            got, want = built(ids, types, pad), twin(ids, pad, types, roberta_position_ids(ids))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("stem", "overrides", "published"), [
    # HF BertModel bert-base-uncased with its pooler, + the 2-class head (768·2 + 2)
    ("bert_base", ["vocab=30522", "d=768", "layers=12", "heads=12"], 109_482_240 + 768 * 2 + 2),
    # HF DistilBertForSequenceClassification, 2 labels (DistilBertModel 66,362,880 + the head)
    ("distilbert", ["vocab=30522", "d=768", "heads=12"], 66_955_010),
    # HF RobertaModel roberta-base with its pooler, + the 2-class head
    ("roberta_base", ["vocab=50265", "d=768", "layers=12", "heads=12"], 124_645_632 + 768 * 2 + 2),
])
def test_round22_bert_family_at_published_sizes(stem: str, overrides: list[str], published: int) -> None:
    assert specc.load(ARCH / f"{stem}.yaml", overrides=overrides).check()["total_params"] == published
    with torch.device("meta"):
        d = 768
        twin = HFEncoderClassifier(stem.split("_")[0], vocab=50265 if stem == "roberta_base" else 30522, d=d,
                                   layers=6 if stem == "distilbert" else 12, heads=12)
    assert counts(twin)[0] == published


def load_in_order(built: nn.Module, tensors: list[torch.Tensor]) -> None:
    """``tensors`` (the twin's, listed in the order of the spec module's state dict) into ``built``."""
    state = built.state_dict()
    assert [tuple(v.shape) for v in state.values()] == [tuple(t.shape) for t in tensors]
    built.load_state_dict(dict(zip(state, tensors)))


# fxia22/pointnet.pytorch model.py: STN3d, STNkd, PointNetfeat and PointNetCls(k, feature_transform=True)

class STNkd(nn.Module):
    def __init__(self, k: int = 64) -> None:
        super().__init__()
        self.k = k
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(k, 64, 1), nn.Conv1d(64, 128, 1), nn.Conv1d(128, 1024, 1)
        self.fc1, self.fc2, self.fc3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, k * k)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)
        self.bn4, self.bn5 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.max(torch.relu(self.bn3(self.conv3(x))), 2, keepdim=True)[0].view(-1, 1024)
        x = self.fc3(torch.relu(self.bn5(self.fc2(torch.relu(self.bn4(self.fc1(x)))))))
        iden = torch.eye(self.k).flatten().view(1, self.k * self.k).repeat(x.shape[0], 1)
        return (x + iden).view(-1, self.k, self.k)


class PointNetCls(nn.Module):
    def __init__(self, k: int = 40) -> None:
        super().__init__()
        self.stn, self.fstn = STNkd(3), STNkd(64)
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(3, 64, 1), nn.Conv1d(64, 128, 1), nn.Conv1d(128, 1024, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)
        self.fc1, self.fc2, self.fc3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, k)
        self.dropout, self.cbn1, self.cbn2 = nn.Dropout(p=0.3), nn.BatchNorm1d(512), nn.BatchNorm1d(256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.bmm(x.transpose(2, 1), self.stn(x)).transpose(2, 1)
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.bmm(x.transpose(2, 1), self.fstn(x)).transpose(2, 1)
        x = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(x)))))
        x = torch.max(x, 2, keepdim=True)[0].view(-1, 1024)
        x = torch.relu(self.cbn1(self.fc1(x)))
        x = torch.relu(self.cbn2(self.dropout(self.fc2(x))))
        return nn.functional.log_softmax(self.fc3(x), dim=1)


# openai/CLIP model.py: the text side of CLIP.encode_text (ResidualAttentionBlock, QuickGELU, causal mask)

class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(width), nn.MultiheadAttention(width, heads)
        self.ln_2, self.c_fc = nn.LayerNorm(width), nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=mask)[0]
        h = self.c_fc(self.ln_2(x))
        return x + self.c_proj(h * torch.sigmoid(1.702 * h))


class CLIPText(nn.Module):
    def __init__(self, vocab: int = 1000, ctx: int = 77, width: int = 64, layers: int = 2, heads: int = 4,
                 embed_dim: int = 512) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.randn(ctx, width) * 0.01)
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed_dim) * width ** -0.5)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        t = text.shape[1]
        mask = torch.empty(t, t).fill_(float("-inf")).triu_(1)
        x = (self.token_embedding(text) + self.positional_embedding[:t]).permute(1, 0, 2)  # NLD -> LND
        for block in self.resblocks:
            x = block(x, mask)
        x = self.ln_final(x.permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection


# NVlabs/SegFormer mmseg/models/backbones/mix_transformer.py (mit_b0) and decode_heads/segformer_head.py

class MiTAttention(nn.Module):
    def __init__(self, dim: int, heads: int, sr: int) -> None:
        super().__init__()
        self.heads, self.sr_ratio = heads, sr
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        if sr > 1:
            self.sr, self.norm = nn.Conv2d(dim, dim, sr, sr), nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x = self.norm(self.sr(x.permute(0, 2, 1).reshape(b, c, h, w)).reshape(b, c, -1).permute(0, 2, 1))
        kv = self.kv(x).reshape(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ kv[0].transpose(-2, -1) * (c // self.heads) ** -0.5).softmax(dim=-1)
        return self.proj((attn @ kv[1]).transpose(1, 2).reshape(b, n, c))


class MiTBlock(nn.Module):  # PVTv2's Block too (pvt_v2.py), whose feed-forward is `ratio` times the width
    def __init__(self, dim: int, heads: int, sr: int, ratio: int = 4) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), MiTAttention(dim, heads, sr)
        self.norm2, self.fc1 = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, ratio * dim)
        self.dwconv = nn.Conv2d(ratio * dim, ratio * dim, 3, 1, 1, groups=ratio * dim)
        self.fc2 = nn.Linear(ratio * dim, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), h, w)
        y = self.fc1(self.norm2(x))
        b, _, c = y.shape
        y = self.dwconv(y.transpose(1, 2).view(b, c, h, w)).flatten(2).transpose(1, 2)
        return x + self.fc2(nn.functional.gelu(y))

    def tensors(self) -> list[torch.Tensor]:
        a = self.attn
        sr = [a.sr.weight, a.sr.bias, a.norm.weight, a.norm.bias] if a.sr_ratio > 1 else []
        return [self.norm1.weight, self.norm1.bias, *sr, torch.cat([a.q.weight, a.kv.weight]),
                torch.cat([a.q.bias, a.kv.bias]), a.proj.weight, a.proj.bias, self.norm2.weight, self.norm2.bias,
                self.fc1.weight, self.fc1.bias, self.dwconv.weight, self.dwconv.bias, self.fc2.weight, self.fc2.bias]


class SegFormerB0(nn.Module):
    def __init__(self, classes: int = 150) -> None:
        super().__init__()
        dims, heads, srs = (32, 64, 160, 256), (1, 2, 5, 8), (8, 4, 2, 1)
        self.patch = nn.ModuleList(nn.Conv2d(i, o, k, s, k // 2)
                                   for i, o, k, s in zip((3, 32, 64, 160), dims, (7, 3, 3, 3), (4, 2, 2, 2)))
        self.patch_norm = nn.ModuleList(nn.LayerNorm(d) for d in dims)
        self.blocks = nn.ModuleList(nn.ModuleList(MiTBlock(d, h, s) for _ in range(2))
                                    for d, h, s in zip(dims, heads, srs))
        self.norm = nn.ModuleList(nn.LayerNorm(d, eps=1e-6) for d in dims)
        self.linear_c = nn.ModuleList(nn.Linear(d, 256) for d in dims)
        self.linear_fuse, self.bn = nn.Conv2d(1024, 256, 1, bias=False), nn.BatchNorm2d(256)
        self.linear_pred = nn.Conv2d(256, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for i in range(4):
            x = self.patch[i](x)
            b, _, h, w = x.shape
            x = self.patch_norm[i](x.flatten(2).transpose(1, 2))
            for block in self.blocks[i]:
                x = block(x, h, w)
            x = self.norm[i](x).reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
            feats.append(x)
        size = feats[0].shape[2:]
        outs = [nn.functional.interpolate(self.linear_c[i](f.flatten(2).transpose(1, 2)).permute(0, 2, 1)
                                          .reshape(f.shape[0], -1, *f.shape[2:]), size=size, mode="bilinear",
                                          align_corners=False) for i, f in reversed(list(enumerate(feats)))]
        return self.linear_pred(torch.relu(self.bn(self.linear_fuse(torch.cat(outs, dim=1)))))

    def tensors(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for i in range(4):
            out += [self.patch[i].weight, self.patch[i].bias, self.patch_norm[i].weight, self.patch_norm[i].bias]
            out += [t for block in self.blocks[i] for t in block.tensors()]
            out += [self.norm[i].weight, self.norm[i].bias]
        out += [t for lin in reversed(self.linear_c) for t in (lin.weight, lin.bias)]
        return [*out, self.linear_fuse.weight, *self.bn.state_dict().values(), self.linear_pred.weight,
                self.linear_pred.bias]


# whai362/PVT classification/pvt_v2.py (pvt_v2_b0): MiT's blocks with feed-forward ratios 8, 8, 4, 4,
# and a classifier on the last stage's mean token

class PVTv2B0(SegFormerB0):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        dims, heads, srs = (32, 64, 160, 256), (1, 2, 5, 8), (8, 4, 2, 1)
        self.blocks = nn.ModuleList(nn.ModuleList(MiTBlock(d, h, s, r) for _ in range(2))
                                    for d, h, s, r in zip(dims, heads, srs, (8, 8, 4, 4)))
        del self.linear_c, self.linear_fuse, self.bn, self.linear_pred
        self.head = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(4):
            x = self.patch[i](x)
            b, _, h, w = x.shape
            x = self.patch_norm[i](x.flatten(2).transpose(1, 2))
            for block in self.blocks[i]:
                x = block(x, h, w)
            x = self.norm[i](x)
            if i < 3:
                x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
        return self.head(x.mean(dim=1))

    def tensors(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for i in range(4):
            out += [self.patch[i].weight, self.patch[i].bias, self.patch_norm[i].weight, self.patch_norm[i].bias]
            out += [t for block in self.blocks[i] for t in block.tensors()]
            out += [self.norm[i].weight, self.norm[i].bias]
        return [*out, self.head.weight, self.head.bias]


def test_pvt_v2_b0_is_the_authors_network_at_any_image_size() -> None:
    spec = specc.load(ARCH / "pvt_v2_b0.yaml")
    built, twin = build_module(spec).eval(), PVTv2B0().eval()
    assert spec.check()["total_params"] == counts(built)[0] == counts(twin)[0] == 3_666_760
    load_in_order(built, twin.tensors())
    for h, w in ((64, 64), (45, 70)):  # 45: 12 x 18 tokens after the stride-4 embedding, 1 x 2 at sr 8
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


def test_round22_pointnet_is_fxia22s_classifier() -> None:
    spec = specc.load(ARCH / "pointnet_cls.yaml")
    built, twin = build_module(spec).eval(), PointNetCls(40).eval()
    assert spec.check()["total_params"] == counts(built)[0] == counts(twin)[0] == 3_471_473
    for m in twin.modules():  # a T-Net starting away from the identity, and BatchNorm statistics that act
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 50)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


def test_round22_clip_text_encoder_is_openais() -> None:
    spec = specc.load(ARCH / "clip_text_encoder.yaml")
    built, twin = build_module(spec).eval(), CLIPText().eval()
    tensors = [twin.token_embedding.weight, twin.positional_embedding, *twin.resblocks.state_dict().values(),
               twin.ln_final.weight, twin.ln_final.bias, twin.text_projection.T]
    load_in_order(built, tensors)
    text = torch.randint(1, 900, (3, 12))
    ends = torch.tensor([5, 11, 8])
    text[torch.arange(3), ends] = 999  # the end-of-text token: the largest id, as in CLIP's vocabulary
    text[torch.arange(12) > ends[:, None]] = 0
    with torch.no_grad():
        torch.testing.assert_close(built(text), twin(text), rtol=1e-4, atol=1e-5)
    published = specc.load(ARCH / "clip_text_encoder.yaml",
                           overrides=["vocab=49408", "width=512", "layers=12", "heads=8"]).check()["total_params"]
    assert published == _meta_count(lambda: CLIPText(49408, 77, 512, 12, 8)) == 63_428_096


def test_round22_segformer_b0_is_nvlabs_network() -> None:
    spec = specc.load(ARCH / "segformer_b0.yaml")
    built, twin = build_module(spec).eval(), SegFormerB0().eval()
    assert spec.check()["total_params"] == counts(built)[0] == counts(twin)[0] == 3_752_694
    load_in_order(built, twin.tensors())
    # any image size, as the reference: the blocks read each stage's map size from its patch
    # embedding (floor((H + 3)/4) at 61 high), square or not
    for h, w in ((64, 64), (61, 90)):
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


# timm inception_resnet_v2.py (BasicConv2d, Mixed_5b, Block35, Mixed_6a, Block17, Mixed_7a, Block8)

class IRConv(nn.Sequential):
    def __init__(self, i: int, o: int, k: int | tuple[int, int] = 1, s: int = 1,
                 p: int | tuple[int, int] = 0) -> None:
        super().__init__(nn.Conv2d(i, o, k, s, p, bias=False), nn.BatchNorm2d(o, eps=0.001), nn.ReLU(inplace=False))


class Branches(nn.Module):
    def __init__(self, *branches: nn.Module, project: int = 0, scale: float = 1.0, relu: bool = True) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        width = 0
        for b in branches:
            convs = [m for m in b.modules() if isinstance(m, nn.Conv2d)]
            width += convs[-1].out_channels if convs else 0
        self.conv2d = nn.Conv2d(width, project, 1) if project else None
        self.scale, self.relu = scale, relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([b(x) for b in self.branches], 1)
        if self.conv2d is None:
            return out
        out = self.conv2d(out) * self.scale + x
        return torch.relu(out) if self.relu else out


def inception_resnet_v2(classes: int = 1000) -> nn.Module:
    seq = nn.Sequential
    mixed_5b = Branches(IRConv(192, 96), seq(IRConv(192, 48), IRConv(48, 64, 5, p=2)),
                        seq(IRConv(192, 64), IRConv(64, 96, 3, p=1), IRConv(96, 96, 3, p=1)),
                        seq(nn.AvgPool2d(3, 1, 1, count_include_pad=False), IRConv(192, 64)))
    block35 = [Branches(IRConv(320, 32), seq(IRConv(320, 32), IRConv(32, 32, 3, p=1)),
                        seq(IRConv(320, 32), IRConv(32, 48, 3, p=1), IRConv(48, 64, 3, p=1)), project=320,
                        scale=0.17) for _ in range(10)]
    mixed_6a = Branches(IRConv(320, 384, 3, 2), seq(IRConv(320, 256), IRConv(256, 256, 3, p=1),
                                                    IRConv(256, 384, 3, 2)), nn.MaxPool2d(3, 2))
    block17 = [Branches(IRConv(1088, 192), seq(IRConv(1088, 128), IRConv(128, 160, (1, 7), p=(0, 3)),
                                               IRConv(160, 192, (7, 1), p=(3, 0))), project=1088, scale=0.1)
               for _ in range(20)]
    mixed_7a = Branches(seq(IRConv(1088, 256), IRConv(256, 384, 3, 2)), seq(IRConv(1088, 256), IRConv(256, 288, 3, 2)),
                        seq(IRConv(1088, 256), IRConv(256, 288, 3, p=1), IRConv(288, 320, 3, 2)), nn.MaxPool2d(3, 2))
    block8 = [Branches(IRConv(2080, 192), seq(IRConv(2080, 192), IRConv(192, 224, (1, 3), p=(0, 1)),
                                              IRConv(224, 256, (3, 1), p=(1, 0))), project=2080,
                       scale=0.2 if i < 9 else 1.0, relu=i < 9) for i in range(10)]
    return seq(IRConv(3, 32, 3, 2), IRConv(32, 32, 3), IRConv(32, 64, 3, p=1), nn.MaxPool2d(3, 2), IRConv(64, 80),
               IRConv(80, 192, 3), nn.MaxPool2d(3, 2), mixed_5b, *block35, mixed_6a, *block17, mixed_7a, *block8,
               IRConv(2080, 1536), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1536, classes))


def test_round22_inception_resnet_v2_is_timms() -> None:
    # 55,843,464 parameters (timm's model card: 55.8M), the outputs of the same weights at the smallest
    # input the network takes (75 x 75)
    spec = specc.load(ARCH / "inception_resnet_v2.yaml")
    assert spec.check()["total_params"] == _meta_count(inception_resnet_v2) == 55_843_464
    built, twin, x = build_module(spec), inception_resnet_v2(), torch.randn(1, 3, 75, 75)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-4)


# -- the LLaMA family past LLaMA: Qwen2, Gemma, Mistral, Phi-3 (tests/test_llama_family.py computes the logits) ---

def decoder_params(vocab: int, d: int, ff: int, layers: int, heads: int, kv_heads: int, head_dim: int | None = None,
                   qkv_bias: bool = False, tied: bool = False) -> int:
    """Hugging Face's count of a LLaMA-family causal LM: embed_tokens, per layer q/k/v/o (and Qwen2's q/k/v
    biases), gate/up/down and two norms, the final norm, and an lm_head unless tied to the embedding."""
    hd = head_dim or d // heads
    attention = 2 * d * heads * hd + 2 * d * kv_heads * hd + (heads * hd + 2 * kv_heads * hd) * qkv_bias
    return vocab * d + layers * (attention + 3 * d * ff + 2 * d) + d + (0 if tied else vocab * d)


# Each published count is transformers 5.24's for <Model>ForCausalLM(<Model>Config(...)) with the model card's
# sizes, built on the meta device (no weights downloaded).
FAMILY = [
    ("qwen2.yaml", dict(vocab=151936, d=896, ff=4864, layers=24, heads=14, kv_heads=2, qkv_bias=True, tied=True),
     494_032_768),  # Qwen/Qwen2-0.5B
    ("qwen2.yaml", dict(vocab=152064, d=3584, ff=18944, layers=28, heads=28, kv_heads=4, qkv_bias=True),
     7_615_616_512),  # Qwen/Qwen2.5-7B
    ("gemma.yaml", dict(vocab=256000, d=2048, ff=16384, layers=18, heads=8, kv_heads=1, head_dim=256, tied=True),
     2_506_172_416),  # google/gemma-2b
    ("gemma.yaml", dict(vocab=256000, d=3072, ff=24576, layers=28, heads=16, kv_heads=16, head_dim=256, tied=True),
     8_537_680_896),  # google/gemma-7b: q_proj 4096 x 3072
    ("mistral.yaml", dict(vocab=32000, d=4096, ff=14336, layers=32, heads=32, kv_heads=8), 7_241_732_096),
    # microsoft/Phi-3-mini (Phi3Config()'s sizes): HF packs qkv_proj and gate_up_proj, the same tensors by rows
    ("mistral.yaml", dict(vocab=32064, d=3072, ff=8192, layers=32, heads=32, kv_heads=32), 3_821_079_552),
    ("llama3_1.yaml", dict(vocab=128256, d=4096, ff=14336, layers=32, heads=32, kv_heads=8),
     8_030_261_248),  # meta-llama/Llama-3.1-8B
    ("llama3_1.yaml", dict(vocab=128256, d=2048, ff=8192, layers=16, heads=32, kv_heads=8, tied=True),
     1_235_814_400),  # meta-llama/Llama-3.2-1B
]


@pytest.mark.parametrize(("stem", "sizes", "published"), FAMILY,
                         ids=["qwen2-0.5b", "qwen2.5-7b", "gemma-2b", "gemma-7b", "mistral-7b", "phi3-mini",
                              "llama3.1-8b", "llama3.2-1b"])
def test_llama_family_has_hugging_faces_counts(stem: str, sizes: dict, published: int) -> None:
    assert decoder_params(**sizes) == published
    overrides = [f"{k}={v}" for k, v in sizes.items() if k not in ("qkv_bias", "tied")]
    if stem in ("qwen2.yaml", "llama3_1.yaml"):  # the specs whose LM head may be tied
        overrides.append(f"tied={str(bool(sizes.get('tied'))).lower()}")
    spec = specc.load(ARCH / stem, overrides=overrides)
    assert spec.check()["total_params"] == published

# -- language models past LLaMA, round 26: parallel blocks, partial and interleaved rotary, multi-query heads,
# non-parametric norms, Gemma 2's softcaps (tests/test_hf_twins.py computes HF's logits where transformers is) ---

# Each count is transformers 5.24's for <Model>ForCausalLM(<Model>Config(...)) at the model card's sizes, built
# on the meta device (no weights downloaded).
ROUND26 = [
    ("falcon", dict(d=4544, heads=71, layers=32, vocab=65024), 6_921_720_704),  # tiiuae/falcon-7b
    # EleutherAI/gpt-j-6b: HF's parameters; the card's 6,053,381,344 is another count
    ("gpt_j", dict(d=4096, heads=16, rotary_dim=64, layers=28, vocab=50400), 6_050_882_784),
    ("phi2", dict(d=2560, heads=32, layers=32, vocab=51200), 2_779_683_840),  # microsoft/phi-2
    ("stablelm2", dict(d=2048, heads=32, ff=5632, layers=24, vocab=100352), 1_644_515_328),  # stablelm-2-1_6b
    ("olmo", dict(d=2048, heads=16, ff=8192, layers=16, vocab=50304, tied=True), 1_176_764_416),  # OLMo-1B-hf
    ("olmo", dict(d=4096, heads=32, ff=11008, layers=32, vocab=50304, tied=False), 6_888_095_744),  # OLMo-7B-hf
    ("gemma2", dict(d=2304, heads=8, kv_heads=4, head_dim=256, ff=9216, pairs=13, vocab=256000),
     2_614_341_888),  # google/gemma-2-2b
    ("gemma2", dict(d=3584, heads=16, kv_heads=8, head_dim=256, ff=14336, pairs=21, vocab=256000),
     9_241_705_984),  # google/gemma-2-9b
    # Qwen/Qwen2.5-7B-Instruct with the YaRN rope_scaling of its card (no parameter of its own)
    ("qwen2_5_yarn", dict(d=3584, heads=28, kv_heads=4, ff=18944, layers=28, vocab=152064, original=32768),
     7_615_616_512),
    # microsoft/Phi-3-mini-128k-instruct: 48 factors per list for heads of 96 (their values add no parameter)
    ("phi3_longrope", dict(d=3072, heads=32, ff=8192, layers=32, vocab=32064, factor=32, original=4096),
     3_821_079_552),
    ("modernbert", dict(d=768, heads=12, ff=1152, triples=7, vocab=50368), 149_014_272),  # ModernBERT-base
    ("modernbert", dict(d=1024, heads=16, ff=2624, triples=9, vocab=50368), 394_781_696),  # ModernBERT-large
    # q_norm / k_norm before the rotary: Qwen3's per head (2·head_dim a layer), OLMo-2's over the projections
    ("qwen3", dict(d=1024, heads=16, kv_heads=8, head_dim=128, ff=3072, layers=28, vocab=151936, tied=True),
     596_049_920),  # Qwen/Qwen3-0.6B
    ("qwen3", dict(d=4096, heads=32, kv_heads=8, head_dim=128, ff=12288, layers=36, vocab=151936, tied=False),
     8_190_735_360),  # Qwen/Qwen3-8B
    ("olmo2", dict(d=2048, heads=16, ff=8192, layers=16, vocab=100352), 1_484_916_736),  # allenai/OLMo-2-0425-1B
    # google/gemma-3-1b-pt: 26 layers, four groups of five windows and a global layer, two windows after
    ("gemma3", dict(d=1152, heads=4, kv_heads=1, head_dim=256, ff=6912, groups=4, tail=2, vocab=262144, window=512),
     999_885_952),
]


def round26_params(stem: str, s: dict) -> int:
    """Each spec's comment's formula: the count follows the architecture, not the spec read back."""
    d, vocab, layers = s["d"], s["vocab"], s.get("layers", 2 * s.get("pairs", 0) or 1 + 3 * s.get("triples", 0))
    if stem == "falcon":
        return vocab * d + layers * (d * (d + 2 * d // s["heads"]) + d * d + 8 * d * d + 2 * d) + 2 * d
    if stem in ("gpt_j", "phi2"):  # phi2's q/k/v/dense biases
        return 2 * vocab * d + vocab + layers * (12 * d * d + 7 * d + (4 * d if stem == "phi2" else 0)) + 2 * d
    if stem == "stablelm2":
        return 2 * vocab * d + layers * (4 * d * d + 3 * d + 3 * d * s["ff"] + 4 * d) + 2 * d
    if stem == "olmo":
        return vocab * d * (1 if s["tied"] else 2) + layers * (4 * d * d + 3 * d * s["ff"])
    if stem == "qwen2_5_yarn":
        kv = s["kv_heads"] * d // s["heads"]
        return 2 * vocab * d + layers * (2 * d * d + 2 * d * kv + d + 2 * kv + 3 * d * s["ff"] + 2 * d) + d
    if stem == "phi3_longrope":
        return 2 * vocab * d + layers * (4 * d * d + 3 * d * s["ff"] + 2 * d) + d
    if stem == "modernbert":  # ModernBertModel: bias-free norms, the first layer's attn_norm an Identity
        return vocab * d + d + layers * (4 * d * d + 3 * d * s["ff"] + 2 * d) - d + d
    if stem == "olmo2":  # q_norm and k_norm of d each (16 key/value heads: kv = d), two norms after the sublayers
        return 2 * vocab * d + layers * (4 * d * d + 2 * d + 3 * d * s["ff"] + 2 * d) + d
    q, kv = s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]
    if stem == "gemma3":  # sandwich norms, q_norm and k_norm of head_dim, the LM head tied
        layers = 6 * s["groups"] + s["tail"]
        return vocab * d + layers * (2 * d * q + 2 * d * kv + 2 * s["head_dim"] + 3 * d * s["ff"] + 4 * d) + d
    if stem == "qwen3":
        tied = 1 if s["tied"] else 2
        return tied * vocab * d + layers * (2 * d * q + 2 * d * kv + 2 * s["head_dim"] + 3 * d * s["ff"] + 2 * d) + d
    # gemma2: four norms a layer
    return vocab * d + layers * (2 * d * q + 2 * d * kv + 3 * d * s["ff"] + 4 * d) + d


@pytest.mark.parametrize(("stem", "sizes", "published"), ROUND26,
                         ids=["falcon-7b", "gpt-j-6b", "phi-2", "stablelm-2-1.6b", "olmo-1b", "olmo-7b", "gemma-2-2b",
                              "gemma-2-9b", "qwen2.5-7b-yarn", "phi-3-mini-128k", "modernbert-base",
                              "modernbert-large", "qwen3-0.6b", "qwen3-8b", "olmo-2-1b", "gemma-3-1b"])
def test_round26_language_models_have_hugging_faces_counts(stem: str, sizes: dict, published: int) -> None:
    assert round26_params(stem, sizes) == published
    text = (ARCH / f"{stem}.yaml").read_text()
    if stem == "phi3_longrope":  # overrides are scalars: the 48-entry factor lists of heads of 96 go into vars
        ones = ", ".join(["1.0"] * 48)
        text = re.sub(r"short: \[[^]]*\], long: \[[^]]*\]", f"short: [{ones}], long: [{ones}]", text)
    spec = specc.loads(text, f"{stem}.yaml", overrides=sizes)
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    assert spec.check()["total_params"] == published


# -- round 27: Falcon's new decoder (two LayerNorms, grouped heads), Command R+'s LayerNorm of each query and key head,
# OLMo 1.7's clip_qkv (no parameter: OLMo-7B's count); each transformers 5.24's, built on the meta device ------------

ROUND27 = [
    ("falcon_40b", dict(d=8192, heads=128, kv_heads=8, layers=60, vocab=65024), 41_303_293_952),  # tiiuae/falcon-40b
    ("falcon_40b", dict(d=14848, heads=232, kv_heads=8, layers=80, vocab=65024), 178_557_088_768),  # falcon-180B
    ("cohere", dict(d=12288, heads=96, kv_heads=8, ff=33792, layers=64, vocab=256000),
     103_810_674_688),  # CohereForAI/c4ai-command-r-plus
    ("olmo", dict(d=4096, heads=32, ff=11008, layers=32, vocab=50304, tied=False, clip=8.0),
     6_888_095_744),  # allenai/OLMo-7B-0424-hf
    # deepseek-ai/DeepSeek-V2-Lite: latent attention, a dense first layer, 26 of 64 routed + 2 shared experts
    ("deepseek_v2_lite", dict(d=2048, heads=16, kv_rank=512, nope=128, rope=64, v=128, ff=10944, moe_ff=1408,
                              experts=64, k=6, shared=2, layers=27, vocab=102400), 15_706_484_224),
]


def round27_params(stem: str, s: dict) -> int:
    """Each spec's comment's formula."""
    d, vocab, layers, heads = s["d"], s["vocab"], s["layers"], s["heads"]
    head_dim = d // heads
    if stem == "falcon_40b":
        qkv = d * (heads + 2 * s["kv_heads"]) * head_dim
        return vocab * d + layers * (qkv + d * d + 8 * d * d + 4 * d) + 2 * d
    if stem == "cohere":
        kv = s["kv_heads"] * head_dim
        norms = (heads + s["kv_heads"]) * head_dim
        return vocab * d + layers * (2 * d * d + 2 * d * kv + norms + 3 * d * s["ff"] + d) + d
    if stem == "deepseek_v2_lite":
        nope, rope, v, kv_rank, moe = s["nope"], s["rope"], s["v"], s["kv_rank"], s["moe_ff"]
        attention = d * heads * (nope + rope) + d * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v) \
            + heads * s["v"] * d
        experts = s["experts"] * 3 * d * moe + d * s["experts"] + 3 * d * s["shared"] * moe
        return 2 * vocab * d + layers * (attention + 2 * d) + 3 * d * s["ff"] + (layers - 1) * experts + d
    return round26_params(stem, s)


@pytest.mark.parametrize(("stem", "sizes", "published"), ROUND27,
                         ids=["falcon-40b", "falcon-180b", "command-r-plus", "olmo-7b-0424", "deepseek-v2-lite"])
def test_round27_language_models_have_hugging_faces_counts(stem: str, sizes: dict, published: int) -> None:
    assert round27_params(stem, sizes) == published
    spec = specc.load(ARCH / f"{stem}.yaml", overrides=sizes)
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    assert spec.check()["total_params"] == published


# -- DeepSeek's multi-head latent attention: one layer's count, transformers 5.24's DeepseekV3Attention(config) on
# the meta device (the decoders around it are MoE models this corpus does not write) ------------------------------

MLA_SIZES = [  # hidden_size, heads, q_lora_rank; kv_lora_rank 512, qk_nope 128, qk_rope 64, v 128 in all three
    (7168, 128, 1536, 187_107_328),  # deepseek-ai/DeepSeek-V3 (and R1)
    (5120, 128, 1536, 149_227_520),  # deepseek-ai/DeepSeek-V2
    (2048, 16, None, 13_763_072),  # deepseek-ai/DeepSeek-V2-Lite: one q_proj
]


@pytest.mark.parametrize(("e", "heads", "q_rank", "published"), MLA_SIZES, ids=["deepseek-v3", "deepseek-v2",
                                                                               "deepseek-v2-lite"])
def test_latent_attention_has_hugging_faces_counts(e: int, heads: int, q_rank: int | None, published: int) -> None:
    kv_rank, nope, rope, v = 512, 128, 64, 128
    q = e * heads * (nope + rope) if q_rank is None else e * q_rank + q_rank + q_rank * heads * (nope + rope)
    assert q + e * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v) + heads * v * e == published
    ranks = "" if q_rank is None else f"q_lora_rank: {q_rank}, "
    spec = specc.loads(f"specc: 1\ninputs:\n  x: [B, T, {e}]\nlayers:\n  - {{type: MultiheadLatentAttention, "
                       f"num_heads: {heads}, {ranks}kv_lora_rank: {kv_rank}, qk_nope_head_dim: {nope}, "
                       f"qk_rope_head_dim: {rope}, v_head_dim: {v}, causal: true}}\n", "mla.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    assert spec.check()["total_params"] == published


# -- MADE (Germain et al. 2015) as nflows 0.14 writes it: the masks of made: on Linear --------------------------------

MADE_SIZES = [
    (dict(features=784, hidden=500, blocks=0, multiplier=1), 785_284),  # the paper's one hidden layer, MNIST
    (dict(features=784, hidden=500, blocks=1, multiplier=1), 1_035_784),  # its two hidden layers
    (dict(features=784, hidden=1024, blocks=1, multiplier=2), 3_460_640),  # MAF's MADE on MNIST (mean, log-scale)
]


@pytest.mark.parametrize(("sizes", "published"), MADE_SIZES, ids=["made-1x500", "made-2x500", "maf-made-2x1024"])
def test_made_has_nflows_counts(sizes: dict, published: int) -> None:
    # nflows' MADE(features, hidden_features, num_blocks, output_multiplier, use_residual_blocks=False,
    # random_mask=False): sum(p.numel() for p in made.parameters())
    f, h, b, m = sizes["features"], sizes["hidden"], sizes["blocks"], sizes["multiplier"]
    assert f * h + h + b * (h * h + h) + h * f * m + f * m == published
    spec = specc.load(ARCH / "made.yaml", overrides=sizes)
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    assert spec.check()["total_params"] == published


def _made_spec_and_oracle() -> tuple[nn.Module, nn.Module]:
    """made.yaml at 5 inputs, hidden layers of 7, 2 outputs per input, and nflows' MADE of those sizes written
    with layer_cases' transcription of its MaskedLinear (the spec's weights copied in, its masks not)."""
    spec = specc.load(ARCH / "made.yaml", overrides={"features": 5, "hidden": 7, "blocks": 1, "multiplier": 2})
    model = build_module(spec, seed=0).eval()
    hidden = torch.arange(7) % 4 + 1
    oracle = nn.ModuleDict({"initial_layer": NflowsMaskedLinear(torch.arange(1, 6), 7, 5, False),
                            "blocks_0_linear": NflowsMaskedLinear(hidden, 7, 5, False),
                            "final_layer": NflowsMaskedLinear(hidden, 10, 5, True)})
    state = {k.replace("blocks.0.linear", "blocks_0_linear"): v for k, v in model.state_dict().items()
             if not k.endswith("mask")}
    missing, unexpected = oracle.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("mask") for k in missing), (missing, unexpected)
    return model, oracle


def test_made_computes_nflows_outputs_and_is_autoregressive() -> None:
    model, oracle = _made_spec_and_oracle()
    relu = torch.relu
    x = torch.randn(6, 5, requires_grad=True)
    with torch.no_grad():
        want = oracle["final_layer"](relu(oracle["blocks_0_linear"](relu(oracle["initial_layer"](x)))))
        torch.testing.assert_close(model(x), want)
    # output j (of input j // 2 + 1) moves with inputs 1..j // 2 alone: the first input's two outputs with none
    jac = torch.autograd.functional.jacobian(lambda v: model(v).sum(0), x).abs().sum(1)  # (10, 5)
    degree = torch.arange(10)[:, None] // 2 + 1
    reads = torch.arange(1, 6)[None, :]
    assert torch.all(jac[(reads >= degree).expand(10, 5)] == 0)
    # and every earlier input has a path to it through the masks (the ReLUs may close one for some samples)
    masks = dict(model.named_buffers())
    paths = masks["final_layer.mask"] @ masks["blocks.0.linear.mask"] @ masks["initial_layer.mask"]
    assert torch.equal(paths > 0, (reads < degree).expand(10, 5))


def test_made_loads_nflows_own_weights() -> None:
    # where nflows is installed: its MADE's state dict (less its degrees buffers) loads into made.yaml's module
    made = pytest.importorskip("nflows.transforms.made")
    torch.manual_seed(0)
    ref = made.MADE(features=5, hidden_features=7, num_blocks=1, output_multiplier=2, use_residual_blocks=False,
                    random_mask=False).eval()
    spec = specc.load(ARCH / "made.yaml", overrides={"features": 5, "hidden": 7, "blocks": 1, "multiplier": 2})
    model = build_module(spec).eval()
    model.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.endswith("degrees")}, strict=True)
    own = build_module(spec).state_dict()
    for key, mask in ref.state_dict().items():
        if key.endswith("mask"):
            assert torch.equal(own[key], mask), key  # the spec's own masks are nflows'
    x = torch.randn(4, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


# -- published architectures written from their reference code, round 24 ------------------------------------------

class ECABasicBlock(TVBasicBlock):
    """BangguWu/ECANet models/eca_resnet.py ECABasicBlock: torchvision's BasicBlock, eca_layer after bn2."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 k_size: int = 3) -> None:
        super().__init__(inplanes, planes, stride, downsample)
        self.eca = nn.Conv1d(1, 1, k_size, padding=(k_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        y = self.eca(out.mean((2, 3)).unsqueeze(1))  # eca_layer: avg_pool, conv over the channels, sigmoid
        out = out * torch.sigmoid(y).squeeze(1)[:, :, None, None]
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class PyGATLayer(nn.Module):
    """Diego999/pyGAT layers.py GraphAttentionLayer (batched)."""

    def __init__(self, fin: int, fout: int, concat: bool) -> None:
        super().__init__()
        self.W, self.a = nn.Parameter(torch.randn(fin, fout)), nn.Parameter(torch.randn(2 * fout, 1))
        self.concat = concat

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        wh = h @ self.W
        f = wh.shape[-1]
        e = nn.functional.leaky_relu(wh @ self.a[:f] + (wh @ self.a[f:]).transpose(1, 2), 0.2)
        attention = torch.softmax(torch.where(adj > 0, e, -9e15 * torch.ones_like(e)), dim=-1)
        out = attention @ wh
        return nn.functional.elu(out) if self.concat else out


class PyGAT(nn.Module):
    def __init__(self, nfeat: int = 1433, nhid: int = 8, nclass: int = 7, heads: int = 8) -> None:
        super().__init__()
        self.attentions = nn.ModuleList(PyGATLayer(nfeat, nhid, True) for _ in range(heads))
        self.out_att = PyGATLayer(nhid * heads, nclass, False)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        x = torch.cat([att(x, adj) for att in self.attentions], dim=-1)
        return torch.log_softmax(nn.functional.elu(self.out_att(x, adj)), dim=-1)


class NonLocal2d(nn.Module):
    """AlexHex7/Non-local_pytorch NONLocalBlock2D, embedded Gaussian, sub_sample and bn_layer on."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.g, self.theta, self.phi = (nn.Conv2d(c, c // 2, 1) for _ in range(3))
        self.W = nn.Sequential(nn.Conv2d(c // 2, c, 1), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g_x = nn.functional.max_pool2d(self.g(x), 2).flatten(2).transpose(1, 2)
        theta_x = self.theta(x).flatten(2).transpose(1, 2)
        phi_x = nn.functional.max_pool2d(self.phi(x), 2).flatten(2)
        y = (torch.softmax(theta_x @ phi_x, dim=-1) @ g_x).transpose(1, 2).reshape(b, c // 2, h, w)
        return self.W(y) + x


class SASRecRef(nn.Module):
    """pmixer/SASRec.pytorch model.py SASRec.log2feats, then predict's scores of every item."""

    def __init__(self, items: int = 3416, maxlen: int = 200, d: int = 50, blocks: int = 2, heads: int = 1) -> None:
        super().__init__()
        self.item_emb = nn.Embedding(items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen + 1, d, padding_idx=0)
        self.attention_layernorms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(blocks))
        self.attention_layers = nn.ModuleList(nn.MultiheadAttention(d, heads) for _ in range(blocks))
        self.forward_layernorms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(blocks))
        self.conv1 = nn.ModuleList(nn.Conv1d(d, d, 1) for _ in range(blocks))
        self.conv2 = nn.ModuleList(nn.Conv1d(d, d, 1) for _ in range(blocks))
        self.last_layernorm = nn.LayerNorm(d, eps=1e-8)

    def forward(self, log_seqs: torch.Tensor) -> torch.Tensor:
        seqs = self.item_emb(log_seqs) * self.item_emb.embedding_dim ** 0.5
        poss = torch.arange(1, log_seqs.shape[1] + 1).expand_as(log_seqs) * (log_seqs != 0)
        seqs = seqs + self.pos_emb(poss)
        tl = seqs.shape[1]
        attention_mask = ~torch.tril(torch.ones((tl, tl), dtype=torch.bool))
        for i in range(len(self.attention_layers)):
            seqs = torch.transpose(seqs, 0, 1)
            q = self.attention_layernorms[i](seqs)
            mha_outputs, _ = self.attention_layers[i](q, seqs, seqs, attn_mask=attention_mask)
            seqs = torch.transpose(q + mha_outputs, 0, 1)
            seqs = self.forward_layernorms[i](seqs)
            ffn = self.conv2[i](torch.relu(self.conv1[i](seqs.transpose(-1, -2)))).transpose(-1, -2)
            seqs = ffn + seqs
        return self.last_layernorm(seqs)[:, -1, :] @ self.item_emb.weight.T


@pytest.mark.parametrize(("stem", "overrides", "published"), [
    # BangguWu/ECANet eca_resnet18 (k_size 3 everywhere): torchvision resnet18's 11,689,512 + 8 convs of 3
    ("eca_resnet18", ["w=64"], 11_689_512 + 8 * 3),
    # Diego999/pyGAT GAT(1433, 8, 7, dropout 0.6, alpha 0.2, nheads 8) on Cora
    ("gat_cora", [], 8 * (1433 * 8 + 2 * 8) + 64 * 7 + 2 * 7),
    # pmixer/SASRec.pytorch at ML-1M (3416 items, maxlen 200, 50 hidden units, 2 blocks, 1 head)
    ("sasrec", [], 212_000),
    # HF ElectraForPreTraining(ElectraConfig(embedding_size=128, hidden_size=256, 12 layers, 4 heads,
    # intermediate 1024)), google/electra-small-discriminator's config, counted in a throwaway venv
    ("electra_small_discriminator", ["layers=12"], 13_549_057),
    # jaywonchung/BERT4Rec-VAE-Pytorch BERTModel at ML-1M (3416 items, max_len 100, hidden 256, 2 blocks)
    ("bert4rec", ["d=256"], 3_358_297),
    # HF EncodecModel(EncodecConfig()).encoder, encodec_24khz's settings, counted in a throwaway venv
    ("encodec_encoder", ["nf=32"], 7_425_792),
    # timm cait_xxs24_224 and resmlp_12_224 (timm.create_model(..., pretrained=False)), counted in a throwaway venv
    ("cait_xxs", ["image_size=224", "patch=16", "d=192", "depth=24"], 11_956_264),
    ("resmlp_12", ["image_size=224", "patch=16", "d=384", "depth=12"], 15_350_872),
    # DingXiaoH/RepVGG create_RepVGG_A0(deploy=False), the training-time network (built below)
    ("repvgg_a0", ["d2=4", "d3=14"], 9_108_968),
    # PyTorch Geometric SAGEConv(1433, 256) + SAGEConv(256, 7), and examples/gin.py's Net(7, 32, 2, 5)
    ("graphsage", [], 2 * 1433 * 256 + 256 + 2 * 256 * 7 + 7),
    ("gin_mutag", [], 11_202),
])
def test_round24_published_sizes(stem: str, overrides: list[str], published: int) -> None:
    spec = specc.load(ARCH / f"{stem}.yaml", overrides=overrides)
    assert spec.ok, [d.render() for d in spec.errors]
    assert spec.check()["total_params"] == published


def test_round24_formulas_match_the_published_counts() -> None:
    # the counts pinned above from the reference modules' own constructors (written in this file)
    assert _meta_count(lambda: TVResNet(ECABasicBlock, [2, 2, 2, 2])) == 11_689_536
    assert _meta_count(PyGAT) == 92_302
    assert _meta_count(SASRecRef) == 212_000
    # BERT4Rec: (items + 2)·d tokens, 100·d positions, 2 pre-norm blocks, the Linear to items + 1
    d = 256
    assert 3418 * d + 100 * d + 2 * (4 * (d * d + d) + 2 * 4 * d * d + 4 * d + d + 4 * d) + d * 3417 + 3417 == 3_358_297


def test_round24_eca_resnet18_is_the_reference_network() -> None:
    spec = specc.load(ARCH / "eca_resnet18.yaml", overrides=["w=64"])
    built, twin, x = build_module(spec), TVResNet(ECABasicBlock, [2, 2, 2, 2]), torch.randn(2, 3, 64, 48)
    assert counts(built) == counts(twin)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-4)


def test_round24_gat_is_pygats_network() -> None:
    # the 8 heads' W side by side are the spec's Linear (transposed), their a halves its grouped convs
    built, twin = build_module(specc.load(ARCH / "gat_cora.yaml")).eval(), PyGAT().eval()
    heads = twin.attentions
    with torch.no_grad():
        for m in twin.parameters():
            m.copy_(torch.randn_like(m) * 0.1)
        built.get_submodule("W").weight.copy_(torch.cat([h.W for h in heads], dim=1).T)
        built.get_submodule("a_src").weight.copy_(torch.cat([h.a[:8] for h in heads]).reshape(8, 8, 1))
        built.get_submodule("a_dst").weight.copy_(torch.cat([h.a[8:] for h in heads]).reshape(8, 8, 1))
        built.get_submodule("W_out").weight.copy_(twin.out_att.W.T)
        built.get_submodule("a_src_out").weight.copy_(twin.out_att.a[:7].T)
        built.get_submodule("a_dst_out").weight.copy_(twin.out_att.a[7:].T)
        x, adj = torch.randn(2, 11, 1433), (torch.rand(2, 11, 11) < 0.3).float() + torch.eye(11)
        torch.testing.assert_close(built(x, adj), twin(x, adj), rtol=1e-4, atol=1e-5)


def test_round24_non_local_block_is_the_reference_block() -> None:
    # 2,101,760 parameters at 1024 channels (ResNet-50's res4, the paper's place for it)
    assert _meta_count(lambda: NonLocal2d(1024)) == 3 * (1024 * 512 + 512) + 512 * 1024 + 1024 + 2 * 1024
    built = build_module(specc.load(ARCH / "non_local_block.yaml")).eval()
    block = NonLocal2d(64).eval()
    with torch.no_grad():
        nn.init.normal_(block.W[1].weight), nn.init.normal_(block.W[1].running_var).abs_()
        for name in ("g", "theta", "phi"):
            built.get_submodule(name).load_state_dict(getattr(block, name).state_dict())
        built.get_submodule("W").load_state_dict(block.W[0].state_dict())
        built.get_submodule("W_bn").load_state_dict(block.W[1].state_dict())
        x = torch.randn(2, 3, 14, 10)
        stem = torch.relu(built.get_submodule("stem")(x))
        want = built.get_submodule("linear_1")(block(stem).mean((2, 3)))
        torch.testing.assert_close(built(x), want, rtol=1e-4, atol=1e-5)


def test_round24_sasrec_is_pmixers_network() -> None:
    built, twin = build_module(specc.load(ARCH / "sasrec.yaml")).eval(), SASRecRef().eval()
    theirs = twin.state_dict()
    # the scores' Linear is tied to the item table: the state dict holds it under both names
    state = {"item_emb.weight": theirs["item_emb.weight"], "scores.weight": theirs["item_emb.weight"],
             "pos_emb.weight": theirs["pos_emb.weight"],
             "last_layernorm.weight": theirs["last_layernorm.weight"],
             "last_layernorm.bias": theirs["last_layernorm.bias"]}
    for i in range(2):
        for ours, ref in (("Q", f"attention_layernorms.{i}"), ("attn", f"attention_layers.{i}"),
                          ("ln", f"forward_layernorms.{i}"), ("conv1", f"conv1.{i}"), ("conv2", f"conv2.{i}")):
            state |= {f"layers.{i}.{ours}.{k[len(ref) + 1:]}": v for k, v in theirs.items() if k.startswith(ref + ".")}
    assert set(state) == set(built.state_dict())
    built.load_state_dict(state)
    seq = torch.randint(1, 3417, (3, 9))
    seq[0, :4] = 0  # left padding, as SASRec's data loader pads
    with torch.no_grad():
        torch.testing.assert_close(built(seq), twin(seq), rtol=1e-4, atol=1e-4)


class TimmSwinBlock(nn.Module):
    """timm swin_transformer.py SwinTransformerBlock (v1): window attention on a (B, H, W, C) map, rolled by
    -shift first and back after, the relative position bias (a table indexed by get_relative_position_index)
    added to the scores, and calculate_mask's mask."""

    def __init__(self, dim: int, heads: int, res: int, ws: int, shift: int) -> None:
        super().__init__()
        self.heads, self.ws, self.shift = heads, ws, shift
        self.norm1, self.qkv, self.proj = nn.LayerNorm(dim), nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.norm2, self.fc1, self.fc2 = nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) * (2 * ws - 1), heads))
        self.register_buffer("relative_position_index", timm_relative_position_index(ws, ws), persistent=False)
        mask = None
        if shift:
            img = torch.zeros(1, res, res, 1)
            cnt = 0
            for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                    img[:, h, w, :] = cnt
                    cnt += 1
            windows = self.partition(img).reshape(-1, ws * ws)
            mask = (windows.unsqueeze(1) - windows.unsqueeze(2)).ne(0).float() * -100.0
        self.register_buffer("attn_mask", mask, persistent=False)

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws = self.ws
        return x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), (1, 2))
        win = self.partition(x).reshape(-1, self.ws * self.ws, c)
        q, k, v = self.qkv(win).reshape(win.shape[0], -1, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        n = self.ws * self.ws
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        a = a + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if self.attn_mask is not None:
            nw = self.attn_mask.shape[0]
            a = (a.view(-1, nw, self.heads, a.shape[-2], a.shape[-1]) + self.attn_mask[None, :, None]).flatten(0, 1)
        y = self.proj((a.softmax(-1) @ v).transpose(1, 2).reshape(win.shape[0], -1, c))
        y = y.view(b, h // self.ws, w // self.ws, self.ws, self.ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return torch.roll(y, (self.shift, self.shift), (1, 2)) if self.shift else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))


def test_round24_swin_shifted_window_blocks_are_timms() -> None:
    # timm's SwinTransformer(img_size=64, window_size=4, depths=(2, 2), num_heads=(3, 6)) has 1,387,066
    # parameters (timm 1.0.31), 882 in its relative position tables; the spec's blocks 3 and 4 (W-MSA, then
    # SW-MSA with the roll and the mask), tables included, compute what timm's do (the whole network
    # against timm's SwinTransformer with every weight drawn: max |diff| 4.8e-7)
    assert specc.load(ARCH / "swin_shifted.yaml").check()["total_params"] == 1_387_066
    built = build_module(specc.load(ARCH / "swin_shifted.yaml")).eval()
    twins = [TimmSwinBlock(96, 3, 16, 4, 0).eval(), TimmSwinBlock(96, 3, 16, 4, 2).eval()]
    x = torch.randn(2, 16, 16, 96)
    with torch.no_grad():
        for name, twin in zip(("stage1_0", "stage1_1"), twins):
            block = built.get_submodule(name)
            for p in twin.parameters():
                p.copy_(torch.randn_like(p) * 0.2)
            mine = dict(block.named_parameters())
            state = {"norm1.weight": twin.norm1.weight, "norm1.bias": twin.norm1.bias,
                     "attn.in_proj_weight": twin.qkv.weight, "attn.in_proj_bias": twin.qkv.bias,
                     "attn.out_proj.weight": twin.proj.weight, "attn.out_proj.bias": twin.proj.bias,
                     "mlp.norm2.weight": twin.norm2.weight, "mlp.norm2.bias": twin.norm2.bias,
                     "mlp.fc1.weight": twin.fc1.weight, "mlp.fc1.bias": twin.fc1.bias,
                     "mlp.fc2.weight": twin.fc2.weight, "mlp.fc2.bias": twin.fc2.bias,
                     "relative_position_bias_table.weight": twin.relative_position_bias_table}
            assert set(state) == set(mine)
            for k, v in state.items():
                mine[k].copy_(v)
            torch.testing.assert_close(block(x), twin(x), rtol=1e-4, atol=1e-4)


def _conv_bn(cin: int, cout: int, k: int, stride: int, padding: int) -> nn.Module:
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(cin, cout, k, stride, padding, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(cout))
    return seq


class RepVGGBlock(nn.Module):
    """DingXiaoH/RepVGG repvgg.py RepVGGBlock at training time (deploy=False, no SE)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.rbr_dense, self.rbr_1x1 = _conv_bn(cin, cout, 3, stride, 1), _conv_bn(cin, cout, 1, stride, 0)
        self.rbr_identity = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = 0 if self.rbr_identity is None else self.rbr_identity(x)
        return torch.relu(self.rbr_dense(x) + self.rbr_1x1(x) + identity)


def repvgg_a0(classes: int = 1000, num_blocks: tuple[int, ...] = (2, 4, 14, 1)) -> nn.Module:
    # create_RepVGG_A0: num_blocks [2, 4, 14, 1], width_multiplier [0.75, 0.75, 0.75, 2.5]
    blocks, widths, cin = [RepVGGBlock(3, 48, 2)], [48, 96, 192, 1280], 48
    for n, w in zip(num_blocks, widths):
        for i in range(n):
            blocks.append(RepVGGBlock(cin, w, 2 if i == 0 else 1))
            cin = w
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes))


def test_round24_repvgg_a0_is_the_reference_network() -> None:
    assert _meta_count(repvgg_a0) == 9_108_968
    spec = specc.load(ARCH / "repvgg_a0.yaml")  # the spec's depths: 2, 2, 2, 1
    built, twin, x = build_module(spec), repvgg_a0(num_blocks=(2, 2, 2, 1)), torch.randn(2, 3, 64, 48)
    assert spec.check()["total_params"] == counts(built)[0]
    assert counts(built) == counts(twin)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-4)


class DenseSAGEConv(nn.Module):
    """PyTorch Geometric SAGEConv(aggr="mean"): lin_l(mean of the neighbours) + lin_r(x), on a dense adjacency
    (scatter's mean leaves a node without neighbours at 0: the degree is clamped at 1)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.lin_l, self.lin_r = nn.Linear(cin, cout), nn.Linear(cin, cout, bias=False)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return self.lin_l(adj @ x / adj.sum(-1, keepdim=True).clamp(min=1)) + self.lin_r(x)


class GINRef(nn.Module):
    """PyTorch Geometric examples/gin.py Net: GINConv(MLP([in, h, h]), train_eps=False) x 5, global_add_pool,
    MLP([h, h, out], norm=None, dropout=0.5); PyG's MLP is Linear, BatchNorm, ReLU, Linear (plain last)."""

    def __init__(self, cin: int = 7, h: int = 32, cout: int = 2, layers: int = 5) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(cin if i == 0 else h, h), nn.BatchNorm1d(h), nn.ReLU(),
                                                nn.Linear(h, h)) for i in range(layers))
        self.head = nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Dropout(0.5), nn.Linear(h, cout))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        for mlp in self.mlps:
            x = torch.relu(mlp((x + adj @ x).reshape(b * n, -1)).reshape(b, n, -1))  # eps = 0
        return self.head(x.sum(1))


def test_round24_graph_networks_are_pygs() -> None:
    sage = build_module(specc.load(ARCH / "graphsage.yaml")).eval()
    conv1, conv2 = DenseSAGEConv(1433, 256), DenseSAGEConv(256, 7)
    assert counts(sage)[0] == counts(conv1)[0] + counts(conv2)[0] == 737_543
    gin, twin = build_module(specc.load(ARCH / "gin_mutag.yaml")), GINRef()
    assert counts(gin) == counts(twin) and counts(gin)[0] == 11_202
    x, adj = torch.randn(2, 9, 7), (torch.rand(2, 9, 9) < 0.3).float()
    adj[:, 4] = 0  # a node without neighbours
    copy_in_run_order(gin, twin, x, adj)
    with torch.no_grad():
        for conv, ref in ((sage.get_submodule("conv1"), conv1), (sage.get_submodule("conv2"), conv2)):
            conv.load_state_dict(ref.state_dict())
        h = torch.randn(2, 9, 1433)
        want = torch.log_softmax(conv2(torch.relu(conv1(h, adj)), adj), -1)
        torch.testing.assert_close(sage(h, adj), want, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(gin.eval()(x, adj), twin.eval()(x, adj), rtol=1e-4, atol=1e-5)


class TSMixerRef(nn.Module):
    """google-research tsmixer_basic/models/tsmixer.py build_model (norm_type "B", relu), in PyTorch: Keras'
    BatchNormalization(axis=[-2, -1]) is a BatchNorm1d over the flattened (L, C) plane."""

    def __init__(self, length: int = 64, c: int = 7, horizon: int = 96, ff_dim: int = 64, n_block: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "norm1": nn.BatchNorm1d(length * c, eps=1e-3, momentum=0.01), "temporal": nn.Linear(length, length),
            "norm2": nn.BatchNorm1d(length * c, eps=1e-3, momentum=0.01), "feature1": nn.Linear(c, ff_dim),
            "feature2": nn.Linear(ff_dim, c)}) for _ in range(n_block))
        self.projection = nn.Linear(length, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            h = b["norm1"](x.flatten(1)).view_as(x)
            res = torch.relu(b["temporal"](h.transpose(1, 2))).transpose(1, 2) + x
            h = b["norm2"](res.flatten(1)).view_as(res)
            x = b["feature2"](torch.relu(b["feature1"](h))) + res
        return self.projection(x.transpose(1, 2)).transpose(1, 2)


def test_round24_tsmixer_is_the_reference_network() -> None:
    assert _meta_count(lambda: TSMixerRef(512)) == 605_166
    assert specc.load(ARCH / "tsmixer.yaml", overrides=["L=512"]).check()["total_params"] == 605_166
    built, twin, x = build_module(specc.load(ARCH / "tsmixer.yaml")), TSMixerRef(), torch.randn(3, 64, 7)
    assert counts(built) == counts(twin)
    with torch.no_grad():
        for b in twin.modules():
            if isinstance(b, nn.BatchNorm1d):
                b.running_mean.normal_(), b.running_var.uniform_(0.5, 2.0)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)


class EncodecConv(nn.Module):
    """HF modeling_encodec EncodecConv1d (causal, weight norm, reflect padding), with its extra right padding
    up to a whole number of frames."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(cin, cout, k, stride, dilation=dilation))
        self.k, self.stride, self.pad = (k - 1) * dilation + 1, stride, (k - 1) * dilation - (stride - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = (x.shape[-1] - self.k + self.pad) / self.stride + 1
        extra = (math.ceil(frames) - 1) * self.stride + (self.k - self.pad) - x.shape[-1]
        return self.conv(nn.functional.pad(x, (self.pad, extra), mode="reflect"))


class EncodecResnet(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), EncodecConv(dim, dim // 2, 3), nn.ELU(), EncodecConv(dim // 2, dim, 1))
        self.shortcut = EncodecConv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class EncodecEncoderRef(nn.Module):
    """HF EncodecEncoder at EncodecConfig()'s settings (encodec_24khz)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [EncodecConv(1, 32, 7)]
        for i, ratio in enumerate((2, 4, 5, 8)):
            dim = 32 * 2 ** i
            layers += [EncodecResnet(dim), nn.ELU(), EncodecConv(dim, 2 * dim, 2 * ratio, ratio)]
        self.down, self.lstm = nn.Sequential(*layers), nn.LSTM(512, 512, 2)
        self.out = nn.Sequential(nn.ELU(), EncodecConv(512, 128, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down(x).permute(2, 0, 1)
        return self.out((self.lstm(h)[0] + h).permute(1, 2, 0))


def test_round24_encodec_encoder_is_hfs() -> None:
    # 7,425,792 parameters (HF's count, pinned above); at a whole number of 320-sample frames HF pads
    # nothing on the right, and the spec's left-only reflection is its encoder
    spec = specc.load(ARCH / "encodec_encoder.yaml", overrides=["nf=32"])
    built, twin = build_module(spec).eval(), EncodecEncoderRef().eval()
    assert counts(built) == counts(twin) and counts(twin)[0] == 7_425_792
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 1, 320 * 9)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-5)


# -- round 25 ----------------------------------------------------------------------------------------------------

def _sparsemax_ref(x: torch.Tensor) -> torch.Tensor:
    # pytorch-tabnet sparsemax.py's SparsemaxFunction.forward over the last dim
    z = x - x.max(-1, keepdim=True).values
    ranked = z.sort(-1, descending=True).values
    sums = ranked.cumsum(-1) - 1
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = (k * ranked > sums).sum(-1, keepdim=True)
    return (z - sums.gather(-1, support - 1) / support).clamp(min=0)


class TabNetGLU(nn.Module):
    def __init__(self, fc: nn.Linear, width: int) -> None:
        super().__init__()
        self.fc, self.bn, self.width = fc, nn.BatchNorm1d(2 * width, momentum=0.02), width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.fc(x))
        return h[:, :self.width] * torch.sigmoid(h[:, self.width:])


class TabNetFeat(nn.Module):
    def __init__(self, shared: nn.ModuleList, width: int) -> None:
        super().__init__()
        self.glus = nn.ModuleList([TabNetGLU(shared[0], width), TabNetGLU(shared[1], width),
                                   *(TabNetGLU(nn.Linear(width, 2 * width, bias=False), width) for _ in range(2))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.glus[0](x)
        for glu in self.glus[1:]:
            x = (x + glu(x)) * math.sqrt(0.5)
        return x


class TabNetRef(nn.Module):
    """pytorch-tabnet 4.1 tab_network.py TabNetNoEmbeddings (its encoder, FeatTransformer, GLU_Block,
    AttentiveTransformer), with a BatchNorm1d for GBN: the same at batches up to virtual_batch_size (128).
    Checked once against pytorch-tabnet itself (weights copied in run order: outputs equal to the bit);
    the library's own module also holds an initial_bn of 108 parameters that its forward never calls."""

    def __init__(self, features: int = 54, classes: int = 7, n_d: int = 8, n_a: int = 8, steps: int = 3,
                 gamma: float = 1.3) -> None:
        super().__init__()
        w = n_d + n_a
        self.n_d, self.gamma = n_d, gamma
        self.initial_bn = nn.BatchNorm1d(features, momentum=0.01)
        shared = nn.ModuleList([nn.Linear(features, 2 * w, bias=False), nn.Linear(w, 2 * w, bias=False)])
        self.splitter = TabNetFeat(shared, w)
        self.feat = nn.ModuleList(TabNetFeat(shared, w) for _ in range(steps))
        self.att = nn.ModuleList(nn.Sequential(nn.Linear(n_a, features, bias=False),
                                               nn.BatchNorm1d(features, momentum=0.02)) for _ in range(steps))
        self.final_mapping = nn.Linear(n_d, classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial_bn(x)
        prior, att, res = torch.ones_like(x), self.splitter(x)[:, self.n_d:], 0
        for feat, attentive in zip(self.feat, self.att):
            m = _sparsemax_ref(attentive(att) * prior)
            prior = (self.gamma - m) * prior
            out = feat(m * x)
            res, att = res + torch.relu(out[:, :self.n_d]), out[:, self.n_d:]
        return self.final_mapping(res)


def _random_norm_stats(module: nn.Module) -> None:
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(), m.running_var.uniform_(0.5, 2.0), m.weight.normal_(), m.bias.normal_()


def test_round25_tabnet_is_pytorch_tabnets_network() -> None:
    # pytorch-tabnet TabNetNoEmbeddings(54, 7): 9,252 parameters, less its unused initial_bn's 108
    built, twin = build_module(specc.load(ARCH / "tabnet.yaml")), TabNetRef()
    assert counts(built) == counts(twin) and counts(built)[0] == 9_252 - 108
    x = torch.randn(16, 54)
    _random_norm_stats(twin)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        y = built.eval()(x)
        torch.testing.assert_close(y, twin.eval()(x), rtol=1e-5, atol=1e-6)
    # the masks are sparse and sum to 1: Sparsemax, not a softmax
    masks = [o for n, o in _outputs_of(built, x).items() if n.startswith("mask")]
    assert len(masks) == 3 and all(torch.allclose(m.sum(-1), torch.ones(16)) and (m == 0).any() for m in masks)


def _outputs_of(module: nn.Module, *args: torch.Tensor) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o))
             for n, m in module.named_modules() if n]
    with torch.no_grad():
        module(*args)
    for h in hooks:
        h.remove()
    return seen


class DLRMRef(nn.Module):
    """facebookresearch/dlrm dlrm_s_pytorch.py DLRM_Net (arch_interaction_op "dot", interaction itself off):
    create_mlp's Linear + ReLU (the top's last a sigmoid), an EmbeddingBag(mode="sum") per table fed one id
    per bag (offsets 0..B-1), interact_features' Z[:, li, lj]."""

    def __init__(self, rows: list[int], d: int = 16, bot: tuple[int, ...] = (13, 512, 256, 64, 16),
                 top: tuple[int, ...] = (512, 256, 1)) -> None:
        super().__init__()
        n = len(rows) + 1
        top = (d + n * (n - 1) // 2, *top)
        self.bot = nn.Sequential(*(m for i in range(len(bot) - 1) for m in (nn.Linear(bot[i], bot[i + 1]), nn.ReLU())))
        self.emb = nn.ModuleList(nn.EmbeddingBag(r, d, mode="sum") for r in rows)
        layers = [m for i in range(len(top) - 1) for m in (nn.Linear(top[i], top[i + 1]), nn.ReLU())]
        self.top = nn.Sequential(*layers[:-1], nn.Sigmoid())

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        x = self.bot(dense)
        offsets = torch.arange(sparse.shape[0])
        ly = [e(sparse[:, k], offsets) for k, e in enumerate(self.emb)]
        t = torch.cat([x, *ly], dim=1).view(x.shape[0], -1, x.shape[1])
        z = torch.bmm(t, t.transpose(1, 2))
        ni = t.shape[1]
        li = [i for i in range(ni) for j in range(i)]
        lj = [j for i in range(ni) for j in range(i)]
        return self.top(torch.cat([x, z[:, li, lj]], dim=1))


def test_round25_dlrm_is_the_reference_network() -> None:
    built, twin = build_module(specc.load(ARCH / "dlrm.yaml")).eval(), DLRMRef([1000] * 26).eval()
    # the reference's own count at these tables: bottom 155,984 + tables 416,000 + top 320,001
    assert counts(built) == counts(twin) and counts(built)[0] == 891_985
    dense, sparse = torch.randn(4, 13), torch.randint(0, 1000, (4, 26))
    copy_in_run_order(built, twin, dense, sparse)
    with torch.no_grad():
        torch.testing.assert_close(built(dense, sparse), twin(dense, sparse), rtol=1e-5, atol=1e-6)


class Wav2Vec2EncoderRef(nn.Module):
    """HF modeling_wav2vec2 Wav2Vec2Encoder (Wav2Vec2PositionalConvEmbedding, then Wav2Vec2EncoderLayer's
    post-norm layers, written as nn.TransformerEncoderLayer: HF's q/k/v/out projections are in_proj's
    thirds). Checked once against transformers 4.46's own module at two layers: outputs within 1e-6."""

    def __init__(self, d: int = 768, layers: int = 1) -> None:
        super().__init__()
        conv = nn.Conv1d(d, d, 128, padding=64, groups=16)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.layer_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(d, 12, 3072, activation="gelu", batch_first=True)
                                    for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = nn.functional.gelu(self.conv(x.transpose(1, 2))[:, :, :-1]).transpose(1, 2)
        x = self.layer_norm(x + pos)
        for layer in self.layers:
            x = layer(x)
        return x


def test_round25_wav2vec2_encoder_is_hfs() -> None:
    # transformers' Wav2Vec2Encoder(Wav2Vec2Config()), wav2vec2-base's encoder: 89,775,488 parameters
    assert specc.load(ARCH / "wav2vec2_encoder.yaml", overrides=["layers=12"]).check()["total_params"] == 89_775_488
    built, twin = build_module(specc.load(ARCH / "wav2vec2_encoder.yaml")).eval(), Wav2Vec2EncoderRef().eval()
    assert counts(built) == counts(twin)
    # weight norm's magnitude is one per kernel tap (dim 2), g of shape (1, 1, 128)
    assert built.state_dict()["conv.parametrizations.weight.original0"].shape == (1, 1, 128)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 37, 768)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-5)


class InformerEncoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)  # AttentionLayer(FullAttention)
        self.conv1, self.conv2 = nn.Conv1d(d, d_ff, 1), nn.Conv1d(d_ff, d, 1)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x = self.norm1(x + self.attention(x, x, x, need_weights=False)[0])
        y = self.conv2(nn.functional.gelu(self.conv1(y.transpose(-1, 1)))).transpose(-1, 1)
        return self.norm2(x + y)


class InformerConvLayer(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.downConv = nn.Conv1d(c, c, 3, padding=1, padding_mode="circular")
        self.norm, self.maxPool = nn.BatchNorm1d(c), nn.MaxPool1d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxPool(nn.functional.elu(self.norm(self.downConv(x.permute(0, 2, 1))))).transpose(1, 2)


class InformerPositions(nn.Module):
    """embed.py PositionalEmbedding: fixed sines and cosines, 5000 positions."""

    def __init__(self, d: int) -> None:
        super().__init__()
        pos, div = torch.arange(5000).float()[:, None], torch.exp(torch.arange(0, d, 2).float() * -(math.log(1e4) / d))
        pe = torch.zeros(5000, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe[None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pe[:, :x.shape[1]]


class InformerEncoderRef(nn.Module):
    """zhouhaoyi/Informer2020 models/embed.py DataEmbedding (embed "timeF", freq "h") and models/encoder.py
    Encoder(EncoderLayer x 2, ConvLayer x 1, LayerNorm), with FullAttention's AttentionLayer as
    nn.MultiheadAttention (its query/key/value/out projections, biased, in in_proj's order)."""

    def __init__(self, c_in: int = 7, d: int = 512, heads: int = 8, d_ff: int = 2048) -> None:
        super().__init__()
        self.value_embedding = nn.Conv1d(c_in, d, 3, padding=1, padding_mode="circular", bias=False)
        self.position_embedding = InformerPositions(d)
        self.temporal_embedding = nn.Linear(4, d, bias=False)
        self.attn_layers = nn.ModuleList(InformerEncoderLayer(d, heads, d_ff) for _ in range(2))
        self.conv_layer, self.norm = InformerConvLayer(d), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, mark: torch.Tensor) -> torch.Tensor:
        x = self.value_embedding(x.permute(0, 2, 1)).transpose(1, 2) + self.position_embedding(x)
        x = self.attn_layers[0](x + self.temporal_embedding(mark))
        return self.norm(self.attn_layers[1](self.conv_layer(x)))


def _copy_attention(built: nn.Module, twin: nn.Module) -> None:
    # nn.MultiheadAttention calls its out_proj functionally: no hook sees it run, so copy_in_run_order skips it
    ours, theirs = ([m for m in x.modules() if isinstance(m, nn.MultiheadAttention)] for x in (built, twin))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a.load_state_dict(b.state_dict())


def test_round25_informer_encoder_is_the_reference_network() -> None:
    built, twin = build_module(specc.load(ARCH / "informer_encoder.yaml")).eval(), InformerEncoderRef().eval()
    assert counts(built)[0] == counts(twin)[0] == 7_106_560
    x, mark = torch.randn(2, 96, 7), torch.randn(2, 96, 4)
    _random_norm_stats(twin)
    ours = [b for n, b in built.named_buffers() if n.startswith("position_embedding")]
    torch.testing.assert_close(ours[0].reshape(5000, 512), twin.position_embedding.pe[0])  # the same fixed table
    copy_in_run_order(built, twin, x, mark)
    _copy_attention(built, twin)
    with torch.no_grad():
        y = built(x, mark)
        assert y.shape == (2, 48, 512)  # the distilling layer halved the 96 steps
        torch.testing.assert_close(y, twin(x, mark), rtol=1e-4, atol=1e-5)


class MobileOneBlock(nn.Module):
    """apple/ml-mobileone mobileone.py MobileOneBlock at training time (inference_mode=False, no SE)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, groups: int = 1, branches: int = 4) -> None:
        super().__init__()

        def conv_bn(kernel: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                                 nn.BatchNorm2d(cout))

        self.rbr_skip = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None
        self.rbr_scale = conv_bn(1) if k > 1 else None
        self.rbr_conv = nn.ModuleList(conv_bn(k) for _ in range(branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0
        if self.rbr_skip is not None:
            identity = self.rbr_skip(x)
        if self.rbr_scale is not None:
            out = self.rbr_scale(x)
        if self.rbr_skip is not None:
            out = out + identity
        for conv in self.rbr_conv:
            out = out + conv(x)
        return torch.relu(out)


def mobileone_s0(blocks: tuple[int, ...] = (2, 8, 10, 1), classes: int = 1000) -> nn.Module:
    # MobileOne(num_blocks_per_stage, width_multipliers=(0.75, 1.0, 1.0, 2.0), num_conv_branches=4)
    layers, cin = [MobileOneBlock(3, 48, 3, 2, branches=1)], 48  # stage0: the model's num_conv_branches=1
    for planes, n in zip((48, 128, 256, 1024), blocks):
        for stride in [2] + [1] * (n - 1):
            layers += [MobileOneBlock(cin, cin, 3, stride, groups=cin), MobileOneBlock(cin, planes, 1, 1)]
            cin = planes
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, classes))


def test_round25_mobileone_s0_is_apples_network() -> None:
    assert _meta_count(mobileone_s0) == 5_293_272
    full = specc.load(ARCH / "mobileone_s0.yaml", overrides=["d1=2", "d2=8", "d3=10"])
    assert full.check()["total_params"] == 5_293_272
    built, twin = build_module(specc.load(ARCH / "mobileone_s0.yaml", overrides=["d1=2"])), mobileone_s0((2, 1, 1, 1))
    assert counts(built) == counts(twin)
    x = torch.randn(2, 3, 64, 64)
    _random_norm_stats(twin)
    copy_in_run_order(built, twin, x)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)


class DividedBlock(nn.Module):
    """TimeSformer vit.py Block, attention_type 'divided_space_time' (its Attention, qkv with bias then
    proj, is nn.MultiheadAttention's in_proj and out_proj)."""

    def __init__(self, d: int = 768, heads: int = 12) -> None:
        super().__init__()
        self.temporal_norm1, self.norm1, self.norm2 = (nn.LayerNorm(d, eps=1e-6) for _ in range(3))
        self.temporal_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.temporal_fc = nn.Linear(d, d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor, n: int, t: int) -> torch.Tensor:
        b, _, m = x.shape
        xt = x[:, 1:].reshape(b * n, t, m)  # 'b (h w t) m -> (b h w) t m'
        h = self.temporal_norm1(xt)
        res = self.temporal_attn(h, h, h, need_weights=False)[0].reshape(b, n * t, m)
        xt = x[:, 1:] + self.temporal_fc(res)
        init_cls = x[:, :1]
        cls = init_cls.repeat(1, t, 1).reshape(b * t, 1, m)
        xs = xt.reshape(b, n, t, m).permute(0, 2, 1, 3).reshape(b * t, n, m)  # 'b (h w t) m -> (b t) (h w) m'
        h = self.norm1(torch.cat((cls, xs), 1))
        res = self.attn(h, h, h, need_weights=False)[0]
        cls = res[:, 0].reshape(b, t, m).mean(1, True)
        res = res[:, 1:].reshape(b, t, n, m).permute(0, 2, 1, 3).reshape(b, n * t, m)
        x = torch.cat((init_cls, xt), 1) + torch.cat((cls, res), 1)
        return x + self.mlp(self.norm2(x))


class Learned(nn.Module):
    """A learned tensor as its own module, so that copy_in_run_order meets it where the model reads it."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.randn(*shape))

    def forward(self) -> torch.Tensor:
        return self.value


class TimeSformerRef(nn.Module):
    """TimeSformer vit.py VisionTransformer (divided_space_time): PatchEmbed per frame, cls_token, pos_embed,
    time_embed (the cls token taken from the first B rows), the blocks, norm, head."""

    def __init__(self, img: int = 64, frames: int = 8, d: int = 768, depth: int = 1, classes: int = 400) -> None:
        super().__init__()
        self.n, self.t = (img // 16) ** 2, frames
        self.proj = nn.Conv2d(3, d, 16, 16)
        self.cls_token, self.pos_embed = Learned(1, 1, d), Learned(1, self.n + 1, d)
        self.time_embed = Learned(1, frames, d)
        self.blocks = nn.ModuleList(DividedBlock(d) for _ in range(depth))
        self.norm, self.head = nn.LayerNorm(d, eps=1e-6), nn.Linear(d, classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, c, t, hh, ww = video.shape
        x = self.proj(video.permute(0, 2, 1, 3, 4).reshape(b * t, c, hh, ww)).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token().expand(x.shape[0], -1, -1), x), 1) + self.pos_embed()
        cls = x[:b, 0].unsqueeze(1)
        # '(b t) n m -> (b n) t m'
        x = x[:, 1:].reshape(b, t, self.n, -1).permute(0, 2, 1, 3).reshape(b * self.n, t, -1)
        x = torch.cat((cls, (x + self.time_embed()).reshape(b, self.n * t, -1)), 1)
        for block in self.blocks:
            x = block(x, self.n, self.t)
        return self.head(self.norm(x)[:, 0])


def test_round25_timesformer_is_the_reference_network() -> None:
    # the reference's count at TimeSformer-base on Kinetics-400 (12 blocks, 224x224, 8 frames)
    assert _meta_count(lambda: TimeSformerRef(224, depth=12)) == 121_566_352
    full = specc.load(ARCH / "timesformer.yaml", overrides=["depth=12", "img=224"])
    assert full.check()["total_params"] == 121_566_352
    built, twin = build_module(specc.load(ARCH / "timesformer.yaml", overrides=["depth=2"])).eval(), TimeSformerRef(
        depth=2).eval()
    assert counts(built)[0] == counts(twin)[0]
    x = torch.randn(2, 3, 8, 64, 64)
    copy_in_run_order(built, twin, x)
    _copy_attention(built, twin)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


def _conv_bn3(cin: int, cout: int, k: tuple[int, int, int], s: tuple[int, int, int] = (1, 1, 1),
              relu: bool = True) -> nn.Module:
    p = tuple(x // 2 for x in k)
    layers = [nn.Conv3d(cin, cout, k, s, p, bias=False), nn.BatchNorm3d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class SlowFastBottleneck(nn.Module):
    """PySlowFast resnet_helper.py ResBlock(BottleneckTransform), stride 1: branch2, then the projection."""

    def __init__(self, cin: int, inner: int, cout: int, tk: int) -> None:
        super().__init__()
        self.branch1 = _conv_bn3(cin, cout, (1, 1, 1), relu=False) if cin != cout else None
        self.a, self.b = _conv_bn3(cin, inner, (tk, 1, 1)), _conv_bn3(inner, inner, (1, 3, 3))
        self.c = _conv_bn3(inner, cout, (1, 1, 1), relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.c(self.b(self.a(x)))
        return torch.relu((self.branch1(x) if self.branch1 is not None else x) + f)


class SlowFastRes2Ref(nn.Module):
    """PySlowFast video_model_builder.py SlowFast for SLOWFAST_8x8_R50 through s2 and its fuse: ResNetBasicStem
    (conv, BN, ReLU, max pool) per pathway, FuseFastToSlow (conv_f2s (7, 1, 1) stride (8, 1, 1), BN, ReLU,
    concatenated), res2 of three bottlenecks per pathway; then the spec's pooled classifier."""

    def __init__(self, classes: int = 400) -> None:
        super().__init__()
        self.s1 = nn.ModuleList(nn.Sequential(_conv_bn3(3, c, (tk, 7, 7), (1, 2, 2)),
                                              nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
                                for c, tk in ((64, 1), (8, 5)))
        self.s1_fuse = nn.Sequential(nn.Conv3d(8, 16, (7, 1, 1), (8, 1, 1), (3, 0, 0), bias=False),
                                     nn.BatchNorm3d(16), nn.ReLU())
        self.s2_slow = nn.Sequential(SlowFastBottleneck(80, 64, 256, 1), *(SlowFastBottleneck(256, 64, 256, 1)
                                                                            for _ in range(2)))
        self.s2_fast = nn.Sequential(SlowFastBottleneck(8, 8, 32, 3), *(SlowFastBottleneck(32, 8, 32, 3)
                                                                         for _ in range(2)))
        self.s2_fuse = nn.Sequential(nn.Conv3d(32, 64, (7, 1, 1), (8, 1, 1), (3, 0, 0), bias=False),
                                     nn.BatchNorm3d(64), nn.ReLU())
        self.projection = nn.Linear(320 + 32, classes)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        s, f = self.s1[0](slow), self.s1[1](fast)
        s = torch.cat([s, self.s1_fuse(f)], 1)
        s, f = self.s2_slow(s), self.s2_fast(f)
        s = torch.cat([s, self.s2_fuse(f)], 1)
        return self.projection(torch.cat([s.mean((2, 3, 4)), f.mean((2, 3, 4))], 1))


def test_round25_slowfast_is_pyslowfasts_network() -> None:
    built, twin = build_module(specc.load(ARCH / "slowfast_r50_res2.yaml")).eval(), SlowFastRes2Ref().eval()
    assert counts(built) == counts(twin) and counts(built)[0] == 397_784
    slow, fast = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 32, 32, 32)
    _random_norm_stats(twin)
    copy_in_run_order(built, twin, slow, fast)
    with torch.no_grad():
        torch.testing.assert_close(built(slow, fast), twin(slow, fast), rtol=1e-4, atol=1e-5)


class FCOSScale(nn.Module):
    """fcos_core/layers/scale.py Scale: one learned factor."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.FloatTensor([init_value]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class FCOSHeadRef(nn.Module):
    """tianzhi0549/FCOS fcos.py FCOSHead (NUM_CONVS 4, GroupNorm(32), centerness on the class tower,
    NORM_REG_TARGETS off: exp of the scaled box)."""

    def __init__(self, c: int = 256, classes: int = 80, levels: int = 5) -> None:
        super().__init__()

        def tower() -> nn.Module:
            return nn.Sequential(*(m for _ in range(4) for m in (nn.Conv2d(c, c, 3, 1, 1), nn.GroupNorm(32, c),
                                                                  nn.ReLU())))

        self.cls_tower, self.bbox_tower = tower(), tower()
        self.cls_logits = nn.Conv2d(c, classes, 3, 1, 1)
        self.bbox_pred, self.centerness = nn.Conv2d(c, 4, 3, 1, 1), nn.Conv2d(c, 1, 3, 1, 1)
        self.scales = nn.ModuleList(FCOSScale(1.0) for _ in range(levels))

    def forward(self, *features: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for scale, f in zip(self.scales, features):
            cls, box = self.cls_tower(f), self.bbox_tower(f)
            logits, centerness = self.cls_logits(cls), self.centerness(cls)  # the reference's order
            out += [logits, torch.exp(scale(self.bbox_pred(box))), centerness]
        return out


def test_round25_fcos_head_is_the_reference_head() -> None:
    built, twin = build_module(specc.load(ARCH / "fcos_head.yaml")).eval(), FCOSHeadRef().eval()
    assert counts(built) == counts(twin) and counts(built)[0] == 4_920_666
    feats = [torch.randn(1, 256, s, s + 1) for s in (16, 8, 4, 2, 1)]
    with torch.no_grad():
        for m in twin.scales:
            m.scale.uniform_(0.5, 1.5)  # a factor of each level's own
    copy_in_run_order(built, twin, *feats)
    with torch.no_grad():
        for y, want in zip(built(*feats), twin(*feats), strict=True):
            torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-5)


class BiFPNRef(nn.Module):
    """zylo117 Yet-Another-EfficientDet-Pytorch efficientdet/model.py BiFPN(64, first_time=False,
    attention=True): _fast_attention's fusions (relu(w) / (sum + 1e-4), weights started at 1), swish, each
    SeparableConvBlock (depthwise 3x3 without bias, pointwise 1x1, BN momentum 0.01 eps 1e-3), nearest
    upsampling and MaxPool2dStaticSamePadding(3, 2)."""

    def __init__(self, c: int = 64) -> None:
        super().__init__()

        def block() -> nn.Module:
            return nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.Conv2d(c, c, 1),
                                 nn.BatchNorm2d(c, momentum=0.01, eps=1e-3))

        names = ("conv6_up", "conv5_up", "conv4_up", "conv3_up", "conv4_down", "conv5_down", "conv6_down", "conv7_down")
        self.convs = nn.ModuleDict({n: block() for n in names})
        self.w = nn.ParameterList(nn.Parameter(torch.ones(k)) for k in (2, 2, 2, 2, 3, 3, 3, 2))

    def _fuse(self, i: int, *xs: torch.Tensor) -> torch.Tensor:
        w = torch.relu(self.w[i])
        w = w / (torch.sum(w, dim=0) + 1e-4)
        return nn.functional.silu(sum(w[k] * x for k, x in enumerate(xs)))

    def forward(self, p3: torch.Tensor, p4: torch.Tensor, p5: torch.Tensor, p6: torch.Tensor,
                p7: torch.Tensor) -> list[torch.Tensor]:
        c = self.convs

        def up(x: torch.Tensor) -> torch.Tensor:
            return nn.functional.interpolate(x, scale_factor=2, mode="nearest")

        def down(x: torch.Tensor) -> torch.Tensor:
            return nn.functional.max_pool2d(nn.functional.pad(x, [0, 1, 0, 1]), 3, 2)

        p6_up = c["conv6_up"](self._fuse(0, p6, up(p7)))
        p5_up = c["conv5_up"](self._fuse(1, p5, up(p6_up)))
        p4_up = c["conv4_up"](self._fuse(2, p4, up(p5_up)))
        p3_out = c["conv3_up"](self._fuse(3, p3, up(p4_up)))
        p4_out = c["conv4_down"](self._fuse(4, p4, p4_up, down(p3_out)))
        p5_out = c["conv5_down"](self._fuse(5, p5, p5_up, down(p4_out)))
        p6_out = c["conv6_down"](self._fuse(6, p6, p6_up, down(p5_out)))
        return [p3_out, p4_out, p5_out, p6_out, c["conv7_down"](self._fuse(7, p7, down(p6_out)))]


def test_round25_bifpn_is_the_reference_layer() -> None:
    built, twin = build_module(specc.load(ARCH / "bifpn_d0.yaml")).eval(), BiFPNRef().eval()
    assert counts(built) == counts(twin) and counts(built)[0] == 38_931
    _random_norm_stats(twin)
    with torch.no_grad():  # weights of their own, one of them below 0 (relu leaves it out of the fusion)
        for w in twin.w:
            w.uniform_(-0.5, 2.0)
        theirs = dict(twin.named_parameters())
        fusions = [m for m in built.modules() if type(m).__name__ == "WeightedSum"]
        for mine, i in zip(fusions, range(8), strict=True):
            mine.weight.copy_(theirs[f"w.{i}"])
        blocks = [m for m in twin.convs.values()]
        ours = [m for n, m in built.named_children() if n in ("conv6_up", "conv5_up", "conv4_up", "p3_out", "p4_out",
                                                                "p5_out", "p6_out", "p7_out")]
        for mine, ref in zip(ours, blocks, strict=True):
            mine.load_state_dict(dict(zip(mine.state_dict(), ref.state_dict().values())))
    feats = [torch.randn(2, 64, s, s) for s in (64, 32, 16, 8, 4)]
    with torch.no_grad():
        for y, want in zip(built(*feats), twin(*feats), strict=True):
            torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-5)


class Meta4DRef(nn.Module):
    """timm efficientformer.py MetaBlock2d: Pooling (AvgPool2d(3, 1, 1, count_include_pad=False)(x) - x),
    ConvMlpWithNorm (fc1, norm1, GELU, fc2, norm2), LayerScale2d (gamma (C,), started at 1e-5)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.ls1 = nn.ParameterList([nn.Parameter(1e-5 * torch.ones(dim))])
        self.fc1, self.norm1 = nn.Conv2d(dim, 4 * dim, 1), nn.BatchNorm2d(4 * dim)
        self.fc2, self.norm2 = nn.Conv2d(4 * dim, dim, 1), nn.BatchNorm2d(dim)
        self.ls2 = nn.ParameterList([nn.Parameter(1e-5 * torch.ones(dim))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + (self.pool(x) - x) * self.ls1[0].view(1, -1, 1, 1)
        return x + self.norm2(self.fc2(nn.functional.gelu(self.norm1(self.fc1(x))))) * self.ls2[0].view(1, -1, 1, 1)


def efficientformer_l1_4d(depths: tuple[int, int, int] = (3, 2, 6), classes: int = 1000) -> nn.Module:
    # timm Stem4(3, 48), then EfficientFormerStage(48, 48), (48, 96, downsample), (96, 224, downsample)
    layers: list[nn.Module] = [nn.Conv2d(3, 24, 3, 2, 1), nn.BatchNorm2d(24), nn.ReLU(), nn.Conv2d(24, 48, 3, 2, 1),
                               nn.BatchNorm2d(48), nn.ReLU()]
    cin = 48
    for dim, n in zip((48, 96, 224), depths):
        if dim != cin:
            layers += [nn.Conv2d(cin, dim, 3, 2, 1), nn.BatchNorm2d(dim)]
        layers += [Meta4DRef(dim) for _ in range(n)]
        cin = dim
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(224, classes))


def test_round25_efficientformer_meta4d_is_timms() -> None:
    assert _meta_count(efficientformer_l1_4d) == 3_111_960
    full = specc.load(ARCH / "efficientformer_l1_4d.yaml", overrides=["d1=3", "d2=2", "d3=6"])
    assert full.check()["total_params"] == 3_111_960
    built, twin = build_module(specc.load(ARCH / "efficientformer_l1_4d.yaml")).eval(), efficientformer_l1_4d((1, 1, 2))
    assert counts(built) == counts(twin)
    _random_norm_stats(twin)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, Meta4DRef):
                m.ls1[0].uniform_(0.5, 1.5), m.ls2[0].uniform_(0.5, 1.5)
    tensors = _twin_order(twin)
    assert len(tensors) == len(built.state_dict())
    built.load_state_dict(dict(zip(built.state_dict(), tensors)))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)


def _twin_order(twin: nn.Module) -> list[torch.Tensor]:
    # the twin's tensors in the spec's order: a Meta4D block's ls1 before its fc1, ls2 after its norm2
    out: list[torch.Tensor] = []
    for m in twin:
        if isinstance(m, Meta4DRef):
            out += [m.ls1[0], *m.fc1.state_dict().values(), *m.norm1.state_dict().values(),
                    *m.fc2.state_dict().values(), *m.norm2.state_dict().values(), m.ls2[0]]
        else:
            out += list(m.state_dict().values())
    return out


class YOLOv8DetectRef(nn.Module):
    """ultralytics nn/modules/head.py Detect (nc 80, ch (64, 128, 256), stride (8, 16, 32)) at inference: the
    levels' cv2/cv3 outputs joined, the box split off and read by DFL (block.py: softmax over 16 bins, a
    frozen 1x1 conv of weights 0..15), decoded by dist2bbox (utils/tal.py, xywh) about make_anchors' cell
    centres times the strides, joined with the classes' sigmoids: Detect's y."""

    def __init__(self, nc: int = 80, ch: tuple[int, ...] = (64, 128, 256), reg_max: int = 16) -> None:
        super().__init__()
        c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
        self.nc, self.reg_max = nc, reg_max
        self.cv2 = nn.ModuleList(nn.Sequential(YConv(x, c2, 3), YConv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
                                 for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(YConv(x, c3, 3), YConv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.dfl.weight.data[:] = torch.arange(reg_max, dtype=torch.float).view(1, reg_max, 1, 1)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        b = xs[0].shape[0]
        x = torch.cat([torch.cat((cv2(x), cv3(x)), 1).view(b, 4 * self.reg_max + self.nc, -1)
                       for cv2, cv3, x in zip(self.cv2, self.cv3, xs)], 2)
        box, cls = x.split((4 * self.reg_max, self.nc), 1)
        a = box.shape[2]
        dist = self.dfl(box.view(b, 4, self.reg_max, a).transpose(2, 1).softmax(1)).view(b, 4, a)
        anchors, strides = ultralytics_make_anchors(list(xs), [8, 16, 32], 0.5)
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = anchors.unsqueeze(0) - lt, anchors.unsqueeze(0) + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


def test_round25_yolov8n_detect_is_ultralytics_head() -> None:
    built, twin = build_module(specc.load(ARCH / "yolov8n_detect.yaml")).eval(), YOLOv8DetectRef().eval()
    # ultralytics' summary: Detect 897,664, of which DFL's 16 frozen weights (SoftArgmax holds none)
    assert counts(built)[0] == counts(twin)[0] - 16 == 897_648
    feats = [torch.randn(2, c, s, s + 2) for c, s in ((64, 16), (128, 8), (256, 4))]
    _random_norm_stats(twin)
    tensors = [v for k, v in twin.state_dict().items() if not k.startswith("dfl.")]
    # the spec runs each level's box branch then its class branch; the twin holds all box branches first
    theirs = twin.state_dict()
    order = [t for i in range(3) for key in ("cv2", "cv3") for k, t in theirs.items() if k.startswith(f"{key}.{i}.")]
    assert len(order) == len(tensors) == len(built.state_dict())
    built.load_state_dict(dict(zip(built.state_dict(), order)))
    with torch.no_grad():
        y, want = built(*feats), twin(*feats)
    assert y.shape == (2, 84, 16 * 18 + 8 * 10 + 4 * 6)
    torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-3)


# -- round 26: generative models and vision -----------------------------------------------------------------------

@pytest.mark.parametrize(("stem", "overrides", "published"), [
    # torchvision.models.squeezenet1_1() (num_classes 1000), the formula of the twin below
    ("squeezenet1_1", ["num_classes=1000"], 1_235_496),
    # jzbontar/pixelcnn-pytorch's MNIST network at fm = 64: 8 masked 7x7 convs without bias, BatchNorms, a 1x1 to 256
    ("pixelcnn", ["fm=64"], 1_425_728),
    # timm resnetv2_50x1_bit and nfnet_f0 (timm.create_model(..., pretrained=False)), counted in a throwaway venv
    ("bit_resnetv2", ["w=64", "d1=3", "d2=4", "d3=6", "d4=3", "num_classes=1000"], 25_549_352),
    ("nfnet_f0", ["s=128", "c1=256", "c2=512", "c3=1536", "c4=1536", "g=128", "d2=2", "d3=6", "d4=3",
                  "num_classes=1000"], 71_489_272),
    # timm maxvit_tiny_rw_224's stem and stages[0] (its qkv rows are per head, head_first: the same parameters;
    # with them permuted into MultiheadAttention's q, k, v order the spec's outputs were timm's to 3e-6)
    ("maxvit_stage1", ["img=224"], 310_024),
])
def test_round26_published_sizes(stem: str, overrides: list[str], published: int) -> None:
    spec = specc.load(ARCH / f"{stem}.yaml", overrides=overrides)
    assert spec.ok, [d.render() for d in spec.errors]
    assert spec.check()["total_params"] == published


class Fire(nn.Module):
    """torchvision squeezenet.py Fire: squeeze 1x1 + ReLU, then 1x1 and 3x3 expand convs + ReLU, concatenated."""

    def __init__(self, c: int, s: int, e: int) -> None:
        super().__init__()
        self.squeeze, self.expand1x1, self.expand3x3 = nn.Conv2d(c, s, 1), nn.Conv2d(s, e, 1), nn.Conv2d(s, e, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


def squeezenet1_1(classes: int = 1000) -> nn.Module:
    pool = nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool, Fire(64, 16, 64), Fire(128, 16, 64), pool,
                         Fire(128, 32, 128), Fire(256, 32, 128), pool, Fire(256, 48, 192), Fire(384, 48, 192),
                         Fire(384, 64, 256), Fire(512, 64, 256), nn.Dropout(0.5), nn.Conv2d(512, classes, 1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_round26_squeezenet1_1_is_torchvisions() -> None:
    assert _meta_count(squeezenet1_1) == 1_235_496
    built, twin = build_module(specc.load(ARCH / "squeezenet1_1.yaml")).eval(), squeezenet1_1(10).eval()
    assert counts(built) == counts(twin)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-5)


def test_round26_pixelcnn_is_jzbontars_network_and_never_sees_ahead() -> None:
    fm = 16
    layers: list[nn.Module] = []
    for i in range(8):
        layers += [PixelCNNConv2d("A" if i == 0 else "B", 1 if i == 0 else fm, fm, 7, 1, 3, bias=False),
                   nn.BatchNorm2d(fm), nn.ReLU(True)]
    twin = nn.Sequential(*layers, nn.Conv2d(fm, 256, 1)).eval()
    built = build_module(specc.load(ARCH / "pixelcnn.yaml")).eval()
    assert counts(built) == counts(twin)
    _random_norm_stats(twin)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    y = built(x)
    torch.testing.assert_close(y, twin(x), rtol=1e-4, atol=1e-5)
    # the autoregressive property: pixel (i, j)'s logits depend on no pixel at or after (i, j) in raster order
    y[0, :, 10, 12].sum().backward()
    seen = x.grad[0, 0].abs() > 0
    assert seen.any() and not seen[10, 12:].any() and not seen[11:].any()


class ITransformerLayer(nn.Module):
    """thuml/iTransformer layers/Transformer_EncDec.py EncoderLayer; its AttentionLayer (q, k, v and out
    projections with biases, FullAttention's softmax(QK^T / sqrt(E))) is nn.MultiheadAttention's computation."""

    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.conv1, self.conv2 = nn.Conv1d(d, d_ff, 1), nn.Conv1d(d_ff, d, 1)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x, x, x, need_weights=False)[0])
        y = self.conv2(nn.functional.gelu(self.conv1(x.transpose(-1, 1)))).transpose(-1, 1)
        return self.norm2(x + y)


class ITransformerRef(nn.Module):
    """thuml/iTransformer model/iTransformer.py Model.forecast with use_norm and no time marks."""

    def __init__(self, seq_len: int = 96, pred_len: int = 96, d: int = 64, heads: int = 4, d_ff: int = 128,
                 layers: int = 2) -> None:
        super().__init__()
        self.pred_len = pred_len
        self.enc_embedding = nn.Linear(seq_len, d)
        self.encoder = nn.ModuleList(ITransformerLayer(d, heads, d_ff) for _ in range(layers))
        self.norm, self.projector = nn.LayerNorm(d), nn.Linear(d, pred_len)

    def forward(self, x_enc: torch.Tensor) -> torch.Tensor:
        means = x_enc.mean(1, keepdim=True).detach()
        x_enc = x_enc - means
        stdev = torch.sqrt(torch.var(x_enc, dim=1, keepdim=True, unbiased=False) + 1e-5)
        x_enc /= stdev
        _, _, n = x_enc.shape
        enc_out = self.enc_embedding(x_enc.permute(0, 2, 1))
        for layer in self.encoder:
            enc_out = layer(enc_out)
        dec_out = self.projector(self.norm(enc_out)).permute(0, 2, 1)[:, :, :n]
        dec_out = dec_out * stdev[:, 0, :].unsqueeze(1).repeat(1, self.pred_len, 1)
        return dec_out + means[:, 0, :].unsqueeze(1).repeat(1, self.pred_len, 1)


def test_round26_itransformer_is_thumls_network_at_any_number_of_variates() -> None:
    assert _meta_count(lambda: ITransformerRef(d=512, heads=8, d_ff=2048)) == 6_404_704
    assert specc.load(ARCH / "itransformer.yaml", overrides=["d=512", "heads=8", "d_ff=2048"]).check()[
        "total_params"] == 6_404_704
    built, twin = build_module(specc.load(ARCH / "itransformer.yaml")).eval(), ITransformerRef().eval()
    assert counts(built) == counts(twin)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    for n in (7, 21):  # ETT's 7 variates, Weather's 21
        x = torch.randn(2, 96, n) * 3 + 5
        with torch.no_grad():
            torch.testing.assert_close(built(x), twin(x.clone()), rtol=1e-4, atol=1e-4)


class LinearNorm(nn.Sequential):
    """timm levit.py LinearNorm: Linear without bias, BatchNorm1d over the features of every token."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](self[0](x).flatten(0, 1)).reshape(*x.shape[:2], -1)


class LeViTAttention(nn.Module):
    """timm levit.py Attention (eval: the biases gathered by attention_bias_idxs); the bias table is held in a
    ParameterList between qkv and proj only so that the state dicts list tensors in the spec's order."""

    def __init__(self, dim: int = 128, key_dim: int = 16, heads: int = 4, attn_ratio: float = 2, res: int = 7) -> None:
        super().__init__()
        self.heads, self.key_dim, self.val_dim, self.scale = heads, key_dim, int(attn_ratio * key_dim), key_dim ** -0.5
        self.qkv = LinearNorm(dim, heads * (2 * key_dim + self.val_dim))
        self.attention_biases = nn.ParameterList([nn.Parameter(torch.randn(heads, res ** 2))])
        self.proj = nn.Sequential(nn.Hardswish(), LinearNorm(heads * self.val_dim, dim))
        self.register_buffer("attention_bias_idxs", levit_bias_idxs(res), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, self.heads, -1).split([self.key_dim, self.key_dim, self.val_dim], dim=3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 3, 1), v.permute(0, 2, 1, 3)
        attn = q @ k * self.scale + self.attention_biases[0][:, self.attention_bias_idxs]
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, -1)
        return self.proj(x)


class LeViTStage1Ref(nn.Module):
    """timm levit_128s's Stem16, stages[0] (two LevitBlocks: residual Attention and LevitMlp) and a NormLinear
    head on the tokens' mean."""

    def __init__(self, res: int = 7, classes: int = 10) -> None:
        super().__init__()

        def conv_norm(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o)]

        self.stem = nn.Sequential(*conv_norm(3, 16), nn.Hardswish(), *conv_norm(16, 32), nn.Hardswish(),
                                  *conv_norm(32, 64), nn.Hardswish(), *conv_norm(64, 128))
        self.blocks = nn.ModuleList(nn.ModuleList([LeViTAttention(res=res), LinearNorm(128, 256), LinearNorm(256, 128)])
                                    for _ in range(2))
        self.head = nn.Sequential(nn.BatchNorm1d(128), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)
        for attn, ln1, ln2 in self.blocks:
            x = x + attn(x)
            x = x + ln2(nn.functional.hardswish(ln1(x)))
        return self.head(x.mean(1))


def test_round26_levit_stage1_is_timms_network() -> None:
    assert _meta_count(lambda: LeViTStage1Ref(14, 1000)) == 460_952
    built, twin = build_module(specc.load(ARCH / "levit_128s_stage1.yaml")).eval(), LeViTStage1Ref().eval()
    assert counts(built) == counts(twin)
    _random_norm_stats(twin)
    theirs = list(twin.state_dict().values())
    ours = built.state_dict()
    assert len(ours) == len(theirs)
    # the bias table: timm's (heads, r²), an Embedding's (r², heads)
    built.load_state_dict({k: w.t() if w.shape != v.shape else w for (k, v), w in zip(ours.items(), theirs)})
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


def test_round26_vqvae_quantises_as_the_references_do() -> None:
    # zalandoresearch/pytorch-vq-vae Model(128, 2, 32, 512, 64, 0.25, decay=0.99): its encoder and decoder (the
    # twin above) and VectorQuantizerEMA, whose _embedding.weight and _ema_w are two (512, 64) nn.Parameters no
    # gradient reaches; here, as VQ-VAE-2's Quantize keeps them, buffers: embed, embed_avg and the cluster sizes
    spec = specc.load(ARCH / "vqvae.yaml")
    built = build_module(spec)
    assert counts(built) == (counts(vqvae())[0], 2 * 512 * 64 + 512)
    assert counts(vqvae())[0] + 2 * 512 * 64 == 727_619  # zalando's count, its quantiser's two tables included
    vq, ref = built.vq, RosinalityQuantize(64, 512, 0.99, 1e-5, axis=1)
    ref.load_state_dict(vq.state_dict())
    z = torch.randn(4, 64, 8, 8, requires_grad=True)
    (q, codes), (want_q, want_codes) = vq.eval()(z), ref(z)
    assert codes.shape == (4, 8, 8) and codes.dtype == torch.int64
    torch.testing.assert_close(q, want_q) and torch.testing.assert_close(codes, want_codes)
    # the nearest vector: no other is closer to any position's features
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 64)
    assert torch.equal(codes.reshape(-1), torch.cdist(flat, vq.embed.t()).argmin(1))
    # straight through: the gradient reaches the encoder's output unchanged
    q.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    # training mode moves the codebook by moving averages, as rosinality's Quantize does
    before = vq.embed.clone()
    vq.train()(z)
    onehot = nn.functional.one_hot(codes.reshape(-1), 512).float()
    size = 0.01 * onehot.sum(0)
    avg = 0.99 * before + 0.01 * flat.t() @ onehot
    n = size.sum()
    torch.testing.assert_close(vq.embed, avg / ((size + 1e-5) / (n + 512 * 1e-5) * n).unsqueeze(0))


def test_vqvae_trains_under_float16_autocast() -> None:
    """Mixed precision (what `specc train` runs on a GPU): the moving averages leave an unused code near
    randn / eps (about 4e5 here), and float16 distances to it overflowed into nan at the second step (an
    H200, session 27; CPU autocast in float16 shows the same). The quantiser computes in float32."""
    spec = specc.load(str(ARCH / "vqvae.yaml"))
    assert spec.ok
    model = specc.build(spec, seed=0).train()
    module = generated_module(spec)
    opt, loss_fn = module.build_optimizer(model), module.build_loss()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    vq = next(m for m in model.modules() if type(m).__name__ == "VectorQuantizer")
    for _ in range(3):
        with torch.autocast("cpu", dtype=torch.float16):
            out = model(x)
            loss = loss_fn((out[0] if isinstance(out, tuple) else out).float(), x)
        assert torch.isfinite(loss), "the loss became nan under float16 autocast"
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert vq.embed.abs().max() > 65504  # the drift that float16 cannot hold is there, and harmless


class StdConv2d(nn.Conv2d):
    """timm layers/std_conv.py StdConv2d (BiT: eps 1e-8), as written there."""

    def __init__(self, *args: int, eps: float = 1e-8, **kw: int) -> None:
        super().__init__(*args, bias=False, **kw)  # type: ignore[arg-type]
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = nn.functional.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True,
                                          momentum=0., eps=self.eps).reshape_as(self.weight)
        return nn.functional.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class PreActBottleneck(nn.Module):
    """timm resnetv2.py PreActBottleneck (GroupNormAct of 32 groups, the shortcut a strided StdConv of the
    normalised input in a stage's first block)."""

    def __init__(self, cin: int, out: int, mid: int, stride: int) -> None:
        super().__init__()
        def gn(c: int) -> nn.Module:
            return nn.Sequential(nn.GroupNorm(32, c), nn.ReLU())

        self.norm1, self.conv1 = gn(cin), StdConv2d(cin, mid, 1)
        self.norm2, self.conv2 = gn(mid), StdConv2d(mid, mid, 3, stride=stride, padding=1)
        self.norm3, self.conv3 = gn(mid), StdConv2d(mid, out, 1)
        self.downsample = StdConv2d(cin, out, 1, stride=stride) if cin != out or stride != 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_preact = self.norm1(x)
        shortcut = x if self.downsample is None else self.downsample(x_preact)
        x = self.conv3(self.norm3(self.conv2(self.norm2(self.conv1(x_preact)))))
        return x + shortcut


def test_round26_bit_is_timms_resnetv2() -> None:
    w = 32
    blocks = [PreActBottleneck(w, 4 * w, w, 1)] + [PreActBottleneck(4 * w * 2 ** (i - 1), 4 * w * 2 ** i, w * 2 ** i, 2)
                                                   for i in (1, 2, 3)]
    twin = nn.Sequential(StdConv2d(3, w, 7, stride=2, padding=3), nn.ConstantPad2d(1, 0.), nn.MaxPool2d(3, 2),
                         *blocks, nn.GroupNorm(32, 32 * w), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Conv2d(32 * w, 10, 1), nn.Flatten()).eval()
    built = build_module(specc.load(ARCH / "bit_resnetv2.yaml")).eval()
    assert counts(built) == counts(twin)
    # the spec's block runs its downsample after conv3; the twin registers it last too
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


class ScaledStdConv2d(nn.Conv2d):
    """timm layers/std_conv.py ScaledStdConv2d (NFNet: gamma the GELU's 1.7015043, eps 1e-5), as written there."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, k, stride, (k - 1) // 2, groups=groups)
        self.scale, self.eps = 1.7015043497085571 * self.weight[0].numel() ** -0.5, 1e-5
        self.gain = nn.Parameter(torch.empty(cout, 1, 1, 1).uniform_(0.5, 1.5))  # drawn off its start of 1 (or 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = nn.functional.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                                          weight=(self.gain * self.scale).view(-1), training=True, momentum=0.,
                                          eps=self.eps).reshape_as(self.weight)
        return nn.functional.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class NormFreeBlock(nn.Module):
    """timm nfnet.py NormFreeBlock (reg false, extra_conv, SE after conv3 with attn_gain 2, alpha 0.2), its
    downsample (DownsampleAvg) registered after the SE as the spec runs it."""

    def __init__(self, cin: int, out: int, stride: int, beta: float, g: int) -> None:
        super().__init__()
        mid = out // 2
        self.beta = beta
        self.conv1 = ScaledStdConv2d(cin, mid, 1)
        self.conv2 = ScaledStdConv2d(mid, mid, 3, stride, mid // g)
        self.conv2b = ScaledStdConv2d(mid, mid, 3, 1, mid // g)
        self.conv3 = ScaledStdConv2d(mid, out, 1)
        self.fc1, self.fc2 = nn.Conv2d(out, out // 2, 1), nn.Conv2d(out // 2, out, 1)
        self.pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        self.downsample = ScaledStdConv2d(cin, out, 1) if cin != out or stride > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gelu = nn.functional.gelu
        out = gelu(x) * self.beta
        shortcut = x if self.downsample is None else self.downsample(self.pool(out))
        out = self.conv3(gelu(self.conv2b(gelu(self.conv2(gelu(self.conv1(out)))))))
        out = 2.0 * out * torch.sigmoid(self.fc2(nn.functional.relu(self.fc1(out.mean((2, 3), keepdim=True)))))
        return out * 0.2 + shortcut


def test_round26_nfnet_is_timms_normfreenet() -> None:
    # the spec's narrow default (stem 32, widths 64, 128, 192, 192, groups of 16) at depths 1, 2, 3, 1: the
    # expected variance reset at each stage's first block and grown by 0.2² a block sets each block's beta
    depths, widths, ev, cin = (1, 2, 3, 1), (64, 128, 192, 192), 1.0, 32
    stem = [ScaledStdConv2d(3, 4, 3, 2), nn.GELU(), ScaledStdConv2d(4, 8, 3), nn.GELU(), ScaledStdConv2d(8, 16, 3),
            nn.GELU(), ScaledStdConv2d(16, 32, 3, 2)]
    blocks: list[nn.Module] = []
    for s, (d, w) in enumerate(zip(depths, widths)):
        for i in range(d):
            blocks.append(NormFreeBlock(cin, w, (1 if s == 0 else 2) if i == 0 else 1, ev ** -0.5, 16))
            ev = (1.0 if i == 0 else ev) + 0.2 ** 2
            cin = w
    twin = nn.Sequential(*stem, *blocks, ScaledStdConv2d(192, 384, 1), nn.GELU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(384, 10)).eval()
    built = build_module(specc.load(ARCH / "nfnet_f0.yaml", overrides=["d2=2", "d3=3"])).eval()
    assert counts(built) == counts(twin)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


class MaxViTPartitionAttention(nn.Module):
    """timm maxxvit.py PartitionAttentionCl: window_partition / grid_partition (as written there), attention under
    RelPosBias (a Swin-indexed table), window_reverse / grid_reverse, then the MLP. Its head-first qkv rows are
    nn.MultiheadAttention's once permuted: written with it here."""

    def __init__(self, c: int = 64, heads: int = 2, p: int = 7, grid: bool = False) -> None:
        super().__init__()
        self.p, self.grid, self.heads = p, grid, heads
        self.norm1 = nn.LayerNorm(c, eps=1e-6)
        # RelPosBias's relative_position_bias_table, in a ParameterList so that it follows norm1 in the state dict
        self.rel_pos = nn.ParameterList([nn.Parameter(torch.randn((2 * p - 1) ** 2, heads))])
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True)
        self.norm2, self.fc1, self.fc2 = nn.LayerNorm(c, eps=1e-6), nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.register_buffer("index", timm_relative_position_index(p, p), persistent=False)

    def _attn(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        p = self.p
        if self.grid:  # grid_partition
            parts = x.view(b, p, h // p, p, w // p, c).permute(0, 2, 4, 1, 3, 5).reshape(-1, p * p, c)
        else:  # window_partition
            parts = x.view(b, h // p, p, w // p, p, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, p * p, c)
        bias = self.rel_pos[0][self.index.view(-1)].view(p * p, p * p, -1).permute(2, 0, 1)
        out = self.attn(parts, parts, parts, attn_mask=bias.repeat(parts.shape[0], 1, 1), need_weights=False)[0]
        out = out.view(-1, h // p, w // p, p, p, c)
        order = (0, 3, 1, 4, 2, 5) if self.grid else (0, 1, 3, 2, 4, 5)  # grid_reverse / window_reverse
        return out.permute(*order).reshape(b, h, w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._attn(self.norm1(x))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))


class MaxViTMBConv(nn.Module):
    """timm maxxvit.py MbConvBlock (pre-norm, expand 4, SE of 1/4 with SiLU, the 2x2 average pool shortcut when
    strided)."""

    def __init__(self, c: int = 64, stride: int = 1) -> None:
        super().__init__()
        self.shortcut = nn.AvgPool2d(2, 2) if stride > 1 else nn.Identity()
        self.pre_norm = nn.BatchNorm2d(c)
        self.conv1, self.norm1 = nn.Conv2d(c, 4 * c, 1, bias=False), nn.BatchNorm2d(4 * c)
        self.conv2, self.norm2 = nn.Conv2d(4 * c, 4 * c, 3, stride, 1, groups=4 * c, bias=False), nn.BatchNorm2d(4 * c)
        self.fc1, self.fc2 = nn.Conv2d(4 * c, c // 4, 1), nn.Conv2d(c // 4, 4 * c, 1)
        self.conv3 = nn.Conv2d(4 * c, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        silu = nn.functional.silu
        y = silu(self.norm2(self.conv2(silu(self.norm1(self.conv1(self.pre_norm(x)))))))
        y = y * torch.sigmoid(self.fc2(silu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return self.shortcut(x) + self.conv3(y)


class MaxxVitBlock(nn.Module):
    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.conv = MaxViTMBConv(stride=stride)
        self.attn_block, self.attn_grid = MaxViTPartitionAttention(), MaxViTPartitionAttention(grid=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn_grid(self.attn_block(self.conv(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)


def test_round26_maxvit_partitions_as_timm_does() -> None:
    twin = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU(),
                         nn.Conv2d(32, 64, 3, 1, 1, bias=False), MaxxVitBlock(2), MaxxVitBlock()).eval()
    built = build_module(specc.load(ARCH / "maxvit_stage1.yaml")).eval()  # 2 windows a side, 2 cells a grid step
    assert counts(built) == counts(twin)
    _random_norm_stats(twin)
    built.load_state_dict(dict(zip(built.state_dict(), twin.state_dict().values())))
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        torch.testing.assert_close(built(x), twin(x), rtol=1e-4, atol=1e-4)


# -- Mamba: transformers 5.24's MambaForCausalLM(MambaConfig(hidden_size=d, num_hidden_layers=layers,
# vocab_size=50280, state_size=16, expand=2, conv_kernel=4, tie_word_embeddings=True)) on the meta device --------

MAMBA_SIZES = [
    (768, 24, 129_135_360),  # state-spaces/mamba-130m-hf
    (1024, 48, 371_516_416),  # state-spaces/mamba-370m-hf
    (2560, 64, 2_768_345_600),  # state-spaces/mamba-2.8b-hf
]


@pytest.mark.parametrize(("d", "layers", "published"), MAMBA_SIZES, ids=["mamba-130m", "mamba-370m", "mamba-2.8b"])
def test_mamba_has_hugging_faces_counts(d: int, layers: int, published: int) -> None:
    vocab, n, inner, r = 50280, 16, 2 * d, math.ceil(d / 16)  # the spec's comment's formula
    block = d + 2 * inner * d + 4 * inner + inner + (r + 2 * n) * inner + r * inner + inner + inner * n + inner \
        + inner * d
    assert vocab * d + layers * block + d == published
    spec = specc.load(ARCH / "mamba.yaml", overrides=[f"vars.d={d}", f"vars.layers={layers}", f"vars.vocab={vocab}"])
    assert spec.ok, [(e.code, e.message) for e in spec.errors]
    assert spec.check()["total_params"] == published
