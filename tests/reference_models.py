"""Hand-written PyTorch references of the example specs in specs/.

Each model here is plain ``torch.nn`` code written independently of specc: nothing is
imported from specc, so a wrong shape rule or parameter count in specc cannot hide by
being copied into its own reference.  tests/test_examples.py runs each at two batch
sizes (and two values of every other symbolic dim) against specc's static shapes and
counts; bench/check_speed.py builds ResNet-18 from here as "the usual alternative".

A :class:`Reference` says how to build the module, how to make its inputs for given
sizes of the symbols (``B``, ``L``…), and which sizes to try.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

Sizes = dict[str, int]


@dataclass
class Reference:
    build: Callable[[], nn.Module]
    inputs: Callable[[Sizes], dict[str, Tensor]]  # keyword arguments of forward(), named as in the spec
    sizes: list[Sizes] = field(default_factory=lambda: [{"B": 1}, {"B": 3}])


def _floats(*shape: int) -> Tensor:
    return torch.randn(*shape)


def _tokens(vocab: int, *shape: int) -> Tensor:
    return torch.randint(0, vocab, shape)


# -- xor.yaml -------------------------------------------------------------------------------------

class XorNet(nn.Module):
    def __init__(self, hidden: int = 4):
        super().__init__()
        self.hidden = nn.Linear(2, hidden)
        self.act = nn.Tanh()
        self.logit = nn.Linear(hidden, 1)

    def forward(self, bits: Tensor) -> Tensor:
        return self.logit(self.act(self.hidden(bits)))


# -- mlp_regression.yaml -----------------------------------------------------------------------------

class DiabetesMLP(nn.Module):
    def __init__(self, n_features: int = 10, width: int = 64, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width // 2), nn.ReLU(),
            nn.Linear(width // 2, width // 4), nn.ReLU(),
            nn.Linear(width // 4, 1),
        )

    def forward(self, clinical: Tensor) -> Tensor:
        return self.net(clinical)


# -- course_cnn.yaml -----------------------------------------------------------------------------------

class CourseCNN(nn.Module):
    """RGB 48x48 → conv32-pool-conv64-pool-conv128 → 512 hidden → dropout 0.5 → classes."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * 12 * 12, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, num_classes),
        )

    def forward(self, image: Tensor) -> Tensor:
        return self.classifier(self.features(image))


# -- conv1d_signal.yaml ----------------------------------------------------------------------------------

def _conv_bn_relu_1d(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm1d(c_out), nn.ReLU())


class SignalNet(nn.Module):
    """Conv1d classifier over (B, C, L) for any length L: global average pooling before the head."""

    def __init__(self, channels: int = 3, width: int = 32, num_classes: int = 6):
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn_relu_1d(channels, width, 7, stride=2),
            nn.MaxPool1d(2),
            _conv_bn_relu_1d(width, width * 2, 5),
            _conv_bn_relu_1d(width * 2, width * 4, 3, stride=2),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(width * 4, num_classes),
        )

    def forward(self, signal: Tensor) -> Tensor:
        return self.body(signal)


# -- resnet18.yaml: torchvision's resnet18, written out ---------------------------------------------------

class BasicBlock(nn.Module):
    """Two 3x3 convs; the shortcut is the identity, or a 1x1 conv + BN when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, image: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(image))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- multi_input.yaml ------------------------------------------------------------------------------------

class ProductClassifier(nn.Module):
    """A product photo and a row of tabular metadata, fused by concatenation."""

    def __init__(self, n_meta: int = 12, num_classes: int = 20):
        super().__init__()
        self.image_branch = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.meta_branch = nn.Sequential(nn.Linear(n_meta, 32), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(64 + 32, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, num_classes))

    def forward(self, image: Tensor, meta: Tensor) -> Tensor:
        return self.head(torch.cat([self.image_branch(image), self.meta_branch(meta)], dim=1))


# -- unet_small.yaml -------------------------------------------------------------------------------------

def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
    )


class SmallUNet(nn.Module):
    """Two-level U-Net: encoder convs and pools, ConvTranspose2d up, skip connections by Concat."""

    def __init__(self, in_channels: int = 1, base: int = 16, num_classes: int = 2):
        super().__init__()
        self.enc1 = _double_conv(in_channels, base)
        self.enc2 = _double_conv(base, base * 2)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(base * 2, base * 4)
        self.up2 = nn.ConvTranspose2d(base * 4, base * 2, 2, stride=2)
        self.dec2 = _double_conv(base * 4, base * 2)
        self.up1 = nn.ConvTranspose2d(base * 2, base, 2, stride=2)
        self.dec1 = _double_conv(base * 2, base)
        self.head = nn.Conv2d(base, num_classes, 1)

    def forward(self, image: Tensor) -> Tensor:
        e1 = self.enc1(image)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1)


# -- unet_any_size.yaml -----------------------------------------------------------------------------------

class AnySizeUNet(SmallUNet):
    """SmallUNet with each up-convolved map resized to its skip's size before the Concat."""

    def forward(self, image: Tensor) -> Tensor:
        e1 = self.enc1(image)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        up2 = nn.functional.interpolate(self.up2(b), size=e2.shape[2:], mode="bilinear")
        d2 = self.dec2(torch.cat([up2, e2], dim=1))
        up1 = nn.functional.interpolate(self.up1(d2), size=e1.shape[2:], mode="bilinear")
        d1 = self.dec1(torch.cat([up1, e1], dim=1))
        return self.head(d1)


# -- bilstm_text.yaml -------------------------------------------------------------------------------------

class BiLSTMText(nn.Module):
    """Token ids padded with 0 → embedding → 2-layer bidirectional LSTM over each sentence's own length
    (packed) → each direction's final state → classes."""

    def __init__(self, vocab: int = 5000, embed: int = 64, hidden: int = 64, num_classes: int = 4):
        super().__init__()
        self.hidden = hidden
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, num_layers=2, dropout=0.2, bidirectional=True, batch_first=True)
        self.dropout = nn.Dropout(0.3)
        self.logits = nn.Linear(2 * hidden, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        lengths = (tokens != 0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths.clamp(min=1).cpu(),
                                                   batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        # The forward direction ends at each sentence's last token, the backward one at its first.
        last = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.logits(self.dropout(last))


# -- gru_timeseries.yaml -----------------------------------------------------------------------------------

class GRUForecaster(nn.Module):
    def __init__(self, features: int = 8, hidden: int = 32):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2, dropout=0.1, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, series: Tensor) -> Tensor:
        _, h_n = self.gru(series)
        return self.head(h_n[-1])


# -- convlstm_frames.yaml ----------------------------------------------------------------------------------

class ConvLSTMCell(nn.Module):
    """Shi et al. (2015): one conv over [input, hidden] gives the four gates."""

    def __init__(self, c_in: int, hidden: int, k: int = 3):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(c_in + hidden, 4 * hidden, k, padding=k // 2)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, g, o = torch.chunk(self.gates(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTMNextFrame(nn.Module):
    def __init__(self, hidden: tuple[int, ...] = (16, 16)):
        super().__init__()
        chans = (1, *hidden)
        self.cells = nn.ModuleList(ConvLSTMCell(a, b) for a, b in itertools.pairwise(chans))
        self.head = nn.Conv2d(hidden[-1], 1, 1)

    def forward(self, frames: Tensor) -> Tensor:
        b, t, _, height, width = frames.shape
        seq = frames
        for cell in self.cells:
            h = seq.new_zeros(b, cell.hidden, height, width)
            c = torch.zeros_like(h)
            outs = []
            for step in range(t):
                h, c = cell(seq[:, step], (h, c))
                outs.append(h)
            seq = torch.stack(outs, dim=1)
        return torch.sigmoid(self.head(seq[:, -1]))


# -- timedistributed_video.yaml ----------------------------------------------------------------------------

class FrameCNNGRU(nn.Module):
    """The same small CNN on every frame (frames folded into the batch), then a GRU over time."""

    def __init__(self, num_classes: int = 5):
        super().__init__()
        self.frame_cnn = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.logits = nn.Linear(64, num_classes)

    def forward(self, clip: Tensor) -> Tensor:
        b, t = clip.shape[:2]
        features = self.frame_cnn(clip.reshape(b * t, *clip.shape[2:])).reshape(b, t, -1)
        seq, _ = self.gru(features)
        return self.logits(seq[:, -1])


# -- transformer_text.yaml ---------------------------------------------------------------------------------

class SinusoidalPositions(nn.Module):
    """Vaswani et al. (2017) fixed positions, added to the embeddings; a buffer, not parameters."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.1):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)
        self.register_buffer("table", table)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.table[: x.shape[1]])


class TransformerText(nn.Module):
    def __init__(self, vocab: int = 8000, d_model: int = 64, heads: int = 4, num_classes: int = 3):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.positions = SinusoidalPositions(d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, 0.1, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.logits = nn.Linear(d_model, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.logits(self.encoder(self.positions(self.embedding(tokens))).mean(dim=1))


# -- the table the tests and the benchmark read ------------------------------------------------------------

# -- digits_cnn.yaml -------------------------------------------------------------------------------

class DigitsCNN(nn.Module):
    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(2 * width, num_classes))

    def forward(self, image: Tensor) -> Tensor:
        return self.head(self.features(image).mean(dim=(2, 3)))


# -- linear_regression.yaml ------------------------------------------------------------------------

class LinearRegression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.y = nn.Linear(1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.y(x)


REFERENCES: dict[str, Reference] = {
    "linear_regression": Reference(LinearRegression, lambda s: {"x": _floats(s["B"], 1)}),
    "digits_cnn": Reference(DigitsCNN, lambda s: {"image": _floats(s["B"], 1, 8, 8)}, [{"B": 1}, {"B": 5}]),
    "xor": Reference(XorNet, lambda s: {"bits": _floats(s["B"], 2)}, [{"B": 1}, {"B": 4}]),
    "mlp_regression": Reference(DiabetesMLP, lambda s: {"clinical": _floats(s["B"], 10)}, [{"B": 2}, {"B": 7}]),
    "course_cnn": Reference(CourseCNN, lambda s: {"image": _floats(s["B"], 3, 48, 48)}),
    "conv1d_signal": Reference(
        SignalNet, lambda s: {"signal": _floats(s["B"], 3, s["L"])},
        [{"B": 1, "L": 128}, {"B": 3, "L": 301}, {"B": 2, "L": 1000}]),
    "resnet18": Reference(ResNet18, lambda s: {"image": _floats(s["B"], 3, 224, 224)}, [{"B": 1}, {"B": 2}]),
    "multi_input": Reference(
        ProductClassifier, lambda s: {"image": _floats(s["B"], 3, 64, 64), "meta": _floats(s["B"], 12)}),
    "unet_small": Reference(SmallUNet, lambda s: {"image": _floats(s["B"], 1, 64, 64)}, [{"B": 1}, {"B": 2}]),
    "unet_any_size": Reference(AnySizeUNet, lambda s: {"image": _floats(s["B"], 1, s["H"], s["W"])},
                               [{"B": 1, "H": 64, "W": 64}, {"B": 2, "H": 37, "W": 50}, {"B": 1, "H": 9, "W": 15}]),
    "bilstm_text": Reference(BiLSTMText, lambda s: {"tokens": _tokens(5000, s["B"], s["T"])},
                             [{"B": 1, "T": 5}, {"B": 3, "T": 17}]),
    "gru_timeseries": Reference(GRUForecaster, lambda s: {"series": _floats(s["B"], s["T"], 8)},
                                [{"B": 2, "T": 6}, {"B": 4, "T": 31}]),
    "convlstm_frames": Reference(ConvLSTMNextFrame, lambda s: {"frames": _floats(s["B"], s["T"], 1, 32, 32)},
                                 [{"B": 1, "T": 2}, {"B": 2, "T": 3}]),
    "timedistributed_video": Reference(FrameCNNGRU, lambda s: {"clip": _floats(s["B"], s["T"], 3, 32, 32)},
                                       [{"B": 1, "T": 2}, {"B": 2, "T": 5}]),
    "transformer_text": Reference(TransformerText, lambda s: {"tokens": _tokens(8000, s["B"], s["T"])},
                                  [{"B": 1, "T": 7}, {"B": 3, "T": 20}]),
}
