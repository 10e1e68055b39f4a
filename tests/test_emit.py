"""`specc compile` writes a module that is what the spec says.

For every example spec, every case of every layer kind (tests/layer_cases.py) and a few
structures of our own (nested blocks, repeats, frozen layers, several outputs): the
generated module imports and runs on CPU, every intermediate tensor has exactly the
statically inferred shape and dtype at two batch sizes and two sizes of every other
symbol (forward hooks, tests/emit_harness.py), and the parameter, trainable-parameter and
buffer counts are the static ones.  The source is deterministic, names its spec and its
sha256, is ruff-clean and ruff-formatted, and its build_loss / build_optimizer /
build_scheduler construct exactly what the spec's sections say.  Small golden modules pin
the layout: regenerate them with ``SPECC_UPDATE_GOLDEN=1 pytest tests/test_emit.py``.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import specc
from specc.targets.torch.emit import compile_source
from specc.targets.torch.emit.format import wrap

torch = pytest.importorskip("torch")
from emit_harness import sites, verify  # noqa: E402  (needs torch)
from layer_cases import CASES  # noqa: E402

from specc.backends.torch_build import build_module, generated_module  # noqa: E402
from specc.layers import REGISTRY  # noqa: E402
from specc.validate import document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "specs").rglob("*.yaml") if "broken" not in p.parts)
GOLDEN = ROOT / "tests" / "golden" / "compile"
RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated modules go to a private cache, not the user's ~/.cache."""
    monkeypatch.setenv("SPECC_CACHE", str(tmp_path_factory.getbasetemp() / "specc-cache"))


def _load(path: Path) -> specc.Spec:
    """Load with the path relative to the repository, as the header shows it, whatever the cwd."""
    spec = specc.loads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert spec.ok, "\n".join(f"{d.code} {d.loc}: {d.message}" for d in spec.errors)
    return spec


def _assert_agrees(spec: specc.Spec, envs: list[dict[str, int]] | None = None) -> None:
    _, problems, unseen = verify(spec, envs)
    assert not problems, "\n".join(problems)
    # Only layers without a module of their own (or whose module output is not their value)
    # may be checked through what reads them rather than directly.
    direct = {s.node.path for s in sites(spec.graph) if s.has_module and s.direct}
    assert not set(unseen) & direct, f"hooked but never called: {sorted(set(unseen) & direct)}"


# -- every example spec -------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "specs").with_suffix("")) for p in EXAMPLES])
def test_example_runs_with_the_static_shapes(path: Path) -> None:
    _assert_agrees(_load(path))


# -- every layer kind ------------------------------------------------------------------------------

def test_every_layer_kind_has_a_case() -> None:
    assert set(REGISTRY) <= {c.kind for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_case_runs_with_the_static_shapes(case: typing.Any) -> None:
    spec = specc.loads(case.yaml(), f"{case.kind}.yaml")
    assert spec.ok, "\n".join(d.message for d in spec.errors)
    _assert_agrees(spec, [dict(env) for env in case.envs])


# -- structures: blocks in blocks, repeats, frozen layers, several outputs ------------------------

NESTED = """
specc: 1
name: Nested
inputs:
  signal: [B, 3, T]
blocks:
  Unit:
    args: {out: 8, k: 3}
    layers:
      - {type: Conv1d, out_channels: "${out}", kernel_size: "${k}", padding: 1, bias: false, name: conv}
      - {type: BatchNorm1d, name: bn}
      - {type: ReLU}
  Res:
    args: {out: 8}
    layers:
      - {type: Unit, out: "${out}", name: u1}
      - {type: Unit, out: "${out}", name: u2}
      - {type: Conv1d, from: input, out_channels: "${out}", kernel_size: 1, name: proj}
      - {type: Add, from: [u2, proj]}
layers:
  - {type: Unit, out: 8, name: stem, trainable: false}
  - {type: Res, out: 8, repeat: 2, name: body}
  - {type: Res, out: 16, name: wide}
  - {type: Res, out: 16, name: frozen, trainable: false}
  - {type: MaxPool1d, kernel_size: 2, ceil_mode: true, name: pool}
  - {type: GlobalAvgPool, name: gap}
  - {type: Linear, out_features: 4, name: head}
  - {type: Linear, from: gap, out_features: 2, name: aux, trainable: false}
outputs: [head, aux, pool]
"""

INLINE_CHAINS = """
specc: 1
name: InlineChains
inputs:
  tokens: {shape: [B, T], dtype: int64}
  extra: [B, 6]
layers:
  - {type: Embedding, from: tokens, num_embeddings: 30, embedding_dim: 8, name: emb}
  - {type: Permute, dims: [0, 2, 1], name: chans}
  - {type: Unsqueeze, dim: 1}
  - {type: Squeeze, dim: 1}
  - {type: Mean, dim: 2, name: pooled}
  - {type: Add, from: [pooled, pooled], name: twice}
  - {type: Linear, from: extra, out_features: 8, name: proj}
  - {type: Mul, from: [twice, proj], name: gated}
  - {type: Concat, from: [gated, proj, twice], name: both}
  - {type: Reshape, shape: [B, 4, 6], name: grid}
  - {type: Transpose, dim0: 1, dim1: 2, name: flipped}
outputs: {result: flipped, gate: gated, same: extra}
"""

REPEATS = """
specc: 1
name: Repeats
inputs:
  image: [B, 3, H, W]
blocks:
  Down:
    args: {out: 8}
    layers:
      - {type: Conv2d, out_channels: "${out}", kernel_size: 3, stride: 2, padding: 1}
      - {type: ReLU}
layers:
  - {type: Down, out: 4, name: first}
  - {type: Down, out: 6, repeat: 2, name: downs, trainable: false}
  - {type: Conv2d, out_channels: 6, kernel_size: 3, padding: 1, repeat: 3, name: convs}
  - {type: AdaptiveMaxPool2d, output_size: [2, null], name: squeeze}
  - {type: Flatten, start_dim: 2}
"""

STRUCTURES = {"nested": NESTED, "inline_chains": INLINE_CHAINS, "repeats": REPEATS}


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_structure_runs_with_the_static_shapes(name: str) -> None:
    spec = specc.loads(STRUCTURES[name], f"{name}.yaml")
    assert spec.ok, "\n".join(f"{d.code}: {d.message}" for d in spec.errors)
    _assert_agrees(spec)


def test_frozen_layers_are_frozen_and_counted() -> None:
    spec = specc.loads(NESTED, "nested.yaml")
    model = build_module(spec, seed=0)
    params, trainable, _, _ = spec.graph.totals()
    assert 0 < trainable < params
    frozen = {name.rsplit(".", 1)[0] for name, p in model.named_parameters() if not p.requires_grad}
    assert {"stem.conv", "stem.bn", "aux"} <= frozen
    assert all(name.startswith(("stem.", "frozen.", "aux")) for name in frozen)


def test_seed_gives_the_same_weights() -> None:
    spec = specc.loads(NESTED, "nested.yaml")
    a, b, c = build_module(spec, seed=3), build_module(spec, seed=3), build_module(spec, seed=4)
    for (name, x), (_, y), (_, z) in zip(a.state_dict().items(), b.state_dict().items(), c.state_dict().items()):
        assert torch.equal(x, y), name
        if name.endswith("conv.weight"):
            assert not torch.equal(x, z), name


def test_weights_are_pytorchs_default_initialisation() -> None:
    """Built with a seed, the layers draw PyTorch's own initialisation in order: the same as
    the hand-written modules built after torch.manual_seed(seed)."""
    spec = specc.loads(
        "specc: 1\ninputs: {feats: [B, 3, 8]}\nlayers:\n"
        "  - {type: Conv1d, out_channels: 4, kernel_size: 3}\n  - {type: Flatten}\n"
        "  - {type: Linear, out_features: 2}\n", "init.yaml")
    model = build_module(spec, seed=7)
    torch.manual_seed(7)
    conv, fc = torch.nn.Conv1d(3, 4, 3), torch.nn.Linear(24, 2)
    assert torch.equal(model.conv1d_1.weight, conv.weight) and torch.equal(model.conv1d_1.bias, conv.bias)
    assert torch.equal(model.linear_1.weight, fc.weight) and torch.equal(model.linear_1.bias, fc.bias)


# -- the source itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "specs").with_suffix("")) for p in EXAMPLES])
def test_source_is_deterministic_and_names_its_spec(path: Path) -> None:
    first, second = compile_source(_load(path)), compile_source(_load(path))
    assert first == second
    spec = _load(path)
    head = first.splitlines()[:4]
    assert str(path.relative_to(ROOT)) in head[0]
    assert head[2] == f"# Spec sha256: {spec.sha256}"
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_compile_cli_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Two runs of `specc compile` (different hash seeds) write the same bytes."""
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"model{seed}.py"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "specc", "compile", "specs/resnet18.yaml", "-o", str(out)],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].decode() == compile_source(_load(ROOT / "specs" / "resnet18.yaml"))


def _ruff(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), *args, "--isolated", "."], cwd=cwd, capture_output=True, text=True)


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this python")
@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "specs").with_suffix("")) for p in EXAMPLES])
def test_source_is_ruff_clean_and_formatted(path: Path, tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(compile_source(_load(path)))
    check = _ruff(["check"], tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _ruff(["format", "--diff"], tmp_path)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def _statements(n: int, seed: int = 0) -> list[str]:
    """Statements of the shapes the generator writes, with names from 1 to 60 characters."""
    r = random.Random(seed)

    def name() -> str:
        return "z" + "".join(r.choice("abcdefghij_") for _ in range(r.choice([0, 2, 7, 14, 24, 39, 59, 74, 92])))

    def value() -> str:
        return r.choice(["1", "3", "(3, 3)", "True", '"zeros"', "0.1", "None", "(1, 2, 3)", "1e-05", "256"])

    def call(depth: int = 0) -> str:
        args = [value() for _ in range(r.randint(0, 4))]
        args += [f"{name()}={value() if depth > 1 or r.random() < 0.7 else call(depth + 1)}"
                 for _ in range(r.randint(0, 5))]
        return f"nn.{name().capitalize()}({', '.join(args)})"

    forms = [
        lambda t, a, b, c: f"self.{t} = {call()}",
        lambda t, a, b, c: f"self.{t} = nn.Sequential({', '.join(call() for _ in range(r.randint(1, 4)))})",
        lambda t, a, b, c: f"self.{t} = Block{a}({b}={value()}, {c}={value()})",
        lambda t, a, b, c: f"{t} = self.{a}({b})",
        lambda t, a, b, c: f"{t} = self.{a}({b}, {c}, need_weights=False)[0]",
        lambda t, a, b, c: f"{t} = {a} + {b} + {c}",
        lambda t, a, b, c: f"{t} = {a} * {b}",
        lambda t, a, b, c: f"{t} = torch.cat([{a}, {b}, {c}], dim=1)",
        lambda t, a, b, c: f"{t} = self.{a}({b}.flatten(0, 1)).unflatten(0, {b}.shape[:2])",
        lambda t, a, b, c: f"{t} = rnn_last(self.{a}({b})[0], batch_first=True)",
        lambda t, a, b, c: f"{t} = {b}.reshape({b}.size(0), 4, -1)",
        lambda t, a, b, c: f"return {a}, {b}, {c}",
        lambda t, a, b, c: f"return torch.optim.SGD(params, lr=0.1, {a}={value()}, {b}={value()})",
        lambda t, a, b, c: f"def __init__(self, {a}: int, {b}: tuple[int, ...], {c}: float) -> None:",
        lambda t, a, b, c: f"def forward(self, {a}: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:",
    ]
    return [r.choice(forms)(name(), name(), name(), name()) for _ in range(n)]


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this python")
def test_line_wrapping_matches_ruff_format(tmp_path: Path) -> None:
    """The generator's line splitting (specc.targets.torch.emit.format.wrap) is what ruff format writes."""
    blocks = []
    for stmt in _statements(400):
        if stmt.startswith("def "):
            blocks.append(f"class A:\n    {stmt}\n        pass\n")
        else:
            blocks.append(f"class A:\n    def f(self):\n        {stmt}\n")
    raw = tmp_path / "raw.py"
    raw.write_text("\n\n".join(blocks))
    subprocess.run([str(RUFF), "format", "--isolated", "-q", str(raw)], check=True)
    expected = raw.read_text().strip().split("\n\n\n")
    ours = ["\n".join(wrap(line) for line in block.splitlines()).strip() for block in blocks]
    assert len(expected) == len(ours)
    for want, got in zip(expected, ours):
        assert got == want.strip()


# -- build_loss / build_optimizer / build_scheduler ------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "specs").with_suffix("")) for p in EXAMPLES])
def test_training_sections_construct(path: Path) -> None:
    spec = _load(path)
    module = generated_module(spec)
    d = spec.document
    assert d is not None
    for section, fn in (("loss", "build_loss"), ("optimizer", "build_optimizer"), ("scheduler", "build_scheduler")):
        assert hasattr(module, fn) == (getattr(d, section) is not None), fn
    if d.loss is not None:
        loss = module.build_loss()
        if getattr(d.loss, "class_dim", None) not in (None, 1):  # wrapped to move the classes to dim 1
            assert type(loss).__name__ == "ClassesAt"
            loss = loss.loss
        assert type(loss).__name__ == d.loss.type
    if d.optimizer is not None:
        model = build_module(spec, seed=0)
        opt = module.build_optimizer(model)
        assert type(opt).__name__ == d.optimizer.type
        assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == spec.graph.totals()[1]
        if d.scheduler is not None:
            sched = module.build_scheduler(opt, 3, 4)
            assert type(sched).__name__ == d.scheduler.type
            assert d.scheduler.interval == module.SCHEDULER_INTERVAL


def _union_members(annotation: typing.Any) -> list[type]:
    union = typing.get_args(annotation)[0]
    return list(typing.get_args(union))


def _minimal(model: type) -> dict[str, typing.Any]:
    """A section of this type with its required fields filled in."""
    type_name = typing.get_args(model.model_fields["type"].annotation)[0]
    required = {"step_size": 2, "milestones": [2, 4], "gamma": 0.5, "T_max": 5, "T_0": 3, "max_lr": 0.1}
    fields = {k: required[k] for k, f in model.model_fields.items() if f.is_required() and k != "type"}
    return {"type": type_name, **fields}


SECTION_SPEC = """
specc: 1
inputs: {{feats: {feats}}}
layers: [{{type: Linear, out_features: 3}}{last}]
{section}
"""
# The layer a loss needs last (check rejects NLL/KL/CTC on raw logits, BCE without a sigmoid).
LAST_FOR = {"NLLLoss": "LogSoftmax, dim: 1", "KLDivLoss": "LogSoftmax, dim: 1", "BCELoss": "Sigmoid",
            "CTCLoss": "LogSoftmax, dim: -1"}


def _expected(model: typing.Any) -> dict[str, typing.Any]:
    from specc.targets.torch.emit.sections import SPECC_KEYS

    return model.model_dump(exclude={"type", *SPECC_KEYS})


def _sections() -> list[tuple[str, dict[str, typing.Any]]]:
    out = []
    for key, union in (("loss", document.Loss), ("optimizer", document.Optimizer),
                       ("scheduler", document.Scheduler)):
        out += [(key, _minimal(m)) for m in _union_members(union)]
    return out


def _as_yaml(key: str, fields: dict[str, typing.Any]) -> str:
    inner = ", ".join(f"{k}: {v}" for k, v in fields.items())
    lines = [f"{key}: {{{inner}}}"]
    if key == "scheduler":
        lines.append("optimizer: {type: SGD, lr: 0.1}")
    return "\n".join(lines)


@pytest.mark.parametrize(("key", "fields"), _sections(), ids=[f"{k}-{f['type']}" for k, f in _sections()])
def test_every_section_type_constructs_what_the_spec_says(key: str, fields: dict[str, typing.Any]) -> None:
    """Every field of the section, defaults included, ends up in the PyTorch object: a specc
    default that differs from PyTorch's must be written out."""
    last = f", {{type: {LAST_FOR[fields['type']]}}}" if key == "loss" and fields["type"] in LAST_FOR else ""
    feats = "[B, T, 4]" if key == "loss" and fields["type"] == "CTCLoss" else "[B, 4]"  # CTC reads steps
    spec = specc.loads(SECTION_SPEC.format(section=_as_yaml(key, fields), last=last, feats=feats), f"{key}.yaml")
    assert spec.ok, "\n".join(d.message for d in spec.errors)
    module = generated_module(spec)
    model = build_module(spec, seed=0)
    section = getattr(spec.document, key)
    want = _expected(section)
    if key == "loss":
        obj = module.build_loss()
        got = {k: getattr(obj, k) for k in want}
        if "weight" in got:
            got["weight"] = got["weight"] if got["weight"] is None else got["weight"].tolist()
    elif key == "optimizer":
        obj = module.build_optimizer(model)
        # Settings PyTorch's class does not take must be the ones it behaves as (amsgrad off).
        want = {k: v for k, v in want.items() if k in obj.defaults or v is not False}
        got = {k: obj.defaults[k] for k in want}
    else:
        opt = module.build_optimizer(model)
        obj = module.build_scheduler(opt, 3, 4)
        got = {}
        for k in want:
            value = getattr(obj, k, None)
            if k == "milestones":
                value = sorted(value)
            elif k == "min_lr":
                value = obj.min_lrs[0]
            elif k == "max_lr":
                value = obj.param_groups[0]["max_lr"] if hasattr(obj, "param_groups") else \
                    opt.param_groups[0]["max_lr"]
            elif k == "anneal_strategy":
                value = "cos" if obj._anneal_func_type == "cos" else "linear"
            elif k == "final_div_factor":
                value = opt.param_groups[0]["initial_lr"] / opt.param_groups[0]["min_lr"]
            elif k == "div_factor":
                value = opt.param_groups[0]["max_lr"] / opt.param_groups[0]["initial_lr"]
            elif k == "pct_start":
                value = (obj._schedule_phases[0]["end_step"] + 1) / obj.total_steps
            got[k] = value
    assert type(obj).__name__ == section.type
    for k, v in want.items():
        w = tuple(v) if isinstance(v, list) and k == "betas" else v
        g = tuple(got[k]) if isinstance(got[k], list) and k == "betas" else got[k]
        assert g == pytest.approx(w), f"{section.type}.{k}: PyTorch has {got[k]!r}, the spec says {v!r}"


# -- golden modules --------------------------------------------------------------------------------

GOLDEN_SPECS = sorted(GOLDEN.glob("*.yaml"))


def test_there_are_golden_specs() -> None:
    assert len(GOLDEN_SPECS) >= 2


@pytest.mark.parametrize("path", GOLDEN_SPECS, ids=[p.stem for p in GOLDEN_SPECS])
def test_golden_module(path: Path) -> None:
    source = compile_source(_load(path))
    expected = path.with_suffix(".py")
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        expected.write_text(source)
    assert expected.exists(), f"run SPECC_UPDATE_GOLDEN=1 pytest {Path(__file__).name} to create {expected.name}"
    assert source == expected.read_text(), (
        f"the generated module for {path.name} changed; if that is intended, regenerate with "
        f"SPECC_UPDATE_GOLDEN=1 pytest tests/{Path(__file__).name}")


def test_a_generated_file_carries_only_the_support_its_layers_reach() -> None:
    """A support module defines 1-, 2- and 3-D variants and their base; a file keeps the variants its
    layers construct, the base they derive from and the function they call, and drops the rest."""
    def source(layers: str, dims: str) -> str:
        spec = specc.loads(f"specc: 1\ninputs: {{x: [B, 3, {dims}]}}\nlayers:\n{layers}", "std.yaml")
        assert spec.ok, spec.diagnostics
        return compile_source(spec)

    conv2d = "  - {type: Conv2d, out_channels: 8, kernel_size: 3, weight_standardization: true}\n"
    only_2d = source(conv2d, "16, 16")
    assert "class StdConv2d(" in only_2d and "class _StdConv" in only_2d and "def standardize_weight(" in only_2d
    assert "class StdConv1d(" not in only_2d and "class StdConv3d(" not in only_2d
    assert "ScaledStdConv" not in only_2d
    build_module(specc.loads(f"specc: 1\ninputs: {{x: [B, 3, 16, 16]}}\nlayers:\n{conv2d}", "std.yaml"))
    conv1d = "  - {type: Conv1d, out_channels: 8, kernel_size: 3, weight_standardization: true}\n"
    both = source(conv1d + "  - {type: Unsqueeze, dim: -1}\n"
                  "  - {type: Conv2d, out_channels: 4, kernel_size: 1, weight_standardization: true}\n", "16")
    assert "class StdConv1d(" in both and "class StdConv2d(" in both and "class StdConv3d(" not in both
