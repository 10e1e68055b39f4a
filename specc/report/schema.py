"""`specc schema`: a JSON Schema (draft 2020-12) of the spec language, for editors.

Generated from specc's own models every time, never written by hand: the document
sections from ``validate.document`` and, for ``layers:``, one branch per layer kind in the
catalogue with that kind's parameter model, Keras names included (``Dense``, ``units``).

What a schema cannot see is left to ``specc check``: shapes, ``from:`` names, and the names
of a spec's own blocks. A block instance is written like a layer (``{type: DownBlock, out:
128}``) with the block's own arguments, so an item whose type is not in the catalogue is
allowed by an open branch, but only in a spec that defines ``blocks:`` (without it, every
type must be a known kind), and never for a type one slip from a known kind, letter case aside
(``conv2d``, ``Lienar``: specc/load/near.py, the rule check applies to block names). A known
kind's branch is closed: a mistyped parameter is an error.

Wherever a value is expected, a ``${...}`` expression is accepted too: vars and block
arguments fill them in before validation.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from pydantic.fields import FieldInfo

from ..load.near import near_pattern

SCHEMA_ID = "urn:specc:schema:spec:1"  # not fetched from anywhere: `specc schema` writes it
EXPRESSION = {"type": "string", "pattern": r"\$\{.*\}",
              "description": "a ${...} expression over vars (and block arguments), computed before checking"}
# Keys that any item of layers: may carry besides the kind's parameters (load.expand.LAYER_META).
_META: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "pattern": r"^([A-Za-z][A-Za-z0-9_]*|.*\$\{.*)$",
             "description": "the layer's name: what from: and outputs: refer to, and its attribute name in the "
                            "generated module (letters, digits and _, starting with a letter)"},
    "from": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
             "description": "the input or earlier layer(s) it reads; default: the layer above"},
    "repeat": {"type": "integer", "minimum": 0,
               "description": "stack this many copies (${index} counts from 0); 0 leaves the item out"},
    "trainable": {"type": "boolean", "default": True, "description": "false freezes its parameters"},
    "when": {"type": "boolean", "description": "false leaves the item out (usually a ${...} condition)"},
    "ignore": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"anyOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"},
                                                              {"type": "array", "items": {"type": "string"}}]}}]}}],
               "description": "warning codes silenced for this layer, e.g. [L004]; on a block instance, "
                              "{layer: code} silences one layer inside it, e.g. [{proj: L017}]"},
    "use": {"type": "string", "description": "apply the layer or block of this name (written above) again, with "
                                             "its weights: {use: encoder, from: image_b}"},
    "tie": {"type": "string", "description": "on a Linear: share the weight of the Embedding of this name "
                                             "(head.weight = embed.weight)"},
    "init": {"type": "object", "description": "how its parameters start: {weight: xavier_uniform, bias: zeros}; on "
                                              "a block instance, by layer type or path inside it: {bn2: {weight: "
                                              "zeros}}"},
}
# The keys of a use: item (sharing.USE_KEYS): the module's own settings belong to the layer it names.
_USE_KEYS = ("use", "from", "name", "ignore", "when")


def build_schema() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from ..layers import ALIASES, REGISTRY
    from ..load.expand import LAYER_META
    from ..validate.document import Document, InputSpec
    from ..validate.naming import IDENTIFIER

    assert set(_META) == set(LAYER_META) - {"type"}, "the schema's layer keys drift from load.expand.LAYER_META"
    kinds = sorted(REGISTRY.values(), key=lambda k: k.type_name)
    keys, top = models_json_schema([(Document, "validation"), *((k.Params, "validation") for k in kinds)],
                                   ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top["$defs"]
    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)

    branches, mapping = [], {}
    inlined: set[str] = set()
    for kind in kinds:
        ref = keys[(kind.Params, "validation")]["$ref"]
        params = json.loads(json.dumps(defs[ref.rsplit("/", 1)[-1]]))  # several kinds may share one model
        inlined.add(ref.rsplit("/", 1)[-1])
        names = [kind.type_name, *sorted(aliases.get(kind.type_name, []))]
        branch_id = f"layer.{kind.type_name}"
        defs[branch_id] = _layer_branch(kind, names, params)
        branches.append({"if": {"properties": {"type": {"enum": names}}},
                         "then": {"$ref": f"#/$defs/{branch_id}"}})
        mapping.update({n: f"#/$defs/{branch_id}" for n in names})
    for name in inlined:
        del defs[name]
    known = sorted(mapping)
    # A discriminated union: `type` picks the one branch that applies (if/then rather than oneOf, so
    # that a mistake is reported against that kind alone, not as "valid under none of 117").
    defs["KnownLayer"] = {"description": "a layer of a kind in specc's catalogue (`specc layers`)",
                          "type": "object", "required": ["type"], "properties": {"type": {"enum": known}},
                          "allOf": branches, "discriminator": {"propertyName": "type", "mapping": mapping}}
    defs["BlockInstance"] = {
        "description": "a use of a block defined under blocks:, with its arguments (checked by specc check)",
        "type": "object", "required": ["type"],
        "properties": {"type": {"type": "string", "pattern": f"^{IDENTIFIER}$",
                                "not": {"pattern": near_pattern(known)},
                                "description": "the block's name (a name one slip from a layer kind's, "
                                               "letter case aside, is a typo, not a block: specc check "
                                               "refuses such block names)"},
                       **_meta_refs()}}
    # Discriminate first, so that a mistake in a known kind is reported against that kind alone.
    defs["Reuse"] = {"description": "a layer or block written above, applied again with its weights",
                      "type": "object", "required": ["use"], "additionalProperties": False,
                      "properties": {k: {"$ref": f"#/$defs/meta.{k}"} for k in _USE_KEYS}}
    reuse = {"required": ["use"]}
    defs["KnownLayerOrReuse"] = {"type": "object", "if": reuse, "then": {"$ref": "#/$defs/Reuse"},
                                 "else": {"$ref": "#/$defs/KnownLayer"}}
    defs["Layer"] = {"type": "object", "if": reuse, "then": {"$ref": "#/$defs/Reuse"}, "else": {
        "if": {"required": ["type"], "properties": {"type": {"enum": known}}},
        "then": {"$ref": "#/$defs/KnownLayer"}, "else": {"$ref": "#/$defs/BlockInstance"}}}
    for key, sub in _META.items():
        defs[f"meta.{key}"] = sub
    defs["Block"] = {
        "type": "object", "required": ["layers"], "additionalProperties": False,
        "description": "a reusable sub-network: use it as a layer type, {type: Name, arg: value}",
        "properties": {"args": {"type": "object", "description": "argument: default value; ${arg} in its layers"},
                       "inputs": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string"},
                                  "description": "the names its layers read its inputs by; default: [input]"},
                       "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Layer"}},
                       "output": {"type": "string", "description": "the layer it returns; default: its last"},
                       "description": {"type": "string"}}}
    defs["Expression"] = EXPRESSION

    doc = defs.pop(keys[(Document, "validation")]["$ref"].rsplit("/", 1)[-1])
    props = doc["properties"]
    input_ref = f"#/$defs/{InputSpec.__name__}"
    props["inputs"]["additionalProperties"] = {
        "anyOf": [{"$ref": input_ref}, defs[InputSpec.__name__]["properties"]["shape"]],
        "description": props["inputs"]["additionalProperties"].get("description", "")}
    props["layers"] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Layer"},
                       "description": "the network, in execution order: each layer reads the one above unless "
                                      "from: says otherwise"}
    props["blocks"] = {"type": "object", "additionalProperties": {"$ref": "#/$defs/Block"},
                       "propertyNames": {"pattern": f"^{IDENTIFIER}$"},
                       "description": "reusable sub-networks, by name"}
    props["vars"] = {"type": "object", "description": "named values for ${...} expressions; --set overrides them"}
    doc["allOf"] = [{
        # Without blocks: there is no block name an unknown type could be.
        "if": {"not": {"required": ["blocks"]}},
        "then": {"properties": {"layers": {"items": {"$ref": "#/$defs/KnownLayerOrReuse"}}}}}]
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
                              "title": "specc model spec",
                              "description": "A specc spec (language version 1). Written by `specc schema` from "
                                             "specc's catalogue; `specc check` checks what a schema cannot: "
                                             "shapes, from: names and blocks' arguments.",
                              **doc, "$defs": defs}
    return _allow_expressions(schema, False)


def _meta_refs() -> dict[str, Any]:
    return {key: {"$ref": f"#/$defs/meta.{key}"} for key in _META}


def _layer_branch(kind: Any, names: list[str], params: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = list(params.get("required", []))
    either: list[dict[str, Any]] = []
    for field_name, info in kind.Params.model_fields.items():
        prop = params["properties"].get(field_name)
        if prop is None:
            continue
        prop.pop("title", None)
        prop.setdefault("description", _describe(kind.type_name, field_name, info))
        if field_name in _META:  # PReLU's init (a number) beside the init: every layer takes
            prop = {"anyOf": [prop, {"$ref": f"#/$defs/meta.{field_name}"}], "description": prop["description"]}
        props[field_name] = prop
        choices = _alias_choices(info)
        for other in choices[1:]:
            props[other] = {**prop, "description": f"Keras name of {field_name}: {prop['description']}"}
        if len(choices) > 1 and field_name in required:
            required.remove(field_name)
            either.append({"oneOf": [{"required": [c]} for c in choices]})
        elif len(choices) > 1:  # at most one of the names
            either += [{"not": {"required": list(pair)}} for pair in itertools.combinations(choices, 2)]
    type_desc = kind.summary + (f" (Keras: {', '.join(names[1:])})" if len(names) > 1 else "")
    branch: dict[str, Any] = {
        "type": "object", "title": kind.type_name, "description": type_desc,
        "properties": {"type": {"enum": names, "description": type_desc}, **_meta_refs(), **props},
        "required": ["type", *required], "additionalProperties": False}
    if either:
        branch["allOf"] = either
    return branch


def _alias_choices(info: FieldInfo) -> list[str]:
    from pydantic import AliasChoices

    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    return []


def _describe(kind: str, name: str, info: FieldInfo) -> str:
    if info.description:
        return info.description
    words = name.replace("_", " ")
    return f"{kind}'s {words}" + ("" if info.is_required() else " (optional)")


# Where a subschema describes a value (wrapped), and where it is one alternative, condition or
# definition of a value described elsewhere (not wrapped: wrapping each alternative of a oneOf
# would make an expression match several).
_VALUE_ONE = ("items", "additionalProperties")
_VALUE_MAP = ("properties", "patternProperties")
_INNER_ONE = ("not", "if", "then", "else", "propertyNames")
_INNER_MANY = ("anyOf", "oneOf", "allOf")
# The spec's structure is written out, never computed: layers, their items and blocks.
_STRUCTURE = {"#/$defs/Layer", "#/$defs/KnownLayer", "#/$defs/Block", "#/$defs/Reuse",
              "#/$defs/KnownLayerOrReuse"}


def _allow_expressions(node: Any, at_value: bool, key: str | None = None) -> Any:
    """Accept a ${...} expression wherever a value is expected (plain text accepts one already).
    The discriminating ``type`` of a layer or section stays exact."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for k in _VALUE_ONE:
        if isinstance(out.get(k), dict):
            out[k] = _allow_expressions(out[k], True)
    if isinstance(out.get("prefixItems"), list):
        out["prefixItems"] = [_allow_expressions(x, True) for x in out["prefixItems"]]
    for k in _VALUE_MAP:
        if isinstance(out.get(k), dict):
            out[k] = {name: _allow_expressions(sub, True, name) for name, sub in out[k].items()}
    for k in _INNER_ONE:
        if isinstance(out.get(k), dict):
            out[k] = _allow_expressions(out[k], False)
    for k in _INNER_MANY:
        if isinstance(out.get(k), list):
            out[k] = [_allow_expressions(x, False) for x in out[k]]
    if isinstance(out.get("$defs"), dict):
        out["$defs"] = {name: _allow_expressions(sub, False) for name, sub in out["$defs"].items()}
    plain_text = out.get("type") == "string" and "enum" not in out and "pattern" not in out
    structure = {_ref(out), _ref(out.get("items")), _ref(out.get("additionalProperties"))} & _STRUCTURE
    if not at_value or key == "type" or plain_text or structure:
        return out
    # What an editor shows on hover and offers as a default stays on the outside.
    shown = {k: out[k] for k in ("description", "default") if k in out}
    return {"anyOf": [out, {"$ref": "#/$defs/Expression"}], **shown}


def _ref(node: Any) -> Any:
    return node.get("$ref") if isinstance(node, dict) else None


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
