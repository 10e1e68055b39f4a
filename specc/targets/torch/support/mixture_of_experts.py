"""The sparse mixture of experts as Hugging Face's MixtralSparseMoeBlock computes it (transformers 4.x,
the layout of Mixtral's checkpoints): a router ``gate`` scores the experts, the softmax's top-k pick
each token's experts, and every expert runs on the tokens routed to it alone, its outputs weighted
and added back in place (``index_add_``).  ``experts.{i}.w1/w2/w3`` are Mixtral's names, so its
state dict loads as it is; ``shared_expert`` and ``shared_expert_gate`` are Qwen2-MoE's.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


class ExpertMLP(nn.Module):
    """One expert: w2(act(w1 x) * w3 x) when gated (Mixtral's MixtralBlockSparseTop2MLP), else w2(act(w1 x))."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        activation: str,
        gated: bool,
        bias: bool,
    ) -> None:
        super().__init__()
        self.w1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.w2 = nn.Linear(hidden_features, in_features, bias=bias)
        self.w3 = nn.Linear(in_features, hidden_features, bias=bias) if gated else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.w1(x)
        if self.activation == "silu":
            h = F.silu(h)
        elif self.activation == "relu":
            h = F.relu(h)
        else:
            h = F.gelu(
                h, approximate="tanh" if self.activation == "gelu_tanh" else "none"
            )
        if self.w3 is not None:
            h = h * self.w3(x)
        return self.w2(h)


class MixtureOfExperts(nn.Module):
    """Each token goes to the ``top_k`` experts of ``num_experts`` whose router probabilities are largest,
    its output their outputs weighted by those probabilities (renormalised over the k when ``normalize``).
    The router's softmax and the weights are computed in float32, as Mixtral's."""

    def __init__(
        self,
        in_features: int,
        num_experts: int,
        top_k: int,
        hidden_features: int,
        activation: str = "silu",
        gated: bool = True,
        bias: bool = False,
        normalize: bool = True,
        shared_features: int | None = None,
        shared_gate: bool = True,
    ) -> None:
        super().__init__()
        self.num_experts, self.top_k, self.normalize = num_experts, top_k, normalize
        self.gate = nn.Linear(in_features, num_experts, bias=False)
        expert = (in_features, hidden_features, activation, gated, bias)
        self.experts = nn.ModuleList(ExpertMLP(*expert) for _ in range(num_experts))
        self.shared_expert = None
        self.shared_expert_gate = None
        if shared_features is not None:
            self.shared_expert = ExpertMLP(
                in_features, shared_features, activation, gated, bias
            )
            if shared_gate:
                self.shared_expert_gate = nn.Linear(in_features, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(-1, shape[-1])
        probs = F.softmax(self.gate(h), dim=-1, dtype=torch.float)
        # torch.topk's choice among equal probabilities (a router started at zeros, tokens alike) depends on
        # the kernel; a stable sort gives ties to the lower-numbered experts, as ONNX's TopK does
        weights, chosen = torch.sort(probs, dim=-1, descending=True, stable=True)
        k = self.top_k
        weights, chosen = weights[:, :k], chosen[:, :k]
        if self.normalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = weights.to(h.dtype)
        out = torch.zeros_like(h)
        # (experts, k, tokens): which of its k slots, if any, routes each token to each expert
        routed = F.one_hot(chosen, num_classes=self.num_experts).permute(2, 1, 0)
        # an expert no token was routed to still runs, on no rows: its weights then take a zero gradient,
        # as DistributedDataParallel (find_unused_parameters off) needs of every parameter in every step
        for i, expert in enumerate(self.experts):
            slot, token = torch.where(routed[i])
            out.index_add_(0, token, expert(h[token]) * weights[token, slot, None])
        if self.shared_expert is not None:
            shared = self.shared_expert(h)
            if self.shared_expert_gate is not None:
                shared = torch.sigmoid(self.shared_expert_gate(h)) * shared
            out = out + shared
        return out.reshape(shape)
