"""`specc train`'s loop against a hand-written PyTorch loop: samples/s on the same model and data.

Both train the model that `specc compile` generates (built from the spec), with the optimizer
its ``build_optimizer`` returns, on the same in-memory tensors, batch size and number of
epochs, in one process. specc's loop runs as `specc train` runs it (seeded data order,
per-epoch bookkeeping, history) but without validation data, so both do the same arithmetic;
a second specc figure adds the run folder (a checkpoint written atomically every epoch).
Measurements alternate specc/hand in pairs so drift hits both; the ratio is the median of
the per-pair ratios.

    .venv/bin/python bench/train_overhead.py                 # MLP on 20,000 synthetic rows, CPU
    .venv/bin/python bench/train_overhead.py --quick
    .venv/bin/python bench/train_overhead.py --spec specs/resnet18.yaml --device cuda --mixed-precision \\
        --samples 2048 --batch 64                            # on a GPU: ResNet-18, AMP
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.backends.torch_build import generated_module  # noqa: E402
from specc.backends.train.loop import Options, Trainer  # noqa: E402
from specc.validate.train_config import train_config  # noqa: E402

MLP = """\
specc: 1
name: BenchMLP
inputs: {x: [B, 64]}
layers:
  - {type: Linear, out_features: 256}
  - {type: ReLU}
  - {type: Linear, out_features: 256}
  - {type: ReLU}
  - {type: Linear, out_features: 10}
loss: {type: CrossEntropyLoss}
optimizer: {type: SGD, lr: 0.01, momentum: 0.9}
train: {data: {source: synthetic}}
"""


def hand_loop(module, cfg, xs, y, epochs, batch, device, amp):  # type: ignore[no-untyped-def]
    """What one writes by hand: shuffle, forward, loss, backward, step."""
    torch.manual_seed(0)
    model = getattr(module, cfg["model"])().to(device)
    loss_fn = module.build_loss().to(device)
    opt = module.build_optimizer(model)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    model.train()
    n = len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb = [x[idx].to(device, non_blocking=True) for x in xs]
            yb = y[idx].to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                loss = loss_fn(model(*xb), yb)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * epochs / (time.perf_counter() - t0)


def specc_loop(module, cfg, epochs, device, run):  # type: ignore[no-untyped-def]
    trainer = Trainer(module, cfg, Options(run=run, epochs=epochs, device=device))
    trainer.prepare()  # data loading and preprocessing are one-time costs, timed apart
    fit = trainer.fit
    trainer.prepare = lambda: None  # type: ignore[method-assign]
    result = fit()
    seconds = sum(r["seconds"] for r in result.history)
    return len(trainer.train_data) * len(result.history) / seconds, trainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", help="a spec to train (default: a 64-256-256-10 MLP)")
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--mixed-precision", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.samples, args.repeats = 4000, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [f"train.data.num_samples={args.samples}", f"train.batch_size={args.batch}", "train.data.val_split=0",
            "train.data.source=synthetic", f"train.mixed_precision={str(args.mixed_precision).lower()}"]
    spec = specc.load(args.spec, sets) if args.spec else specc.loads(MLP, "bench.yaml", sets)
    spec.require_ok()
    module, cfg = generated_module(spec), train_config(spec)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{spec.name} on {args.samples} synthetic samples, batch {args.batch}, {args.epochs} epochs, "
          f"{name}, torch {torch.__version__}, {torch.get_num_threads()} threads"
          f"{', mixed precision' if args.mixed_precision else ''}")
    _, trainer = specc_loop(module, cfg, 1, args.device, None)  # warm-up, and the very tensors specc trains on
    xs, y, _ = trainer.train_t
    amp = trainer.amp
    hand_loop(module, cfg, xs, y, 1, args.batch, device, amp)
    ratios, ours, theirs, with_run = [], [], [], []
    for r in range(args.repeats):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        got: dict[int, float] = {}
        for which in order:
            if which == 0:
                got[0] = specc_loop(module, cfg, args.epochs, args.device, None)[0]
            else:
                got[1] = hand_loop(module, cfg, xs, y, args.epochs, args.batch, device, amp)
        ours.append(got[0])
        theirs.append(got[1])
        ratios.append(got[0] / got[1])
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(max(1, args.repeats // 2)):
            with_run.append(specc_loop(module, cfg, args.epochs, args.device, Path(tmp) / f"run{r}")[0])
    q = statistics.quantiles(ratios, n=10) if len(ratios) > 1 else [ratios[0]] * 9
    print(f"hand-written loop     {statistics.median(theirs):12,.0f} samples/s")
    print(f"specc train (loop)    {statistics.median(ours):12,.0f} samples/s")
    print(f"specc train (+ run)   {statistics.median(with_run):12,.0f} samples/s  "
          "(checkpoint, history written each epoch)")
    print(f"ratio specc / hand    {statistics.median(ratios):.3f}  (10th-90th percentile {q[0]:.3f}-{q[-1]:.3f})")


if __name__ == "__main__":
    main()
