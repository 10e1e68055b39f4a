"""Export a spec's PyTorch module to a verified ONNX file.

The legacy TorchScript exporter is tried first because, on the torch versions specc targets,
it produces a correct model in a fraction of a second where the dynamo exporter takes many
seconds; when it fails (or its model fails verification) the dynamo exporter gets a turn.
Symbolic dims of the spec become named dynamic axes on both paths.

Everything is written in a temporary folder beside the target and moved into place only
after verification passed, so a failure or Ctrl-C never leaves a (half-)file behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import onnx
import torch

from ..atomic import make_folder, temp_dir
from ..shapes.rules import rules_json
from ..validate.indices import bounds_json
from ..version import __version__
from .errors import ExportFailed, VerificationFailed, WeightsError, first_line
from .onnx_files import DEFAULT_OPSET, ExportResult, name_output_dims, publish, save, stamp
from .run_folder import run_metadata
from .verify import (
    ATOL,
    RTOL,
    EnvCheck,
    Signature,
    TensorSig,
    arbitrable,
    dynamic_axes,
    export_env,
    requirements,
    signature_of,
    sizes_valid,
    symbol_name,
    tolerances,
    verify,
)

EXPORTERS = ("torchscript", "dynamo")

MakeInputs = Callable[[dict[str, int]], tuple[torch.Tensor, ...]]


# -- quieting the exporters ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    """Swallow the exporters' progress prints, deprecation warnings and log lines; the
    text is kept so that a failure can show it."""
    buf = io.StringIO()
    # torch.onnx's own lines, and onnxscript's version converter, which logs its fallback's
    # traceback as a warning (an opset it cannot convert to: the exporter's failure says it)
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), \
                fd_stdout_discarded():
            warnings.simplefilter("ignore")
            yield buf
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def fd_stdout_discarded() -> Iterator[None]:
    """Discard whatever is written to file descriptor 1 meanwhile: torch's C++ side prints ("Torch IR
    graph at exception: …", a whole graph) straight to the descriptor, past ``sys.stdout``, when the
    TorchScript exporter fails, and stdout belongs to specc's own output (JSON must be only JSON);
    the failure itself reaches the user as the exporter's note."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real descriptor (an embedding host): nothing to guard
        yield
        return
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 1)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# -- the two exporters -------------------------------------------------------------------------------------------

def _torchscript(module: torch.nn.Module, args: tuple[torch.Tensor, ...], sig: Signature, out: Path,
                 opset: int) -> None:
    with _captured():
        torch.onnx.export(module, args, str(out), dynamo=False, opset_version=opset,
                          input_names=[t.name for t in sig.inputs], output_names=[t.name for t in sig.outputs],
                          dynamic_axes=dynamic_axes(sig) or None, do_constant_folding=True)


def _dynamo(module: torch.nn.Module, args: tuple[torch.Tensor, ...], sig: Signature, out: Path,
            opset: int) -> None:
    dims = {s: torch.export.Dim(s) for s in sig.symbols()}
    shapes = tuple({i: dims[n] for i, d in enumerate(t.shape) if (n := symbol_name(d)) in dims} or None
                   for t in sig.inputs)
    with _captured():
        program = torch.onnx.export(module, args, dynamo=True, opset_version=opset,
                                    input_names=[t.name for t in sig.inputs],
                                    output_names=[t.name for t in sig.outputs],
                                    dynamic_shapes=shapes if any(shapes) else None, optimize=True)
        program.save(str(out))


_RUNNERS = {"torchscript": _torchscript, "dynamo": _dynamo}


def exporter_order(choice: str) -> list[str]:
    if choice == "auto":
        return list(EXPORTERS)
    if choice not in EXPORTERS:
        raise ValueError(f"unknown exporter {choice!r}; choose auto, torchscript or dynamo")
    return [choice]


# -- the model file --------------------------------------------------------------------------------------------------

def _private(sig: Signature) -> tuple[Signature, dict[str, str]]:
    """The signature under names no exporter makes up, and the way back to the spec's names.

    Exporters name internal values after modules (``linear_1``) and may reuse a name the spec
    gives an input or output; tracing under private names, then renaming, keeps the two apart."""
    tag = secrets.token_hex(4)
    private = Signature([TensorSig(f"specc_in{i}_{tag}", t.shape, t.dtype) for i, t in enumerate(sig.inputs)],
                        [TensorSig(f"specc_out{i}_{tag}", t.shape, t.dtype) for i, t in enumerate(sig.outputs)],
                        sig.batch)
    back = {p.name: t.name for p, t in zip([*private.inputs, *private.outputs], [*sig.inputs, *sig.outputs])}
    return private, back


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for sub in attr.graphs:
                yield from _graphs(sub)


def publish_names(model: onnx.ModelProto, back: Mapping[str, str]) -> None:
    """Give the graph's inputs and outputs the spec's names (``back``: private -> public), first
    moving any internal value that already has one of those names out of the way."""
    graphs = list(_graphs(model.graph))
    used: set[str] = set()
    for g in graphs:
        used.update(v for n in g.node for v in (*n.input, *n.output))
        used.update(v.name for v in (*g.input, *g.output, *g.value_info, *g.initializer))
    public = set(back.values())
    mapping = dict(back)
    for name in sorted(public & used):
        fresh, k = f"{name}_internal", 1
        while fresh in used or fresh in public:
            k += 1
            fresh = f"{name}_internal{k}"
        used.add(fresh)
        mapping[name] = fresh
    for g in graphs:
        for n in g.node:
            n.input[:] = [mapping.get(v, v) for v in n.input]
            n.output[:] = [mapping.get(v, v) for v in n.output]
        for v in (*g.input, *g.output, *g.value_info, *g.initializer):
            v.name = mapping.get(v.name, v.name)


def export_module(module: torch.nn.Module, sig: Signature, path: str | os.PathLike[str] | None, *,
                  make_inputs: MakeInputs, env: dict[str, int], opset: int = DEFAULT_OPSET,
                  exporter: str = "auto", verify_model: bool = True, metadata: Mapping[str, str] | None = None,
                  valid: EnvCheck | None = None, rtol: float = RTOL, atol: float = ATOL,
                  keep: Callable[[Path], None] | None = None, arbitrate: bool = True) -> ExportResult:
    """Export ``module`` (in eval mode, traced at sizes ``env``), verify it, and write it to ``path``.
    ``arbitrate``: whether the module run in float64 is the exact answer (see verify.beyond_rounding).

    ``keep`` is called with the verified temporary file before it is published (the Triton
    layout copies it); ``path`` None writes no standalone file."""
    module.eval()
    args = tuple(make_inputs(dict(env)))
    # torch.export specialises sizes 0 and 1, so dynamo traces every symbol at 2 or more
    dynamo_env = {k: max(v, 2) for k, v in env.items()}
    dynamo_args = args if dynamo_env == env else tuple(make_inputs(dynamo_env))
    target = Path(path) if path is not None else None
    folder = target.parent if target is not None else Path(tempfile.gettempdir())
    make_folder(folder)
    name = target.name if target is not None else "model.onnx"
    notes: list[str] = []
    first_failure: VerificationFailed | None = None
    private, back = _private(sig)
    with temp_dir(folder, name) as work:
        order = exporter_order(exporter)
        for i, which in enumerate(order):
            raw = work / f"raw-{which}.onnx"
            started = time.perf_counter()
            try:
                _RUNNERS[which](module, dynamo_args if which == "dynamo" else args, private, raw, opset)
            except Exception as exc:  # noqa: BLE001 -- any exporter failure: try the other one
                notes.append(f"the {which} exporter failed: {first_line(exc)}")
                continue
            seconds = time.perf_counter() - started
            model = onnx.load(str(raw))
            publish_names(model, back)
            name_output_dims(model, sig)
            # a spec's own bounds (its caller's metadata) over what the example data happened to hold
            stamp(model, {"specc_int_high": json.dumps(_int_bounds_seen(sig, args)), **(metadata or {}),
                          "specc_exporter": which, "specc_sizes": json.dumps(env)})
            final = work / "final"
            final.mkdir(exist_ok=True)
            files = save(model, final, name)
            report = None
            if verify_model:
                try:
                    report = verify(files[0], module, sig, make_inputs, env, valid=valid, rtol=rtol, atol=atol,
                                    arbitrate=arbitrate)
                except VerificationFailed as failed:
                    failed.exporter = which
                    first_failure = first_failure or failed
                    if i + 1 < len(order):
                        notes.append(f"the {which} exporter's model failed verification "
                                     f"({failed.problems[0]}); trying {order[i + 1]}")
                        shutil.rmtree(final)
                        continue
                    if failed is not first_failure:
                        first_failure.problems.append(f"the {which} exporter was tried too and failed: "
                                                      f"{failed.problems[0]}")
                    raise VerificationFailed(first_failure.problems, first_failure.exporter) from None
            if keep is not None:
                keep(files[0])
            size = sum(f.stat().st_size for f in files)
            if target is not None:
                publish(files, target.parent)
            return ExportResult(target, which, opset, seconds, size, dict(env), report, notes)
        if first_failure is not None:
            raise VerificationFailed(first_failure.problems + notes[-1:], first_failure.exporter)
        raise ExportFailed("torch could not export the model to ONNX: " + "; ".join(notes))


def _int_bounds_seen(sig: Signature, args: tuple[torch.Tensor, ...]) -> dict[str, int]:
    """For integer inputs, an exclusive bound that the example data respected (so random data
    in [0, bound) is valid for the model, e.g. below an embedding's vocabulary size)."""
    out = {}
    for t, x in zip(sig.inputs, args):
        if not x.dtype.is_floating_point and x.dtype != torch.bool and x.numel():
            out[t.name] = int(x.max()) + 1
    return out


# -- from a spec ---------------------------------------------------------------------------------------------------

def spec_inputs(spec: Any, sig: Signature) -> MakeInputs:
    """Random example inputs of the spec at the given sizes, the same for the same sizes."""
    from .torch_build import example_inputs

    def make(env: dict[str, int]) -> tuple[torch.Tensor, ...]:
        batch = env.get(sig.batch_symbol or "", 2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return tuple(example_inputs(spec, batch=batch, sizes=dict(env)))

    return make


def load_weights(module: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a safetensors checkpoint, explaining any key or shape mismatch in one message."""
    from .finetune import read_checkpoint

    path = Path(path)
    state = read_checkpoint(path, "--weights")
    own = module.state_dict()
    if set(state) != set(own) and all(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items()}
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    problems = []
    if missing:
        problems.append(f"missing {_some(missing)}")
    if extra:
        problems.append(f"not in the model: {_some(extra)}")
    for k in wrong[:5]:
        problems.append(f"{k} has shape {tuple(state[k].shape)}, the model needs {tuple(own[k].shape)}")
    if problems:
        raise WeightsError(f"--weights: {path} does not fit this spec's model: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def _some(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def export_spec(spec: Any, path: str | os.PathLike[str] | None, *, weights: str | os.PathLike[str] | None = None,
                opset: int | None = None, exporter: str | None = None, verify_model: bool | None = None,
                seed: int | None = 0, triton: str | os.PathLike[str] | None = None,
                max_batch_size: int | None = None) -> ExportResult:
    """Build the spec's module, export, verify (unless turned off) and write ``path`` (and/or a
    Triton model-repository entry under ``triton``). Raises SpecInvalid for a spec with errors."""
    from ..targets.verdict import torch_problems
    from .torch_build import build_module

    spec.require_ok()
    opts = spec.document.export
    # `specc export --exporter` may pin one that check did not see, and check passes what only the
    # direct target writes: the model's limits under this exporter, refused before tracing
    blocked = torch_problems(spec.graph, exporter or opts.exporter, opset or opts.opset)
    if blocked:
        raise ExportFailed("this model cannot be exported to ONNX: " + "; ".join(blocked))
    chosen, skipped = auto_exporter(spec.graph, exporter or opts.exporter, opset or opts.opset)
    module = build_module(spec, seed=seed)
    if weights is not None:
        # a run folder of `specc train`: its weights, with its fitted scaling baked into the graph
        from .train.predict import resolve_weights, with_preprocessing

        weights = resolve_weights(Path(weights))
        load_weights(module, weights)
    from .finetune import merge_lora

    merge_lora(module)  # LoRA adapters are folded into the weights: the ONNX graph has no adapter ops
    if weights is not None:
        module = with_preprocessing(module, weights, list(spec.graph.inputs))
    module.eval()
    sig = signature_of(spec)
    valid = sizes_valid(spec)
    env = export_env(sig, opts.batch_size, opts.sizes, valid)
    meta = {"spec_name": spec.name, "specc_version": __version__, "spec_sha256": spec.sha256,
            "specc_size_rules": json.dumps(rules_json(spec.graph)),
            "specc_int_high": json.dumps(bounds_json(spec.graph, list(spec.graph.inputs))), **run_metadata(weights)}
    if spec.document.description:
        meta["spec_description"] = spec.document.description
    entry: list[Path] = []
    rtol, atol = tolerances(spec.graph, opts)

    def keep(model_file: Path) -> None:
        if triton is not None:
            from .triton import write_entry

            entry.append(write_entry(model_file, triton, spec.name, max_batch_size))

    # Frozen weights (trainable: false, or LoRA's base once merged) let MultiheadAttention and
    # TransformerEncoderLayer take PyTorch's fused inference kernels, which have no ONNX form.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        result = export_module(module, sig, path, make_inputs=spec_inputs(spec, sig), env=env,
                               opset=opset or opts.opset, exporter=chosen,
                               verify_model=opts.verify if verify_model is None else verify_model, metadata=meta,
                               valid=valid, rtol=rtol, atol=atol, keep=keep, arbitrate=arbitrable(spec.graph))
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    result.triton = entry[0] if entry else None
    result.requirements = requirements(spec)
    if skipped:
        result.notes.insert(0, skipped)
    return result


def auto_exporter(graph: Any, exporter: str, opset: int) -> tuple[str, str | None]:
    """The exporter ``auto`` means for this graph, and why it skipped the other: the one exporter whose
    limits this model's layers do not meet, where one does (TorchScript freezes T in a self-attention),
    instead of trying both in turn.  The model that exporter would write is wrong at every other size,
    which only verification shows: under --no-verify (or export: {verify: false}) auto published it."""
    from ..targets.verdict import torch_problems

    if exporter != "auto":
        return exporter, None
    why = {e: torch_problems(graph, e, opset) for e in EXPORTERS}
    usable = [e for e in EXPORTERS if not why[e]]
    if len(usable) != 1:
        return "auto", None
    other = next(e for e in EXPORTERS if why[e])
    return usable[0], f"exported with {usable[0]}, not {other}: {why[other][0].split('; ')[0]}"
