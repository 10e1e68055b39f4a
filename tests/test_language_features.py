"""`when:` conditions, silencing warnings (`ignore:`, `lint:`, `--ignore`), and block
classes written with the spec's own expressions."""

from __future__ import annotations

import textwrap

import pytest

import specc
from specc.cli import main
from specc.targets.torch.emit import compile_source

MOBILE = textwrap.dedent("""\
    specc: 1
    name: TinyMobile
    inputs:
      image: [B, 3, 32, 32]
    blocks:
      Inverted:
        args: {inp: 16, out: 16, stride: 1, expand: 6}
        layers:
          - {type: Conv2d, out_channels: "${inp * expand}", kernel_size: 1, bias: false}
          - {type: BatchNorm2d}
          - {type: ReLU6}
          - {type: Conv2d, out_channels: "${inp * expand}", kernel_size: 3, stride: "${stride}", padding: 1,
             groups: "${inp * expand}", bias: false}
          - {type: BatchNorm2d}
          - {type: ReLU6}
          - {type: Conv2d, out_channels: "${out}", kernel_size: 1, bias: false}
          - {type: BatchNorm2d, name: project}
          - {type: Add, from: [project, input], when: "${stride == 1 and inp == out}"}
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, bias: false}
      - {type: BatchNorm2d}
      - {type: Inverted, inp: 16, out: 16}
      - {type: Inverted, inp: 16, out: 24, stride: 2}
      - {type: Inverted, inp: 24, out: 24}
      - {type: GlobalAvgPool}
      - {type: Linear, out_features: 10}
    """)


def test_when_keeps_the_residual_only_where_the_condition_holds() -> None:
    spec = specc.loads(MOBILE, "mobile.yaml")
    assert spec.ok, spec.diagnostics
    assert spec.graph is not None
    blocks = [n for n in spec.graph.nodes if n.sub is not None]
    has_add = [any(c.type == "Add" for c in n.sub.nodes) for n in blocks if n.sub is not None]
    assert has_add == [True, False, True]


def test_block_class_is_written_with_the_spec_expressions_and_runs() -> None:
    torch = pytest.importorskip("torch")
    spec = specc.loads(MOBILE, "mobile.yaml")
    source = compile_source(spec)
    # Instances with and without the residual are different structures: two classes.
    assert "class Inverted(nn.Module)" in source and "class Inverted2(nn.Module)" in source
    assert "nn.Conv2d(inp, inp * expand, 1, bias=False)" in source
    assert "groups=inp * expand" in source
    model = specc.build(spec)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == spec.check()["total_params"]


@pytest.mark.parametrize("cond", ['"${1}"', "maybe", "[true]"])
def test_when_must_be_true_or_false(cond: str) -> None:
    text = MOBILE.replace('when: "${stride == 1 and inp == out}"', f"when: {cond}")
    spec = specc.loads(text, "mobile.yaml")
    errors = spec.errors
    assert [d.code for d in errors] == ["V003"]
    assert errors[0].loc is not None and errors[0].loc.line == 18
    assert "when" in errors[0].message and "${" in (errors[0].hint or "")


def test_a_false_when_relinks_the_chain() -> None:
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        vars: {deep: false}
        inputs: {x: [B, 8]}
        layers:
          - {type: Linear, out_features: 16}
          - {type: Linear, out_features: 32, when: "${deep}"}
          - {type: Linear, out_features: 4}
        """))
    assert spec.ok
    assert spec.check()["total_params"] == (8 * 16 + 16) + (16 * 4 + 4)
    deep = specc.loads(spec.text, overrides=["deep=true"])
    assert deep.check()["total_params"] == (8 * 16 + 16) + (16 * 32 + 32) + (32 * 4 + 4)


GHOST = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, 8]}
    blocks:
      Unit:
        args: {act: true}
        layers:
          - {type: Linear, out_features: 8}
          - {type: ReLU, when: "${act}", name: primary}
          - {type: Add, from: [primary, input]}
    layers:
      - {type: Unit}
      - {type: Unit, act: false}
    """)


def test_reading_a_layer_its_when_left_out_names_the_condition_and_the_fix_works() -> None:
    spec = specc.loads(GHOST, "ghost.yaml")
    assert [d.code for d in spec.errors] == ["G001"]
    err = spec.errors[0]
    assert err.loc is not None and (err.loc.line, err.loc.col) == (9, 28)
    assert "left out here by its when: (line 8)" in err.message
    assert "Identity" in (err.hint or "")
    identity = '\n      - {type: Identity, when: "${not act}", name: primary}'
    fixed = GHOST.replace("name: primary}", "name: primary}" + identity)
    fixed_spec = specc.loads(fixed, "ghost.yaml")
    assert fixed_spec.ok, fixed_spec.diagnostics
    assert fixed_spec.check()["total_params"] == 2 * (8 * 8 + 8)


STAGE = textwrap.dedent("""\
    specc: 1
    vars: {depth: 1}
    inputs: {x: [B, 8]}
    blocks:
      Stage:
        args: {blocks: 1}
        layers:
          - {type: Linear, out_features: 16, name: first}
          - {type: Linear, out_features: 16, repeat: "${blocks - 1}", name: rest}
    layers:
      - {type: Stage, blocks: "${depth}"}
      - {type: Linear, out_features: 4}
    """)


def test_a_repeat_of_zero_leaves_the_item_out() -> None:
    # torchvision's MnasNet and RegNet write a stage as its first block, then range(1, depth) more:
    # at depth 1 that is no more, and the spec says so with repeat: "${blocks - 1}" of 0
    spec = specc.loads(STAGE, "stage.yaml")
    assert spec.ok, [d.render() for d in spec.diagnostics]
    assert spec.check()["total_params"] == (8 * 16 + 16) + (16 * 4 + 4)
    deeper = specc.loads(STAGE, "stage.yaml", overrides=["depth=3"])
    assert deeper.check()["total_params"] == (8 * 16 + 16) + 2 * (16 * 16 + 16) + (16 * 4 + 4)
    read = specc.loads(STAGE.replace("out_features: 4}", "out_features: 4, from: rest}").replace(
        "- {type: Stage", "- {type: Linear, out_features: 16, repeat: 0, name: rest}\n  - {type: Stage"), "s.yaml")
    assert [d.code for d in read.errors] == ["G001"]
    assert "left out here since its repeat: is 0 (line 11)" in read.errors[0].message
    assert "when:" in (read.errors[0].hint or "")
    negative = specc.loads(STAGE.replace('"${blocks - 1}"', "-1"), "s.yaml")
    assert [d.code for d in negative.errors] == ["V003"]


# InceptionTime's shortcut as first written: without the projection, the shortcut's BatchNorm read
# the three Inception modules (the item above the projection) instead of the block's input, and the
# shapes fitted, so only a twin module caught it.
SHORTCUT = textwrap.dedent("""\
    specc: 1
    inputs: {series: [B, 8, L]}
    blocks:
      Residual:
        args: {project: true}
        layers:
          - {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1, name: main}
          - {type: Conv1d, from: input, out_channels: 8, kernel_size: 1, name: proj, when: "${project}"}
          - {type: BatchNorm1d, name: shortcut}
          - {type: Add, from: [main, shortcut]}
    layers:
      - {type: Residual, project: true}
      - {type: Residual, project: false}
      - {type: Residual, project: false}
    """)


def test_a_layer_reading_past_a_left_out_branch_is_warned_once_with_both_fixes() -> None:
    spec = specc.loads(SHORTCUT, "shortcut.yaml")
    assert spec.ok
    (warn,) = [d for d in spec.diagnostics if d.code == "G014"]  # the two instances: one line, one warning
    assert warn.severity == "warning" and warn.loc is not None and warn.loc.line == 9
    assert warn.layer == "residual_2.shortcut"
    assert "reads 'main'" in warn.message and "'proj'" in warn.message and "read 'input'" in warn.message
    assert "(line 8)" in warn.message
    assert warn.hint is not None and "from: input" in warn.hint and "from: main" in warn.hint
    for fix in ("from: input", "from: main"):
        fixed = specc.loads(SHORTCUT.replace("name: shortcut}", f"name: shortcut, {fix}}}"), "shortcut.yaml")
        assert fixed.ok and "G014" not in {d.code for d in fixed.diagnostics}
    # the fix meant: the unprojected shortcut normalises the block's input
    meant = specc.loads(SHORTCUT.replace("name: shortcut}", "name: shortcut, from: input}"), "shortcut.yaml")
    assert meant.graph is not None
    inner = next(n for n in meant.graph.nodes if n.path == "residual_2").sub
    assert inner is not None and inner.node("shortcut").inputs == ["input"]
    silenced = specc.loads(SHORTCUT.replace("name: shortcut}", "name: shortcut, ignore: G014}"), "shortcut.yaml")
    assert "G014" not in {d.code for d in silenced.diagnostics}


@pytest.mark.parametrize("items", [
    # an optional layer in the chain: the next one reads what it read
    ['{type: BatchNorm1d, when: "${flag}"}', "{type: ReLU}"],
    # a chain of optional layers that starts at the item above, named by from:
    ['{type: Conv1d, from: main, out_channels: 8, kernel_size: 1, when: "${flag}"}',
     '{type: BatchNorm1d, when: "${flag}"}', "{type: ReLU}"],
    # a merge that reads the item above: without it the main path goes on
    ['{type: Add, from: [main, input], when: "${flag}"}', "{type: ReLU}"],
    # alternatives, each with its from:, and the next layer naming what it reads
    ['{type: Conv1d, from: input, out_channels: 8, kernel_size: 1, name: side, when: "${flag}"}',
     '{type: Identity, from: input, name: side, when: "${not flag}"}', "{type: Add, from: [main, side]}"],
    # alternatives written in turn (RegNet's two merges, YOLOv8's two Concats): the next layer reads
    # whichever is kept
    ['{type: Add, from: [main, input], when: "${not flag}"}', '{type: Concat, from: [main, input], when: "${flag}"}',
     "{type: Conv1d, out_channels: 8, kernel_size: 1}"],
    ['{type: Concat, from: [main, input], when: "${flag}"}', '{type: Add, from: [main, input], when: "${not flag}"}',
     "{type: Conv1d, out_channels: 8, kernel_size: 1}"],
])
def test_left_out_items_that_change_nothing_else_are_not_warned(items: list[str]) -> None:
    text = textwrap.dedent("""\
        specc: 1
        inputs: {series: [B, 8, L]}
        blocks:
          Unit:
            args: {flag: true}
            layers:
              - {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1, name: main}
        """) + "".join(f"      - {item}\n" for item in items) + textwrap.dedent("""\
        layers:
          - {type: Unit, flag: true}
          - {type: Unit, flag: false}
        """)
    spec = specc.loads(text, "t.yaml")
    assert spec.ok, spec.diagnostics
    assert "G014" not in {d.code for d in spec.diagnostics}


def test_a_block_whose_last_item_is_a_left_out_branch_is_warned() -> None:
    text = textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, 8]}
        blocks:
          Head:
            args: {skip: true}
            layers:
              - {type: Linear, out_features: 8, name: body}
              - {type: Linear, from: input, out_features: 8, when: "${skip}"}
        layers:
          - {type: Head, skip: false}
          - {type: Linear, out_features: 2}
        """)
    spec = specc.loads(text, "t.yaml")
    (warn,) = [d for d in spec.diagnostics if d.code == "G014"]
    assert warn.loc is not None and warn.loc.line == 8 and "returns 'body'" in warn.message
    assert warn.layer == "head_1"


BIAS_BN = textwrap.dedent("""\
    specc: 1
    inputs: {image: [B, 3, 8, 8]}
    layers:
      - {type: Conv2d, out_channels: 4, kernel_size: 3, name: conv}
      - {type: BatchNorm2d}
      - {type: Flatten}
      - {type: Linear, out_features: 2}
    """)


def codes(text: str, **kw: object) -> list[str]:
    return [d.code for d in specc.loads(text, "t.yaml", **kw).diagnostics]  # type: ignore[arg-type]


def test_warnings_can_be_silenced_per_layer_per_spec_and_per_run() -> None:
    assert codes(BIAS_BN) == ["L004"]
    assert codes(BIAS_BN.replace("name: conv}", "name: conv, ignore: [L004]}")) == []
    assert codes(BIAS_BN.replace("name: conv}", "name: conv, ignore: l004}")) == []
    assert codes(BIAS_BN + "lint: {ignore: [L004]}\n") == []
    assert codes(BIAS_BN, ignore=["L004"]) == []
    assert codes(BIAS_BN.replace("name: conv}", "name: conv, ignore: [L001]}")) == ["L004"]


def test_ignore_inside_a_block_instance_covers_its_layers() -> None:
    text = textwrap.dedent("""\
        specc: 1
        inputs: {image: [B, 3, 8, 8]}
        blocks:
          ConvBN:
            layers:
              - {type: Conv2d, out_channels: 4, kernel_size: 3}
              - {type: BatchNorm2d}
        layers:
          - {type: ConvBN, IGNORE}
          - {type: Flatten}
          - {type: Linear, out_features: 2}
        """)
    assert codes(text.replace(", IGNORE", "")) == ["L004"]
    assert codes(text.replace("IGNORE", "ignore: [L004]")) == []


def test_errors_cannot_be_silenced() -> None:
    spec = specc.loads(BIAS_BN.replace("name: conv}", "name: conv, ignore: [S001, L04]}"), "t.yaml")
    messages = [(d.code, d.hint) for d in spec.errors]
    assert [c for c, _ in messages] == ["V003", "V003"]
    assert any("L004" in (h or "") for _, h in messages)  # L04 -> did you mean L004?
    spec = specc.loads(BIAS_BN + "lint: {ignore: [S001]}\n", "t.yaml")
    assert [d.code for d in spec.errors] == ["V003"] and "only warnings" in spec.errors[0].message


def test_cli_ignore(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.yaml"
    path.write_text(BIAS_BN)
    assert main(["check", str(path), "--strict"]) == 1
    assert main(["check", str(path), "--strict", "--ignore", "L004"]) == 0
    assert main(["check", str(path), "--ignore", "S001"]) == 2
    assert "only warnings can be silenced" in capsys.readouterr().err


def test_index_numbers_the_copies_of_a_repeat() -> None:
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        vars: {n: 3}
        inputs: {x: [B, 8]}
        blocks:
          Layer:
            args: {width: 8, drop: 0.0}
            layers:
              - {type: Linear, out_features: "${width}"}
              - {type: Dropout, p: "${drop}"}
        layers:
          - {type: Linear, out_features: "${8 + index * 4}", repeat: "${n}", name: stack}
          - {type: Layer, width: "${16 * (index + 1)}", drop: "${0.1 * index}", repeat: 2}
        """), "t.yaml")
    assert spec.ok, spec.diagnostics
    g = spec.graph
    assert g is not None
    stack = g.node("stack")
    assert stack is not None and stack.sub is not None
    assert [n.result.args["out_features"] for n in stack.sub.nodes if n.result] == [8, 12, 16]
    blocks = g.nodes[1].sub
    assert blocks is not None
    assert [b.sub.block_args for b in blocks.nodes if b.sub] == [{"width": 16, "drop": 0.0},
                                                                 {"width": 32, "drop": 0.1}]


def test_index_outside_a_repeat_is_an_undefined_variable() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: '${index}'}\n")
    assert [d.code for d in spec.errors] == ["X001"]


def test_a_second_structure_of_a_block_never_takes_a_real_blocks_name() -> None:
    """Block ``Unit`` used with two structures needs two classes; a block really called ``Unit2``
    keeps its name, and the variant is numbered past it (in either order of appearance)."""
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    head = textwrap.dedent("""\
        specc: 1
        name: Net
        inputs: {x: [B, 8]}
        blocks:
          Unit:
            args: {n: 8, act: ReLU}
            layers:
              - {type: Linear, out_features: "${n}"}
              - {type: "${act}"}
          Unit2:
            args: {n: 8}
            layers:
              - {type: Linear, out_features: "${n}", bias: false}
        layers:
        """)
    orders = (["{type: Unit, n: 8}", "{type: Unit, n: 8, act: Tanh}", "{type: Unit2, n: 4}"],
              ["{type: Unit2, n: 8}", "{type: Unit, n: 8}", "{type: Unit, n: 4, act: Tanh}"])
    for layers in orders:
        spec = specc.loads(head + "".join(f"  - {x}\n" for x in layers), "unit.yaml")
        assert spec.ok, spec.diagnostics
        source = compile_source(spec)
        assert 'class Unit2(nn.Module):\n    """Block Unit2,' in source
        variant = 'class Unit3(nn.Module):\n    """Block Unit,'
        assert variant in source, source
        model = build_module(spec, seed=0)
        real = next(m for m in model.modules() if type(m).__name__ == "Unit2")
        linears = [m for m in real.modules() if isinstance(m, torch.nn.Linear)]
        assert len(linears) == 1 and linears[0].bias is None  # the real Unit2, not a Unit variant
        out = model(torch.zeros(2, 8))
        assert out.shape[0] == 2


IGNORE_INSIDE = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, 8]}
    blocks:
      Unit:
        args: {n: 8}
        layers:
          - {type: Linear, out_features: "${n}", name: a}
          - {type: Linear, out_features: "${n}", name: proj}
          - {type: ReLU}
      Outer:
        layers:
          - {type: Unit, name: inner}
    layers:
      - {type: Unit, ignore: IGNORE}
      - {type: Unit}
      - {type: Outer, ignore: [{inner.proj: [L017]}]}
      - {type: Linear, out_features: 2}
    """)


def test_a_warning_is_silenced_for_one_layer_of_one_block_instance() -> None:
    spec = specc.loads(IGNORE_INSIDE.replace("IGNORE", "[{proj: L017}]"), "t.yaml")
    assert spec.ok, spec.errors
    # The other instance keeps its warning; the nested path reaches the layer in Outer's Unit.
    warnings = [d for d in spec.diagnostics if d.severity == "warning"]
    assert [(d.code, d.layer) for d in warnings] == [("L017", "unit_2.proj")]
    together = specc.loads(IGNORE_INSIDE.replace("IGNORE", "[L004, {proj: L017, a: [L017]}]"), "t.yaml")
    assert together.ok and [d.layer for d in together.diagnostics] == ["unit_2.proj"]


@pytest.mark.parametrize("ignore, hint", [
    ("[{porj: L017}]", "did you mean 'proj'?"),
    ("[{proj: X017}]", "did you mean L017?"),
    ("[{nothing_like_it: L017}]", "the layers inside it: a, proj, relu_1"),
])
def test_a_silenced_layer_that_is_not_inside_the_instance_is_located(ignore: str, hint: str) -> None:
    spec = specc.loads(IGNORE_INSIDE.replace("IGNORE", ignore), "t.yaml")
    (err,) = spec.errors
    assert err.code == "V003" and err.loc is not None and err.loc.line == 14
    assert hint in (err.hint or ""), err


def test_a_single_layer_names_no_layer_inside_it() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, 8]}\nlayers:\n"
                       "  - {type: Linear, out_features: 4, ignore: [{proj: L017}]}\n", "t.yaml")
    (err,) = spec.errors
    assert err.code == "V003" and "single layer" in err.message and "ignore: [L017]" in (err.hint or "")


# -- a block reads its input's sizes: ${input_shape[i]} ----------------------------------------------

SQUEEZE_EXCITE = textwrap.dedent("""\
    specc: 1
    name: SENet
    inputs: {image: [B, 3, 32, 32]}
    blocks:
      SE:
        args: {r: 4}
        layers:
          - {type: Conv2d, out_channels: "${input_shape[1] * 2}", kernel_size: 3, padding: 1}
          - {type: GlobalAvgPool}
          - {type: Linear, out_features: "${input_shape[1] // r}"}
          - {type: ReLU}
          - {type: Linear, out_features: "${input_shape[-3]}", repeat: 2}
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3}
      - {type: ReLU}
      - {type: SE}
      - {type: Linear, out_features: 32}
      - {type: Unflatten, dim: 1, unflattened_size: [32, 1, 1]}
      - {type: SE, r: 8}
    """)


def test_a_block_reads_the_channels_of_each_instances_input() -> None:
    torch = pytest.importorskip("torch")
    from specc.backends.torch_build import build_module

    spec = specc.loads(SQUEEZE_EXCITE, "se.yaml")
    assert spec.ok, spec.errors
    assert spec.graph is not None
    first, second = (n for n in spec.graph.nodes if n.sub is not None)
    widths = [[c.result.args.get("out_features", c.result.args.get("out_channels")) for c in b.sub.leaves()
               if c.result is not None and c.result.params] for b in (first, second) if b.sub is not None]
    # 16 channels in: conv to 32, squeeze to 16 // 4, back to 16 twice; 32 in: 64, 32 // 8, 32, 32.
    assert widths == [[32, 4, 16, 16], [64, 4, 32, 32]]
    model = build_module(spec, seed=0)
    assert sum(p.numel() for p in model.parameters()) == spec.summary().total_params
    assert tuple(model(torch.zeros(2, 3, 32, 32)).shape) == (2, 32)


_READS = textwrap.dedent("""\
    specc: 1
    inputs: {x: [B, T, 8]}
    blocks:
      Inner:
        args: {w: 4}
        layers:
          - {type: Linear, out_features: "${w}"}
      P:
        layers:
          - LAYER
    layers:
      - TOP
    """)


@pytest.mark.parametrize("layer, top, code, where, hint", [
    ('{type: Linear, out_features: "${input_shape[1]}"}', "{type: P}", "X007", (10, 38), "input_shape[2] = 8"),
    ('{type: Linear, out_features: "${input_shape[3]}"}', "{type: P}", "X006", (10, 38), "index 0 to 2"),
    ('{type: Linear, out_features: 4, repeat: "${input_shape[2]}"}', "{type: P}", "X006", (10, 49),
     "in a parameter of the block's own layers"),
    ('{type: Linear, out_features: 4, when: "${input_shape[2] > 2}"}', "{type: P}", "X006", (10, 47),
     "pass the size as a block argument"),
    ('{type: Linear, out_features: 3, name: "l${input_shape[2]}"}', "{type: P}", "X006", (10, 47), "block"),
    ('{type: Inner, w: "${input_shape[2]}"}', "{type: P}", "X006", (10, 26), "block argument"),
    ("{type: ReLU}", '{type: Linear, out_features: "${input_shape[2]}"}', "X006", (12, 34),
     "move the layer into a block"),
])
def test_reading_the_input_shape_where_it_cannot_be_read_is_located(layer: str, top: str, code: str,
                                                                    where: tuple[int, int], hint: str) -> None:
    spec = specc.loads(_READS.replace("LAYER", layer).replace("TOP", top), "t.yaml")
    (err,) = spec.errors
    assert (err.code, err.loc.line, err.loc.col) == (code, *where), err  # type: ignore[union-attr]
    assert hint in (err.hint or ""), err


def test_an_input_dim_in_an_expression_is_explained_and_its_fix_checks() -> None:
    text = textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, T, 8]}
        layers:
          - {type: Reshape, shape: [B, "${T * 8}"]}
        """)
    spec = specc.loads(text, "dim.yaml")
    assert [d.code for d in spec.errors] == ["X001"]
    assert "T is a dim of input 'x', known only when the model runs" in (spec.errors[0].hint or "")
    fixed = specc.loads(text.replace("inputs: {x: [B, T, 8]}", 'vars: {T: 5}\ninputs: {x: [B, "${T}", 8]}'))
    assert fixed.ok, fixed.diagnostics
    assert fixed.check()["outputs"][0]["shape"] == ["B", 40]


def test_a_block_of_two_inputs_is_the_same_network_as_its_layers_written_out() -> None:
    torch = pytest.importorskip("torch")
    from pathlib import Path

    corpus = Path(__file__).parent / "corpus" / "architectures"
    blocks, inline = (specc.load(corpus / f"{name}.yaml") for name in ("attention_unet_blocks", "attention_unet"))
    assert blocks.ok and inline.ok
    built = specc.build(blocks)
    # the same layers as the inline spec, so PyTorch counts the same parameters
    counted = sum(p.numel() for p in built.parameters())
    assert counted == blocks.check()["total_params"] == inline.check()["total_params"]
    source = compile_source(blocks)
    assert "def forward(self, g: torch.Tensor, x: torch.Tensor)" in source  # AttentionGate(g, x)
    assert "def forward(self, x: torch.Tensor, skip: torch.Tensor)" in source  # UpStep: input is x, skip keeps its name
    y = built.eval()(torch.randn(2, 1, 19, 21))
    assert y.shape == (2, 1, 19, 21)


def test_a_block_of_two_inputs_called_again_by_use_takes_both() -> None:
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        inputs: {a: [B, 8], b: [B, 8]}
        blocks:
          Fuse:
            inputs: [left, right]
            layers:
              - {type: Concat, from: [left, right], dim: 1}
              - {type: Linear, out_features: 8}
        layers:
          - {type: Fuse, from: [a, b], name: f1}
          - {use: f1, from: [b, f1], name: f2}
        """))
    assert spec.ok, spec.diagnostics
    assert spec.check()["total_params"] == 16 * 8 + 8  # one Linear, called twice
    assert "x = self.f1(b, x)" in compile_source(spec)


def test_an_input_a_block_names_but_never_reads_is_a_warning_at_its_inputs() -> None:
    spec = specc.loads(textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, 8]}
        blocks:
          Gate:
            inputs: [g, skip]
            layers:
              - {type: Linear, from: g, out_features: 8}
        layers:
          - {type: ReLU, name: a}
          - {type: Gate, from: [a, x]}
        """))
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "G005"]
    assert d.severity == "warning" and d.loc is not None and d.loc.line == 5
    assert "input 'skip' of block 'Gate' is never read" in d.message and "from: skip" in d.hint
