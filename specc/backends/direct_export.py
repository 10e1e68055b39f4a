"""Export a spec with the direct ONNX target (``specc/targets/onnx/``): no torch, no tracing.

The model is written from the shaped graph, with weights from a safetensors checkpoint or drawn
from a seed, then verified by the same witnesses as the torch route: ``onnx.checker``, the
declared and inferred shapes (down to every layer's value), and ONNX Runtime at the export
sizes and two others, compared with the PyTorch target carrying the same weights when torch is
installed, and with the spec's output shapes when it is not.  ``export`` picks the route.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..atomic import make_folder, syncing, temp_dir
from ..shapes.rules import rules_json
from ..targets import verdict
from ..targets.onnx.builder import Unsupported, bare_symbol
from ..targets.onnx.lower import DEFAULT_OPSET, Lowered, lower_graph, missing_lowerings
from ..targets.onnx.preprocess import Affine, Scaling
from ..targets.onnx.weights import UNREAD_SUFFIXES, Weights, WeightsError, merge_lora, read_safetensors
from ..validate.indices import bounds_json
from ..version import __version__
from .errors import ExportFailed, VerificationFailed, first_line
from .errors import WeightsError as BackendWeightsError
from .example_inputs import example_arrays
from .onnx_files import ExportResult, publish, save, stamp
from .run_folder import resolve_weights, run_metadata, run_scaling
from .verify import (
    Arbiter,
    Reference,
    Signature,
    Started,
    VerifyReport,
    arbitrable,
    export_env,
    requirements,
    session_started,
    signature_of,
    sizes_valid,
    tolerances,
    verify_against,
)

COMPARES = ("auto", "torch", "shapes")


def direct_problem(spec: Any) -> str | None:
    """Why the direct target cannot write this spec's model, or None when it can (weights of every
    kind are written: a checkpoint, LoRA adapters merged, a training run's scaling)."""
    missing = missing_lowerings(spec.graph)
    if missing:
        return "no direct ONNX lowering yet for " + ", ".join(missing)
    return None


# -- weights and a run's scaling ---------------------------------------------------------------------------------

def merged_lora(spec: Any, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A checkpoint of a spec with ``lora:`` adapters with each adapter folded into its weight,
    as the torch route merges them; a checkpoint of a spec without is returned as it is."""
    from ..graph.lora import plan

    lora = plan(spec)[0]
    if lora is None or not lora.targets:
        return state
    adapted = [f"{t.path}.{m.attr}" for t in lora.targets for m in t.matrices]
    return merge_lora(state, adapted, lora.rank, lora.alpha)


def run_scaling_of(spec: Any, weights: str | os.PathLike[str] | None) -> Scaling | None:
    """The scaling of the training run ``weights`` come from, by graph input and output name, or
    None: the same scalers, read and checked by the same rules, that the torch route wraps its
    module in."""
    run = run_scaling(weights, list(spec.graph.inputs)) if weights is not None else None
    if run is None:
        return None
    inputs = {name: Affine(s.shift, s.scale) for name, s in zip(spec.graph.inputs, run.inputs) if s is not None}
    outputs = {name: Affine(s.shift, s.scale) for (name, _), s in zip(spec.graph.outputs, run.outputs)
               if s is not None}
    return Scaling(inputs, outputs)


def _scaling_notes(scaling: Scaling | None) -> list[str]:
    """What a run's scaling in the graph means for the model's users."""
    if scaling is None or not (scaling.inputs or scaling.outputs):
        return []
    parts = [f"scales {', '.join(scaling.inputs)} as training did (give raw values)"] if scaling.inputs else []
    if scaling.outputs:
        parts.append(f"returns {', '.join(scaling.outputs)} in the data's own units")
    return ["the model carries the training run's preprocessing: it " + " and ".join(parts)]


# -- the references ------------------------------------------------------------------------------------------------

def _shapes_only(spec: Any, sig: Signature) -> Reference:
    return lambda env: (example_arrays(spec, sig, env), None)


def _torch_twin(spec: Any, sig: Signature, weights: Weights, checkpoint: Path | None,
                picks: Any = None) -> tuple[Reference, Arbiter | None]:
    """The PyTorch target's module with the same weights as the ONNX model, as the reference: the
    module the torch route exports, its LoRA adapters merged and a run's scaling around it; with
    ``picks`` (a :class:`~.pool_picks.PoolPicks`), its max pools take ONNX Runtime's picks among
    maxima equal up to rounding.  With it, the module in float64 as the arbiter, where that is the
    exact answer (:func:`~.verify.arbitrable`)."""
    import torch

    from .finetune import merge_lora as merge_adapters
    from .onnx_export import load_weights
    from .torch_build import build_module
    from .train.predict import with_preprocessing
    from .verify import float64_arbiter, torch_reference

    # Every tensor of the state dict is loaded below, a checkpoint's or the weights the direct target
    # drew: PyTorch's own initialisation (seconds for VGG-11) would only be overwritten.
    module = build_module(spec, seed=0, init=False)
    if checkpoint is not None:
        load_weights(module, checkpoint)  # all of them, or it refuses
        merge_adapters(module)
    else:
        merge_adapters(module)  # drawn weights are the plain model's: the adapters start as no update
        own = module.state_dict()
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.drawn.items()}
        unknown = sorted(set(state) - set(own))
        if unknown:
            raise ExportFailed(f"the direct target drew tensors the PyTorch module does not have: {unknown[:5]}")
        if {k for k in set(own) - set(state) if not k.endswith(UNREAD_SUFFIXES)}:
            # those keep PyTorch's initialisation, as in the module the torch route exports
            module = merge_adapters(build_module(spec, seed=0))
            own = module.state_dict()
        # The drawn arrays themselves become the tensors (no copy, and the uninitialised ones are never
        # touched: VGG-11's 531 MB cost 0.5 s of page faults and copying), unless a dtype differs or
        # one tensor serves two names (tie:, use:), which a copy keeps one
        held = module.state_dict(keep_vars=True)
        assign = (len({id(t) for t in held.values()}) == len(held)
                  and all(state[k].dtype == own[k].dtype for k in state))
        module.load_state_dict(state, strict=False, assign=assign)
    if picks is not None:
        picks.attach(module)  # the pools by their paths in the spec's module, before any wrapper
    if checkpoint is not None:
        module = with_preprocessing(module, checkpoint, list(spec.graph.inputs))
    module.eval()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused kernels differ in rounding from the unfused path
    run = torch_reference(module, sig, lambda env: tuple(torch.from_numpy(a) for a in
                                                          example_arrays(spec, sig, env).values()))

    def reference(env: dict[str, int]) -> Any:
        if picks is not None:
            picks.load(example_arrays(spec, sig, env))
        with torch.no_grad():
            return run(env)

    return reference, float64_arbiter(module, sig) if arbitrable(spec.graph) else None


# -- layer shapes ----------------------------------------------------------------------------------------------------

class LayerShapes:
    """A check of the model's inner values: ONNX shape inference, run on the model as written,
    must agree with specc's shape of every layer's output (a fixed size equal, a symbol not
    frozen); ``found`` counts the layer outputs it gave a shape, ``named`` those whose symbols it
    also named as specc does."""

    def __init__(self, lowered: Lowered) -> None:
        self.lowered = lowered
        self.found = self.named = 0

    def __call__(self, model: onnx.ModelProto) -> list[str]:
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        except Exception as exc:  # noqa: BLE001 -- onnx raises InferenceError or ValidationError
            return [f"ONNX shape inference fails on the model: {str(exc).strip().splitlines()[0]}"]
        return self.of_inferred(inferred)

    def of_inferred(self, inferred: onnx.ModelProto) -> list[str]:
        """The check on a model ONNX shape inference has already typed (verification's own pass, with
        the declared output shapes left out: the outputs too are then compared as inferred)."""
        found = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
        problems: list[str] = []
        for value, (path, t) in self.lowered.values.items():
            v = found.get(value)
            if v is None or not v.type.tensor_type.HasField("shape"):
                continue
            dims = v.type.tensor_type.shape.dim
            if len(dims) != t.rank:
                problems.append(f"layer '{path}': ONNX infers rank {len(dims)}, specc says {t}")
                continue
            self.found += 1
            for axis, (d, want) in enumerate(zip(dims, t.shape)):
                if d.HasField("dim_value") and (not isinstance(want, int) or d.dim_value != want):
                    problems.append(f"layer '{path}' axis {axis}: ONNX infers {d.dim_value}, specc says {want}")
            named = all(d.dim_value == want if isinstance(want, int) else
                        d.dim_param == (bare_symbol(want) or d.dim_param or " ") for d, want in zip(dims, t.shape))
            self.named += named
        return problems

    def text(self) -> str:
        total = len(self.lowered.values)
        return (f"ONNX shape inference gives {self.found} of {total} layer outputs specc's shapes "
                f"({self.named} with every size and symbol)")


# -- export --------------------------------------------------------------------------------------------------------

def _verify_direct(spec: Any, lowered: Lowered, path: Path, sig: Signature, source: Weights, checkpoint: Path | None,
                   env: dict[str, int], compare: str, session: Started, notes: list[str], *, work: Path,
                   name: str, valid: Any, rtol: float, atol: float) -> VerifyReport:
    """Verify the model written at ``path`` against PyTorch (when asked for or installed) or the
    spec's shapes, with ``session`` (ONNX Runtime's, being built); a note for ``notes`` when max
    pools' picks among equal maxima were taken from ONNX Runtime."""
    use_torch = compare == "torch" or (compare == "auto" and verdict.torch_installed())
    picks = None
    if use_torch and lowered.picks:
        from .pool_picks import PoolPicks

        picks = PoolPicks(lowered, work / "probe", name, rtol=rtol, atol=atol)
    reference, arbiter = (_torch_twin(spec, sig, source, checkpoint, picks) if use_torch
                          else (_shapes_only(spec, sig), None))
    against = "PyTorch" if use_torch else "shapes only: torch is not installed" if compare == "auto" else "shapes only"
    inner = LayerShapes(lowered)
    try:
        report = verify_against(path, sig, reference, env, valid=valid, rtol=rtol, atol=atol, against=against,
                                extra=inner.of_inferred, light=lowered.light(), session=session, arbiter=arbiter)
    except VerificationFailed as failed:
        failed.exporter = "direct"
        raise
    report.shapes += f"; {inner.text()}"
    if picks is not None and picks.note():
        notes.append(picks.note())
    return report


def export_direct(spec: Any, path: str | os.PathLike[str] | None, *, weights: str | os.PathLike[str] | None = None,
                  seed: int = 0, opset: int | None = None, verify_model: bool | None = None, compare: str = "auto",
                  triton: str | os.PathLike[str] | None = None, max_batch_size: int | None = None) -> ExportResult:
    """Write the spec's model with the direct target, verify it (unless turned off) and publish it."""
    spec.require_ok()
    why = direct_problem(spec)
    if why is not None:
        raise ExportFailed(f"--via direct cannot write this model: {why}; use --via torch")
    opts = spec.document.export
    checkpoint = resolve_weights(Path(weights)) if weights is not None else None
    if checkpoint is not None and not checkpoint.is_file():
        raise BackendWeightsError(f"--weights: no such file: {weights}")
    try:
        state = read_safetensors(checkpoint) if checkpoint is not None else None
    except Exception as exc:  # noqa: BLE001 -- safetensors raises its own error types for bad files
        raise BackendWeightsError(f"--weights: {checkpoint} is not a readable .safetensors file "
                                  f"({first_line(exc)})") from None
    started = time.perf_counter()
    opset = opset or opts.opset or DEFAULT_OPSET
    try:
        source = Weights(merged_lora(spec, state) if state is not None else None, seed)
        scaling = run_scaling_of(spec, weights)
        lowered = lower_graph(spec.graph, source, name=spec.name, opset=opset, scaling=scaling)
    except Unsupported as exc:
        raise ExportFailed(f"--via direct cannot write this model: {exc}; use --via torch") from None
    except WeightsError as exc:
        raise BackendWeightsError(f"--weights: {checkpoint}: {exc}") from None
    seconds = time.perf_counter() - started
    sig = signature_of(spec)
    valid = sizes_valid(spec)
    env = export_env(sig, opts.batch_size, opts.sizes, valid)
    meta = {"spec_name": spec.name, "specc_version": __version__, "spec_sha256": spec.sha256,
            "specc_exporter": "direct", "specc_sizes": json.dumps(env),
            "specc_size_rules": json.dumps(rules_json(spec.graph)),
            "specc_int_high": json.dumps(bounds_json(spec.graph, [t.name for t in sig.inputs]))}
    if spec.document.description:
        meta["spec_description"] = spec.document.description
    meta.update(run_metadata(weights))
    stamp(lowered.proto, meta)
    rtol, atol = tolerances(spec.graph, opts)
    do_verify = opts.verify if verify_model is None else verify_model
    target = Path(path) if path is not None else None
    folder = target.parent if target is not None else Path(tempfile.gettempdir())
    make_folder(folder)
    name = target.name if target is not None else "model.onnx"
    notes = _scaling_notes(scaling)
    with temp_dir(folder, name) as work:
        files = save(lowered.proto, work, name, lowered.tensors)
        report = None
        # the model's data goes to disk while it is verified (the files are published after)
        with syncing(files if target is not None else ()):
            if do_verify:
                with session_started(files[0]) as session:  # built while the references are made
                    report = _verify_direct(spec, lowered, files[0], sig, source, checkpoint, env, compare,
                                            session, notes, work=work, name=name, valid=valid, rtol=rtol, atol=atol)
        entry = None
        if triton is not None:
            from .triton import write_entry

            entry = write_entry(files[0], triton, spec.name, max_batch_size)
        size = sum(f.stat().st_size for f in files)
        if target is not None:
            publish(files, target.parent)
    result = ExportResult(target, "direct", opset, seconds, size, dict(env), report, notes)
    result.triton = entry
    result.requirements = requirements(spec)
    return result
