"""Generated vs hand-written PyTorch: is there any cost to a module written by `specc compile`?

Times the forward pass (inference mode) and one training step (forward, CrossEntropyLoss,
backward, SGD step) of the GENERATED ResNet-18 and course CNN (specs/*.yaml, built with
``specc.build``, i.e. from the very source `specc compile` writes) against the hand-written
references in tests/reference_models.py, on CPU, side by side:

- the reference gets the generated model's weights (copied parameter by parameter, shapes
  checked), and both must give the same outputs, so the two do the same arithmetic;
- torch's thread count is fixed (``--threads``), each measurement is warmed up, and the two
  models are timed in interleaved pairs whose order alternates, so drift (other processes,
  clocks, caches) hits both alike;
- the ratio is the median of the per-pair ratios generated/reference, with the 10th-90th
  percentile of those ratios: when that interval holds 1.00 the difference is noise.

    .venv/bin/python bench/codegen_overhead.py              # ResNet-18 batch 1, 4; CNN 1, 16, 64
    .venv/bin/python bench/codegen_overhead.py --quick      # fewer repeats, smaller batches
    .venv/bin/python bench/codegen_overhead.py --threads 4 --repeats 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reference_models import REFERENCES  # noqa: E402

import specc  # noqa: E402

MODELS = {  # spec stem: (input shape without the batch, classes, batch sizes, quick batch sizes)
    "resnet18": ((3, 224, 224), 1000, (1, 4), (1,)),
    "course_cnn": ((3, 48, 48), 10, (1, 16, 64), (1, 16)),
}


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Parameters and buffers in declaration order; both models declare them alike."""
    for what in ("parameters", "buffers"):
        a, b = list(getattr(src, what)()), list(getattr(dst, what)())
        shapes_a, shapes_b = [t.shape for t in a], [t.shape for t in b]
        if shapes_a != shapes_b:
            raise SystemExit(f"the reference's {what} are not laid out like the generated model's")
        with torch.no_grad():
            for x, y in zip(a, b):
                y.copy_(x)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(make_gen: Callable[[], Callable[[], object]], make_ref: Callable[[], Callable[[], object]],
            repeats: int, warmup: int) -> tuple[float, float, float, float, float]:
    """(median generated s, median reference s, median ratio, 10th and 90th percentile ratio)."""
    gen, ref = make_gen(), make_ref()
    for _ in range(warmup):
        gen()
        ref()
    tg, tr, ratios = [], [], []
    for i in range(repeats):
        if i % 2 == 0:
            a, b = timed(gen), timed(ref)
        else:
            b, a = timed(ref), timed(gen)
        tg.append(a)
        tr.append(b)
        ratios.append(a / b)
    deciles = statistics.quantiles(ratios, n=10)
    return statistics.median(tg), statistics.median(tr), statistics.median(ratios), deciles[0], deciles[-1]


def forward_of(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    model.eval()

    def run() -> object:
        with torch.inference_mode():
            return model(x)
    return run


def train_step_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def run() -> object:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return run


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: least noise)")
    p.add_argument("--repeats", type=int, default=15, help="timed pairs per measurement")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="fewer repeats and batch sizes")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 7 if args.quick else args.repeats
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} thread(s), {repeats} interleaved pairs, "
          f"{args.warmup} warm-up calls; ratio = generated / hand-written (median, [p10, p90] of pairs)")
    print(f"{'model':<11} {'batch':>5} {'what':<10} {'generated':>11} {'reference':>11} {'ratio':>6}  "
          f"{'p10-p90':<13} verdict")
    for stem, (shape, classes, batches, quick) in MODELS.items():
        gen = specc.build(ROOT / "specs" / f"{stem}.yaml", seed=0)
        ref = REFERENCES[stem].build()
        copy_weights(gen, ref)
        for batch in quick if args.quick else batches:
            x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
            y = torch.randint(0, classes, (batch,), generator=torch.Generator().manual_seed(batch))
            with torch.inference_mode():
                diff = (gen.eval()(x) - ref.eval()(x)).abs().max().item()
            if diff > 1e-4:
                raise SystemExit(f"{stem}: the generated and hand-written models disagree by {diff}")
            rows = (
                ("forward", partial(forward_of, gen, x), partial(forward_of, ref, x)),
                ("train step", partial(train_step_of, gen, x, y), partial(train_step_of, ref, x, y)),
            )
            for what, make_gen, make_ref in rows:
                tg, tr, ratio, lo, hi = compare(make_gen, make_ref, repeats, args.warmup)
                verdict = "within noise" if lo <= 1.0 <= hi else ("generated slower" if lo > 1 else
                                                                  "generated faster")
                print(f"{stem:<11} {batch:>5} {what:<10} {tg * 1e3:>9.2f}ms {tr * 1e3:>9.2f}ms {ratio:>6.3f}  "
                      f"[{lo:.3f}, {hi:.3f}] {verdict}", flush=True)
            copy_weights(gen, ref)  # the training steps moved both; keep them identical


if __name__ == "__main__":
    main()
