"""The direct ONNX target against the torch route on a model of norms, reshapes, merges, a
reduction and an Embedding (the kinds of specc/targets/onnx/kinds/{norm,reshape,merge,reduce,
embedding}.py): the time to lower the graph, each route's whole export with its verification,
the node count, and ONNX Runtime's latency at batch 1 on one CPU thread, the two sessions
timed in alternation so that both see the same machine.

Run:  .venv/bin/python bench/direct_norm_reshape.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

import specc
from specc.backends.direct_export import export_direct
from specc.backends.onnx_export import export_spec
from specc.targets.onnx.lower import lower_graph
from specc.targets.onnx.weights import Weights

SPEC = """\
specc: 1
name: NormReshapeBench
inputs:
  ids: {shape: [B, T], dtype: int64}
layers:
  - {type: Embedding, num_embeddings: 1000, embedding_dim: 128, name: emb}
  - {type: LayerNorm}
  - {type: Linear, out_features: 512}
  - {type: GELU}
  - {type: Linear, out_features: 128, name: ff}
  - {type: Add, from: [emb, ff]}
  - {type: LayerNorm}
  - {type: Permute, dims: [0, 2, 1]}
  - {type: BatchNorm1d}
  - {type: GroupNorm, num_groups: 8}
  - {type: Reshape, shape: [B, 16, 8, -1]}
  - {type: Flatten, start_dim: 2}
  - {type: Mean, dim: -1}
  - {type: Linear, out_features: 4}
export: {batch_size: 1, sizes: {T: 64}}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    spec = specc.loads(SPEC, "bench.yaml")
    spec.require_ok()
    started = time.perf_counter()
    for _ in range(20):
        lower_graph(spec.graph, Weights(None, 0))
    print(f"lower_graph: {(time.perf_counter() - started) / 20 * 1e3:.1f} ms")
    folder = Path(tempfile.mkdtemp())
    routes = {"direct": lambda p: export_direct(spec, p, compare="torch"), "torch": lambda p: export_spec(spec, p)}
    sessions = {}
    for name, export in routes.items():
        started = time.perf_counter()
        export(folder / f"{name}.onnx")
        seconds = time.perf_counter() - started
        nodes = len(onnx.load(str(folder / f"{name}.onnx")).graph.node)
        print(f"{name:6s} export with verification {seconds:.2f} s, {nodes} nodes")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sessions[name] = ort.InferenceSession(str(folder / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
    feed = {"ids": np.random.default_rng(0).integers(0, 1000, (1, 64)).astype(np.int64)}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for s in sessions.values():
        for _ in range(50):
            s.run(None, feed)
    for _ in range(args.rounds):
        for name, s in sessions.items():
            started = time.perf_counter()
            for _ in range(100):
                s.run(None, feed)
            times[name].append((time.perf_counter() - started) / 100)
    for name, ts in times.items():
        print(f"{name:6s} ONNX Runtime, batch 1, 1 thread: min {min(ts) * 1e6:.0f} us, "
              f"median {statistics.median(ts) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
