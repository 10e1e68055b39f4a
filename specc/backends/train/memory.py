"""Before the model is built: does one training step fit in the memory the device has free?

The step's size is specc's static estimate (specc.graph.memory) at the data's sizes and the batch
each process trains on; what is free is the kernel's MemAvailable on the CPU (a step over it is
killed by the kernel with no message), torch.cuda.mem_get_info on a GPU.  A step may take at most
HEADROOM of it: backward holds, beside what the forward saved, the gradient of the activation it is
working through and the kernels' scratch (oneDNN's, cuDNN's workspaces), and the allocator keeps
freed blocks.  The peak resident memory of a step (forward, backward, optimizer step) on CPU, over
the estimate: MobileNetV2 1.05 at batch 16 and 48 (1.3 and 4.0 GB), ResNet-18 1.48, the small U-Net
1.53, the Transformer text classifier 1.35 (tens to hundreds of MB, where fixed costs weigh more):
60% covers up to 1.67.  On a GPU (an H200, bench/cuda_train.py) the peak allocated over the estimate
was 0.79 to 1.15 for the convnets, the ViT and the encoder-decoder at batch 32, 1.4 for the decoder LM;
small recurrent and LLaMA-style models went to 2.6, their tens of MB outweighed by the workspaces the
libraries allocate on first use (cuBLAS's 32 MiB among them), which CUDA_WORKSPACES counts apart.
``--ignore-memory`` (or SPECC_IGNORE_MEMORY=1) skips the check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from ...data.read import DataError
from ...graph.memory import TrainingMemory

# The share of the free memory a step's estimate may take (see the module docstring).
HEADROOM = 0.6
# A step that fits but takes more than this share of the free memory is named in the run's notes.
NOTE_SHARE = 0.3
IGNORE_ENV = "SPECC_IGNORE_MEMORY"
# What a CUDA step allocates beside the model's tensors whatever its size: cuBLAS's workspace (32 MiB,
# the first matrix product's 33.6 MB on an H200), cuDNN's dropout state for a recurrent layer with
# dropout between its layers (6.3 MB there).
CUDA_WORKSPACES = 64 << 20


class MemoryRefused(DataError):
    """T080: the step's estimate exceeds the memory there is; exit 2."""


def available(device: torch.device) -> tuple[int, str] | None:
    """Bytes free on ``device`` and where that was read, or None where it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free on {torch.cuda.get_device_name(device)}"
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free physical memory"
    except (ValueError, OSError, AttributeError):
        return None


def human(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def check_fits(est: TrainingMemory, sizes: Mapping[str, int], batch: int, device: torch.device,
               world: int = 1, free: tuple[int, str] | None = None) -> str | None:
    """Raise MemoryRefused when a step of ``batch`` samples (per process) does not fit in what is
    free on ``device``; return a note for the report where it fits but comes close (else None)."""
    if os.environ.get(IGNORE_ENV, "") not in ("", "0"):
        return None
    free = free if free is not None else available(device)
    if free is None:
        return None
    have, where = free
    env = {**sizes, **({est.batch: batch} if est.batch else {})}
    step = est.at(env)
    budget = int(have * HEADROOM) - (CUDA_WORKSPACES if device.type == "cuda" else 0)
    if step["total"] <= budget:
        if step["total"] < have * NOTE_SHARE:  # far from the limit: nothing to say
            return None
        return (f"a training step needs about {human(step['total'])} (estimate), of {human(have)} free "
                f"({where}): close to the {HEADROOM:.0%} a step may take")
    fits = est.largest_batch(budget, env)
    parts = (f"weights {human(step['params'])}, gradients {human(step['grads'])}, optimizer state "
             f"{human(step['optimizer'])}, activations {human(step['activations'])}")
    shared = f" per process, {world} processes" if world > 1 else ""
    message = (f"one training step ({batch} samples{shared}) needs about {human(step['total'])} ({parts}), "
               f"but {device.type} has {human(have)} free ({where}), and a step may take {HEADROOM:.0%} of it "
               f"(backward's own buffers need the rest"
               + (f", and the CUDA libraries' workspaces {human(CUDA_WORKSPACES)})" if device.type == "cuda" else ")"))
    if fits:
        hint = (f"set batch_size: {fits * world} (the largest that fits here; raise accumulate: to keep the "
                f"effective batch), or pass --ignore-memory if you know better")
    else:
        hint = ("even one sample does not fit: train on a machine with more memory, use a smaller model or "
                "input size, or pass --ignore-memory if you know better")
    raise MemoryRefused("T080", message, hint, "batch_size")


def estimate_sizes(graph_inputs: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, int]:
    """The size of each symbol of the model's inputs in the data's arrays (their first dim, the
    number of samples, aside: the batch is given apart)."""
    from ...shapes.dims import Dim, Sym

    env: dict[str, int] = {}
    for name, t in graph_inputs.items():
        shape = shapes.get(name)
        if shape is None or len(shape) != len(t.shape):
            continue
        for d, n in zip(t.shape, shape):
            if isinstance(d, Dim) and len(d.terms) == 1:
                mono, coeff = d.terms[0]
                if coeff == 1 and len(mono) == 1 and isinstance(mono[0], Sym):
                    env.setdefault(mono[0].name, int(n))
    return env
