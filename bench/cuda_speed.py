"""The generated PyTorch module against torchvision's hand-written code, on a CUDA GPU.

For ResNet-18, VGG-11-BN, MobileNetV2 and ViT-B/16, specc's PyTorch target (the module
`specc compile` writes) is built beside torchvision's model; torchvision's weights are copied
into it (by position for the convnets, by a rename table for the ViT) and both are run on the
same batch to show they are the same network.  Then, interleaved round by round so that clocks
and load affect both alike, each pair is timed with CUDA events:

- eager float32 at batch 1 (latency: Python and launch overhead dominate) and batch 64;
- eager float16 at batch 64 (weights and inputs cast with ``.half()``), throughput in images/s;
- ``torch.compile`` (default mode) float32 at batch 64, for the models named in --compile.

The ratio printed is torchvision's median time over the generated module's (above 1: the
generated module is faster).  The claim is the ratio; absolute times depend on the card,
its clocks and the driver.  Where ``--device cpu`` is given (no GPU), the same runs use
``time.perf_counter`` so the script itself can be tried anywhere.

Run:  python bench/cuda_speed.py [--device cuda] [--compile resnet18,vit_b16] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torchvision.models as tv  # noqa: E402

import specc  # noqa: E402

MODELS = {
    "resnet18": ("specs/resnet18.yaml", tv.resnet18),
    "vgg11_bn": ("specs/zoo/vgg11_bn.yaml", tv.vgg11_bn),
    "mobilenet_v2": ("specs/zoo/mobilenet_v2.yaml", tv.mobilenet_v2),
    "vit_b16": ("specs/zoo/vit_b16.yaml", tv.vit_b_16),
}

# torchvision's ViT names -> the spec's (an nn.TransformerEncoder, pre-norm)
VIT_RENAMES = [
    (r"^class_token$", "class_token.token"),
    (r"^encoder\.pos_embedding$", "pos_embedding.pe"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.", r"encoder.layers.\1.self_attn."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.0\.", r"encoder.layers.\1.linear1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.3\.", r"encoder.layers.\1.linear2."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_1\.", r"encoder.layers.\1.norm1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_2\.", r"encoder.layers.\1.norm2."),
    (r"^encoder\.ln\.", "encoder.norm."),
    (r"^heads\.head\.", "head."),
]


def copy_weights(name: str, generated: torch.nn.Module, reference: torch.nn.Module) -> None:
    """torchvision's weights into the generated module: renamed for the ViT; by position among the
    tensors of the same shape for the convnets (both list them in the same order)."""
    ref = reference.state_dict()
    if name == "vit_b16":
        state = {}
        for key, value in ref.items():
            for pattern, repl in VIT_RENAMES:
                key = re.sub(pattern, repl, key)
            state[key] = value.reshape(generated.state_dict()[key].shape)
    else:
        groups: dict[tuple[int, ...], list[torch.Tensor]] = defaultdict(list)
        for value in ref.values():
            groups[tuple(value.shape)].append(value)
        state = {key: groups[tuple(value.shape)].pop(0) for key, value in generated.state_dict().items()}
    generated.load_state_dict(state, strict=True)


def timer(device: torch.device) -> Callable[[Callable[[], object], int], float]:
    """Milliseconds per call of ``fn`` over ``n`` calls."""

    def cuda_time(fn: Callable[[], object], n: int) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / n

    def cpu_time(fn: Callable[[], object], n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) * 1e3 / n

    return cuda_time if device.type == "cuda" else cpu_time


def pair(device: torch.device, gen: Callable[[], object], ref: Callable[[], object],
         rounds: int, per_round: int) -> tuple[float, float]:
    """Median ms per call of each, timed alternately round by round after a warm-up."""
    t = timer(device)
    for fn in (gen, ref):
        t(fn, max(3, per_round // 2))
    g, r = [], []
    for i in range(rounds):
        order = ((gen, g), (ref, r)) if i % 2 == 0 else ((ref, r), (gen, g))
        for fn, acc in order:
            acc.append(t(fn, per_round))
    return statistics.median(g), statistics.median(r)


def compiled(gen: torch.nn.Module, ref: torch.nn.Module, device: torch.device, big: int, size: int,
             rounds: int, per: int) -> dict:
    xb = torch.randn(big, 3, size, size, device=device)
    times = {}
    fns = {}
    for label, m in (("generated", gen), ("torchvision", ref)):
        t0 = time.perf_counter()
        c = torch.compile(m)
        c(xb)
        c(xb)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times[label] = time.perf_counter() - t0
        fns[label] = c
    tg, tr = pair(device, lambda: fns["generated"](xb), lambda: fns["torchvision"](xb), rounds, per)
    return {"generated_ms": tg, "torchvision_ms": tr, "ratio": tr / tg,
            "generated_compile_s": times["generated"], "torchvision_compile_s": times["torchvision"]}


def bench(name: str, device: torch.device, compile_it: bool, rounds: int, quick: bool, calls: int = 20) -> dict:
    path, ctor = MODELS[name]
    torch.manual_seed(0)
    gen = specc.build(str(ROOT / path), seed=0).eval()
    ref = ctor().eval()
    with torch.no_grad():  # zero-initialised heads and unit BatchNorm statistics would hide a wrong copy
        for t in ref.parameters():
            if not t.any():
                t.normal_(0, 0.02)
        for key, t in ref.state_dict().items():
            if key.endswith("running_mean"):
                t.uniform_(-0.5, 0.5)
            elif key.endswith("running_var"):
                t.uniform_(0.5, 1.5)
    copy_weights(name, gen, ref)
    n_params = sum(p.numel() for p in gen.parameters())
    assert n_params == sum(p.numel() for p in ref.parameters()), name
    gen, ref = gen.to(device), ref.to(device)
    size, big = 224, (2 if quick else 64)
    row: dict = {"model": name, "params": n_params, "image": size}
    with torch.inference_mode():
        x = torch.randn(2, 3, size, size, device=device)
        a, b = gen(x), ref(x)
        row["max_abs_diff"] = float((a - b).abs().max())
        row["output_scale"] = float(b.abs().max())
        per = 1 if quick else calls
        for label, batch, half in (("eager fp32 b1", 1, False), (f"eager fp32 b{big}", big, False),
                                   (f"eager fp16 b{big}", big, True)):
            if half and device.type != "cuda":
                continue
            xb = torch.randn(batch, 3, size, size, device=device)
            g, r = (gen.half(), ref.half()) if half else (gen, ref)
            xb = xb.half() if half else xb
            try:
                tg, tr = pair(device, lambda g=g, xb=xb: g(xb), lambda r=r, xb=xb: r(xb), rounds, per)
                row[label] = {"generated_ms": tg, "torchvision_ms": tr, "ratio": tr / tg,
                              "generated_img_s": batch * 1e3 / tg, "torchvision_img_s": batch * 1e3 / tr}
            except Exception as exc:  # noqa: BLE001 - the other rows stand; the failure is the finding
                row[label] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            if half:
                gen, ref = gen.float(), ref.float()
        if compile_it:
            try:
                row[f"compiled fp32 b{big}"] = compiled(gen, ref, device, big, size, rounds, per)
            except Exception as exc:  # noqa: BLE001 - the eager rows stand; the failure is the finding
                row["note"] = f"torch.compile failed: {type(exc).__name__}: {exc}"[:500]
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--compile", default="resnet18,vit_b16", help="models also timed under torch.compile")
    p.add_argument("--compile-until", type=float, default=1e9,
                   help="seconds into the run after which no further model is compiled (a time-boxed GPU lease)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=20, help="calls per round")
    p.add_argument("--quick", action="store_true", help="small images and few calls: a smoke run on a CPU")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# {card}; torch {torch.__version__} (CUDA {torch.version.cuda}); torchvision "
          f"{getattr(tv, '__version__', None) or sys.modules['torchvision'].__version__}")
    if device.type == "cuda":
        print(f"# cudnn {torch.backends.cudnn.version()}, TF32 for convs {torch.backends.cudnn.allow_tf32}, "
              f"for matmul {torch.backends.cuda.matmul.allow_tf32}")
    rows = []
    started = time.perf_counter()
    for name in args.models.split(","):
        try:
            late = time.perf_counter() - started > args.compile_until
            row = bench(name, device, name in args.compile.split(",") and not late, args.rounds, args.quick,
                        args.calls)
            if late and name in args.compile.split(","):
                row["note"] = f"torch.compile skipped: past --compile-until {args.compile_until:g} s"
        except Exception as exc:  # noqa: BLE001 - one model's failure is reported, the others still run
            row = {"model": name, "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        print(f"\n{name}: {row.get('params', 0):,} parameters; "
              + (f"same outputs as torchvision: max |diff| {row['max_abs_diff']:.2e} "
                 f"(outputs up to {row['output_scale']:.2e})" if "error" not in row else row["error"]), flush=True)
        if "note" in row:
            print(f"  {row['note']}")
        for label, m in row.items():
            if isinstance(m, dict) and "error" in m:
                print(f"  {label:18s} {m['error']}")
            elif isinstance(m, dict):
                extra = (f", compile {m['generated_compile_s']:.1f} s / {m['torchvision_compile_s']:.1f} s"
                         if "generated_compile_s" in m else
                         f", {m['generated_img_s']:,.0f} / {m['torchvision_img_s']:,.0f} img/s")
                print(f"  {label:18s} generated {m['generated_ms']:8.3f} ms  torchvision {m['torchvision_ms']:8.3f} ms"
                      f"  ratio {m['ratio']:.3f}{extra}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"card": card, "torch": torch.__version__, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
