"""specc's training on a CUDA GPU: one step's memory against the card's own count, and the CLI's
runs (train, resume, evaluate and predict on the checkpoint, bench, export) on the GPU.

Memory: for each spec, at a batch of --batch, (1) the bytes autograd saves for backward in one
forward, float32 and under CUDA autocast (float16), beside specc's static estimate
(``specc.graph.memory``) of the same; (2) the peak ``torch.cuda.max_memory_allocated`` of a whole
step (forward, a mean-square loss on the outputs, backward, the spec's optimizer's first step, which
allocates its state) beside the estimate's total for that device, the number ``specc train`` holds
against the free memory with a headroom of 0.6 less CUDA_WORKSPACES (specc/backends/train/memory.py).
A peak over that would let a step specc accepts fail for lack of memory.

Runs: each command of RUNS in a fresh process with its exit code, wall time and the last lines it
printed; a checkpoint trained on the GPU is then evaluated and predicted from with CUDA hidden.

Run:  python bench/cuda_train.py [--batch 32] [--json FILE] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import specc  # noqa: E402
from specc.backends.torch_build import build_module, example_inputs, generated_module, symbol_sizes  # noqa: E402
from specc.backends.train.memory import CUDA_WORKSPACES, HEADROOM  # noqa: E402
from specc.graph.memory import spec_memory  # noqa: E402
from specc.shapes.dims import evaluate  # noqa: E402

MEMORY_SPECS = [
    ("specs/mlp_regression.yaml", ()),
    ("specs/digits_cnn.yaml", ()),
    ("specs/resnet18.yaml", ()),
    ("specs/zoo/mobilenet_v2.yaml", ()),
    ("specs/unet_small.yaml", ()),
    ("specs/bilstm_text.yaml", ()),
    ("specs/gru_timeseries.yaml", ()),
    ("specs/transformer_text.yaml", ()),
    ("specs/zoo/decoder_lm.yaml", ()),
    ("specs/zoo/seq2seq_transformer.yaml", ()),
    ("specs/zoo/vit_b16.yaml", ()),
    ("tests/corpus/architectures/qwen3.yaml", ()),
]


def _inputs(spec: specc.Spec, batch: int, device: torch.device) -> list[torch.Tensor]:
    # every sample as long as the batch (no padded tail), as tests/test_training_memory.py measures
    xs = example_inputs(spec, batch)
    xs = [x.clamp(min=1) if not x.is_floating_point() and x.dtype != torch.bool else x for x in xs]
    return [x.to(device) for x in xs]


def _outputs(out: object) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    return [o for o in out if isinstance(o, torch.Tensor)]  # type: ignore[union-attr]


def saved(spec: specc.Spec, batch: int, device: torch.device, amp: bool) -> int:
    model = build_module(spec, seed=0).to(device).train()
    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in state:
            seen.setdefault(s.data_ptr(), s.nbytes())
        return t

    with torch.autocast(device.type, dtype=torch.float16, enabled=amp), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*_inputs(spec, batch, device))
    return sum(seen.values())


def peak_step(spec: specc.Spec, batch: int, device: torch.device, amp: bool) -> int:
    if device.type != "cuda":
        return -1  # a smoke run on a CPU: no allocator to read
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated(device)
    model = build_module(spec, seed=0).to(device).train()
    opt = generated_module(spec).build_optimizer(model)
    xs = _inputs(spec, batch, device)
    inputs_bytes = sum(x.numel() * x.element_size() for x in xs)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
        outs = _outputs(model(*xs))
    loss = sum(o.float().square().mean() for o in outs if o.is_floating_point())
    loss.backward()  # type: ignore[union-attr]
    opt.step()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before - inputs_bytes
    del model, opt, xs, outs, loss
    return peak


def memory(batch: int, device: torch.device, only: str) -> list[dict]:
    rows = []
    for path, sets in MEMORY_SPECS:
        if only and not any(o in path for o in only.split(",")):
            continue
        row: dict = {"spec": path, "batch": batch}
        try:
            spec = specc.load(str(ROOT / path), list(sets))
            spec.require_ok()
            env = symbol_sizes(spec, batch)
            for amp in (False, True):
                est = spec_memory(spec, amp=amp, device=device.type)
                assert est is not None
                act = est.activations if isinstance(est.activations, int) else evaluate(est.activations, env)
                total = est.at(env)["total"]
                key = "amp" if amp else "fp32"
                row[key] = {"saved": saved(spec, batch, device, amp), "estimate_saved": int(act),
                            "peak_step": peak_step(spec, batch, device, amp), "estimate_total": int(total)}
        except Exception as exc:  # noqa: BLE001 - one spec's failure is reported, the others still run
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        if "error" in row:
            print(f"{path}: {row['error']}", flush=True)
            continue
        for key in ("fp32", "amp"):
            m = row[key]
            over = m["peak_step"] / max(m["estimate_total"], 1)
            room = m["peak_step"] / (m["estimate_total"] + CUDA_WORKSPACES)
            print(f"{path:42s} {key:4s} saved {m['saved'] / 1e6:9.1f} MB est {m['estimate_saved'] / 1e6:9.1f} "
                  f"({m['estimate_saved'] / max(m['saved'], 1):5.2f}x)   step peak {m['peak_step'] / 1e6:9.1f} MB "
                  f"est total {m['estimate_total'] / 1e6:9.1f} (peak/est {over:5.2f}, "
                  f"limit {1 / HEADROOM:.2f}; with the workspaces {room:4.2f})", flush=True)
    return rows


def runs(tmp: Path) -> list[list[str]]:
    r = str(tmp)
    return [
        ["doctor"],
        ["train", "specs/digits_cnn.yaml", "--device", "cuda", "--epochs", "3", "-o", f"{r}/digits"],
        ["train", "--resume", f"{r}/digits", "--epochs", "5"],
        ["evaluate", f"{r}/digits", "@cpu"],
        ["predict", f"{r}/digits", "--input", f"{r}/digits_x.npy", "@cpu"],
        ["train", "specs/resnet18.yaml", "--device", "cuda", "--epochs", "1", "-o", f"{r}/resnet18"],
        ["train", "specs/transformer_text.yaml", "--device", "cuda", "--epochs", "2", "-o", f"{r}/tt",
         "--set", "train.mixed_precision=true"],
        ["train", "specs/bilstm_text.yaml", "--device", "cuda", "--epochs", "2", "-o", f"{r}/bilstm"],
        ["train", "specs/gru_timeseries.yaml", "--device", "cuda", "--epochs", "2", "-o", f"{r}/gru"],
        ["train", "specs/zoo/decoder_lm.yaml", "--device", "cuda", "--epochs", "1", "-o", f"{r}/lm",
         "--set", "train.mixed_precision=true"],
        ["train", "specs/unet_small.yaml", "--device", "cuda", "--epochs", "1", "-o", f"{r}/unet",
         "--set", "train.mixed_precision=true"],
        ["compile", "specs/digits_cnn.yaml", "--train", "-o", f"{r}/digits_train.py"],
        ["@script", f"{r}/digits_train.py", "--device", "cuda", "--epochs", "2", "--run", f"{r}/digits_script"],
        ["@script", "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m", "specc", "train",
         "specs/digits_cnn.yaml", "--device", "cuda", "--epochs", "1", "--run-dir", f"{r}/ddp"],
        ["bench", "specs/course_cnn.yaml", "--batch", "1,64", "--runs", "30", "--no-compile"],
        ["export", "specs/course_cnn.yaml", "--via", "direct", "-o", f"{r}/cnn.onnx"],
        ["run", f"{r}/cnn.onnx", "--provider", "auto", "--batch", "4"],
        ["run", f"{r}/cnn.onnx", "--provider", "cuda"],
    ]


def cli(tmp: Path, device: torch.device, smoke: bool) -> list[dict]:
    import numpy as np

    np.save(tmp / "digits_x.npy", np.random.default_rng(0).uniform(0, 16, (3, 1, 8, 8)).astype("float32"))
    rows = []
    for args in runs(tmp):
        trains = args[0] in ("train", "@script")
        args = [device.type if a == "cuda" and trains else a for a in args]
        if smoke and trains:
            args = [*args, "--max-steps", "2"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        if "@cpu" in args:
            args = [a for a in args if a != "@cpu"]
            env["CUDA_VISIBLE_DEVICES"] = ""
        t0 = time.perf_counter()
        command = [sys.executable, *args[1:]] if args[0] == "@script" else [sys.executable, "-m", "specc", *args]
        p = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
        wall = time.perf_counter() - t0
        tail = (p.stdout + p.stderr).strip().splitlines()[-8:]
        rows.append({"args": args, "rc": p.returncode, "wall_s": round(wall, 1), "tail": tail})
        print(f"\n$ specc {' '.join(args)}{'  (CUDA hidden)' if env.get('CUDA_VISIBLE_DEVICES') == '' else ''}"
              f"\n  rc {p.returncode}, {wall:.1f} s", flush=True)
        for line in tail:
            print(f"  | {line}", flush=True)
    return rows


# (T, B, input, hidden, layers, bidirectional): each size varied on its own, for a fit per kind
RNN_SIZES = [(64, 32, 128, 256, 1, False), (128, 32, 128, 256, 1, False), (64, 64, 128, 256, 1, False),
             (64, 32, 512, 256, 1, False), (64, 32, 128, 512, 1, False), (64, 32, 128, 256, 2, False),
             (64, 32, 128, 256, 1, True), (64, 32, 128, 256, 3, True), (17, 5, 33, 70, 2, True)]


def rnn_sweep(device: torch.device) -> list[dict]:
    """What cuDNN's LSTM/GRU/RNN saves for backward (its reserve space among it) and a step's peak,
    by size: the truth for the recurrent rule on a GPU (the rule's own comparison is the CPU's)."""
    rows = []
    for kind in ("LSTM", "GRU", "RNN"):
        for t, b, i, h, layers, bi in RNN_SIZES:
            for amp in (False, True):
                torch.cuda.empty_cache()
                rnn = getattr(torch.nn, kind)(i, h, layers, batch_first=True, bidirectional=bi).to(device).train()
                state = {p.untyped_storage().data_ptr() for p in rnn.parameters()}
                x = torch.randn(b, t, i, device=device, requires_grad=True)
                seen: dict[int, int] = {}

                def pack(v: torch.Tensor, seen: dict[int, int] = seen, state: set[int] = state) -> torch.Tensor:
                    st = v.untyped_storage()
                    if st.data_ptr() not in state:
                        seen.setdefault(st.data_ptr(), st.nbytes())
                    return v

                torch.cuda.synchronize(device)
                before = torch.cuda.memory_allocated(device)
                torch.cuda.reset_peak_memory_stats(device)
                with torch.autocast("cuda", dtype=torch.float16, enabled=amp), \
                        torch.autograd.graph.saved_tensors_hooks(pack, lambda v: v):
                    out, _ = rnn(x)
                out.float().square().mean().backward()
                torch.cuda.synchronize(device)
                peak = torch.cuda.max_memory_allocated(device) - before
                rows.append({"kind": kind, "T": t, "B": b, "input": i, "hidden": h, "layers": layers,
                             "bidirectional": bi, "amp": amp, "saved": sum(seen.values()), "peak": peak})
                del rnn, x, out
        print(f"{kind}: " + ", ".join(f"{r['saved'] / 1e6:.2f}" for r in rows if r["kind"] == kind) + " MB",
              flush=True)
    return rows


# Architectures with a train section whose kinds ran on a GPU nowhere else: latent attention and
# experts, qk norms, ALiBi, relative positions, LayerScale, Modulate, Sparsemax, the vector quantiser
NEWEST = ("bloom", "cait_xxs", "deepseek_v2_lite", "dit_s2", "efficientformer_l1_4d", "made", "mixtral_tiny",
          "olmo2", "qwen3", "resmlp_12", "swin_shifted", "swin_window", "t5_encoder", "tabnet", "vqvae")


def newest(tmp: Path) -> list[dict]:
    """Three steps of each NEWEST architecture under fp16 autocast on the GPU, four at a time."""
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def one(name: str) -> dict:
        args = ["train", f"tests/corpus/architectures/{name}.yaml", "--device", "cuda", "--epochs", "1",
                "--max-steps", "3", "--set", "train.mixed_precision=true", "-o", str(tmp / name)]
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "specc", *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=240)
        return {"arch": name, "rc": p.returncode, "wall_s": round(time.perf_counter() - t0, 1),
                "tail": (p.stdout + p.stderr).strip().splitlines()[-4:]}

    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(one, NEWEST))
    for r in rows:
        print(f"{r['arch']:24s} rc {r['rc']} {r['wall_s']:5.1f} s  | " + " / ".join(r["tail"][-2:])[:300], flush=True)
    return rows


def fp16_fill() -> dict:
    """The claim behind T096: a -1e9 fill on float16 scores stops the step, on the GPU."""
    q = torch.randn(2, 4, 8, 16, device="cuda")
    mask = torch.ones(8, 8, dtype=torch.bool, device="cuda").triu(1)
    out = {}
    for fill in (-1e9, float("-inf"), -65504.0):
        try:
            with torch.autocast("cuda", dtype=torch.float16):
                s = (q @ q.transpose(-1, -2)).masked_fill(mask, fill)
            out[str(fill)] = f"ok ({s.dtype})"
        except RuntimeError as exc:
            out[str(fill)] = f"RuntimeError: {exc}"
    print(f"\nmasked_fill on autocast float16 scores (CUDA): {out}", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--only", default="", help="memory: only the specs whose path holds one of these")
    p.add_argument("--smoke", action="store_true", help="two steps per training run")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: fill, rnn, memory, cli, newest")
    args = p.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (a smoke run: no peaks)"
    print(f"# {card}; torch {torch.__version__} (CUDA {torch.version.cuda})", flush=True)
    skip = set(args.skip.split(","))
    result: dict = {"card": card, "torch": torch.__version__}
    if "fill" not in skip and device.type == "cuda":
        result["fp16_fill"] = fp16_fill()
    if "rnn" not in skip and device.type == "cuda":
        result["rnn"] = rnn_sweep(device)
    if "memory" not in skip:
        result["memory"] = memory(args.batch, device, args.only)
    if "cli" not in skip:
        with tempfile.TemporaryDirectory(prefix="specc-cuda-") as tmp:
            result["cli"] = cli(Path(tmp), device, args.smoke)
    if "newest" not in skip and device.type == "cuda":
        with tempfile.TemporaryDirectory(prefix="specc-cuda-") as tmp:
            result["newest"] = newest(Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
