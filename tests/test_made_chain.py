"""V178: MADE's masked Linears (made:) prove the model autoregressive only as a chain: the input layer
on the inputs, hidden and output layers of one D on a MADE layer's hidden units, elementwise layers
between (specc/graph/made.py). Each broken chain here checked ok before and computed a density that
is not one: with the check turned off, an output moves with its own input or a later one. Its
look-alikes (a conditioning context added, BatchNorm1d, dropout, a residual sum of MADE layers,
made.yaml) check ok and are autoregressive; an input layer reads any tensor as its inputs (MAF's
stack of MADEs between permutations)."""

from __future__ import annotations

import pytest

import specc

torch = pytest.importorskip("torch")

HEAD = "specc: 1\nname: M\ninputs: {x: [B, 4]}\nlayers:\n"
INPUT = "  - {type: Linear, out_features: 8, made: {features: 4, role: input}, name: h}\n"
OUTPUT = "  - {type: Linear, out_features: 4, made: {features: 4, role: output}, name: out}\n"
BROKEN = {
    "layernorm-between": (INPUT + "  - {type: LayerNorm}\n" + OUTPUT, "out", "LayerNorm 'layer_norm_1' mixed"),
    "plain-linear-between": (INPUT + "  - {type: Linear, out_features: 8}\n" + OUTPUT, "out",
                             "Linear 'linear_1' mixed"),
    "softmax-between": (INPUT + "  - {type: Softmax, dim: -1}\n" + OUTPUT, "out", "Softmax 'softmax_1' mixed"),
    "another-d": (INPUT + "  - {type: Linear, out_features: 8, made: {features: 3, role: hidden}, name: mid}\n"
                  + "  - {type: Linear, out_features: 3, made: {features: 3, role: output}}\n", "mid",
                  "a MADE layer of features: 4"),
    "hidden-first": ("  - {type: Linear, out_features: 8, made: {features: 4, role: hidden}, name: h}\n" + OUTPUT,
                     "h", "reads the model's inputs themselves"),
    "output-alone": (OUTPUT, "out", "output 2 reads input 4"),
    "input-added-to-hidden": ("  - {type: Linear, out_features: 4, made: {features: 4, role: input}, name: h}\n"
                              "  - {type: Add, from: [h, x]}\n" + OUTPUT, "out", "combines from values of different"),
    "after-an-output": (INPUT + "  - {type: Linear, out_features: 8, made: {features: 4, role: output}, name: o1}\n"
                        + OUTPUT, "out", "reads the outputs of the MADE output layer"),
}
GOOD = {
    "conditioned": ("specc: 1\nname: M\ninputs: {x: [B, 4], c: [B, 3]}\nlayers:\n"
                    "  - {type: Linear, from: x, out_features: 8, made: {features: 4, role: input}, name: h}\n"
                    "  - {type: Linear, from: c, out_features: 8, name: ctx}\n  - {type: Add, from: [h, ctx]}\n"
                    "  - {type: ReLU}\n  - {type: BatchNorm1d}\n  - {type: Dropout, p: 0.1}\n"
                    "  - {type: Linear, out_features: 8, made: {features: 4, role: hidden}, name: a}\n"
                    "  - {type: ReLU}\n"
                    "  - {type: Linear, out_features: 8, made: {features: 4, role: hidden}, name: b}\n"
                    "  - {type: Add, from: [a, b]}\n"
                    "  - {type: Linear, out_features: 8, made: {features: 4, role: output}}\n"),
    "plain": HEAD + INPUT + "  - {type: GELU}\n" + OUTPUT + "  - {type: Sigmoid}\n",
}


# MAF's stack (Papamakarios et al. 2017; nflows' MaskedAffineAutoregressiveTransform between permutations or
# LU-decomposed Linears): each MADE is autoregressive in what its input layer reads, a mix of the model's inputs
STACKED = (HEAD + "  - {type: Linear, out_features: 4, name: lu}\n" + INPUT.replace("name: h", "from: lu, name: h")
           + "  - {type: ReLU}\n" + OUTPUT + "  - {type: Roll, shifts: 1, dims: 1}\n"
           + "  - {type: Linear, out_features: 8, made: {features: 4, role: input}}\n  - {type: ReLU}\n"
           + "  - {type: Linear, out_features: 4, made: {features: 4, role: output}}\n")


def test_a_made_input_layer_takes_what_it_reads_as_its_inputs() -> None:
    spec = specc.loads(STACKED, "maf.yaml")
    assert spec.ok, spec.diagnostics


def _outputs_read_later_inputs(spec: specc.Spec) -> bool:
    """Whether an output of input d moves with input d or a later one (d = its position // (outputs / D))."""
    from specc.backends.torch_build import build_module

    model = build_module(spec).eval()
    xs = [torch.randn(3, t.shape[1]) for t in spec.graph.inputs.values()]
    jac = torch.autograd.functional.jacobian(lambda x: model(x, *xs[1:]).sum(0), xs[0]).abs().sum(1)
    n_out, d = jac.shape
    degree = torch.arange(n_out)[:, None] // (n_out // d) + 1
    return bool((jac[(torch.arange(1, d + 1)[None, :] >= degree).expand(n_out, d)] > 0).any())


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_made_chain_is_v178_at_the_layer_that_reads_it(name: str) -> None:
    body, layer, fragment = BROKEN[name]
    spec = specc.loads(HEAD + body, "made.yaml")
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["V178"], errors
    assert errors[0].layer == layer and fragment in errors[0].message and errors[0].hint, errors[0]


@pytest.mark.parametrize("name", ["layernorm-between", "hidden-first", "input-added-to-hidden"])
def test_what_v178_refuses_is_not_autoregressive(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import specc.graph.build as build

    monkeypatch.setattr(build, "made_chains", lambda graph: [])
    spec = specc.loads(HEAD + BROKEN[name][0], "made.yaml")
    assert spec.ok, spec.diagnostics
    assert _outputs_read_later_inputs(spec)


@pytest.mark.parametrize("name", GOOD)
def test_a_made_chain_through_elementwise_layers_and_a_context_checks_ok_and_is_autoregressive(name: str) -> None:
    spec = specc.loads(GOOD[name], "made.yaml")
    assert spec.ok, spec.diagnostics
    torch.manual_seed(0)
    assert not _outputs_read_later_inputs(spec)
