"""Published architectures of tests/corpus/architectures against their reference code: each spec's
built module has the parameter and buffer counts of a PyTorch twin written the way its reference
module is (ultralytics/yolov5 common.py, junyanz pix2pix networks.py, Tramac Fast-SCNN, timm's
Res2Net and SKNet, SaoYan DnCNN, zalandoresearch VQ-VAE), so a spec that drops a bias, a norm or a
branch fails here even though it checks, builds and exports."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from specc.backends.torch_build import build_module  # noqa: E402

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


@pytest.mark.parametrize("stem", sorted(TWINS))
def test_counts_are_the_reference_modules(stem: str) -> None:
    spec = specc.load(ARCH / f"{stem}.yaml")
    assert spec.ok, [d.render() for d in spec.errors]
    built = build_module(spec)
    assert counts(built) == counts(TWINS[stem]())
    assert spec.check()["total_params"] == counts(built)[0]


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
    built, twin = build_module(specc.load(ARCH / f"{stem}.yaml")).eval(), TWINS[stem]().eval()
    x = torch.randn(*size)
    ours, theirs = _run_order(built, x), _run_order(twin, x)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    for a, b in zip(ours, theirs):
        a.load_state_dict(b.state_dict())
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
