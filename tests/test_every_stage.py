"""The promise as a property: whatever `check` accepts, every later stage handles.

Specs come from four sources: every layer kind of the case table (tests/layer_cases.py), named
and auto-named; random chains and DAGs from tests/test_differential.py's generator; accepted
mutants of the example specs (their variables set to other values); and published
architectures written from their papers (tests/corpus/architectures/). For each spec
`check` accepts: build the PyTorch module, run forward at two sizes of every symbol (sizes that
meet what the layers need), and export to ONNX with verification. A later stage refusing a
spec that check accepted is a failure of this test, never a skip.

CI runs a fixed sample (under a minute); ``SPECC_STAGES_EXAMPLES=2000`` runs that many random
graphs locally, a tenth as many mutants, and a third of all (case, name) pairs.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
hypothesis = pytest.importorskip("hypothesis")
import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from layer_cases import CASES  # noqa: E402
from test_differential import nets  # noqa: E402
from test_losses import OPTIMIZERS  # noqa: E402

from specc.backends.onnx_export import signature_of, sizes_valid, spec_inputs  # noqa: E402
from specc.backends.routes import export  # noqa: E402
from specc.backends.torch_build import build_module  # noqa: E402
from specc.backends.verify import export_env, other_envs  # noqa: E402
from specc.cli import main as cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOCAL = int(os.environ.get("SPECC_STAGES_EXAMPLES", "0"))
# Names a user (or specc itself) might give the layer under test, including ones that exporters
# use for their own values.
NAMES = (None, "out", "linear_1", "output", "input_1", "x_1", "onnx__MatMul_0", "logits")


def every_stage(text: str, tmp_path: Path, exported: bool = True) -> bool:
    """Run every later stage on ``text`` if check accepts it (the export and its verification only when
    ``exported``); False when check refuses it."""
    spec = specc.loads(text, "prop.yaml")
    if not spec.ok:
        return False
    module = build_module(spec).eval()
    sig = signature_of(spec)
    valid = sizes_valid(spec)
    make = spec_inputs(spec, sig)
    first = export_env(sig, 2, None, valid)
    envs = [first, other_envs(sig, first, valid)[-1]] if sig.symbols() else [first]
    for env in envs:
        assert valid(env), f"no sizes meet the layers' needs at {env}\n---\n{text}"
        with torch.no_grad():
            out = module(*make(env))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for t, y in zip(sig.outputs, outs):
            assert tuple(y.shape) == t.at(env), f"{t.name} at {env}: {tuple(y.shape)} vs {t.at(env)}\n---\n{text}"
    if not exported:
        return True
    try:
        export(spec, tmp_path / "model.onnx")  # `specc export`'s own choice of route (--via auto)
    except Exception as exc:  # noqa: BLE001 -- any refusal after "ok" is the failure we look for
        pytest.fail(f"check said ok, export failed: {exc}\n---\n{text}")
    return True


def _named(layer: str, name: str | None) -> str:
    return layer if name is None else layer[:-1].rstrip() + f", name: {name}}}"


def _case_specs() -> list[tuple[str, str]]:
    out = []
    for i, case in enumerate(CASES):
        for j, name in enumerate(NAMES):
            # CI: a sample of the cases, each under one name or another; locally a third of all pairs
            if (i + j) % (3 if LOCAL else 31) == 0:
                spec = case.yaml().replace(f"  - {case.layer}", f"  - {_named(case.layer, name)}")
                out.append((f"{case.id}|{name}", spec))
    return out


CASE_SPECS = _case_specs()


@pytest.mark.parametrize("text", [t for _, t in CASE_SPECS], ids=[i for i, _ in CASE_SPECS])
def test_every_kind_passes_every_stage(text: str, tmp_path: Path) -> None:
    every_stage(text, tmp_path)


STAGES = settings(max_examples=LOCAL or 6, deadline=None, database=None, derandomize=not LOCAL,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])


@STAGES
@given(net=nets())
def test_random_graphs_pass_every_stage(net: object, tmp_path: Path) -> None:
    # --hypothesis-show-statistics says how many of the examples check accepted (and so went through export)
    accepted = every_stage(net.yaml(), tmp_path)  # type: ignore[attr-defined]
    hypothesis.event("check accepted: built, run at two sizes, exported" if accepted else "check refused")


# Training: a train section the head fits (classes for a (B, K) output, values otherwise), any
# optimizer and scheduler, one epoch on synthetic data, then predict at another size.
SCHEDULERS = (None, "{type: StepLR, step_size: 1}", "{type: ExponentialLR, gamma: 0.9}", "{type: LinearLR}",
              "{type: CosineAnnealingLR, T_max: 2}", "{type: CosineAnnealingWarmRestarts, T_0: 1}",
              "{type: OneCycleLR, max_lr: 0.01}", "{type: ReduceLROnPlateau}", "{type: MultiStepLR, milestones: [1]}")


@st.composite
def trained(draw: st.DrawFn) -> str:
    text = draw(nets()).yaml()
    spec = specc.loads(text, "prop.yaml")
    if not spec.ok:
        return text
    out = signature_of(spec).outputs[0].shape
    classes = len(out) == 2 and isinstance(out[1], int) and 2 <= out[1] <= 8
    loss = draw(st.sampled_from(["CrossEntropyLoss", "FocalLoss", "BCEWithLogitsLoss"] if classes and draw(
        st.booleans()) else ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"]))
    sched = draw(st.sampled_from(SCHEDULERS))
    return text + (f"loss: {{type: {loss}}}\noptimizer: {{type: {draw(st.sampled_from(OPTIMIZERS))}}}\n"
                   + (f"scheduler: {sched}\n" if sched else "")
                   + f"train: {{epochs: 1, batch_size: {draw(st.sampled_from([1, 2, 3, 8]))}, "
                   f"data: {{num_samples: {draw(st.sampled_from([17, 32]))}}}}}\n")


TRAINS = settings(STAGES, max_examples=LOCAL // 10 or 2)


@TRAINS
@given(text=trained())
def test_random_graphs_train_and_predict(text: str, tmp_path_factory: pytest.TempPathFactory,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = specc.loads(text, "prop.yaml")
    hypothesis.event("check accepted: trained, predicted" if spec.ok else "check refused")
    if not spec.ok:
        return
    folder = tmp_path_factory.mktemp("trained")
    (folder / "prop.yaml").write_text(text)
    code = cli(["train", str(folder / "prop.yaml"), "-o", str(folder / "run"), "--epochs", "1"])
    out = capsys.readouterr()
    assert code == 0, f"check said ok, train failed:\n{out.err}\n---\n{text}"
    sig, valid = signature_of(spec), sizes_valid(spec)
    env = other_envs(sig, export_env(sig, 2, None, valid), valid)[-1] if sig.symbols() else {"B": 3}
    feeds = {t.name: x.numpy() for t, x in zip(sig.inputs, spec_inputs(spec, sig)(env))}
    np.savez(folder / "in.npz", **feeds)
    code = cli(["predict", str(folder / "run"), "--input", str(folder / "in.npz"), "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, f"check said ok, predict at {env} failed:\n{out.err}\n---\n{text}"


# Published architectures written as specs from their papers (tests/corpus/architectures/, each
# file's first line names it): specs the examples do not cover, each through every stage.
ARCHITECTURES = sorted((ROOT / "tests" / "corpus" / "architectures").glob("*.yaml"))
# The two costliest architectures of this test (256-channel 3x3 convolutions over five FPN levels; 55 M
# weights at 128 x 136): 70 s and 66 s each on a loaded 2-core machine, their exports (the verifying runs
# of PyTorch and onnxruntime, mostly) about 12 s of CPU of the two (pytest on just these two: 36 s of user
# time with them, 24 s without, its start and collection included). CI checks, builds and runs them
# forward at two sizes of every symbol; their export moves to the full run (SPECC_STAGES_EXAMPLES=N),
# while every layer kind they use is exported by an architecture CI exports
# (test_every_kind_left_unexported_in_ci_is_exported_elsewhere).
COSTLY_EXPORTS = {"fcos_head", "inception_resnet_v2"}


@pytest.mark.parametrize("path", ARCHITECTURES, ids=[p.stem for p in ARCHITECTURES])
def test_published_architectures_pass_every_stage(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    errors = [f"{d.code} {d.message}" for d in specc.loads(text, path.name).errors]
    assert not errors, f"{path.name}: {errors}"
    assert every_stage(text, tmp_path, exported=bool(LOCAL) or path.stem not in COSTLY_EXPORTS)


def test_every_kind_left_unexported_in_ci_is_exported_elsewhere() -> None:
    from specc.layers.catalogue import FAMILY_OF

    def kinds(path: Path) -> set[str]:
        found = re.findall(r"\btype:\s*[\"']?(\w+)", path.read_text(encoding="utf-8"))
        return {k for k in found if k in FAMILY_OF}  # layer kinds, not block names, losses or optimizers

    assert {p.stem for p in ARCHITECTURES} >= COSTLY_EXPORTS
    exported = set().union(*(kinds(p) for p in ARCHITECTURES if p.stem not in COSTLY_EXPORTS))
    for path in (p for p in ARCHITECTURES if p.stem in COSTLY_EXPORTS):
        assert kinds(path) and kinds(path) <= exported, (path.stem, kinds(path) - exported)


TRAINED = [p for p in ARCHITECTURES if re.search(r"^train:", p.read_text(encoding="utf-8"), re.M)]
# Every architecture's graph is exported and verified above; the trained run's export adds the run's
# weights read back by name, the same path for all: CI exports every third run (a third of this
# test's time), SPECC_STAGES_EXAMPLES=N every one.
EXPORTED_RUNS = {p for i, p in enumerate(TRAINED) if LOCAL or i % 3 == 0}
# The run's curves.png is drawn from its history alone (a panel per metric of the task), half of a
# one-epoch run's time in matplotlib: CI draws every third run's, other runs than those exported
# (among them, as of 220 architectures, every task: classification, tagger, binary, regression, ctc,
# a loss per output), SPECC_STAGES_EXAMPLES=N every one.
DRAWN_RUNS = {p for i, p in enumerate(TRAINED) if LOCAL or i % 3 == 2}


@pytest.mark.parametrize("path", TRAINED, ids=[p.stem for p in TRAINED])
def test_published_architectures_train_and_export_their_run(path: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the stages after training: a run on the spec's (synthetic) data, then the trained weights
    # exported and verified against PyTorch
    if path not in DRAWN_RUNS:
        from specc.backends.train import loop

        monkeypatch.setattr(loop, "write_curves", lambda run, history: None)
    run = tmp_path / "run"
    code = cli(["train", str(path), "-o", str(run), "--epochs", "1"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    if path not in EXPORTED_RUNS:
        return
    code = cli(["export", str(path), "--weights", str(run), "-o", str(tmp_path / "trained.onnx")])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err


EXAMPLES = ("xor.yaml", "mlp_regression.yaml", "conv1d_signal.yaml", "gru_timeseries.yaml")


def _mutants(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(count):
        name = EXAMPLES[k % len(EXAMPLES)]
        text = (ROOT / "specs" / name).read_text()
        # every small number in a layer line becomes another small number
        lines = [re.sub(r"(?<=: )(\d{1,3})(?=[,}\]])", lambda m: str(rng.randint(1, 2 * int(m.group(1)) + 2)), ln)
                 if "type:" in ln and rng.random() < 0.5 else ln for ln in text.splitlines()]
        out.append("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("text", _mutants(LOCAL // 10 or 4, 8))
def test_accepted_mutants_of_the_examples_pass_every_stage(text: str, tmp_path: Path) -> None:
    every_stage(text, tmp_path)


# What the local runs found, kept in CI: each passed check and then failed a later stage.
FOUND = [
    # ceil_mode pools whose last window starts past the input: PyTorch drops it, ONNX keeps it
    "inputs: {inp: [B, 2, L]}\nlayers:\n  - {type: MaxPool1d, kernel_size: 2, padding: 1, ceil_mode: true}\n",
    "inputs: {inp: [B, 1, 3, W]}\nlayers:\n  - {type: MaxPool2d, kernel_size: 1, stride: 3, ceil_mode: true}\n",
    # an adaptive output of 1 beside another size: the exporters pool with the traced window
    "inputs: {inp: [B, 1, 3, L]}\nlayers:\n  - {type: AdaptiveAvgPool2d, output_size: [3, 1]}\n",
    "inputs: {inp: [B, 2, H, 5]}\nlayers:\n  - {type: AdaptiveMaxPool2d, output_size: [1, null]}\n",
]


@pytest.mark.parametrize("body", FOUND)
def test_what_the_property_runs_found_is_refused_or_passes_every_stage(body: str, tmp_path: Path) -> None:
    spec = specc.loads(f"specc: 1\nname: Found\n{body}", "found.yaml")
    assert spec.ok or all(d.code.startswith("U") and d.loc is not None for d in spec.errors), spec.errors
    every_stage(f"specc: 1\nname: Found\n{body}", tmp_path)
