"""Loading: safe YAML with positions, YAML 1.1 traps, limits, --set overrides, blocks and repeat."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from specc.diagnostics import SpecError
from specc.load.expand import expand, parse_overrides
from specc.load.yaml_loader import MAX_BYTES, PosDict, PosList, load_yaml, resolve_plain
from specc.pipeline import load, loads

CORPUS = Path(__file__).parent / "corpus"

MLP = """\
specc: 1
vars: {hidden: 32, out: "${hidden // 4}"}
inputs:
  features: [B, 16]
layers:
  - {type: Linear, out_features: "${hidden}"}
  - {type: ReLU}
  - {type: Linear, out_features: "${out}"}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 0.001}
train: {epochs: 5}
"""


def codes(text: str, overrides: list[str] | None = None) -> list[str]:
    return [d.code for d in loads(text, "t.yaml", overrides).errors]


# -- scalars: a spec means what it looks like ----------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("1e-3", 0.001), ("1.0e-3", 0.001), ("5E4", 50000.0), ("010", 10), ("0x1F", 31), ("0o17", 15), ("1_000", 1000),
    ("-3", -3), ("+2", 2), (".5", 0.5), ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"),
    ("true", True), ("False", False), ("null", None), ("~", None), ("", None), ("B", "B"), ("1.2.3", "1.2.3"),
])
def test_plain_scalars_follow_yaml_1_2_core(text: str, value: object) -> None:
    got = resolve_plain(text)
    assert got == value and type(got) is type(value)


def test_quoted_and_explicit_str_stay_text() -> None:
    doc = load_yaml('a: "123"\nb: \'1e-3\'\nc: !!str 10\nd: |\n  7\n', "t.yaml")
    assert doc == {"a": "123", "b": "1e-3", "c": "10", "d": "7\n"}


def test_yaml11_corpus_specs_mean_what_they_look_like() -> None:
    names = load(CORPUS / "good" / "yaml11_names_stay_text.yaml")
    assert names.ok and names.graph is not None
    assert [n.name for n in names.graph.nodes] == ["no", "yes", "on"]
    assert [o for o, _ in names.graph.outputs] == ["on", "yes"]
    lr = load(CORPUS / "good" / "yaml11_float_exponent.yaml")
    assert lr.document is not None and lr.document.optimizer is not None
    assert lr.document.optimizer.lr == 0.001 and lr.document.optimizer.weight_decay == 0.0005
    ten = load(CORPUS / "good" / "yaml11_leading_zero.yaml")
    assert ten.graph is not None and ten.graph.nodes[0].params.out_features == 10


# -- positions ------------------------------------------------------------------------------------

def test_every_key_value_and_item_has_its_position() -> None:
    doc = load_yaml("a: 1\nlist:\n  - x\n  - {k: v}\n", "f.yaml")
    assert isinstance(doc, PosDict)
    assert (doc.key_loc("a").line, doc.key_loc("a").col) == (1, 1)
    assert (doc.value_loc("a").line, doc.value_loc("a").col) == (1, 4)
    items = doc["list"]
    assert isinstance(items, PosList)
    assert [(loc.line, loc.col) for loc in items.item_locs] == [(3, 5), (4, 5)]
    assert (items[1].value_loc("k").line, items[1].value_loc("k").col) == (4, 9)
    assert str(doc.key_loc("a")) == "f.yaml:1:1"


def test_merge_key_keeps_explicit_values_first() -> None:
    doc = load_yaml("base: &b {kernel_size: 3, padding: 1}\nconv: {<<: *b, padding: 0}\n", "t.yaml")
    assert doc["conv"] == {"kernel_size": 3, "padding": 0}


# -- refusals -------------------------------------------------------------------------------------

def test_duplicate_key_points_at_the_second_and_names_the_first() -> None:
    with pytest.raises(SpecError) as e:
        load_yaml("a: 1\nb: 2\na: 3\n", "t.yaml")
    assert (e.value.code, e.value.loc.line, e.value.loc.col) == ("Y002", 3, 1)
    assert "line 1" in (e.value.hint or "")


@pytest.mark.parametrize("text", ["x: !!python/object:os.system ls\n", "x: !custom 3\n", "x: !!binary aGk=\n",
                                  "x: !!python/name:os.system\n"])
def test_tags_are_refused_before_anything_is_built(text: str) -> None:
    with pytest.raises(SpecError) as e:
        load_yaml(text, "t.yaml")
    assert e.value.code == "Y004"


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("specc: 1\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    start = time.perf_counter()
    spec = load(big)
    assert time.perf_counter() - start < 2.0
    assert [d.code for d in spec.errors] == ["Y003"]
    assert "MB" in spec.errors[0].message


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(SpecError) as e:
        load_yaml("a: " + "[" * 100 + "]" * 100 + "\n", "t.yaml")
    assert e.value.code == "Y003"


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_documents(text: str) -> None:
    assert codes(text) == ["Y005"]


@pytest.mark.parametrize("text", ["- just\n- a list\n", "just text\n", "42\n"])
def test_document_that_is_not_a_mapping(text: str) -> None:
    assert codes(text) == ["Y005"]


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert [d.code for d in load(tmp_path / "nope.yaml").errors] == ["Y006"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"specc: 1\nname: caf\xe9\n")
    spec = load(latin)
    assert [d.code for d in spec.errors] == ["Y006"] and "UTF-8" in spec.errors[0].message


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_are_specs(tmp_path: Path, codec: str) -> None:
    """Windows editors save "Unicode" as UTF-16 with a BOM: YAML text, once refused as binary."""
    path = tmp_path / "u.yaml"
    bom = {"utf-16-be": b"\xfe\xff", "utf-32": b"", "utf-16": b"", "utf-8-sig": b""}[codec]
    path.write_bytes(bom + MLP.replace('out_features: "${hidden}"', "out_features: -2").encode(codec))
    errors = load(path).errors
    assert [d.code for d in errors] == ["V003"] and "got -2" in errors[0].message
    assert errors[0].loc is not None and (errors[0].loc.line, errors[0].loc.col) == (6, 34)


# -- vars and --set -------------------------------------------------------------------------------

def test_vars_may_use_earlier_vars_and_set_overrides_them() -> None:
    spec = loads(MLP, "t.yaml")
    assert spec.ok and spec.vars == {"hidden": 32, "out": 8}
    spec = loads(MLP, "t.yaml", ["hidden=64"])
    assert spec.ok and spec.vars == {"hidden": 64, "out": 16}
    assert spec.graph is not None and spec.graph.nodes[-1].out is not None
    assert spec.graph.nodes[-1].out.shape[-1] == 16


def test_set_a_key_path() -> None:
    spec = loads(MLP, "t.yaml", ["train.epochs=2", "layers.1.type=GELU"])
    assert spec.ok and spec.document is not None and spec.document.train is not None
    assert spec.document.train.epochs == 2
    assert spec.graph is not None and spec.graph.nodes[1].type == "GELU"


@pytest.mark.parametrize(("override", "hint"), [
    ("hiden=3", "did you mean 'hidden'?"),
    ("nothing_like_it=3", "variables in vars: are hidden, out"),
    ("train.epoch.x=3", "did you mean 'epochs'?"),
    ("train.epochs.x=3", "--set train.epochs=..."),
    ("layers.9.type=ReLU", "index from 0 to 2"),
])
def test_bad_set_is_located_on_the_command_line(override: str, hint: str) -> None:
    errors = loads(MLP, "t.yaml", [override]).errors
    assert [d.code for d in errors] == ["X003"]
    assert errors[0].loc is not None and errors[0].loc.file == "<command line>"
    assert hint in (errors[0].hint or "")


@pytest.mark.parametrize(("override", "hint"), [
    ("trian.epochs=3", "did you mean 'train'?"),
    ("exprt.opset=3", "did you mean 'export'?"),
    ("foo.bar=3", "settings sections it may add: loss, optimizer, scheduler, lora, train, export, lint"),
])
def test_a_top_level_typo_is_not_a_new_section(override: str, hint: str) -> None:
    errors = loads(MLP, "t.yaml", [override]).errors
    assert [d.code for d in errors] == ["X003"] and hint in (errors[0].hint or "")


def test_set_writes_into_a_settings_section_the_spec_leaves_out() -> None:
    """export:, optimizer: and train.data: are not in the spec; --set creates them, and validation reads the
    values."""
    without = MLP.replace("optimizer: {type: Adam, lr: 0.001}\n", "")
    spec = loads(without, "t.yaml", ["export.opset=17", "train.data.source=synthetic", "optimizer.type=SGD"])
    assert spec.ok, spec.errors
    assert spec.document.export.opset == 17 and spec.document.train.data.source == "synthetic"
    assert spec.document.optimizer.type == "SGD"
    wrong = loads(MLP, "t.yaml", ["export.opsett=17"]).errors  # a key the section does not have: validation's
    assert [d.code for d in wrong] == ["V001"] and "opset" in (wrong[0].hint or "")


def test_set_without_equals_sign() -> None:
    with pytest.raises(SpecError) as e:
        parse_overrides(["hidden"])
    assert e.value.code == "X003"


def test_set_values_are_read_like_yaml() -> None:
    assert parse_overrides(["a=1e-3", "b=010", "c=no", "d=true"]) == {"a": 0.001, "b": 10, "c": "no", "d": True}


# -- blocks and repeat ----------------------------------------------------------------------------

BLOCKS = """\
specc: 1
inputs:
  image: [B, 8, 16, 16]
blocks:
  Unit:
    args: {out: 8, k: 3}
    layers:
      - {type: Conv2d, out_channels: "${out}", kernel_size: "${k}", padding: 1}
      - {type: ReLU}
layers:
  - {type: Unit, repeat: 3}
  - {type: Unit, out: 4, k: KSIZE}
"""


def test_repeat_and_block_args_expand() -> None:
    spec = loads(BLOCKS.replace("KSIZE", "3"), "t.yaml")
    assert spec.ok, spec.diagnostics
    assert spec.graph is not None
    rep, unit = spec.graph.nodes
    assert rep.sub is not None and len(rep.sub.nodes) == 3
    assert unit.out is not None and unit.out.shape[1] == 4


def test_error_inside_a_block_points_into_the_block_and_is_reported_once() -> None:
    spec = loads(BLOCKS.replace("KSIZE", "40"), "t.yaml")
    assert [(d.code, d.loc.line if d.loc else 0) for d in spec.errors] == [("S002", 8)]
    assert spec.errors[0].layer == "unit_1.conv2d_1"


def test_expand_rejects_a_list_document() -> None:
    with pytest.raises(SpecError) as e:
        expand(PosList([1]), {}, set(), "t.yaml")
    assert e.value.code == "Y005"
