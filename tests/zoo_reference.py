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
