"""Build the ``nn.Module`` of a spec from the very source ``specc compile`` writes.

One path, not two: the generated file is written (atomically) to a cache folder and
imported like any module, so what a user reads is what trains and exports, and
``inspect.getsource`` (used by ``torch.jit.script``) works on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..atomic import atomic_write
from ..data.read import padded_ids, padding_mask
from ..shapes.dims import Dim, evaluate
from ..targets.torch.emit import compile_source
from ..validate.indices import index_bounds, index_high, padding_id
from .example_inputs import padded_along_last

if TYPE_CHECKING:
    from ..spec import Spec

DEFAULT_SIZE = 16  # for symbolic dims other than the batch when nothing else is said


def cache_dir() -> Path:
    root = os.environ.get("SPECC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "specc")
    return Path(root) / "generated"


def load_source(source: str, label: str = "model") -> ModuleType:
    """Import generated source as a module (cached by content hash)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"specc_generated_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        atomic_write(path, source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def generated_module(spec: Spec) -> ModuleType:
    return load_source(compile_source(spec), spec.name)


def build_module(spec: Spec, seed: int | None = None, *, init: bool = True) -> torch.nn.Module:
    """The spec's model, initialised as PyTorch does or as its init: says (reproducible with
    ``seed``); with ``init=False``, its parameters left as allocated, for a caller that loads every
    one of them (drawing VGG-11's 133 M weights costs seconds that loading them overwrites)."""
    module = generated_module(spec)
    cls = getattr(module, spec.name)
    with contextlib.ExitStack() as stack:
        if not init:
            stack.enter_context(_no_init())
        if seed is None:
            return cls()
        stack.enter_context(torch.random.fork_rng(devices=[]))
        torch.manual_seed(seed)
        return cls()


_INIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """torch.nn.init's in-place fills (kaiming_uniform_, normal_, zeros_, ...) as no-ops: every
    layer's reset_parameters draws through them, and nothing else a module computes in __init__
    (a sinusoidal table, a buffer's shape) changes."""
    import torch.nn.init as tinit

    names = [n for n in dir(tinit) if n.endswith("_") and not n.startswith("_") and callable(getattr(tinit, n))]
    with _INIT_LOCK:
        saved = {n: getattr(tinit, n) for n in names}

        def skip(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
            return tensor

        try:
            for n in names:
                setattr(tinit, n, skip)
            yield
        finally:
            for n, fn in saved.items():
                setattr(tinit, n, fn)


def batch_symbols(spec: Spec) -> set[str]:
    """The batch symbol: the graph's (B of a sequence-first [T, B, F]), else the symbols used as
    the first dim of some input."""
    assert spec.graph is not None
    if spec.graph.batch is not None:
        return {spec.graph.batch}
    return {str(t.shape[0]) for t in spec.graph.inputs.values() if t.shape and isinstance(t.shape[0], Dim)}


def symbol_sizes(spec: Spec, batch: int = 2, sizes: dict[str, int] | None = None) -> dict[str, int]:
    """A size for every symbol of the inputs: the batch symbol(s) get ``batch``; others come from
    ``sizes``, then the spec's export.sizes, then a default."""
    assert spec.graph is not None
    env: dict[str, int] = {}
    export_sizes = dict(spec.document.export.sizes) if spec.document else {}
    for t in spec.graph.inputs.values():
        for d in t.shape:
            if isinstance(d, Dim):
                for s in d.symbols():
                    # distinct defaults per symbol, so T and S are never confused by accident
                    env.setdefault(s, (sizes or {}).get(s, export_sizes.get(s, DEFAULT_SIZE + len(env))))
    for s in batch_symbols(spec):
        env[s] = (sizes or {}).get(s, batch)
    return env


def example_inputs(spec: Spec, batch: int = 2, sizes: dict[str, int] | None = None,
                   seed: int | None = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the declared shapes and dtypes."""
    assert spec.graph is not None
    env = symbol_sizes(spec, batch, sizes)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    out: list[torch.Tensor] = []
    for name, t in spec.graph.inputs.items():
        shape = tuple(evaluate(d, env) for d in t.shape)
        dtype = getattr(torch, t.dtype)
        if t.is_float:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        elif t.dtype == "bool":
            # a mask as data has them (never a row of only padding: attention over nothing is nan)
            seed_np = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            out.append(torch.from_numpy(padding_mask(shape, np.random.default_rng(seed_np))))
        else:
            bounds = index_bounds(spec.graph, name)
            high = index_high(bounds, env)
            ids = torch.randint(0, high, shape, generator=gen, dtype=dtype)
            if padded_along_last(spec, name, bounds):
                seed_np = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
                pad = padding_id(bounds)
                ids = torch.from_numpy(padded_ids(ids.numpy(), pad, high, np.random.default_rng(seed_np)))
            out.append(ids)
    return tuple(out)
