"""Hand-written PyTorch twins of the zoo specs that have no published parameter count.

Each module declares its parameters in the order the spec lists its layers, so the test
can copy the reference's weights into the generated module one tensor at a time and
compare outputs, not just shapes and counts.
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = torch.tanh(self.c5(x)).flatten(1)
        return self.output(torch.tanh(self.f6(x)))


class SE(nn.Module):
    def __init__(self, ch: int, r: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(ch, ch // r, bias=False)
        self.fc2 = nn.Linear(ch // r, ch, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * gate[:, :, None, None]


class SEBlock(nn.Module):
    def __init__(self, cin: int, ch: int, r: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.se = SE(ch, r)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, ch, 1, stride=stride, bias=False), nn.BatchNorm2d(ch))
                         if stride != 1 or cin != ch else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        return torch.relu(y + self.shortcut(x))


class SEResNetCifar(nn.Module):
    def __init__(self, num_classes: int = 10, r: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(
            SEBlock(16, 16, r), SEBlock(16, 16, r),
            SEBlock(16, 32, r, stride=2), SEBlock(32, 32, r),
            SEBlock(32, 64, r, stride=2), SEBlock(64, 64, r),
        )
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))


class Table(nn.Module):
    """A learned tensor (a position table, a class token) in a module of its own, so that it is
    listed where it is used."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.randn(*shape) * 0.02)


class ViT(nn.Module):
    """torchvision's ViT: patches -> class token -> learned positions -> pre-norm encoder -> x[:, 0] -> head."""

    def __init__(self, image_size: int, patch: int, d_model: int, depth: int, heads: int, mlp: int,
                 num_classes: int) -> None:
        super().__init__()
        n = (image_size // patch) ** 2 + 1
        self.conv_proj = nn.Conv2d(3, d_model, patch, stride=patch)
        self.class_token = Table(1, 1, d_model)
        self.pos_embedding = Table(n, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, mlp, dropout=0.0, activation="gelu",
                                           layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(d_model, eps=1e-6),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.pe.expand(x.size(0), -1, -1), x], dim=1)
        x = self.encoder(x + self.pos_embedding.pe[: x.size(1)])
        return self.head(x[:, 0])


# -- issue 12, area B: super-resolution, GAN, style transfer, segmentation ------------------------------

class ESPCN(nn.Module):
    """Shi et al., 2016: three convs, the last with r² filters per channel, then PixelShuffle(r)."""

    def __init__(self, r: int = 3, channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, channels * r * r, 3, padding=1)
        self.shuffle = nn.PixelShuffle(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv3(torch.tanh(self.conv2(torch.tanh(self.conv1(x))))))


class DCGANGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's generator."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """The PyTorch DCGAN tutorial's discriminator, without its final Sigmoid (the spec's loss applies it)."""

    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1)


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(ch, ch, 3, 1)
        self.in1 = nn.InstanceNorm2d(ch, affine=True)
        self.conv2 = ConvLayer(ch, ch, 3, 1)
        self.in2 = nn.InstanceNorm2d(ch, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.in2(self.conv2(torch.relu(self.in1(self.conv1(x))))) + x


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, upsample: int) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = ConvLayer(cin, cout, k, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample))


class TransformerNet(nn.Module):
    """pytorch/examples fast_neural_style's TransformerNet (Johnson et al., 2016)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9, 1), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        self.res = nn.Sequential(*(ResidualBlock(128) for _ in range(5)))
        self.deconv1, self.in4 = UpsampleConvLayer(128, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = UpsampleConvLayer(64, 32, 3, 2), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.in1(self.conv1(x)))
        y = torch.relu(self.in2(self.conv2(y)))
        y = torch.relu(self.in3(self.conv3(y)))
        y = self.res(y)
        y = torch.relu(self.in4(self.deconv1(y)))
        y = torch.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, mid: int) -> None:
        super().__init__(nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         nn.Conv2d(mid, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """milesial/Pytorch-UNet with bilinear=True: the decoder interpolates, then concatenates the skip."""

    def __init__(self, n_channels: int = 3, n_classes: int = 2, base: int = 64) -> None:
        super().__init__()
        b = base
        self.inc = DoubleConv(n_channels, b, b)
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout, cout))
                                   for cin, cout in ((b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b), (8 * b, 8 * b)))
        self.ups = nn.ModuleList(DoubleConv(cin, cout, cin // 2) for cin, cout in
                                 ((16 * b, 4 * b), (8 * b, 2 * b), (4 * b, b)))
        self.ups.append(DoubleConv(2 * b, b, b))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.outc = nn.Conv2d(b, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for conv in self.ups:
            y = conv(torch.cat([skips.pop(), self.up(y)], dim=1))
        return self.outc(y)
# -- sequence models (issue 12, area C): the masks are written out here, not taken from specc ----------

def causal_mask(t: int) -> torch.Tensor:
    """-inf above the diagonal: step i attends to steps 0..i."""
    return torch.triu(torch.full((t, t), float("-inf")), diagonal=1)


class Sinusoid(nn.Module):
    """The fixed sin/cos position table of "Attention Is All You Need", added to (B, T, d)."""

    def __init__(self, max_len: int, d: int) -> None:
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        angle = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float32) / d)
        table = torch.zeros(max_len, d)
        table[:, 0::2], table[:, 1::2] = torch.sin(angle), torch.cos(angle)
        self.register_buffer("pe", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.size(1)]


class Seq2SeqTransformer(nn.Module):
    """PyTorch's translation tutorial model: nn.Transformer's encoder and decoder (post-norm, each
    with its final LayerNorm), token embeddings plus sinusoidal positions on both sides, a causal
    target mask, and a linear generator."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d: int, heads: int, ff: int, enc_layers: int,
                 dec_layers: int, max_len: int) -> None:
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, d)
        self.src_pos = Sinusoid(max_len, d)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, ff, batch_first=True), enc_layers,
                                             norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.tgt_embed = nn.Embedding(tgt_vocab, d)
        self.tgt_pos = Sinusoid(max_len, d)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, heads, ff, batch_first=True), dec_layers,
                                             norm=nn.LayerNorm(d))
        self.generator = nn.Linear(d, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        memory = self.encoder(self.src_pos(self.src_embed(src)))
        y = self.decoder(self.tgt_pos(self.tgt_embed(tgt)), memory, tgt_mask=causal_mask(tgt.size(1)))
        return self.generator(y)


class DecoderLM(nn.Module):
    """A GPT-style decoder-only model: token embedding, learned positions, causal pre-norm layers
    with GELU, a final LayerNorm, a bias-free head tied to the token embedding (GPT-2)."""

    def __init__(self, vocab: int, d: int, heads: int, depth: int, context: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = Table(context, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.wte(tokens)
        x = x + self.wpe.pe[: x.size(1)]
        return self.lm_head(self.blocks(x, mask=causal_mask(x.size(1))))


class SiameseNet(nn.Module):
    """One encoder applied to both images (PyTorch's examples/siamese_network, a small encoder)."""

    def __init__(self, embedding: int = 128, hidden: int = 64, image_size: int = 28) -> None:
        super().__init__()
        side = ((image_size - 2) // 2 - 2) // 2
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * side * side, embedding))
        self.head = nn.Sequential(nn.Linear(2 * embedding, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.encoder(left), self.encoder(right)], dim=1))


class SegNetBasic(nn.Module):
    """SegNet-Basic (Badrinarayanan et al.): four 7x7 conv encoders, each max-pooled with its indices kept;
    four decoders that unpool with those indices to the encoder map's size, then conv and BatchNorm."""

    def __init__(self, n_channels: int = 3, n_classes: int = 12, features: int = 64, kernel: int = 7) -> None:
        super().__init__()

        def conv(cin: int) -> nn.Conv2d:
            return nn.Conv2d(cin, features, kernel, padding=kernel // 2, bias=False)

        self.encoders = nn.ModuleList(nn.Sequential(conv(cin), nn.BatchNorm2d(features), nn.ReLU())
                                      for cin in (n_channels, features, features, features))
        self.decoders = nn.ModuleList(nn.Sequential(conv(features), nn.BatchNorm2d(features)) for _ in range(4))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.classifier = nn.Conv2d(features, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = []
        for encoder in self.encoders:
            x = encoder(x)
            size = x.shape
            x, indices = self.pool(x)
            kept.append((indices, size))
        for decoder in self.decoders:
            indices, size = kept.pop()
            x = decoder(self.unpool(x, indices, output_size=size))
        return self.classifier(x)
