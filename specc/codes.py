"""The one table of diagnostic codes. Codes are stable and never reused.

Prefixes follow the pipeline: ``Y`` load (YAML), ``X`` variables and expressions,
``V`` validation of the document, ``G`` graph wiring, ``S`` shapes, ``L`` lint.
``specc explain CODE`` prints the entry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str
    why: str = ""
    example: str = ""
    fix: str = ""


_TABLE = [
    # -- load -------------------------------------------------------------------------
    Code("Y001", "yaml-syntax", "The file is not valid YAML.",
         "specc cannot read a spec it cannot parse.", "layers: [ {type: ReLU}", "Close the bracket."),
    Code("Y002", "duplicate-key", "A key appears twice in the same mapping.",
         "YAML silently keeps the last value; the first one would be ignored without a word.",
         "{type: Conv2d, kernel_size: 3, kernel_size: 5}", "Remove one of the two keys."),
    Code("Y003", "yaml-too-large", "The file or its aliases expand beyond specc's limits.",
         "Alias bombs ('billion laughs') make a tiny file expand into gigabytes.",
         "a: &a [x, x]\nb: &b [*a, *a] ...", "Write the spec without deeply nested aliases."),
    Code("Y004", "yaml-tag", "A YAML tag such as !!python/object is used.",
         "Tags can construct arbitrary objects; specs are untrusted input.", "w: !!python/object:os.system",
         "Remove the tag; write plain values."),
    Code("Y005", "not-a-mapping", "The document (or a section) is not a mapping.",
         "A spec is a mapping of sections.", "- Conv2d", "Start with 'specc: 1' and 'layers:'."),
    Code("Y006", "file-not-found", "The spec file cannot be read.", "", "", "Check the path."),
    Code("Y007", "yaml-float-trap", "A value looks like a number but YAML reads it as text.",
         "'1e-3' is a string in YAML 1.1; specc reads it as 0.001 and warns when it cannot.", "", ""),
    # -- variables -------------------------------------------------------------------------
    Code("X001", "undefined-variable", "A ${...} expression names a variable that is not defined.",
         "The value cannot be computed.", "out_features: ${num_clases}", "Define it under vars: or fix the name."),
    Code("X002", "bad-expression", "A ${...} expression is not simple arithmetic.",
         "Only numbers, variables, + - * / // % ** and min/max/round are allowed; nothing is evaluated with eval.",
         "${__import__('os')}", "Use plain arithmetic."),
    Code("X003", "bad-override", "A --set override is malformed or names an unknown variable.",
         "", "--set hidden", "Write --set name=value with a name from vars:."),
    Code("X004", "expression-value", "An expression fails to evaluate (division by zero, too large).",
         "", "${hidden // 0}", "Fix the arithmetic."),
    # -- validation ------------------------------------------------------------------------
    Code("V001", "unknown-key", "A key is not part of the spec language here.",
         "A misspelt key would otherwise be ignored and a default silently used.",
         "{type: Conv2d, kernal_size: 3}", "Use the suggested key."),
    Code("V002", "missing-field", "A required field is missing.", "", "{type: Linear}",
         "Add the field (here out_features)."),
    Code("V003", "invalid-value", "A value has the wrong type or is out of range.", "",
         "{type: Dropout, p: 1.5}", "Use a value in the allowed range."),
    Code("V004", "unknown-layer-type", "The layer type is not in specc's catalogue.", "",
         "{type: Conv2D2}", "Use the suggested type; `specc layers` lists them all."),
    Code("V005", "unsupported-version", "The spec declares a version of the language specc does not know.",
         "", "specc: 7", "Write specc: 1."),
    Code("V006", "bad-name", "A name cannot be used as a layer, block or input name.",
         "Names become Python identifiers in generated code.", "name: 'my layer'",
         "Use letters, digits and underscores, starting with a letter."),
    Code("V007", "duplicate-name", "Two layers (or a layer and an input) share a name.",
         "from: references would be ambiguous.", "", "Rename one of them."),
    Code("V008", "unknown-section-value", "A loss, optimizer, scheduler or data source is not known.",
         "", "optimizer: {type: Adamm}", "Use the suggested name."),
    # -- graph -------------------------------------------------------------------------------
    Code("G001", "unknown-reference", "from: or outputs: names something that does not exist.",
         "", "{type: Add, from: [mian, input]}", "Use the suggested name."),
    Code("G002", "forward-reference", "A layer reads from a layer defined after it (or itself).",
         "Layers run in the order written; a later layer has no value yet, and a cycle never has one.",
         "", "Move the layer after the one it reads from."),
    Code("G003", "wrong-arity", "A layer gets the wrong number of inputs.", "",
         "{type: Add, from: x}", "Give Add/Concat/Mul two or more inputs."),
    Code("G004", "ambiguous-input", "The first layer has several inputs to choose from.",
         "With several inputs, specc cannot guess which one a layer reads.", "", "Add from: <input name>."),
    Code("G005", "unused-input", "An input is never read by any layer.", "", "", "Remove it or wire it in."),
    Code("G006", "block-recursion", "A block uses itself (directly or through another block).",
         "The expansion would never end.", "", "Break the cycle."),
    Code("G007", "dead-layer", "A layer's output is never used by any output.", "", "",
         "Remove the layer, or list it under outputs:."),
    # -- shapes ------------------------------------------------------------------------------
    Code("S001", "size-mismatch", "A size given in the spec does not match the incoming tensor.",
         "PyTorch would fail at the first forward with a matmul or conv error.",
         "{type: Linear, in_features: 1000} after a flatten of 18432", "Use the size in the hint, or omit it."),
    Code("S002", "non-positive-size", "A layer would produce a dimension of size zero or less.",
         "The input is too small for this kernel/stride/padding.", "", "Pad more, or downsample less."),
    Code("S003", "wrong-rank", "A layer receives a tensor with the wrong number of dimensions.",
         "Conv2d needs (N, C, H, W); Linear needs at least one dim.", "",
         "Add a Flatten/Reshape, or use the right layer."),
    Code("S004", "not-divisible", "A size must divide another and does not.",
         "Grouped convolutions and attention heads split channels evenly.", "", "Change one of the sizes."),
    Code("S005", "symbolic-size", "A layer needs a fixed size but the incoming size depends on a symbolic dim.",
         "A Linear after flattening a variable-length sequence cannot have a fixed in_features.",
         "", "Pool to a fixed size first (e.g. AdaptiveAvgPool1d) or fix the dim in inputs:."),
    Code("S006", "shape-merge", "Tensors merged by Add/Mul/Concat have incompatible shapes.", "", "",
         "Make the branches produce the same shape (e.g. a 1x1 conv on the shortcut)."),
    Code("S007", "dtype-mismatch", "A layer receives the wrong data type (token ids vs floats).", "", "",
         "Embed integer tokens first, or declare the input's dtype."),
    Code("S008", "bad-axis", "A dim/axis/permutation does not fit the tensor's rank.", "", "", "Use a valid axis."),
    Code("S009", "reshape-size", "A reshape's target does not hold the same number of elements.", "", "",
         "Use -1 for one dim to let specc infer it."),
    Code("S010", "unprovable-equal", "Two symbolic sizes could not be proven equal.", "", "",
         "Check that both branches reduce the size the same way."),
    # -- lint --------------------------------------------------------------------------------
    Code("L001", "softmax-before-ce", "The model ends in Softmax/LogSoftmax but the loss already applies it.",
         "CrossEntropyLoss applies log-softmax itself; softmax twice flattens gradients and slows learning.",
         "layers: [..., {type: Softmax}]\nloss: {type: CrossEntropyLoss}", "Remove the final Softmax."),
    Code("L002", "dropout-at-end", "Dropout is the last layer before the output.",
         "Dropout on the logits adds noise to the prediction itself.", "", "Move dropout before the last Linear."),
    Code("L003", "sigmoid-before-bce-logits", "The model ends in Sigmoid but the loss is BCEWithLogitsLoss.",
         "The loss applies a sigmoid itself.", "", "Remove the Sigmoid or use BCELoss."),
    Code("L004", "bias-before-norm", "A conv/linear with bias feeds straight into a BatchNorm.",
         "BatchNorm subtracts the mean, so the bias is wasted parameters.", "", "Set bias: false."),
    Code("L005", "activation-after-logits", "ReLU after the final Linear clips the logits.",
         "Negative logits are meaningful for classification and regression.", "", "Remove the final activation."),
    Code("L006", "bidirectional-last-step", "A bidirectional RNN's last step is taken from the sequence.",
         "out[:, -1] holds the backward direction's *first* step.", "", "Use output: last or final_hidden."),
    # -- internal ----------------------------------------------------------------------------
    Code("E999", "internal-error", "specc itself failed; please report it.", "", "", ""),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
assert len(CODES) == len(_TABLE), "duplicate code in the table"
