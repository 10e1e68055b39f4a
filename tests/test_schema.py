"""`specc schema`: a valid draft 2020-12 JSON Schema, generated from the catalogue, that accepts
every example spec and rejects exactly the broken specs whose mistake is structural."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import specc

jsonschema = pytest.importorskip("jsonschema")

from specc.diagnostics import SpecError  # noqa: E402
from specc.layers import ALIASES, REGISTRY  # noqa: E402
from specc.load.near import near_pattern, near_type  # noqa: E402
from specc.load.yaml_loader import load_yaml  # noqa: E402
from specc.report.schema import build_schema  # noqa: E402
from specc.validate.document import Document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOOD = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml")) + \
    sorted((ROOT / "tests" / "corpus" / "good").glob("*.yaml"))
BROKEN = sorted((ROOT / "specs" / "broken").glob("*.yaml")) + sorted((ROOT / "tests" / "corpus" / "bad").glob("*.yaml"))

# The broken specs a schema can see are wrong: unknown keys, unknown types (of a layer in a spec
# without blocks:, of a loss, optimizer or scheduler), a known layer type in the wrong letter case,
# missing required keys, values of the wrong type or out of range, a layer that is not a mapping,
# the wrong language version.
REJECTED = {
    "v003_window_of_zero",  # window: a positive integer
    "v003_moe_top_k_zero",  # a MixtureOfExperts' top_k: a positive integer
    "v001_keras_batchnorm_axis",  # BatchNormalization's axis
    "v001_keras_embedding_mask_zero",  # Embedding's mask_zero
    "v001_keras_embedding_input_length",  # Embedding's input_length
    "v001_init_in_block_definition",  # init: on a layer of a block definition (the model's init: names it)
    "v001_keras_encoder_return_state",  # LSTM keys return_sequences, return_state
    "v001_keras_leaky_relu_alpha",  # LeakyReLU key alpha
    "v003_block_inputs_not_a_list",  # a block's inputs: as one string
    "v004_rotary_embedding_as_a_layer",  # type: RotaryEmbedding with dim:, which no layer or block takes
    "bad_training_setup",  # scheduler: StepLR without step_size
    "typos_everywhere",  # optimizer: Adamw; layer keys such as kernel_sise
    "multi_three_errors",  # optimizer: Adamm
    "v001_layer_key",  # Conv2d with out_channel
    "v001_key_of_the_layer_above",  # a BatchNorm2d with the Conv2d's stride
    "v002_block_under_block_key",  # layers without a type: {block: FC}, {class_name: Dense}
    "v001_keras_arguments",  # activation: relu on a Dense, learning_rate
    "v001_top_level_key",  # optimiser:
    "v001_typo_in_block_used_twice",  # a block's Conv2d with kernal_size
    "v002_missing_field",  # Linear without out_features
    "v002_no_inputs",  # no inputs:
    "v003_bad_input_keeps_checking",  # an input shape written as text
    "v003_block_output_not_a_name",  # a block's output: a list
    "v003_from_minus_one_for_the_layer_above",  # from: [x, -1], a count where a name belongs
    "v003_dropout_p",  # p: 1.5
    "v003_dropout_drops_everything",  # p: 1.0, outside [0, 1)
    "v003_timedistributed_flat",  # layer: Conv2d with its arguments beside it
    "v001_anchor_at_top_level",  # a top-level key conv: beside the sections
    "v003_fractional_width",  # out_channels: 8.5
    "v002_keras_input_shape",  # no inputs:, input_shape on a layer
    "y005_layers_as_a_mapping",  # layers: a mapping, not a list
    "v003_empty_from_and_outputs",  # from: []
    "v003_input_dim_zero",  # a dim of 0
    "v003_kernel_size_text",  # kernel_size: three
    "v003_negative_lr",  # lr: -1
    "v003_adam_beta2_of_one", "v003_sgd_momentum_nine",  # a decay of 1 or more (betas, momentum)
    "v003_negative_width",  # out_features: -64
    "v006_block_named_dense",  # an instance of block Dense reads as the Linear alias, without out_features
    "v003_upsample_size_dim_names",  # Upsample size: [H, W], the dim names of another tensor
    "v003_decimal_comma_on_its_own_line",  # lr: '0,005', text
    "v001_keras_target_shape",  # Reshape's target_shape: an unknown key
    "v001_keras_fit_validation_split",  # validation_split in train: an unknown key
    "v001_tf1_keep_prob",  # Dropout's keep_prob: an unknown key
    "v001_keras_from_logits",  # from_logits on CrossEntropyLoss
    "v001_keras_label_smoothing_on_bce",  # label_smoothing on BCEWithLogitsLoss
    "v001_training_keys_in_the_wrong_section",  # epochs under optimizer:, lr under train:
    "v003_repeat_negative",  # repeat: -2
    "v003_wrong_type",  # out_features: "ten"
    "v003_dtype_torch_long",  # dtype: long
    "v003_pytorch_minus_one_batch",  # a batch dim of -1
    "v002_loss_and_optimizer_as_names",  # loss: mse, optimizer: adam
    "v003_inputs_as_a_list", "v002_optimizer_as_a_list",  # a mapping written as '- ' list items
    "v004_conv2d2", "v004_lienar", "v004_keras_layer_names",  # unknown layer types in specs without blocks:
    "v004_lowercase_type",  # conv2d
    "v005_version_2",  # specc: 2
    "v006_space_in_name", "v006_dunder_name", "v006_lookalike_name",  # not an identifier starting with a letter
    "v008_unknown_loss", "v008_unknown_optimizer", "v008_unknown_scheduler", "v008_keras_loss_name",
    "v008_keras_binary_crossentropy",  # loss: binary_crossentropy, Adam's beta_1
    "y005_layer_not_mapping",  # - Linear
}
# What stays for `specc check`: shapes (S…), from: and outputs: names (G…), names that are
# identifiers but reserved (V006/V007), a block's arguments (V001), expressions (X…) and
# everything the YAML parser itself rejects (Y…, which never reaches a schema).


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = build_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc(path: Path) -> Any:
    # specc's own loader: YAML 1.2 scalars, as yaml-language-server reads them (1e-3 is a number)
    return json.loads(json.dumps(load_yaml(path.read_text(encoding="utf-8"), str(path))))


def _errors(validator: Any, doc: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_every_example_spec_is_valid(validator: Any, path: Path) -> None:
    assert _errors(validator, _doc(path)) == []


# the broken corpus in four tests, every fourth file each: the xdist workers share its few hundred
# validations instead of one worker holding them all
@pytest.mark.parametrize("chunk", range(4))
def test_rejects_exactly_the_structurally_broken_specs(validator: Any, chunk: int) -> None:
    rejected, unparsed = set(), set()
    paths = BROKEN[chunk::4]
    for path in paths:
        try:
            doc = _doc(path)
        except SpecError:
            unparsed.add(path.stem)  # not YAML a schema could be applied to
            continue
        if _errors(validator, doc):
            rejected.add(path.stem)
    assert rejected == REJECTED & {p.stem for p in paths}
    assert all(name.startswith(("y00", "y01", "unsafe_tag")) for name in unparsed)


def test_every_spec_rejected_by_the_schema_is_in_the_broken_corpus() -> None:
    """The chunks above each compare their share: every name of REJECTED is a broken spec, and some of
    the corpus is no YAML a schema could be applied to."""
    names = {p.stem for p in BROKEN}
    assert names >= REJECTED, sorted(REJECTED - names)
    unparsed = []
    for path in (p for p in BROKEN if p.stem.startswith(("y00", "y01", "unsafe_tag"))):
        try:
            _doc(path)
        except SpecError:
            unparsed.append(path.stem)
    assert unparsed


def _spec(layers: list[Any], **extra: Any) -> dict[str, Any]:
    return {"specc": 1, "inputs": {"x": ["B", 8]}, "layers": layers, **extra}


@pytest.mark.parametrize(("layers", "extra", "ok"), [
    ([{"type": "Linear", "out_features": 4}], {}, True),
    ([{"type": "Dense", "units": 4, "use_bias": False}], {}, True),  # Keras names
    ([{"type": "Linear", "units": 4, "out_features": 4}], {}, False),  # both names of one parameter
    ([{"type": "Linear", "out_features": "${n * 2}"}], {"vars": {"n": 2}}, True),  # an expression for a number
    ([{"type": "Linear", "out_features": 4, "bias": "${flag}"}], {"vars": {"flag": True}}, True),
    ([{"type": "Linear", "out_features": 4.5}], {}, False),
    ([{"type": "Linear", "out_feature": 4}], {}, False),  # a typo in a known kind's key
    ([{"type": "Lineer", "out_features": 4}], {}, False),  # no blocks: an unknown type is a typo
    ([{"type": "Wide", "width": 4}], {"blocks": {"Wide": {"args": {"width": 2}, "layers": [
        {"type": "Linear", "out_features": "${width}"}]}}}, True),  # a block of the spec, with its argument
    ([{"type": "linear", "out_features": 4}], {"blocks": {"B": {"layers": [{"type": "ReLU"}]}}}, False),
    ([{"type": "Linear", "out_features": 4, "name": "2fc"}], {}, False),
    ([{"type": "Linear", "out_features": 4, "name": "fc_${index}", "repeat": 2}], {}, True),
    ([{"type": "Linear", "out_features": 4}], {"optimizer": {"type": "Adam", "lr": "1e-3"}}, False),
    ([{"type": "Linear", "out_features": 4}], {"optimizer": {"type": "Adam", "lr": 1e-3,
                                                             "betas": [0.9, "${b2}"]}}, True),
    ([{"type": "Linear", "out_features": 4}], {"train": {"epochs": 0}}, False),
    ([{"type": "Linear", "out_features": 4}], {"inputs": {"x": {"shape": ["B", 8], "dtype": "int64"}}}, True),
    # shared and tied weights: a use: item carries no type or settings of its own
    ([{"type": "Linear", "out_features": 8, "name": "fc"}, {"use": "fc", "name": "again"}], {}, True),
    ([{"type": "Linear", "out_features": 8, "name": "fc"}, {"use": "fc", "out_features": 8}], {}, False),
    ([{"type": "Linear", "out_features": 8, "name": "fc"}, {"use": "fc", "type": "Linear"}], {}, False),
    ([{"type": "Embedding", "num_embeddings": 9, "embedding_dim": 8, "name": "e"},
      {"type": "Linear", "out_features": 9, "tie": "e"}], {"inputs": {"x": {"shape": ["B"], "dtype": "int64"}}},
     True),
    # weight_norm / spectral_norm: true, false or their settings
    ([{"type": "Linear", "out_features": 4, "spectral_norm": True}], {}, True),
    ([{"type": "Linear", "out_features": 4, "weight_norm": {"dim": None}}], {}, True),
    ([{"type": "Linear", "out_features": 4, "spectral_norm": {"n_power_iteration": 2}}], {}, False),
], ids=lambda v: json.dumps(v)[:50] if not isinstance(v, bool) else str(v))
def test_small_cases(validator: Any, layers: list[Any], extra: dict[str, Any], ok: bool) -> None:
    errors = _errors(validator, _spec(layers, **extra))
    assert (errors == []) is ok, errors


def test_generated_from_the_catalogue_and_the_document_model() -> None:
    schema = build_schema()
    mapping = schema["$defs"]["KnownLayer"]["discriminator"]["mapping"]
    assert set(mapping) == set(REGISTRY) | set(ALIASES)
    for name, kind in REGISTRY.items():
        branch = schema["$defs"][f"layer.{name}"]
        assert branch["description"].startswith(kind.summary)
        for field_name in kind.Params.model_fields:
            assert field_name in branch["properties"], f"{name}.{field_name}"
    assert set(Document.model_fields) <= set(schema["properties"])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    conv = schema["$defs"]["layer.Conv2d"]["properties"]
    assert conv["stride"]["default"] == 1 and "filters" in conv and "Conv2D" in mapping


def test_cli_writes_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "specc.schema.json"
    probe = ("import sys, specc.cli; rc = specc.cli.main(sys.argv[1:]); "
             "print('HEAVY', sorted({'torch', 'numpy', 'onnx', 'jsonschema'} & set(sys.modules)), rc)")
    proc = subprocess.run([sys.executable, "-c", probe, "schema", "-o", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "HEAVY [] 0", proc.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == build_schema()
    assert "yaml-language-server: $schema=" in (ROOT / "README.md").read_text(encoding="utf-8")


WIDE_BLOCK = {"args": {"width": 2}, "layers": [{"type": "Linear", "out_features": "${width}"}]}


@pytest.mark.parametrize(("block", "used"), [
    ("Wide", "Wide"), ("ConvBlock", "ConvBlock"), ("Residual", "Residual"),  # blocks of the spec
    ("Wide", "Lienar"),  # a typo of a built-in in a spec with blocks
    ("linear", "linear"), ("LINEAR", "LINEAR"), ("gru", "gru"),  # a built-in's name in another case
    ("Lineer", "Lineer"), ("Dense2", "Dense2"), ("Conv2dd", "Conv2dd"),  # one slip from a built-in
])
def test_schema_and_check_agree_on_block_names_and_types(validator: Any, block: str, used: str) -> None:
    doc = _spec([{"type": used, "width": 4}], blocks={block: WIDE_BLOCK})
    schema_ok = _errors(validator, doc) == []
    spec = specc.loads(json.dumps(doc), "blocks.yaml")  # JSON is YAML
    assert schema_ok == spec.ok, (schema_ok, [str(d) for d in spec.errors])
    if block != used or not spec.ok:
        assert {d.code for d in spec.errors} <= {"V004", "V006"}, [str(d) for d in spec.errors]


def test_near_names_are_the_same_to_check_and_to_the_schema() -> None:
    names = set(REGISTRY) | set(ALIASES)
    pattern = re.compile(near_pattern(names))
    words = {"ConvBlock", "DownBlock", "Residual", "Bottleneck", "Encoder", "Stem", "Head", "MLP", "Wide"}
    for n in sorted(names)[::3]:  # every kind of slip of a third of the names
        words |= {n.lower(), n.upper(), n[1:], n[:-1] + "x", n + "s", n[1] + n[0] + n[2:], n[:2] + "_" + n[2:]}
    for w in sorted(words):
        assert (pattern.match(w) is not None) == (near_type(w, names) is not None), w
