"""Mamba's selective state-space mixer (Gu and Dao, 2023), which PyTorch lacks.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch import nn
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


class MambaMixer(nn.Module):
    """Mamba's mixer over (B, T, d_model), as Hugging Face's MambaMixer computes it
    without its CUDA kernels, under mamba_ssm's parameter names (in_proj, conv1d,
    x_proj, dt_proj, A_log, D, out_proj), so a checkpoint of either loads.

    in_proj gives x and the gate z; x runs through a causal depthwise conv (d_conv taps)
    and SiLU; x_proj gives each step's dt (softplus of dt_proj), B and C; the state h
    (d_inner, d_state) runs h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t and
    y_t = h_t C_t + D x_t, with A = -exp(A_log); the output is out_proj(y * silu(z)).
    The scan is sequential over T, in float32 whatever the input.
    """

    def __init__(
        self,
        d_model: int,
        d_inner: int,
        d_state: int = 16,
        d_conv: int = 4,
        dt_rank: int | None = None,
        conv_bias: bool = True,
        bias: bool = False,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_scale: float = 1.0,
        dt_init: str = "random",
    ) -> None:
        super().__init__()
        inner = d_inner
        self.d_state, self.dt_rank = d_state, dt_rank or math.ceil(d_model / 16)
        self.dt_min, self.dt_max, self.dt_init_floor = dt_min, dt_max, dt_init_floor
        self.dt_scale, self.dt_init = dt_scale, dt_init
        self.in_proj = nn.Linear(d_model, 2 * inner, bias=bias)
        self.conv1d = nn.Conv1d(
            inner, inner, d_conv, groups=inner, padding=d_conv - 1, bias=conv_bias
        )
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(inner, d_state))
        self.D = nn.Parameter(torch.empty(inner))
        self.out_proj = nn.Linear(inner, d_model, bias=bias)
        self.reset_ssm_parameters()

    @torch.no_grad()
    def reset_ssm_parameters(self) -> None:
        """mamba_ssm's initialisation: A_log = log(1..d_state) on every channel
        (S4D-real), D = 1, dt_proj's bias softplus⁻¹ of steps drawn log-uniformly in
        [dt_min, dt_max] (at least dt_init_floor), its weight U(±dt_scale·dt_rank^-1/2)
        or that bound everywhere ("constant")."""
        inner = self.D.numel()
        n = torch.arange(1, self.d_state + 1, dtype=torch.float32)
        self.A_log.copy_(torch.log(n).expand(inner, -1))
        self.D.fill_(1.0)
        std = self.dt_rank**-0.5 * self.dt_scale
        if self.dt_init == "constant":
            self.dt_proj.weight.fill_(std)
        else:
            self.dt_proj.weight.uniform_(-std, std)
        low, high = math.log(self.dt_min), math.log(self.dt_max)
        dt = torch.exp(torch.rand(inner) * (high - low) + low)
        dt = dt.clamp(min=self.dt_init_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            raise RuntimeError(
                "Mamba's scan over T would be unrolled to the export length by "
                "torch.onnx; export with specc export --via direct, which writes it as "
                "an ONNX Scan"
            )
        steps = x.size(1)
        u, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)  # (B, d_inner, T) each
        u = F.silu(self.conv1d(u)[..., :steps])
        sizes = [self.dt_rank, self.d_state, self.d_state]
        dt, b, c = self.x_proj(u.transpose(1, 2)).split(sizes, dim=-1)
        dt = F.softplus(self.dt_proj(dt)).transpose(1, 2)  # (B, d_inner, T)
        # float32 under autocast too, as mamba_ssm's kernel keeps its states
        with torch.autocast(x.device.type, enabled=False):
            y = self._scan(dt.float(), u.float(), b.float(), c.float())
        y = (y + u.float() * self.D.float()[:, None]).to(x.dtype)
        return self.out_proj((y * F.silu(z)).transpose(1, 2))

    def _scan(
        self, dt: torch.Tensor, u: torch.Tensor, b: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        """y (B, d_inner, T) of dt, u (B, d_inner, T) and B, C (B, T, d_state)."""
        a = -torch.exp(self.A_log.float())  # (d_inner, d_state)
        decay = torch.exp(a[:, None, :] * dt[..., None])  # (B, d_inner, T, d_state)
        push = (dt * u)[..., None] * b[:, None]  # dt_t·x_t·B_t, the same shape
        h = decay.new_zeros(decay.shape[0], decay.shape[1], decay.shape[3])
        # unbound once: indexing step t inside the loop would make backward write a
        # zero tensor of the whole (B, d_inner, T, d_state) per step (12x slower)
        ys = []
        for decay_t, push_t, c_t in zip(
            decay.unbind(2), push.unbind(2), c[..., None].unbind(1)
        ):
            h = torch.addcmul(push_t, decay_t, h)
            ys.append(torch.bmm(h, c_t))
        return torch.cat(ys, dim=2)
