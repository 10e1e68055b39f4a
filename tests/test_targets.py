"""Every layer kind is lowered by every target, and what a kind's schema declares about itself
agrees with how the target writes it.

Adding a layer kind?  Add its lowering to specc/targets/torch/kinds/ (the module named like its
family in specc/layers/): ``test_every_kind_has_a_lowering`` fails until you do.
"""

from __future__ import annotations

import ast
import importlib
import importlib.resources
from typing import Any

import pytest
from layer_cases import CASES

import specc
from specc.diagnostics import render_text
from specc.layers import REGISTRY
from specc.targets.torch import export_limits, support
from specc.targets.torch.kinds import LOWERINGS
from specc.targets.torch.lower import forward_expr, init_expr

# One entry per target: its name and its lowerings by layer type name.
TARGETS: dict[str, dict[str, Any]] = {"torch": LOWERINGS}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_kind_has_a_lowering(target: str) -> None:
    lowerings = TARGETS[target]
    missing = sorted(set(REGISTRY) - set(lowerings))
    assert not missing, f"add lowerings to specc/targets/{target}/ for: {', '.join(missing)}"
    stale = sorted(set(lowerings) - set(REGISTRY))
    assert not stale, f"lowerings of kinds that are not registered (misspelt class names?): {stale}"


def test_export_limits_name_registered_kinds() -> None:
    assert set(export_limits.LIMITS) <= set(REGISTRY), sorted(set(export_limits.LIMITS) - set(REGISTRY))


def _leaf(case_yaml: str) -> Any:
    spec = specc.loads(case_yaml)
    assert spec.ok, "\n".join(render_text(d) for d in spec.errors)
    assert spec.graph is not None
    return spec.graph.nodes[-1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_declared_form_matches_the_lowering(case: Any) -> None:
    """The schema's ``form`` (which decides whether repeat: may chain a layer) says what the
    PyTorch lowering does: "inline" has no module, "module" is called as module(x)."""
    node = _leaf(case.yaml())
    args = node.result.args
    form = node.kind.applied(args)
    init = init_expr(node.kind, args)
    called = init is not None and forward_expr(node.kind, "m", ["x"], args) == "m(x)"
    assert (form == "inline") == (init is None), (form, init)
    assert (form == "module") == called, (form, forward_expr(node.kind, "m", ["x"], args))


@pytest.mark.parametrize("name", support.NAMES)
def test_support_module_is_what_generated_files_carry(name: str) -> None:
    """Each support module imports (so its code runs as written), and every name its emitted
    text defines is one the module defines, and is reserved against layer and model names."""
    module = importlib.import_module(f"specc.targets.torch.support.{name}")
    text = support.text(name)
    defined = [n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defined, f"{name}.py defines nothing below its marker"
    for top in defined:
        assert hasattr(module, top), top
        assert top in support.defined_names()
    source = importlib.resources.files(support).joinpath(f"{name}.py").read_text(encoding="utf-8")
    assert source.rstrip("\n").endswith(text.strip("\n")), "the emitted text is the end of the module"


def test_every_support_module_is_used() -> None:
    used = {name for lowering in LOWERINGS.values() for name in lowering.support}
    assert used == set(support.NAMES)
