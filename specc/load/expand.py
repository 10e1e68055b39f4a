"""Expansion of a loaded document: ``vars``, ``--set`` overrides, ``${...}``, ``blocks`` and
``repeat``.  Positions survive: every expanded value keeps the line and column it was
written at, so a shape error inside the third repeat of a block still points at the
block's line.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Location, SpecError
from .expr import INPUT_SHAPE, InputShape, has_ref, reads_input_shape, substitute
from .limits import MAX_BLOCK_DEPTH, MAX_EVALUATIONS, MAX_EXPANDED_VALUES, MAX_INT, MAX_LAYERS, MAX_REPORTED, MIN_INT
from .near import near_type
from .yaml_loader import Dropped, PosDict, PosList, resolve_plain

CLI = Location("<command line>", 1, 1)

# Keys every layer item may carry (not parameters of the layer kind).
LAYER_META = ("type", "name", "from", "repeat", "trainable", "when", "ignore", "use", "tie", "init")
_SKIP = object()  # an item whose `when:` is false
_NO_COPIES = object()  # an item whose `repeat:` is 0: left out the same way
# The env key naming the block whose layers are being expanded (not an identifier: no ${} reads it).
_IN_BLOCK = "<block>"
BLOCK_KEYS = ["args", "inputs", "layers", "output", "description"]
BLOCK_INPUT = "input"  # what a block's layers call its input, unless its inputs: name them


@dataclass(frozen=True)
class Deferred:
    """A ``${...}`` in a block's layer that reads ``input_shape``: evaluated by the graph engine
    once the block instance's input is known (``resolve``)."""

    text: str
    env: dict[str, Any]
    loc: Location | None

    def resolve(self, shape: InputShape) -> Any:
        return substitute(self.text, {**self.env, INPUT_SHAPE: shape}, self.loc)


def deferred_in(value: Any) -> Deferred | None:
    """The first Deferred in ``value`` (a value, list or mapping), if any."""
    if isinstance(value, Deferred):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((d for v in value if (d := deferred_in(v)) is not None), None)
    return None


def resolve_deferred(value: Any, shape: InputShape) -> Any:
    """``value`` with every Deferred in it evaluated against ``shape`` (SpecError when one fails)."""
    if isinstance(value, Deferred):
        return value.resolve(shape)
    if isinstance(value, PosDict):
        out = value.copy_with({})
        for k, v in value.items():
            out[k] = resolve_deferred(v, shape)
        return out
    if isinstance(value, PosList):
        out_list = PosList(loc=value.loc)
        out_list.item_locs = list(value.item_locs)
        out_list.extend(resolve_deferred(v, shape) for v in value)
        return out_list
    if isinstance(value, dict):
        return {k: resolve_deferred(v, shape) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_deferred(v, shape) for v in value]
    return value


def _misplaced(where: str, loc: Location | None) -> SpecError:
    return SpecError("X006", f"{where} reads ${{{INPUT_SHAPE}[...]}}, the block's input shape, which is known "
                     "only once the graph is built", f"read {INPUT_SHAPE} in a parameter of the block's own "
                     "layers (e.g. out_features: \"${input_shape[1]}\"), or pass the size as a block argument",
                     loc=loc)


class Group(PosDict):
    """A block instance or a ``repeat``: a named sub-graph whose children are expanded items."""

    kind: str  # "block" or "repeat"
    block: str | None
    children: list[Any]
    args: dict[str, Any]
    output: Any
    inputs: list[str]  # the names a block's layers read its inputs by, in the order from: gives them


@dataclass
class Expanded:
    doc: PosDict
    vars: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)  # ids of items whose expansion failed
    broken_sections: set[str] = field(default_factory=set)  # top-level sections that failed


def parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return {_override_name(k): _override_value(k, v) for k, v in overrides.items()}
    out: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str):
            raise SpecError("X003", f"an override is a 'name=value' string, got {type(item).__name__}",
                            "for example --set hidden=256", loc=CLI)
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise SpecError("X003", f"--set expects name=value, got {item!r}", "for example --set hidden=256",
                            loc=CLI)
        try:
            out[name.strip()] = resolve_plain(raw.strip())
        except SpecError as err:
            err.loc = CLI
            raise
    return out


def _override_name(name: object) -> str:
    if not isinstance(name, str):
        raise SpecError("X003", f"an override's name must be text, got {type(name).__name__}",
                        "name the variable, for example {'hidden': 256}", loc=CLI)
    return name


def _override_value(name: str, value: Any) -> Any:
    """A value given from Python holds what --set could write: text, a number within the
    limits a spec's own numbers have (docs/spec.md, "Limits"), true/false or null."""
    if isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
        raise SpecError("Y008", f"the override {name}= is a number of {value.bit_length():,} bits, too large: "
                        f"specc reads integers from {MIN_INT:,} to {MAX_INT:,} (64 bits)", "write the size you mean",
                        loc=CLI)
    if value is not None and not isinstance(value, (str, int, float)):
        raise SpecError("X003", f"the override {name}= is of type {type(value).__name__}; an override is text, "
                        "a number, true/false or null", f"give {name} a plain value, as --set would", loc=CLI)
    return value


class _Expander:
    def __init__(self, doc: PosDict, overrides: dict[str, Any]):
        self.doc = doc
        self.overrides = overrides
        self.diags: list[Diagnostic] = []
        self.broken: set[int] = set()
        self.broken_sections: set[str] = set()
        self.blocks: dict[str, PosDict] = {}
        # blocks refused (for their name, a malformed inputs:): an instance is that block, not the
        # built-in it shadows nor an unknown type (a block named Dense read as Linear reported a missing
        # out_features on every instance)
        self.refused_blocks: set[str] = set()
        self.env: dict[str, Any] = {}
        self.failed_vars: set[str] = set()  # reported once; their uses are not second mistakes
        self.count = 0  # items expanded so far, against MAX_LAYERS
        self._skipped = PosDict()  # the last item a false when: left out, as filled in
        self.evaluations = 0  # ${} expressions evaluated so far, against MAX_EVALUATIONS
        self.values = 0  # values copied so far, against MAX_EXPANDED_VALUES
        self._sizes: dict[Any, int] = {}  # block (and its arguments) -> how many items one use expands to
        self.unlisted: Diagnostic | None = None  # the first error past MAX_REPORTED; the rest are counted
        self.unlisted_count = 0

    def fail(self, err: SpecError, loc: Location | None = None) -> None:
        name = _undefined(err)
        if name in self.failed_vars:
            return
        owner = self._dim_owner(name) if name is not None else None
        if owner is not None:
            # "${H}" for an input's symbolic dim: the size exists only when the model runs, so no
            # var of that name is the fix the stock hint offers
            err.hint = (f"{name} is a dim of input '{owner}', known only when the model runs; read it from the "
                        f"tensor (Upsample from: [x, {owner}], a Reshape's dim names), or define {name} under "
                        f"vars: and write that dim as \"${{{name}}}\" to fix it")
        if len(self.diags) < MAX_REPORTED:
            self.diags.append(err.diagnostic(loc))
            return
        self.unlisted = self.unlisted or err.diagnostic(loc)
        self.unlisted_count += 1

    def _dim_owner(self, name: str) -> str | None:
        """The input with a symbolic dim written ``name``, when vars: does not define it."""
        inputs = self.doc.get("inputs")
        if not isinstance(inputs, dict) or name in self.env:
            return None
        for key, decl in inputs.items():
            shape = decl.get("shape") if isinstance(decl, dict) else decl
            if isinstance(shape, list) and name in shape:
                return str(key)
        return None

    def count_unlisted(self) -> None:
        first = self.unlisted
        if first is not None:
            self.diags.append(Diagnostic(
                first.code, f"and {self.unlisted_count:,} more errors in vars, ${{}} and blocks, not listed past "
                f"the first {MAX_REPORTED}; the next: {first.message}", first.loc,
                "fix the errors above and check again; this many usually means a generated part of the spec "
                "is wrong"))

    # -- vars and overrides -------------------------------------------------------------------
    def load_vars(self) -> None:
        raw = self.doc.get("vars") or PosDict()
        if not isinstance(raw, PosDict):
            self.fail(SpecError("Y005", "vars: must be a mapping of name: value", "write e.g. vars: {hidden: 128}",
                                loc=self.doc.value_loc("vars")))
            raw = PosDict()
        for name in [k for k in raw if not isinstance(k, str)]:
            # YAML reads true:, 7: and null: as a boolean, a number and null, which ${} cannot name
            shown, what = (("null", "null") if name is None else (str(name).lower(), "a boolean")
                           if isinstance(name, bool) else (repr(name), "a number"))
            self.fail(SpecError("V003", f"the vars key {shown} is not a variable name: YAML reads it as {what}",
                                "name a variable with a letter first, then letters, digits or _ (e.g. "
                                "use_bias, n_layers)", loc=raw.key_loc(name)))
            del raw[name]
        var_overrides = {k: v for k, v in self.overrides.items() if "." not in k}
        for name in var_overrides:
            if name not in raw:
                close = difflib.get_close_matches(name, [str(k) for k in raw], n=1)
                hint = f"did you mean '{close[0]}'?" if close else \
                    f"variables in vars: are {', '.join(map(str, raw)) or 'none'}; to set a key, write a path " \
                    "such as --set train.epochs=3"
                self.fail(SpecError("X003", f"--set {name}=... names a variable that vars: does not define", hint,
                                    loc=CLI))
        for name, value in raw.items():
            if name in var_overrides:
                self.env[name] = var_overrides[name]
                continue
            try:
                self.env[name] = self.subst(value, self.env, raw.value_loc(name))
            except SpecError as err:
                # vars are read top to bottom: a name defined below (or itself) is not known yet.
                later = _undefined(err) if _undefined(err) in raw else None
                if later == name:
                    err.hint = f"a variable cannot use itself; give {name} a value"
                elif later is not None:
                    err.hint = f"vars are read top to bottom: move {later} above {name}"
                self.fail(err)
                self.failed_vars.add(str(name))

    def apply_path_overrides(self) -> None:
        for path, value in self.overrides.items():
            if "." not in path:
                continue
            keys = path.split(".")
            target: Any = self.doc
            for i, k in enumerate(keys[:-1]):
                parent = target
                key: Any = int(k) if isinstance(target, list) and k.isdigit() else k
                try:
                    target = target[key]
                except (KeyError, IndexError, TypeError):
                    target = _new_section(parent, keys, i)
                if not isinstance(target, (PosDict, PosList)):
                    self.fail(_bad_path(path, ".".join(keys[:i + 1]), k, parent))
                    break
            else:
                last: Any = keys[-1]
                if isinstance(target, PosList):
                    if not last.isdigit() or int(last) >= len(target):
                        self.fail(SpecError("X003", f"--set {path}: the list has no item {last}",
                                            f"use an index from 0 to {len(target) - 1}", loc=CLI))
                        continue
                    last = int(last)
                target[last] = value
                if isinstance(target, PosDict):
                    target.key_locs.setdefault(last, CLI)
                    target.value_locs[last] = CLI

    # -- substitution -----------------------------------------------------------------------
    def subst(self, value: Any, env: dict[str, Any], loc: Location | None) -> Any:
        if isinstance(value, Group):
            return value
        if isinstance(value, (PosDict, PosList)):
            self.values += len(value)
            if self.values > MAX_EXPANDED_VALUES:
                raise ExpansionLimit(SpecError(
                    "X005", f"the spec holds more than {MAX_EXPANDED_VALUES:,} values once blocks and repeat: are "
                    f"expanded, the limit (this one has {len(value):,})", "a block is copied at every use: keep "
                    "long lists out of blocks, or use the block fewer times", loc=loc))
        if isinstance(value, PosDict):
            out = value.copy_with({})
            for k, v in value.items():
                out[k] = self.subst(v, env, value.value_loc(k))
            return out
        if isinstance(value, PosList):
            out_list = PosList(loc=value.loc)
            out_list.item_locs = list(value.item_locs)
            for i, v in enumerate(value):
                out_list.append(self.subst(v, env, value.item_loc(i)))
            return out_list
        if has_ref(value):
            if _IN_BLOCK in env and INPUT_SHAPE not in env and reads_input_shape(value):
                return Deferred(value, env, loc)
            self.evaluations += 1
            if self.evaluations > MAX_EVALUATIONS:
                raise ExpansionLimit(SpecError(
                    "X005", f"the spec evaluates more than {MAX_EVALUATIONS:,} ${{}} expressions once repeat: "
                    "and blocks are expanded, the limit", "compute the value once under vars: and use the "
                    "variable, or repeat fewer times", loc=loc))
            return substitute(value, env, loc)
        return value

    # -- blocks ------------------------------------------------------------------------------
    def load_blocks(self, layer_types: set[str]) -> None:
        raw = self.doc.get("blocks") or PosDict()
        if not isinstance(raw, PosDict):
            self.fail(SpecError("Y005", "blocks: must be a mapping of BlockName: {args, layers}",
                                "write e.g. blocks: {ConvBlock: {args: {out: 64}, layers: [...]}}",
                                loc=self.doc.value_loc("blocks")))
            return
        for name, body in raw.items():
            loc = raw.key_loc(name)
            if not isinstance(name, str):
                continue  # reported with the other class-name rules (validate.sections.python_name_diagnostics)
            if name in layer_types:
                self.fail(SpecError("V006", f"block '{name}' has the name of a built-in layer type",
                                    f"rename it, e.g. {name}Block", loc=loc))
                self.refused_blocks.add(name)
                continue
            near = near_type(name, layer_types)
            if near is not None:
                # a typo of the built-in would silently become this block (and editors' schema cannot tell)
                self.fail(SpecError("V006", f"block '{name}' is one slip from the built-in layer type '{near}', so "
                                    f"a typo of '{near}' would become this block", f"rename it, e.g. {name}Block",
                                    loc=loc))
                self.refused_blocks.add(name)
                continue
            if not isinstance(body, PosDict) or not isinstance(body.get("layers"), PosList):
                self.fail(SpecError("Y005", f"block '{name}' needs a 'layers:' list",
                                    "blocks: {Name: {args: {...}, layers: [...]}}", loc=loc))
                continue
            unknown = [k for k in body if k not in BLOCK_KEYS]
            for k in unknown:
                close = difflib.get_close_matches(str(k), BLOCK_KEYS, n=1)
                self.fail(SpecError("V001", f"unknown key '{k}' in block '{name}'",
                                    f"move it to the top level, where it reaches every instance: init: {{{name}: "
                                    "...} (or write it on a layer of the block, or on an instance)" if k == "init" else
                                    f"did you mean '{close[0]}'?" if close else
                                    "a block has args, inputs, layers, output and description", loc=body.key_loc(k)))
            ins = body.get("inputs")
            if ins is not None and not (isinstance(ins, list) and ins and all(isinstance(i, str) for i in ins)
                                        and len(set(ins)) == len(ins)):
                # ignoring it would read every name but the first as an unknown layer
                self.fail(SpecError("V003", f"inputs of block '{name}' must list the names its layers read its "
                                    f"inputs by, each once, got {ins!r}",
                                    f"write inputs: [{', '.join(_names_in(ins))}]" if _names_in(ins) else
                                    "write e.g. inputs: [input, skip], and from: [a, b] where the block is used",
                                    loc=body.value_loc("inputs")))
                self.refused_blocks.add(name)
                continue
            output = body.get("output")
            if output is not None and not isinstance(output, str):
                # Ignoring it would silently return the block's last layer instead.
                one = output[0] if isinstance(output, list) and len(output) == 1 else None
                named = [str(it["name"]) for it in body["layers"] if isinstance(it, PosDict) and "name" in it]
                self.fail(SpecError("V003", f"output of block '{name}' must be the name of one of its layers, "
                                    f"got {output!r}", f"write output: {one}" if isinstance(one, str) else
                                    f"write output: {' or '.join(named[-2:])}" if named else
                                    "leave output: out to return the block's last layer",
                                    loc=body.value_loc("output")))
            args = body.get("args") or PosDict()
            if not isinstance(args, PosDict):
                self.fail(SpecError("Y005", f"args of block '{name}' must be a mapping of name: default",
                                    "args: {out: 64, stride: 1}", loc=body.value_loc("args")))
                continue
            try:
                body = body.copy_with(dict(body))
                body["args"] = self.subst(args, self.env, body.value_loc("args"))
            except SpecError as err:
                self.fail(err)
                continue
            self.blocks[name] = body
            self._unread_inputs(name, body)

    def _unread_inputs(self, name: str, body: PosDict) -> None:
        """G005 for an input a block names but none of its layers reads (a copy-pasted block that
        forgot its skip): from: and output: are where a block reads its inputs."""
        ins = body.get("inputs")
        if not isinstance(ins, list) or len(ins) < 2:
            return
        read = {str(body.get("output"))}
        for item in body["layers"]:
            src = item.get("from") if isinstance(item, PosDict) else None
            read.update(str(s).split(".", 1)[0] for s in (src if isinstance(src, list) else [src]) if s is not None)
        for unread in (i for i in ins if i not in read):
            self.diags.append(Diagnostic("G005", f"input '{unread}' of block '{name}' is never read by its layers",
                                         body.value_loc("inputs"), f"read it with from: {unread} in one of its layers, "
                                         "or remove it from inputs: (and from the from: of each use)", "warning"))

    # -- layers ------------------------------------------------------------------------------
    def expand_items(self, items: Any, env: dict[str, Any], stack: tuple[str, ...],
                     loc: Location | None) -> PosList:
        if not isinstance(items, PosList):
            self.fail(SpecError("Y005", "layers: must be a list of layers",
                                "write one '- {type: ...}' line per layer under layers:", loc=loc))
            return PosList(loc=loc)
        out = PosList(loc=items.loc)
        for i, item in enumerate(items):
            item_loc = items.item_loc(i)
            self._spend(1, item_loc)
            expanded = self.expand_item(item, env, stack, item_loc)
            if expanded is _SKIP or expanded is _NO_COPIES:
                if isinstance(item, PosDict) and isinstance(item.get("name"), str):
                    key = "when" if expanded is _SKIP else "repeat"
                    out.omitted.setdefault(item["name"], (key, item.value_loc(key)))
                if expanded is _SKIP:  # G014 reads what a false when: left out (a repeat of 0 is no branch)
                    skipped = self._skipped
                    out.dropped.setdefault(len(out), []).append(Dropped(
                        skipped.get("name") if isinstance(skipped.get("name"), str) else None,
                        str(skipped.get("type", skipped.get("use", "item"))), skipped.get("from"),
                        item_loc, skipped.value_loc("when")))
                continue
            if isinstance(expanded, PosDict) and isinstance(item, PosDict):
                # The item as written, ${...} and all: the code generator writes a block's
                # varying sizes as these expressions of the block's arguments.
                expanded.template = item
            out.append(expanded)
            out.item_locs.append(item_loc)
        return out

    def expand_item(self, item: Any, env: dict[str, Any], stack: tuple[str, ...], loc: Location | None) -> Any:
        if not isinstance(item, PosDict):
            word = item if isinstance(item, str) and item.isidentifier() else "ReLU"
            err = SpecError("Y005", f"a layer must be a mapping with a type, got {_plain(item)}",
                            f"write - {{type: {word}}}, adding the layer's parameters inside the braces", loc=loc)
            self.fail(err)
            bad = PosDict(loc=loc)
            self.broken.add(id(bad))
            return bad
        # A repeated item is expanded once per copy, so that ${index} can differ between copies;
        # only its head (repeat, name, from, when, …) is resolved first.
        head_keys = ("repeat", "name", "from", "when", "trainable", "ignore") if "repeat" in item else None
        try:
            if head_keys is None:
                item = self.subst(item, env, loc)
            else:
                head = self.subst(item.copy_with({k: v for k, v in item.items() if k in head_keys}), env, loc)
        except SpecError as err:
            self.fail(err)
            self.broken.add(id(item))
            return item
        checked = item if head_keys is None else head
        for key in LAYER_META:
            if key in checked and deferred_in(checked[key]) is not None:
                self.fail(_misplaced(f"{key}:", checked.value_loc(key)))
                del checked[key]  # reported here: no second error about the unevaluated value
                self.broken.add(id(checked))
                return checked
        if "when" in checked:
            cond = checked["when"]
            if not isinstance(cond, bool):
                self.fail(SpecError("V003", f"when: must be true or false, got {_plain(cond)}",
                                    "write a condition such as when: \"${stride == 1 and inp == out}\"",
                                    loc=checked.value_loc("when")))
                self.broken.add(id(checked))
                return checked
            if not cond:
                self._skipped = checked  # its from: as filled in: what reading past it changes
                return _SKIP
        if head_keys is not None:
            return self.expand_repeat(item, head, env, stack)
        btype = item.get("type")
        if isinstance(btype, str) and btype in self.blocks:
            return self.expand_block(item, btype, env, stack)
        if isinstance(btype, str) and btype in self.refused_blocks:
            self.broken.add(id(item))  # its block's definition was reported: no second error at each use
        return item

    def expand_repeat(self, item: PosDict, head: PosDict, env: dict[str, Any], stack: tuple[str, ...]) -> Any:
        n = head["repeat"]
        if n == 0 and not isinstance(n, bool):
            # no copies: the item is left out, as a false when: leaves it; reference code writes a
            # stage as its first block, then `for _ in range(1, depth)` more, and a depth of 1 is common
            return _NO_COPIES
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            self.fail(SpecError("V003", f"repeat must be a whole number, 0 or more, got {_plain(n)}",
                                "write e.g. repeat: 3", loc=head.value_loc("repeat")))
            self.broken.add(id(head))
            return head
        merged = item.copy_with({**item, **head})
        body = item.copy_with({k: v for k, v in item.items() if k not in head})
        self._spend(n, head.value_loc("repeat"), f"repeat: {n:,}")
        group = _group(merged, "repeat", None)
        group.children = []
        for i in range(n):  # ${index} is the copy's number, from 0
            child = self.expand_item(body.copy_with(dict(body)), {**env, "index": i}, stack, item.loc)
            if isinstance(child, PosDict):
                child.template = body
            group.children.append(child)
        return group

    def expand_block(self, item: PosDict, btype: str, env: dict[str, Any], stack: tuple[str, ...]) -> Any:
        if btype in stack:
            chain = " → ".join((*stack, btype))
            self.fail(SpecError("G006", f"block '{btype}' contains itself ({chain}), so it would never end",
                                f"remove {{type: {btype}}} from block '{stack[-1]}', or use repeat: N to stack "
                                "a block several times", loc=item.value_loc("type")))
            self.broken.add(id(item))
            return item
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise ExpansionLimit(SpecError(
                "X005", f"blocks are nested more than {MAX_BLOCK_DEPTH} deep here ({' → '.join(stack[:3])} → … → "
                f"{btype})", "flatten the blocks: a block may use other blocks, but not this many levels down",
                loc=item.value_loc("type")))
        block = self.blocks[btype]
        defaults: PosDict = block.get("args") or PosDict()
        args: dict[str, Any] = dict(defaults)
        ok = True
        for k, v in item.items():
            if k in LAYER_META and k not in defaults:  # a block may take an argument named init
                continue
            if k not in defaults:
                close = difflib.get_close_matches(str(k), [str(a) for a in defaults], n=1)
                known = ", ".join(map(str, defaults)) or "none"
                declare = (f"to add one, give block '{btype}' args: {{{k}: {_yaml_value(v)}}} (the value there is "
                           "its default)")
                hint = (f"did you mean '{close[0]}'? (or {declare})" if close else
                        f"its arguments are: {known}; {declare}")
                self.fail(SpecError("V001", f"block '{btype}' has no argument '{k}'", hint, loc=item.key_loc(k)))
                ok = False
            args[k] = v
        for k, v in args.items():
            if deferred_in(v) is not None:
                self.fail(_misplaced(f"the argument {k} of block '{btype}'", item.value_loc(k)))
                ok = False
        if not ok:
            self.broken.add(id(item))
            return item
        group = _group(item, "block", btype)
        group.args = args
        inner_env = {**self.env, **args, _IN_BLOCK: btype}
        # kept a PosList: its `omitted` names explain a reference to a layer a when: left out
        group.children = self.expand_items(block["layers"], inner_env, (*stack, btype), block.value_loc("layers"))
        group.output = block.get("output")
        group.inputs = list(block.get("inputs") or [BLOCK_INPUT])
        return group

    # -- expanded size -------------------------------------------------------------------------
    def _spend(self, n: int, loc: Location | None, what: str = "") -> None:
        """Count ``n`` more expanded items; past MAX_LAYERS the expansion stops here. (The
        estimate in check_size refuses most specs before this; a block whose arguments
        change its repeat counts can still get here.)"""
        self.count += n
        if self.count > MAX_LAYERS:
            here = f"{what} makes the model" if what else "the model"
            raise ExpansionLimit(SpecError(
                "X005", f"{here} more than {MAX_LAYERS:,} layers once repeat: and blocks are expanded",
                f"the limit is {MAX_LAYERS:,} layers; repeat fewer times or use fewer blocks", loc=loc))

    def check_size(self, items: Any) -> None:
        """Refuse, before anything is expanded, layers that would expand past MAX_LAYERS, at
        the item that makes them so large: counted through repeat: and block uses
        multiplicatively, each block once (per set of arguments), so that blocks using the
        next one twice, 40 deep, are counted in 40 steps rather than 2**40."""
        if not isinstance(items, PosList):
            return
        sizes = [self._item_size(item, self.env, ()) for item in items]
        total = sum(sizes)
        if total <= MAX_LAYERS:
            return
        i = max(range(len(sizes)), key=sizes.__getitem__)
        item, size = items[i], sizes[i]
        if size * 10 < total or not isinstance(item, PosDict):  # no single culprit: a long list
            raise ExpansionLimit(SpecError(
                "X005", f"the model has {total:,} layers, over the limit of {MAX_LAYERS:,}",
                "a real network has hundreds or a few thousand layers; is a part of the spec generated by "
                "mistake?", loc=items.item_loc(min(len(items) - 1, MAX_LAYERS))))
        t = item.get("type")
        what = f"block '{t}'" if isinstance(t, str) and t in self.blocks else f"this {t}" if isinstance(t, str) \
            else "this item"
        if "repeat" in item:
            n = self._count(item["repeat"], self.env)
            what = f"repeat: {n:,} of {what}"
        raise ExpansionLimit(SpecError(
            "X005", f"{what} expands to more than {MAX_LAYERS:,} layers, the limit" if size > MAX_LAYERS else
            f"{what} makes the model {total:,} layers, over the limit of {MAX_LAYERS:,}",
            "repeat fewer times, or make blocks use each other fewer times; a real network has hundreds or a "
            "few thousand layers", loc=item.value_loc("repeat") if "repeat" in item else item.value_loc("type")))

    def _item_size(self, item: Any, env: dict[str, Any], stack: tuple[str, ...]) -> int:
        if not isinstance(item, PosDict):
            return 1
        if self._count(item.get("when", True), env) == 0:
            return 0
        t = item.get("type")
        size = 1
        if isinstance(t, str) and t in self.blocks and t not in stack and len(stack) < MAX_BLOCK_DEPTH:
            size += self._block_size(t, item, env, stack)
        if "repeat" in item:
            size = 1 + self._count(item["repeat"], env) * size
        return size

    def _block_size(self, name: str, use: PosDict, env: dict[str, Any], stack: tuple[str, ...]) -> int:
        block = self.blocks[name]
        args = dict(block.get("args") or {})
        for k, v in use.items():
            if k in args and (k not in LAYER_META or k == "init"):
                with contextlib.suppress(SpecError):  # reported when the item is expanded
                    args[k] = self.subst(v, env, None)
        try:
            key: Any = (name, tuple(sorted((str(k), v) for k, v in args.items())))
            hash(key)
        except TypeError:  # a list or mapping argument
            key = None
        if key is not None and key in self._sizes:
            return self._sizes[key]
        inner = {**self.env, **args}
        total = 0
        for item in block["layers"]:
            total += self._item_size(item, inner, (*stack, name))
            if total > MAX_LAYERS:  # enough to refuse; the exact size is not needed
                break
        if key is not None:
            self._sizes[key] = total
        return total

    def _count(self, value: Any, env: dict[str, Any]) -> int:
        """A repeat: (or when:) value as the expansion will see it: a bad one counts as 1 (it
        is reported when expanded), a false condition as 0."""
        if has_ref(value):
            try:
                value = substitute(value, env, None)
            except SpecError:
                return 1
        if value is False or (value == 0 and not isinstance(value, bool)):
            return 0
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


class ExpansionLimit(Exception):
    """The expansion is over a limit: it stops, and the layers are not checked further."""

    def __init__(self, err: SpecError):
        super().__init__(err.message)
        self.err = err


# The document's settings sections, all of whose keys have defaults or are checked by validation:
# --set may write into one the spec leaves out (--set export.opset=17, --set train.data.source=iris).
SETTINGS = ("loss", "optimizer", "scheduler", "lora", "train", "export", "lint", "init")


def _new_section(parent: Any, keys: list[str], i: int) -> PosDict | None:
    """The empty mapping --set creates for keys[i] inside a settings section (or as one), or None
    where that would hide a mistake: a list, a layer, or a near-miss of a key that is there."""
    if not isinstance(parent, PosDict) or keys[0] not in SETTINGS:
        return None
    if difflib.get_close_matches(keys[i], [str(k) for k in parent], n=1, cutoff=0.8):
        return None  # a typo of an existing key: _bad_path says "did you mean"
    section = PosDict(loc=CLI)
    parent[keys[i]] = section
    parent.key_locs.setdefault(keys[i], CLI)
    parent.value_locs[keys[i]] = CLI
    return section


def _bad_path(path: str, prefix: str, key: str, parent: Any) -> SpecError:
    """--set a.b.c=v where the spec has no a.b: say which part is missing and what is there."""
    if isinstance(parent, PosList):
        return SpecError("X003", f"--set {path}: the list has no item {key}",
                         f"use an index from 0 to {len(parent) - 1}" if parent else "the list is empty", loc=CLI)
    if isinstance(parent, PosDict) and key in parent:
        return SpecError("X003", f"--set {path}: '{key}' is a value, not a section",
                         f"set it directly, e.g. --set {prefix}=...", loc=CLI)
    if isinstance(parent, PosDict):
        top = "." not in prefix  # the document itself: its settings sections may be set when left out
        names = [str(k) for k in parent] + ([s for s in SETTINGS if s not in parent] if top else [])
        close = difflib.get_close_matches(key, names, n=1)
        return SpecError("X003", f"--set {path}: the spec has no section '{key}' there",
                         f"did you mean '{close[0]}'?" if close else
                         f"sections there: {', '.join(map(str, parent)) or 'none'}" +
                         (f"; settings sections it may add: {', '.join(SETTINGS)}" if top else ""), loc=CLI)
    return SpecError("X003", f"--set {path}: '{key}' is not a section of the spec",
                     "name an existing section, e.g. --set train.epochs=3", loc=CLI)


def _undefined(err: SpecError) -> str | None:
    """The variable an X001 (undefined variable) error is about."""
    m = re.match(r"undefined variable '([^']*)'", err.message) if err.code == "X001" else None
    return m.group(1) if m else None


def _plain(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else repr(v) if isinstance(v, str) else str(v)


def _names_in(value: Any) -> list[str]:
    """The distinct names in ``inputs: "left, right"`` or ``[left, left, right]``: what was meant."""
    parts = value.replace(",", " ").split() if isinstance(value, str) else value if isinstance(value, list) else []
    return list(dict.fromkeys(str(p) for p in parts if isinstance(p, str) and p))


def _group(item: PosDict, kind: str, block: str | None) -> Group:
    g = Group({k: v for k, v in item.items() if k in LAYER_META and k != "repeat"}, loc=item.loc)
    g.key_locs = dict(item.key_locs)
    g.value_locs = dict(item.value_locs)
    g.kind = kind
    g.block = block
    g.children = []
    g.args = {}
    g.output = None
    g.inputs = [BLOCK_INPUT]
    if kind == "repeat":
        g["type"] = "repeat"
    return g


def expand(doc: Any, overrides: dict[str, Any], layer_types: set[str], file: str) -> Expanded:
    if not isinstance(doc, PosDict):
        raise SpecError("Y005", "a spec must be a mapping of sections (specc, inputs, layers, …)",
                        "start with 'specc: 1' on the first line", loc=Location(file, 1, 1))
    ex = _Expander(doc, overrides)
    out = doc.copy_with({})
    try:
        ex.apply_path_overrides()
        ex.load_vars()
        ex.load_blocks(layer_types)
        for key, value in doc.items():
            if key in ("blocks", "vars"):
                out[key] = value
            elif key == "layers":
                ex.check_size(value)
                out[key] = ex.expand_items(value, ex.env, (), doc.value_loc(key))
                if not isinstance(value, PosList):  # reported (Y005): not also "has 0 items"
                    ex.broken_sections.add(key)
            else:
                try:
                    out[key] = ex.subst(value, ex.env, doc.value_loc(key))
                except SpecError as err:
                    ex.fail(err)
                    ex.broken_sections.add(key)
                    out[key] = None
    except ExpansionLimit as limit:
        # The expansion stops: going on would take the time the limit exists to save, and
        # checking a model cut short would only report what follows from the cut.
        ex.diags.append(limit.err.diagnostic())  # listed however many errors came before it
        ex.broken_sections.update(str(k) for k in doc if k not in out)
        ex.broken_sections.add("layers")
        out.pop("layers", None)
    ex.count_unlisted()
    return Expanded(out, ex.env, ex.diags, ex.broken, ex.broken_sections)


def _yaml_value(v: Any) -> str:
    """A short YAML rendering of an argument's value, for a hint (the value given, as a default)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str) and v.replace("_", "").isalnum():
        return v
    return "..."
