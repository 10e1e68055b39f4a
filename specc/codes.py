"""The one table of diagnostic codes. Codes are stable and never reused.

Prefixes follow the pipeline: ``Y`` load (YAML), ``X`` variables and expressions,
``V`` validation of the document, ``G`` graph wiring, ``S`` shapes, ``L`` lint, ``T`` training
(the loss, optimizer and data against the model; data problems are found by `specc check`, which
reads the data files as training does, and by `specc train` before the first epoch), ``U`` what a
later stage (build, forward, export, train) cannot do with a spec that is otherwise well-formed.
``specc explain CODE`` prints the entry: what it means, why it matters, an example of
the mistake and the fix.  A lint code's entry here is its code and name only: the rule's
module docstring is its documentation (``specc.lint.docs.catalogue()`` gives every code
documented), so the text is written once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str  # what it means ("What it does" for a lint rule)
    why: str  # why it is a problem
    example: str  # a spec fragment that triggers it
    fix: str  # what to write instead


@dataclass(frozen=True)
class LintCode:
    """A lint rule's line in the table: its code and name. The rule's module docstring
    (specc/lint/rules/) is its documentation, read by :mod:`specc.lint.docs`."""

    code: str
    name: str


_TABLE: list[Code | LintCode] = [
    # -- load -------------------------------------------------------------------------------
    Code("Y001", "yaml-syntax", "The file is not valid YAML.",
         "specc cannot read a spec it cannot parse; the message says where the parser gave up, which is often "
         "just after the real mistake (an unclosed bracket, a tab, a missing space after ':').",
         "layers:\n  - {type: Conv2d, out_channels: 16, kernel_size: 3\n  - {type: ReLU}",
         "Close the bracket or quote the message names; indent with spaces only; write 'key: value' with a "
         "space after the colon."),
    Code("Y002", "duplicate-key", "A key appears twice in the same mapping.",
         "Plain YAML keeps the last value without a word, so the first one would be silently ignored and the "
         "spec would not mean what it says.",
         "- {type: Conv2d, out_channels: 16, kernel_size: 3, kernel_size: 5}",
         "Keep the one you mean and delete the other."),
    Code("Y003", "yaml-too-large", "The file, or what its aliases expand to, is beyond specc's limits.",
         "Alias bombs ('billion laughs') make a few lines expand into gigabytes; specc stops counting at a "
         "fixed number of values and nesting levels, and refuses files over 2 MB, so a check stays instant.",
         "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, ...]",
         "Write the spec without deeply nested aliases; keep data (weights, datasets) out of the spec file."),
    Code("Y004", "yaml-tag", "A YAML tag such as !!python/object is used.",
         "Tags can make a YAML loader construct arbitrary objects or run commands; a spec is untrusted input, "
         "so specc never builds anything from a tag.",
         "out_features: !!python/object/apply:os.system [\"echo pwned\"]",
         "Remove the tag and write a plain number, text, list or mapping."),
    Code("Y005", "not-a-mapping", "The document, or a section or layer in it, is not the mapping it should be.",
         "A spec is one mapping of sections (specc, inputs, layers, …) and each layer is a mapping with a type; "
         "an empty file, several '---' documents or a bare word where a layer belongs cannot be read as one.",
         "layers:\n  - Linear",
         "Write one document per file, starting with 'specc: 1', and each layer as - {type: Linear, "
         "out_features: 10}."),
    Code("Y006", "file-not-found", "The spec file cannot be read.",
         "The path does not exist, is not readable, or the file is not UTF-8 text.",
         "specc check specs/mnits.yaml",
         "Check the path, and save the file as UTF-8."),
    Code("Y007", "yaml-float-trap", "A value looks like a number but YAML 1.1 would read it as text (reserved).",
         "In YAML 1.1, '1e-3' (no dot) is a string and '010' is octal 8. specc reads scalars with YAML 1.2 core "
         "rules instead, so 1e-3 is 0.001, 010 is 10 and yes/no/on stay text; this code is kept for a future "
         "warning and is not raised today.",
         "optimizer: {type: Adam, lr: 1e-3}",
         "Nothing to do in specc; quote a value ('010') when you mean text."),
    # -- variables --------------------------------------------------------------------------
    Code("X001", "undefined-variable", "A ${...} expression names a variable that is not defined.",
         "The value cannot be computed; usually a typo in the name, or a variable used in a block without being "
         "one of the block's args.",
         "vars: {num_classes: 10}\nlayers:\n  - {type: Linear, out_features: \"${num_clases}\"}",
         "Use the suggested name, or define the variable under vars: (or under the block's args:)."),
    Code("X002", "bad-expression", "A ${...} expression is not simple arithmetic.",
         "Expressions are evaluated by specc itself, never with eval: only numbers, variables, + - * / // % **, "
         "parentheses and min/max/abs/round/int/ceil/floor are allowed, so a spec cannot run code.",
         "out_features: \"${__import__('os').getpid()}\"",
         "Write plain arithmetic on variables, e.g. \"${hidden * 2}\"."),
    Code("X003", "bad-override", "A --set override is malformed or names something the spec does not have.",
         "An override that silently set nothing would make the run differ from what was asked.",
         "specc check model.yaml --set hiden=256",
         "Write --set name=value with a name from vars:, or a key path such as --set train.epochs=3."),
    Code("X004", "expression-value", "An expression cannot be evaluated: division by zero, a huge power, "
         "arithmetic on text.",
         "The arithmetic is well-formed but has no sensible value with the variables as they are.",
         "vars: {width: 64, groups: 0}\nlayers:\n  - {type: Linear, out_features: \"${width // groups}\"}",
         "Change the variables (the hint shows their values) or the arithmetic."),
    # -- validation -------------------------------------------------------------------------
    Code("V001", "unknown-key", "A key is not part of the spec language where it is written.",
         "A misspelt key would otherwise be ignored and the default silently used: kernal_size: 5 would give a "
         "model with kernel_size 3.",
         "- {type: Conv2d, out_channels: 16, kernal_size: 3}",
         "Use the suggested key; `specc layers --format json` lists every layer's parameters."),
    Code("V002", "missing-field", "A required field or section is missing.",
         "specc cannot guess sizes that only the author knows, such as a Linear's out_features.",
         "- {type: Linear}",
         "Add the field; the hint says what kind of value it takes, e.g. out_features: 10."),
    Code("V003", "invalid-value", "A value has the wrong type or is out of range.",
         "PyTorch would fail later (or worse, accept it): a dropout probability of 1.5, a negative learning "
         "rate or text where a size belongs.",
         "- {type: Dropout, p: 1.5}\noptimizer: {type: Adam, lr: -1}",
         "Use a value of the kind and range the message states; the hint shows the default or an example."),
    Code("V004", "unknown-layer-type", "The layer type is not in specc's catalogue.",
         "Layer types resolve through an explicit registry (PyTorch names, plus Keras aliases such as Dense); "
         "a typo or a wrong case cannot be guessed safely.",
         "- {type: Lienar, out_features: 10}",
         "Use the suggested type; `specc layers` lists them all."),
    Code("V005", "unsupported-version", "The spec declares a version of the language this specc does not read.",
         "A spec written for another version may mean something different here.",
         "specc: 2",
         "Write specc: 1, or use the specc release that reads that version."),
    Code("V006", "bad-name", "A name cannot be used for a layer, block, input, output or model.",
         "Names become Python identifiers in the generated code: spaces, keywords (class), dunders (__init__), "
         "names nn.Module already has (forward, to) and Unicode look-alikes (ﬁlter, which Python silently "
         "turns into filter) would break it or shadow something.",
         "- {type: Linear, out_features: 10, name: my layer}",
         "Use ASCII letters, digits and _, starting with a letter; the hint suggests a name."),
    Code("V007", "duplicate-name", "Two layers (or a layer and an input, or two outputs) share a name.",
         "from: and outputs: references would be ambiguous, and the generated module would have one attribute "
         "for two layers; an ONNX model needs a distinct name for every input and output.",
         "- {type: Linear, out_features: 64, name: fc}\n- {type: Linear, out_features: 10, name: fc}",
         "Give every layer and input its own name."),
    Code("V008", "unknown-section-value", "A loss, optimizer, scheduler or data source is not one specc knows.",
         "Training code is generated from these names; a misspelt one cannot be guessed safely.",
         "optimizer: {type: Adamm, lr: 0.001}",
         "Use the suggested name (PyTorch's spelling: Adam, CrossEntropyLoss, StepLR)."),
    # -- validation: LoRA adapters ----------------------------------------------------------
    Code("V030", "lora-target-unknown", "A lora target names no layer of the model.",
         "Adapters go on the layers the targets name; a misspelt name would leave the layer without an adapter, "
         "and with every base weight frozen nothing it was meant for would train.",
         "layers:\n  - {type: Linear, out_features: 10, name: fc1}\nlora: {rank: 8, targets: [fc]}",
         "Use the layer's name: (a layer inside a block by its path, e.g. enc.proj, or by its own name to "
         "adapt it in every instance); `specc summary` lists the names."),
    Code("V031", "lora-target-type", "A lora target is not a Linear, attention or transformer-encoder layer.",
         "specc puts low-rank adapters on the weight matrix of a Linear, on the query/key/value and output "
         "projections of a MultiheadAttention, and on those and the feed-forward Linears of every layer of a "
         "TransformerEncoderLayer or TransformerEncoder; other layers (convolutions, norms) have no such matrix, "
         "and a block is named through the layers inside it.",
         "layers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 3, name: conv}\nlora: {rank: 4, targets: "
         "[conv]}",
         "Name Linear, MultiheadAttention or TransformerEncoder(Layer) layers under targets: (inside a block, "
         "by their own names), or give the layer trainable: false/true instead."),
    # -- LoRA, review of issue 9 ----------------------------------------------------------------
    Code("V032", "lora-rank-above-useful", "The LoRA rank is above the rank any adapted weight's update can "
         "have (a warning).",
         "An adapter's update B·A on a weight (out x in) has rank at most min(in, out). A rank above that for "
         "every target trains rank * (in + out) parameters per weight that can express nothing more: the same "
         "updates come from a lower rank at a fraction of the cost.",
         "layers:\n  - {type: Linear, out_features: 16, name: fc}\nlora: {rank: 64, targets: [fc]}",
         "Lower rank to the number the message gives (or below); alpha / rank scales the update, so scale "
         "alpha with it."),
    Code("V160", "lora-scale-vanishing", "LoRA's alpha / rank scales the adapters' updates below 1/16 (a warning).",
         "An adapted weight is W + (alpha / rank) B·A with B starting at zero. Adam and its kind move B by about "
         "lr per step whatever its gradient, so the update reaching the weight is alpha / rank times the one at a "
         "scale of 1 (under SGD, whose gradient is scaled too, its square). alpha written as the scale itself "
         "(alpha: 1 at rank 64) trains the adapters 64 times slower: the fine-tune ends near the base model and "
         "nothing fails. Published recipes use 0.25 (QLoRA's alpha 16 at rank 64) to 2 (alpha 16 at rank 8).",
         "lora: {rank: 64, alpha: 1, targets: [q_proj, v_proj]}",
         "Set alpha to the rank (a scale of 1) or twice it, or to 16 at rank 64 as QLoRA does."),
    Code("V033", "lora-target-trained-in-full", "A lora target is also marked trainable: true.",
         "With LoRA the base model is frozen except the layers marked trainable: true, which train in full (a "
         "new task's head). A layer that is both would train its weight directly and through a low-rank "
         "adapter at once: the adapter adds parameters and nothing else, and merging it is meaningless.",
         "layers:\n  - {type: Linear, out_features: 2, name: head, trainable: true}\nlora: {rank: 4, targets: "
         "[head]}",
         "Choose one: remove trainable: true (the adapter trains the layer) or remove it from targets (it "
         "trains in full)."),
    # -- graph ------------------------------------------------------------------------------
    Code("G001", "unknown-reference", "from: or outputs: names something that does not exist.",
         "The layer would have no input (or the model no output); usually a typo, or a layer that was never "
         "given that name:.",
         "- {type: Conv2d, out_channels: 16, kernel_size: 3, name: main}\n- {type: Add, from: [mian, image]}",
         "Use the suggested name, or give the layer you mean a name: and refer to that."),
    Code("G002", "forward-reference", "A layer reads from a layer defined after it, or from itself.",
         "Layers run in the order written: a later layer has no value yet, and a cycle never has one.",
         "- {type: Add, from: [a, b]}\n- {type: Linear, out_features: 32, name: b}",
         "Move the layer below the one it reads from."),
    Code("G003", "wrong-arity", "A layer gets the wrong number of inputs.",
         "Add, Mul and Concat merge two or more tensors; most other layers take exactly one.",
         "- {type: Add}",
         "List the inputs with from: [a, b] for a merge; give a one-input layer a single from:."),
    Code("G004", "ambiguous-input", "The first layer does not say which of several inputs it reads.",
         "With one input, layers chain from it; with several, specc cannot guess which one you meant.",
         "inputs:\n  image: [B, 3, 32, 32]\n  meta: [B, 4]\nlayers:\n  - {type: Conv2d, out_channels: 8, "
         "kernel_size: 3}",
         "Add from: <input name> to the first layer (and to the first layer of each other branch)."),
    Code("G005", "unused-input", "An input is never read by any layer.",
         "The exported model would still require it, and callers would have to feed data that is thrown away.",
         "inputs:\n  image: [B, 3, 32, 32]\n  mask: [B, 1, 32, 32]   # nothing reads mask",
         "Remove the input, or read it with from: in the layer that needs it."),
    Code("G006", "block-recursion", "A block contains itself, directly or through another block.",
         "Expanding it would never end.",
         "blocks:\n  Ping: {layers: [{type: Pong}]}\n  Pong: {layers: [{type: Ping}]}",
         "Remove the inner use of the block; to stack a block N times, use {type: Block, repeat: N}."),
    Code("G007", "dead-layer", "A layer's output never reaches any output of the model.",
         "Its parameters are trained by nothing and its compute is wasted; often a from: that skips a layer by "
         "mistake.",
         "- {type: Linear, out_features: 64, name: a}\n- {type: Linear, out_features: 10, from: features}",
         "Remove the layer, read it from a later layer, or list it under outputs:."),
    # -- shared and tied weights (use:, tie:) ---------------------------------------------------
    Code("G008", "shared-module-misfit", "A use: item applies a layer or block to an input it was not built for.",
         "use: calls the module built for its first input again, with the same weights: a Linear built for 64 "
         "features cannot take 32, and PyTorch would fail in forward.",
         "- {type: Linear, out_features: 16, from: a, name: enc}   # a: [B, 64]\n- {use: enc, from: b}"
         "   # b: [B, 32]",
         "Feed it a tensor shaped like its first input, or write a layer with weights of its own (type: ...)."),
    Code("G009", "tied-shape-mismatch", "tie: names a layer whose weight has another shape.",
         "Tied layers hold one tensor: a Linear's (out_features, in_features) weight must be the Embedding's "
         "(num_embeddings, embedding_dim) table.",
         "- {type: Embedding, num_embeddings: 1000, embedding_dim: 64, name: embed}\n- {type: Linear, "
         "out_features: 999, tie: embed}",
         "Set out_features to num_embeddings and feed the Linear embedding_dim features."),
    Code("G010", "shared-target-kind", "use: or tie: names something that has no weights to share.",
         "An input has no weights; tie: shares a weight matrix, which only an Embedding or a Linear has.",
         "- {type: Linear, out_features: 1000, tie: tokens}   # tokens is an input",
         "Name the layer whose weights it shares: an Embedding (or a Linear) written above it."),
    Code("G011", "input-without-batch", "Every dim of an input is a fixed number, so its first is the batch.",
         "specc reads dim 0 of each input as the batch. An input of fixed sizes alone, [28, 28, 1] as Keras' "
         "input_shape writes one sample, or [1, 3, 224, 224] as a dummy input for torch.onnx.export, makes a "
         "model that takes exactly that many samples at a time: 28 images of 28x1, or one image. Training, "
         "predicting and the exported model are then held to that batch. Beside inputs that start with the batch "
         "symbol, a fixed input is no batch of its own but one tensor every sample reads (a lookup table): the "
         "warning says so, and lint: {ignore: [G011]} keeps it where that is meant.",
         "inputs: {image: [28, 28, 1]}",
         "Declare the batch as a symbol: image: [B, 28, 28, 1] for samples of (28, 28, 1), or [B, 3, 224, 224] "
         "for any number of images."),
    Code("G014", "reads-past-left-out-branch", "A layer without from: reads the item above a branch that a false "
         "when: left out: a warning.",
         "Without from: a layer reads the item above it, and a false when: leaves an item out as if it were not "
         "written. When the item left out had a from: of its own (a shortcut's projection reading the block's "
         "input), the layer after it was written to read that branch; without it, it reads the layer above "
         "instead, often with shapes that still fit, and the model is silently wired another way (a shortcut "
         "BatchNorm normalising the main path instead of the input). Items left out that chain from the item "
         "above (when: ${use_bn}), or a merge that reads it, change nothing else and are not warned about.",
         "- {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1, name: main}\n- {type: Conv1d, from: "
         "input, out_channels: 8, kernel_size: 1, name: proj, when: \"${project}\"}\n- {type: BatchNorm1d, name: "
         "shortcut}   # project false: reads main, not input",
         "Write from: on the layer after it: the layer the branch read (from: input) if that is what it should "
         "read without the branch, or the layer above (from: main)."),
    Code("V040", "use-with-own-settings", "A use: item also sets a type, parameters or repeat:.",
         "use: applies a module that already exists; settings of its own would describe another module.",
         "- {use: encoder, from: image_b, out_features: 32}",
         "Remove the other keys (use:, from:, name:, ignore:, when: remain), or write a layer of its own."),
    Code("V041", "tie-unsupported-kind", "tie: is written on a layer with no weight matrix that can be tied.",
         "tie: shares a weight the way PyTorch ties an output projection to its embedding: on a Linear (or "
         "Embedding) only.",
         "- {type: Conv2d, out_channels: 8, kernel_size: 3, tie: embed}",
         "Put tie: on the output Linear, naming the Embedding."),
    # -- shapes -----------------------------------------------------------------------------
    Code("S001", "size-mismatch", "A size written in the spec does not match the incoming tensor.",
         "PyTorch would fail at the first forward pass with a matmul or conv shape error that does not say "
         "which layer or why.",
         "- {type: Flatten}                                 # (B, 128, 12, 12) -> (B, 18432)\n"
         "- {type: Linear, in_features: 9216, out_features: 128}",
         "Use the size in the hint (it shows where the number comes from, e.g. 18432 = 128·12·12), or leave "
         "the field out and specc infers it."),
    Code("S002", "non-positive-size", "A layer would produce a dimension of size zero or less.",
         "The input is too small for this kernel, stride and padding; PyTorch fails at runtime.",
         "inputs: {image: [B, 3, 8, 8]}\nlayers:\n  - {type: Conv2d, out_channels: 16, kernel_size: 3, stride: 2}"
         "\n  - {type: Conv2d, out_channels: 32, kernel_size: 5}",
         "Use the smaller kernel or larger padding the hint gives, or downsample less before this layer."),
    Code("S003", "wrong-rank", "A layer receives a tensor with the wrong number of dimensions.",
         "Conv2d needs (N, C, H, W), an RNN (N, T, F); giving flat features to a conv (or a feature map to a "
         "layer that expects them flat) fails at runtime or computes something else.",
         "inputs: {pixels: [B, 784]}\nlayers:\n  - {type: Conv2d, out_channels: 32, kernel_size: 3}",
         "Add a Flatten, Unflatten, Reshape or Permute, as the hint says, or use the layer for that rank."),
    Code("S004", "not-divisible", "A size must divide another and does not.",
         "Grouped convolutions split channels into equal groups; attention splits embed_dim into equal heads.",
         "- {type: Conv2d, out_channels: 32, kernel_size: 3, groups: 5}   # after 24 channels",
         "Use a value that divides evenly; the hint suggests one."),
    Code("S005", "symbolic-size", "A layer needs a fixed size, but the incoming size depends on a symbolic dim.",
         "A Linear after flattening a variable-length sequence would need a different in_features for every "
         "length, so no weight matrix fits.",
         "inputs: {signal: [B, 4, T]}\nlayers:\n  - {type: Conv1d, out_channels: 16, kernel_size: 5}\n"
         "  - {type: Flatten}\n  - {type: Linear, out_features: 10}",
         "Pool to a fixed size first (AdaptiveAvgPool1d, GlobalAvgPool, a mean over T), or give the dim a fixed "
         "size in inputs:."),
    Code("S006", "shape-merge", "Tensors merged by Add, Mul or Concat have incompatible shapes.",
         "Element-wise merges need equal (or broadcastable) shapes and Concat needs all dims but one equal; a "
         "residual shortcut that skips a downsampling step is the usual cause.",
         "- {type: Conv2d, out_channels: 128, kernel_size: 3, stride: 2, padding: 1, name: main}\n"
         "- {type: Add, from: [main, image]}",
         "Make the branches agree, e.g. a 1x1 Conv2d with the main path's stride and out_channels on the "
         "shortcut."),
    Code("S007", "dtype-mismatch", "A layer receives the wrong data type: token ids where floats belong, or "
         "the reverse.",
         "A Linear or Conv on int64 ids fails in PyTorch, and an Embedding needs integer indices.",
         "inputs: {tokens: {shape: [B, 16], dtype: int64}}\nlayers:\n  - {type: Linear, out_features: 32}",
         "Embed integer tokens first (Embedding), or declare the input with the dtype it really has."),
    Code("S008", "bad-axis", "A dim, axis or permutation does not fit the tensor's rank.",
         "PyTorch would raise an IndexError at runtime.",
         "inputs: {features: [B, 16]}\nlayers:\n  - {type: Softmax, dim: 2}",
         "Use an axis between -rank and rank-1 (the hint gives the range)."),
    Code("S009", "reshape-size", "A reshape's target does not hold the same number of elements as its input.",
         "A view cannot create or drop elements; PyTorch fails at runtime.",
         "inputs: {features: [B, 64]}\nlayers:\n  - {type: Reshape, shape: [4, 4, 5]}",
         "Make the product of the target equal the input's, or write -1 for one dim so specc infers it."),
    Code("S050", "reshape-reads-no-second-input", "A Reshape's shape (or an Unflatten's unflattened_size) reads a "
         "dim of a second input (like.size(i)) but the layer has one input.",
         "like.size(i) is the size of dim i of the tensor named second in from: [x, like], read at run time; "
         "with no second input there is nothing to read it from.",
         "inputs: {image: [B, 3, H, W]}\nlayers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 4, stride: 4, "
         "name: pe}\n  - {type: Flatten, start_dim: 2}\n  - {type: Reshape, shape: [B, 8, like.size(2), -1]}",
         "Name the tensor whose dims it reads as the second input: from: [flatten_1, pe]; or read the input's "
         "own dims as x.size(i)."),
    Code("S070", "computed-ids-past-table", "An Embedding looks up ids the model computed from the sequence "
         "(positions numbered by a CumSum or an ArgMax along it), and at this length they reach past its table.",
         "Position ids such as RoBERTa's cumsum(ids != pad) * (ids != pad) + pad grow with the sequence: a table "
         "of 514 rows takes 512 steps, and PyTorch raises an index error on the first longer batch.",
         "inputs: {ids: {shape: [B, 600], dtype: int64}}\nlayers:\n  - {type: Compare, op: ne, value: 1}\n"
         "  - {type: CumSum, dim: 1}\n  - {type: Embedding, num_embeddings: 514, embedding_dim: 16}",
         "Give the Embedding a row for every id the length reaches (num_embeddings: the largest id + 1), or feed "
         "shorter sequences; at a symbolic length check records the longest one the table takes."),
    Code("S071", "standardised-filter-of-one-value", "A convolution with weight_standardization has filters of "
         "one value each (one input channel per group and a kernel of 1).",
         "Weight standardisation (BiT's StdConv2d, NFNet's ScaledStdConv2d) subtracts each filter's mean over its "
         "own values and divides by their spread: a single value has none. PyTorch's batch_norm over the (1, "
         "filters, 1) weight raises 'Expected more than 1 value per channel when training' at the first forward, "
         "and the arithmetic itself would make every filter 0.",
         "inputs: {x: [B, 1, 28, 28]}\nlayers:\n  - {type: Conv2d, out_channels: 32, kernel_size: 1, "
         "weight_standardization: true}",
         "Remove weight_standardization from that layer, or give its filters more values (a larger kernel, more "
         "input channels per group)."),
    Code("S072", "local-window-cross-attention", "local_window on attention whose keys are not the queries' own "
         "steps (cross-attention over T queries and S keys).",
         "ModernBERT's local attention keeps the keys j with |i - j| <= local_window // 2 of query i: positions of "
         "one sequence. Across two sequences of different lengths the offsets mean nothing, and every query more "
         "than local_window // 2 steps past the keys' end has no key left: a softmax over nothing, which PyTorch's "
         "fused kernel and ONNX Runtime answer differently (a number and nan).",
         "inputs: {q: [B, T, 64], memory: [B, S, 64]}\nlayers:\n"
         "  - {type: MultiheadAttention, num_heads: 4, local_window: 8, from: [q, memory]}",
         "Put local_window on self-attention (from: [x]); cross-attention reads the whole memory."),
    Code("S074", "variance-of-too-few", "A Reduce takes a var or std with correction c over dims holding c values "
         "or fewer.",
         "The variance divides the sum of squared deviations by the count less the correction: with correction 1 "
         "(torch's default, the unbiased estimate) over one value that is 0 / 0, and PyTorch returns nan.",
         "inputs: {x: [B, 1, 8]}\nlayers:\n  - {type: Reduce, op: std, dim: 1}",
         "Use correction: 0 (the population's variance, unbiased=False, as RevIN and iTransformer take it), or "
         "reduce over dims of more values."),
    Code("S010", "unprovable-equal", "Two symbolic sizes could not be proven equal.",
         "Branches that reduce a symbolic length differently (e.g. padding on one side only) may disagree for "
         "some lengths, and a merge would then fail at runtime.",
         "inputs: {signal: [B, 8, T]}\nlayers:\n  - {type: Conv1d, out_channels: 8, kernel_size: 3, name: a}\n"
         "  - {type: Add, from: [a, signal]}",
         "Compute both sizes the same way (e.g. padding: 1 with kernel_size: 3 keeps T), or fix the dim in "
         "inputs:."),
    # -- area C (issue 12): Transformer decoders and causal masks --------------------------------
    Code("S022", "causal-cross-attention", "causal: true on attention whose keys are not the queries' own steps.",
         "A causal mask is (T, T): step t may read steps 0..t of the same sequence. Cross-attention reads "
         "another sequence of S steps, where 'later' has no meaning and the mask would not fit.",
         "inputs: {q: [B, 10, 16], kv: [B, 7, 16]}\nlayers:\n"
         "  - {type: MultiheadAttention, num_heads: 4, causal: true, from: [q, kv]}",
         "Put causal: true on self-attention (from: [x]) or on a decoder, whose causal mask covers the target "
         "only; cross-attention reads the whole memory."),
    Code("S023", "memory-width", "A Transformer decoder's memory has another feature width than its target.",
         "nn.TransformerDecoderLayer projects the target and the memory with one d_model; PyTorch fails at "
         "runtime when the encoder's output is narrower or wider.",
         "inputs: {tgt: [B, T, 64], memory: [B, S, 32]}\nlayers:\n"
         "  - {type: TransformerDecoderLayer, nhead: 4, from: [tgt, memory]}",
         "Give the encoder the decoder's d_model, or map the memory with a Linear of out_features d_model."),
    # -- export sizes against the model ---------------------------------------------------------
    Code("V070", "export-size-unused", "export: sizes: names no symbolic size of the inputs, or the batch (a warning).",
         "Such a size is never used: the export traces the model at other sizes than the spec says (a symbol "
         "renamed, an input given fixed sizes). The batch's size is export: batch_size:.",
         "inputs:\n  tokens: {shape: [B, T], dtype: int64}\nexport: {sizes: {L: 32}}",
         "Name a symbol of the inputs (T here); give the batch's size to batch_size:."),
    Code("V071", "export-size-refused", "An export: sizes: value is a size the model cannot take.",
         "The export traces and verifies the model at these sizes, and synthetic training data is made at "
         "them: a position table of max_len 5 traced at T = 32, or an image smaller than its kernels, "
         "fails there after check said ok.",
         "layers:\n  - {type: PositionalEncoding, max_len: 5}\nexport: {sizes: {T: 32}}",
         "Use the nearest size the hint gives, or change the layer that needs it (max_len: 32)."),
    Code("V072", "two-values-into-batchnorm", "Each training batch gives a BatchNorm two values per channel (a "
         "warning).",
         "While training, BatchNorm normalises each channel over the batch and the positions of its map. With two "
         "values, a and b, the normalised ones are (a - b) / |a - b| and its negative: +1 or -1 whatever the input, "
         "so the layer passes on only which of the two samples is larger, and where the two are close the "
         "gradient through the variance is multiplied by up to 1/sqrt(eps) (about 300). A deep network of such "
         "layers (RegNetX-400MF at batch_size 2 on 32x32 images, whose last maps are 1x1) reached gradients of "
         "1e20 and a nan loss at any lr.",
         "inputs:\n  image: [B, 3, H, W]\nlayers:\n  - {type: Conv2d, out_channels: 8, kernel_size: 3, stride: 32}\n"
         "  - {type: BatchNorm2d}\n...\ntrain: {batch_size: 2}\nexport: {sizes: {H: 32, W: 32}}",
         "Train with a larger batch_size (16 or more gives BatchNorm useful statistics), on larger inputs (the "
         "export sizes the synthetic data is made at), or normalise with a LayerNorm or GroupNorm."),
    Code("V038", "causal-and-attn-mask", "causal: true together with an attention mask in masks:.",
         "causal: true builds the attention mask in forward; a second one given in masks: would replace it "
         "or be ignored.",
         "inputs: {x: [B, T, 16], m: [T, T]}\nlayers:\n"
         "  - {type: TransformerEncoderLayer, nhead: 4, causal: true, masks: [attn], from: [x, m]}",
         "Keep one: drop 'attn' from masks: and the mask's input from from:, or set causal: false and pass "
         "the mask you want."),
    # -- area M (issue 12): MaxUnpool and a MaxPool's indices ----------------------------------------
    Code("S024", "unpool-indices", "MaxUnpool's second input is not the indices of a MaxPool of its rank.",
         "The indices are positions within each plane of the pool's input; only the pool that made them "
         "knows that plane. Other integers (a model input, a reshape or cast of the indices) put the values "
         "at arbitrary positions, or past the plane, where PyTorch fails when the model runs.",
         "inputs: {x: [B, 8, 6, 6], idx: {shape: [B, 8, 3, 3], dtype: int64}}\nlayers:\n"
         "  - {type: MaxPool2d, kernel_size: 2, from: x}\n"
         "  - {type: MaxUnpool2d, kernel_size: 2, from: [max_pool2d_1, idx]}",
         "Give the pool return_indices: true and read both of its outputs: from: [pool.values, pool.indices], "
         "with the MaxUnpool of the pool's rank."),
    Code("S025", "unpool-values-shape", "The values MaxUnpool puts back and their indices differ in shape.",
         "Each value goes to the position of its own index: PyTorch fails on values and indices of other "
         "shapes.",
         "inputs: {x: [B, 8, 6, 6]}\nlayers:\n"
         "  - {type: MaxPool2d, kernel_size: 2, return_indices: true, name: pool}\n"
         "  - {type: Conv2d, out_channels: 4, kernel_size: 1, from: pool.values, name: mid}\n"
         "  - {type: MaxUnpool2d, kernel_size: 2, from: [mid, pool.indices]}",
         "Unpool the pool's values, or what layers that keep their shape (the pool's channel count, a padded "
         "conv) made of them."),
    Code("S026", "unpool-size", "MaxUnpool's output is not the plane the pool's indices number (kernel_size, "
         "stride, padding or output_size unlike the pool's), or output_size is one PyTorch refuses.",
         "An index is h·W + w in the pool's input. Read in an output of another width it lands in another "
         "row and column, silently; beyond the output's last row PyTorch fails when the model runs. PyTorch "
         "accepts only output sizes within stride - 1 of the default (in - 1)·stride - 2·padding + "
         "kernel_size.",
         "inputs: {x: [B, 8, 5, 5]}\nlayers:\n"
         "  - {type: MaxPool2d, kernel_size: 2, return_indices: true, name: pool}\n"
         "  - {type: MaxUnpool2d, kernel_size: 2, from: [pool.values, pool.indices]}",
         "Give the unpool the pool's kernel_size, stride and padding, and output_size: the pool's input size "
         "(here [5, 5]); for a symbolic size, add the tensor the pool read as a third input: from: "
         "[pool.values, pool.indices, x]."),
    # -- training: the loss, optimizer and scheduler against the model ------------------------
    Code("T050", "loss-needs-log-probabilities", "KLDivLoss, NLLLoss or CTCLoss reads the model's output as "
         "log-probabilities, but the model does not end in LogSoftmax (over the class dim).",
         "PyTorch's KLDivLoss, NLLLoss and CTCLoss take log-probabilities. Given probabilities (after Softmax or "
         "Sigmoid) they optimise a different quantity and learn something wrong; given raw logits the loss has "
         "no lower bound and runs off to minus infinity (or NaN) without any error.",
         "layers:\n  - {type: Linear, out_features: 10}\n  - {type: Softmax, dim: 1}\nloss: {type: KLDivLoss}",
         "End the model in LogSoftmax over the class dim, or (KLDivLoss) keep the raw logits and set "
         "from_logits: true so the loss applies log_softmax itself."),
    Code("T051", "classes-not-at-class-dim", "A classification loss would read its classes from a dim that is "
         "not the classes.",
         "CrossEntropyLoss, NLLLoss and FocalLoss read the classes at dim 1. On a (B, T, K) output, the usual "
         "layout of a tagger or language model, that is T: the loss treats the sequence positions as classes, "
         "starts at ln T and trains on nonsense without any error.",
         "inputs: {tokens: [B, T, 32]}\nlayers:\n  - {type: Linear, out_features: 5}\n"
         "loss: {type: CrossEntropyLoss}",
         "Set class_dim: -1 in the loss (specc moves the classes to dim 1 before calling it), or add "
         "- {type: Permute, dims: [0, 2, 1]} so the model returns (B, K, T)."),
    Code("T052", "class-weight-length", "A per-class weight list (weight, alpha, pos_weight) does not have one "
         "entry per class.",
         "PyTorch checks the length only when the first batch reaches the loss, and fails mid-run with a "
         "traceback; a list that happens to broadcast weights the wrong classes without a word.",
         "layers:\n  - {type: Linear, out_features: 3}\nloss: {type: CrossEntropyLoss, weight: [1.0, 2.0]}",
         "Give one weight per class, in class order (the hint shows the count), or leave the list out."),
    Code("T053", "bce-needs-probabilities", "BCELoss reads probabilities, but the model does not end in Sigmoid.",
         "BCELoss takes values in [0, 1]; PyTorch stops the run with an error at the first output outside that "
         "range, and raw outputs are outside it at once.",
         "layers:\n  - {type: Linear, out_features: 1}\nloss: {type: BCELoss}",
         "Use BCEWithLogitsLoss on the raw output (more stable), or end the model in Sigmoid."),
    Code("T054", "class-dim-out-of-range", "The loss's class dim is not a dim of the model's output.",
         "A classification loss needs a batch dim and a class dim; an output of rank 1 (B,) or a class_dim past "
         "the output's rank has none, and PyTorch would fail at the first batch or read the batch as classes.",
         "layers:\n  - {type: Linear, out_features: 4}\nloss: {type: CrossEntropyLoss, class_dim: 2}",
         "Set class_dim to the dim that holds the classes (1 for (B, C), -1 for (B, T, C)), or reshape the "
         "output so it has one."),
    Code("T055", "needs-newer-torch", "The spec uses a PyTorch class that the installed torch does not have.",
         "The generated code would fail with an AttributeError when it builds the optimizer; specc says so "
         "before anything runs.",
         "optimizer: {type: Adafactor}      # with torch 2.4",
         "Install the PyTorch version the message names (pip install 'torch>=2.5'), or choose another type."),
    # -- training, review of issue 9 ------------------------------------------------------------
    Code("T056", "focal-loss-needs-logits", "FocalLoss reads raw logits, but the model ends in Softmax, Sigmoid "
         "or (binary) a log-space layer.",
         "specc's FocalLoss applies sigmoid (binary) or log_softmax (multiclass) to the model's output itself. "
         "After a Sigmoid or Softmax the probabilities are squashed a second time: they stay in a narrow band, "
         "the loss never gets near 0 and training stalls without any error. A binary focal loss after "
         "LogSigmoid or LogSoftmax reads values <= 0, so no prediction can ever pass 0.5.",
         "layers:\n  - {type: Linear, out_features: 1}\n  - {type: Sigmoid}\nloss: {type: FocalLoss}",
         "Remove the final Sigmoid/Softmax and give FocalLoss the raw logits; apply the sigmoid or softmax "
         "only where probabilities are needed, at inference."),
    # -- training, area R of issue 10 (loose ends of issues 8, 9 and 13) --------------------------
    Code("T057", "focal-alpha-degenerate", "A binary FocalLoss has alpha: 0 or alpha: 1, so one class gets no "
         "weight.",
         "A binary focal loss weights each positive by alpha and each negative by 1 - alpha. With alpha: 0 the "
         "positives add nothing to the loss (alpha: 1, the negatives), so the model learns one class only and "
         "can answer that class everywhere while the loss goes to 0.",
         "layers:\n  - {type: Linear, out_features: 1}\nloss: {type: FocalLoss, alpha: 0}",
         "Use an alpha strictly between 0 and 1: 0.25 as in the paper, 0.5 for equal weights, or leave alpha "
         "out (no class weighting)."),
    # -- training: the optimizer's learning rate (issue 11 round) ----------------------------------
    Code("T058", "learning-rate-out-of-range", "The optimizer's lr is so far from what that optimizer trains with "
         "that training cannot work: a warning.",
         "An adaptive optimizer (Adam, AdamW, RMSprop, ...) scales each step to about lr, so an lr hundreds of "
         "times its PyTorch default jumps the weights by that much every step: the loss explodes or the model "
         "collapses to a constant, with no error (lr: 1000 for 1.0e-3 is a common slip of the minus sign). SGD "
         "trains with lr up to about 1; far above that it diverges, unless train.grad_clip bounds each step to "
         "lr x grad_clip, small beside the weights of a large model (PyTorch's word_language_model: lr 20, "
         "grad_clip 0.25). Far below 1/10,000 of the default (1/100 for SGD and Adadelta, whose lr no "
         "fine-tuning recipe shrinks as Adam's; Keras' Adadelta defaults to 1/1,000 of PyTorch's 1.0), the "
         "weights barely move in any number of epochs.",
         "optimizer: {type: AdamW, lr: 1000}",
         "Use an lr near the optimizer's default (Adam 1e-3; SGD 0.01 to 0.1 with momentum); for a slip of the "
         "minus sign, the hint gives the value meant."),
    Code("T059", "scheduler-does-nothing", "A per-epoch lr schedule hardly acts within the epochs trained: "
         "a warning.",
         "StepLR with step_size 50 in a 10-epoch run, or MultiStepLR with every milestone past the last epoch, "
         "never changes the lr; CosineAnnealingLR with T_max 1000 over 10 epochs lowers it by a fraction of a "
         "percent (T_max is often written in batches, while the scheduler steps once per epoch). Training runs "
         "with the constant lr the schedule was meant to change, and nothing says so. The converse slip, a "
         "CosineAnnealingLR with interval: step whose T_max is no more than the epochs (T_max counted in epochs), "
         "is spent after T_max batches and, as PyTorch's cosine climbs back past T_max, swings the lr between lr "
         "and eta_min all run long. ReduceLROnPlateau lowers the lr after patience + 1 epochs without a better "
         "validation loss: never in a run that short, nor when early stopping on val_loss with no more patience "
         "ends the run first, nor to a min_lr at or above the lr (PyTorch only ever lowers it).",
         "scheduler: {type: StepLR, step_size: 50}\ntrain: {epochs: 10}",
         "Fit the schedule to the epochs trained (the hint gives a value), set interval: step to count batches, "
         "or drop the scheduler."),
    # -- mistakes people make, round 3 (helper b22) ---------------------------------------------------
    Code("T060", "bce-under-autocast", "BCELoss trains under mixed_precision: true.",
         "CUDA's autocast refuses torch.nn.BCELoss ('binary_cross_entropy ... unsafe to autocast'): in float16 a "
         "sigmoid rounds to exactly 1 from a logit of about 8, where log(1 - p) is -inf. Training on a GPU stops "
         "with a RuntimeError at its first batch (a CPU run, where specc keeps float32, would not show it).",
         "layers: [..., {type: Sigmoid}]\nloss: {type: BCELoss}\ntrain: {mixed_precision: true}",
         "End the model in its logits and use loss: {type: BCEWithLogitsLoss}, which applies the sigmoid itself "
         "in float32 (the fused, stable form); or train without mixed_precision."),
    Code("T094", "sparse-gradient-refused", "An Embedding with sparse: true is trained by an optimizer other than "
         "SGD or Adagrad, with weight decay on it, or under grad_clip.",
         "sparse: true makes the embedding's gradient a sparse tensor. Adam, AdamW, RMSprop and the others raise "
         "'does not support sparse gradients' at the first step; SGD's weight decay adds the dense weight to it "
         "('add(sparse, dense) is not supported'), Adagrad refuses weight_decay, and clip_grad_norm_ cannot take "
         "a sparse tensor's norm. The spec checks and builds; training stops at its first batch.",
         "inputs: {ids: {shape: [B, T], dtype: int64}}\nlayers:\n"
         "  - {type: Embedding, num_embeddings: 1000, embedding_dim: 32, sparse: true}\n"
         "  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 2}\n"
         "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam}",
         "Set sparse: false (a dense gradient), or train with SGD or Adagrad without weight_decay or grad_clip."),
    Code("T095", "one-hot-targets-regressed", "The targets are one-hot rows (a single 1 in each) and a regression "
         "loss (MSELoss, L1Loss, HuberLoss, SmoothL1Loss) trains on them: a warning.",
         "Keras' categorical targets with loss='mse' (or a classifier's labels one-hot encoded for a regression "
         "loss) train the model to output the rows' 0s and 1s as numbers: nothing makes it pick one class, the "
         "targets are standardised as measurements, and predict and evaluate answer values and errors instead of "
         "labels and accuracy.",
         "loss: {type: MSELoss}\ntrain: {data: {source: onehot.npz}}   # y: (N, 10) one-hot rows",
         "loss: {type: CrossEntropyLoss} on the raw outputs: it reads one-hot rows as the index of their 1."),
    Code("T096", "fill-under-autocast", "A MaskedFill writes a value past float16's range (such as -1e9) into "
         "values autocast computes in float16 under mixed_precision: true.",
         "masked_fill converts its value to the input's dtype and raises where it cannot: the scores of a MatMul "
         "or Linear are float16 under CUDA autocast, so -1e9 (the habit of many attention implementations) stops "
         "training at its first batch with 'value cannot be converted to type at::Half without overflow'. A CPU "
         "run, where specc keeps float32, would not show it.",
         "layers: [..., {type: MatMul, from: [q, k_t], name: scores},\n"
         "         {type: MaskedFill, from: [scores, causal], value: -1.0e9}]\ntrain: {mixed_precision: true}",
         "Write value: -65504 (float16's lowest) or -.inf, or train without mixed_precision."),
    Code("T061", "adam-betas-swapped", "Adam's betas have beta1 above beta2, such as [0.999, 0.9]: a warning.",
         "beta1 averages the gradient (momentum over about 1/(1 - beta1) steps), beta2 its square (the step "
         "size). Every recipe keeps beta1 below beta2 ([0.9, 0.999], GANs' [0.5, 0.999], LLMs' [0.9, 0.95]); "
         "swapped, the momentum remembers a thousand steps while the step size forgets after ten, Adam's "
         "convergence condition beta1^2 < beta2 fails, and training runs, slowly and unstably, with nothing said.",
         "optimizer: {type: Adam, betas: [0.999, 0.9]}",
         "Write the two in order, betas: [0.9, 0.999]."),
    Code("T062", "kl-mean-reduction", "KLDivLoss with reduction: mean: a warning.",
         "reduction: mean averages the pointwise terms over every element, the classes included, so the loss is "
         "the KL divergence divided by the number of classes, and its gradients are that much smaller, as if the "
         "lr were. PyTorch warns at run time that 'mean' is not the KL divergence; batchmean (sum over the "
         "classes, mean over the batch) is.",
         "loss: {type: KLDivLoss, reduction: mean}",
         "reduction: batchmean, specc's default for KLDivLoss."),
    Code("T063", "lr-schedule-grows", "StepLR, MultiStepLR or ExponentialLR with gamma above 1, or a cosine "
         "schedule whose eta_min is above the lr: a warning.",
         "gamma is the factor the scheduler multiplies the lr by at each step; written as what it divides by "
         "(gamma: 10 for 'a tenth'), the lr grows tenfold at each step instead, and training that started well "
         "diverges when it reaches an lr no model trains at. CosineAnnealingLR (and WarmRestarts) runs from the "
         "lr to eta_min: an eta_min copied from a recipe of a larger lr is where the lr climbs to.",
         "scheduler: {type: StepLR, step_size: 10, gamma: 10}",
         "gamma below 1: gamma: 0.1 divides the lr by 10 at each step."),
    Code("V075", "windows-split-at-random", "The samples are overlapping windows of one series, and val_split "
         "draws the validation windows at random among them: a warning.",
         "A forecaster's windows (x[i + 1] is x[i] moved on by a step) share all but a step with their neighbours. "
         "Drawn at random, every validation window has neighbours in training that hold nearly all of its values "
         "(and, a step on, its target): validation scores measure memory and look far better than forecasting "
         "will, early stopping and the best checkpoint are chosen by them. The classic stock-price LSTM mistake.",
         "train: {data: {source: windows.npz, val_split: 0.2}}   # shuffle: true, the default",
         "shuffle: false in train.data: the last val_split of the windows validate, after every window trained on "
         "(only the windows at the seam overlap)."),
    Code("V076", "id-column-as-feature", "A CSV column named as an identifier (id, PassengerId, customer_id) with "
         "a whole number of its own in every row is fed as a default feature: a warning.",
         "It numbers the rows: the model learns the file's order (or a leak of how the rows were sorted), which "
         "new data does not share, and predict answers by the id. Titanic's PassengerId is the usual case.",
         "train: {data: {source: titanic.csv, target: Survived}}   # features: every other column, PassengerId too",
         "List the features without it: features: [Pclass, Age, ...]."),
    Code("T064", "accumulate-beside-batchnorm", "accumulate: N with a batch_size under 8 and a trainable "
         "BatchNorm: a warning.",
         "Gradient accumulation sums N batches' gradients into one optimizer step, so the step is as if from "
         "N x batch_size samples; BatchNorm still normalises each forward pass by the statistics of its own batch "
         "of batch_size. With 2 samples those statistics are noise: training outputs jitter, and the running "
         "averages used at eval are poor (GroupNorm's paper measures BatchNorm's error climbing below 8).",
         "train: {batch_size: 2, accumulate: 16}   # a model with BatchNorm2d",
         "GroupNorm or LayerNorm in place of BatchNorm, or a batch_size of 8 or more per step."),
    Code("T073", "targets-beyond-bounded-output", "Regression targets trained unscaled lie outside the range of the "
         "activation the model ends in (Sigmoid, Tanh, Hardsigmoid, Softsign): a warning.",
         "A Sigmoid gives (0, 1) and a Tanh (-1, 1), whatever the weights: a target outside that range can never be "
         "reached, its error never falls, and the gradient towards it vanishes where the activation is flat. "
         "The usual case is a GAN or autoencoder decoder ending in Sigmoid for images normalised to [-1, 1] "
         "(transforms.Normalize((0.5,), (0.5,))), or a Tanh kept for pixel values saved in [0, 255].",
         "layers: [..., {type: Sigmoid}]\nloss: {type: MSELoss}\ntrain: {data: {source: images_pm1.npz}}",
         "End the model in the activation whose range holds the targets (Tanh for [-1, 1], Sigmoid for [0, 1]), "
         "or in the last conv or Linear with the targets standardised."),
    # -- mistakes people make porting from Keras and papers, round 5 (helper d24) ---------------------
    Code("T084", "unshuffled-sorted-labels", "train.data has shuffle: false, and the class labels of the data file "
         "are sorted (all of one class, then all of the next): a warning.",
         "Without shuffling, every batch holds one class (or two at a boundary), so each epoch trains the model "
         "on class 0, then forgets it for class 1, and so on: it ends predicting the last classes. And shuffle: "
         "false validates on the last rows, which are the last class(es) alone, some never trained on.",
         "train: {data: {source: sorted_by_label.npz, shuffle: false}}",
         "Leave shuffle: true (the default): batches then mix the classes and validation is a stratified draw; "
         "keep shuffle: false for rows whose order means something (a time series)."),
    Code("T085", "summed-loss-under-sgd", "The loss has reduction: sum and trains with SGD at an lr that, times "
         "the terms summed per batch, is one SGD diverges at: a warning.",
         "A summed loss's gradient is the mean's times the terms it adds (the batch, times the positions of a "
         "per-position loss), and SGD's step is lr times the gradient: lr 0.1 tuned for the mean, at a batch of "
         "256, steps as lr 25.6 would on the mean, and the loss explodes. Adam-like optimizers rescale the "
         "gradient by its own size and are not affected; grad_clip bounds the step.",
         "loss: {type: CrossEntropyLoss, reduction: sum}\noptimizer: {type: SGD, lr: 0.1}\n"
         "train: {batch_size: 256}",
         "reduction: mean (the default) with the lr tuned for it, or lr divided by the terms summed."),
    Code("T086", "padding-mask-inverted", "A key-padding mask in the data hides each sample's first key and shows "
         "its last ones: a mask with True (or 1) for the real tokens, where PyTorch reads True as padding.",
         "Tokenizers give attention_mask with 1 for a real token and 0 for padding; PyTorch's key_padding_mask "
         "(and specc's key_padding) means the opposite, True = ignore this key. Cast as it is, the model attends "
         "to the padding alone, and a row with no padding hides every key: its attention is NaN.",
         "masks: [key_padding]   # data: m = tokenizer(...)['attention_mask'].astype(bool)",
         "Save the mask inverted (pad = attention_mask == 0), so True marks the padding."),
    Code("T087", "class-weights-inverted", "The loss's class weights follow the classes' frequencies in the "
         "data (a CrossEntropy weight proportional to the counts, a BCE pos_weight of positives / negatives), so "
         "they weigh the common classes up: a warning.",
         "Weights for imbalance are inverse frequencies: scikit-learn's balanced N / (K x count), PyTorch's "
         "pos_weight = negatives / positives. Written the other way round (counts / N, positives / negatives) they "
         "make the imbalance worse: a model that never predicts the rare class scores better still.",
         "loss: {type: BCEWithLogitsLoss, pos_weight: [0.05]}   # 5% positives: 0.05 / 0.95",
         "Invert them: pos_weight: [19.0] for 5% positives, weight: [N / (K x count) ...], or class_weights: auto."),
    Code("T088", "ignore-index-is-a-class", "A classifier of samples has a loss ignore_index that is one of its "
         "classes, present in the targets: a warning.",
         "CrossEntropyLoss leaves out of the loss every target equal to ignore_index. In a tagger that is the "
         "padding of its label rows; in a classifier with one class per sample it is every sample of that class, "
         "which the model then never learns (ignore_index=0 copied from NLP code onto labels that count from 0).",
         "loss: {type: CrossEntropyLoss, ignore_index: 0}   # labels 0..9, one per image",
         "Leave ignore_index out (the default -100 leaves nothing out), or give it a value no class has."),
    Code("V140", "imbalance-corrected-twice", "sampler: balanced together with class weights (class_weights: auto "
         "or the loss's weight): a warning.",
         "The balanced sampler already shows every class equally often; weighing the rare classes up on top of "
         "that counts their imbalance twice, so the model over-predicts them (a class 20 times rarer weighs 20 "
         "times more in batches where it is already as common as the others).",
         "train: {class_weights: auto, data: {sampler: balanced}}",
         "Keep one of the two: the balanced sampler, or class weights with the random sampler."),
    Code("V074", "validated-on-training-data", "train.data.val_source names the same file as source: a warning.",
         "Every validation sample is then one the model trains on. val_loss and the metrics measure how well it "
         "remembers, not how it does on data it has not seen; early stopping and the best checkpoint are chosen "
         "by them, and a model that overfits looks like one that generalises.",
         "train: {data: {source: data.csv, val_source: data.csv}}",
         "Give val_source a file of held-out samples, or leave val_source out: val_split then keeps a share of "
         "the samples out of training to validate on."),
    # -- training runs that end, resume and schedule as meant (helper b21) ----------------------------
    Code("T019", "lr-at-zero", "The lr schedule holds the learning rate at 0 (or under a millionth of the "
         "optimizer's lr) for whole epochs before the run ends: a warning.",
         "A LinearLR to end_factor 0 over total_iters shorter than the run stays at 0 after it; a "
         "CosineAnnealingLR with eta_min 0 reaches 0 at T_max and, if the run is longer, sits there for an epoch "
         "before PyTorch's cosine climbs back; an ExponentialLR or StepLR with a small gamma decays to nothing. "
         "Those epochs cost their time and move no weight, and the history shows a flat loss that looks like "
         "convergence.",
         "scheduler: {type: LinearLR, start_factor: 1.0, end_factor: 0.0, total_iters: 5}\ntrain: {epochs: 20}",
         "Fit the schedule to the run: total_iters or T_max equal to the scheduler's steps in the run (the "
         "epochs, less a warmup), a gamma that leaves a thousandth of the lr at the end; the hint gives the "
         "value."),
    Code("T020", "warmup-outlasts-run", "A warmup, or a LinearLR ramp up, lasts longer than the run: the lr never "
         "reaches the value written (a warning).",
         "warmup: {epochs: 10} in a 10-epoch run ramps the lr up for the whole run, so it trains at a fraction "
         "of lr throughout and the scheduler after the warmup never starts; a LinearLR from start_factor to "
         "end_factor over more iterations than it steps stops part way up.",
         "scheduler: {type: CosineAnnealingLR, T_max: 10, warmup: {epochs: 10}}\ntrain: {epochs: 10}",
         "Make the warmup a small part of the run (a tenth, say) and the ramp no longer than the run."),
    Code("T021", "fewer-classes-than-outputs", "An image folder has fewer class folders than the model's output "
         "has classes: a warning.",
         "Each class folder is a label, 0 to k-1 in sorted order; an output of more scores than that keeps scores "
         "no sample trains, which the model learns never to answer. Usually the folder is a subset of the data or "
         "the output's width was copied from another data set (1000 for ImageNet); it may also be meant, with "
         "classes to come, so it is not an error.",
         "layers: [..., {type: Linear, out_features: 10}]\ntrain: {data: {source: photos/}}   # cat/, dog/",
         "Set the last layer's width to the number of class folders, or add the missing classes' folders."),
    Code("T022", "empty-class-folder", "A class folder of an image folder holds no images: a warning.",
         "The folder still numbers a class (the classes are the folders, sorted), so the model has an output for "
         "it and nothing trains it; the classes after it keep their numbers.",
         "train: {data: {source: photos/}}   # photos/cat/*.png, photos/dog/ (empty)",
         "Put the class's images in its folder, or remove the folder and the output."),
    Code("T023", "images-resized", "Images of an image folder are not the size the model's input reads: each is "
         "resized (a warning).",
         "Images are resized to the input's height and width (or the first image's, where the spec leaves them "
         "symbolic) as they are read: images of another aspect ratio are stretched, and large photos shrunk to a "
         "small input lose their detail, with no word at train time.",
         "inputs: {image: [B, 3, 32, 32]}\ntrain: {data: {source: photos/}}   # 640x480 photos",
         "Resize (or crop) the images beforehand, or declare the input at their size."),
    Code("T024", "images-converted", "Images of an image folder are not in the colour mode the input reads "
         "(RGB for 3 channels, greyscale for 1): each is converted (a warning).",
         "A transparent PNG loses its alpha channel, a greyscale image is copied into three channels, a colour "
         "image into one is averaged to grey: the model may train on something else than the pictures look "
         "like.",
         "inputs: {image: [B, 1, 28, 28]}\ntrain: {data: {source: photos/}}   # RGB photos",
         "Convert the images beforehand, or declare the input with the channels the images have."),
    # -- training against references (helper f20) ---------------------------------------------------
    Code("T017", "loss-threshold-in-scaled-units", "A HuberLoss delta or SmoothL1Loss beta is written for "
         "targets that train.preprocess: auto standardises, so it is read in standard deviations, not in the "
         "targets' units: a warning.",
         "specc standardises a regression's targets (preprocess targets: auto) and the loss compares the model "
         "with those scaled targets. Huber's delta and SmoothL1's beta are where the loss turns from squared to "
         "linear, in the units of what it compares: delta: 10 meant for house prices or the diabetes targets (25 "
         "to 346) becomes 10 standard deviations, beyond every residual, and the loss is plain MSE with no "
         "robustness to outliers; delta: 0.1 meant as a tight band becomes a tenth of a standard deviation. "
         "Training runs and nothing says the loss is not the one written.",
         "loss: {type: HuberLoss, delta: 10}\ntrain: {data: {source: diabetes}}",
         "Give delta in standard deviations of the training targets with train.preprocess {targets: "
         "standardize} written out, or keep it in the targets' units with {targets: none}."),
    Code("T018", "loss-not-reduced", "The loss has reduction: none, which gives a loss per element, in a "
         "spec that specc trains.",
         "An optimizer steps on the gradient of one number. With reduction: none the loss is a tensor of a "
         "loss per sample (or per element), and the first backward() fails inside PyTorch (\"grad can be "
         "implicitly created only for scalar outputs\"), after check said ok and the data was read.",
         "loss: {type: CrossEntropyLoss, reduction: none}\ntrain: {epochs: 10}",
         "Use reduction: mean (PyTorch's default) or sum. reduction: none is for a training loop of your own "
         "over the generated build_loss(), in a spec without a train section."),
    # -- lint: the rule's module docstring (specc/lint/rules/) is the documentation ---------
    LintCode("L001", "softmax-before-ce"),
    LintCode("L002", "dropout-at-end"),
    LintCode("L003", "sigmoid-before-bce-logits"),
    LintCode("L004", "bias-before-norm"),
    LintCode("L005", "activation-after-logits"),
    LintCode("L006", "bidirectional-last-step"),
    LintCode("L007", "linear-without-flatten"),
    LintCode("L008", "single-logit-cross-entropy"),
    LintCode("L009", "softmax-over-batch"),
    # -- lint: model-design rules (issue 13) --------------------------------------------
    LintCode("L010", "rnn-sequence-to-head"),
    LintCode("L011", "rnn-reads-channels"),
    LintCode("L012", "channels-last-into-conv"),
    LintCode("L013", "bounded-regression-head"),
    LintCode("L014", "softmax-with-bce"),
    LintCode("L015", "two-unit-bce"),
    LintCode("L017", "stacked-linear-maps"),
    LintCode("L018", "flatten-dense-heavy"),
    LintCode("L019", "division-by-zero"),
    LintCode("L020", "output-size-drift"),
    LintCode("L021", "features-last-into-norm"),
    LintCode("L022", "keras-batchnorm-momentum"),
    LintCode("L023", "batch-read-as-time"),
    LintCode("L024", "constant-by-construction"),
    LintCode("L025", "attention-without-positions"),
    # vision and generative architectures (helper a19)
    LintCode("L026", "transposed-conv-one-short"),
    # a sequence's features pooled where its steps were meant (Keras' GlobalMaxPooling1D ported)
    LintCode("L033", "features-pooled-not-steps"),
    LintCode("L035", "sequences-joined-along-steps"),
    # the mistakes people make, round 4 (helper c20)
    LintCode("L029", "batchnorm-on-output"),
    LintCode("L031", "squashed-logits"),
    # -- resource limits (hostile or runaway specs) ---------------------------------------------
    Code("Y009", "python-tuple", "A value is written as a Python tuple, such as (3, 3).",
         "YAML has no tuples: inside { } its comma splits (3, 3) into the text '(3' and a key '3)', and on a "
         "line of its own it is the text '(3, 3)'. Either way the layer would get neither number.",
         "- {type: Conv2d, out_channels: 16, kernel_size: (3, 3)}",
         "Write the list in square brackets: kernel_size: [3, 3]."),
    Code("Y010", "decimal-comma", "A number is written with a decimal comma, such as lr: 0,001.",
         "Inside { } YAML's comma separates entries: {lr: 0,001} is lr: 0 and a key 001, so the optimizer "
         "would be refused for an lr of 0, and the 001 for not being a name. On a line of its own, 0,001 is text.",
         "optimizer: {type: Adam, lr: 0,001}",
         "Write the decimal point: lr: 0.001."),
    Code("Y008", "number-too-large", "A number in the spec is beyond 64 bits.",
         "No tensor size, count or seed can be that large, and a number of thousands of digits would make "
         "a YAML loader fail; specc reads integers from -2**63 to 2**63 - 1 and floats up to about 1.8e308.",
         "- {type: Linear, out_features: 10000000000000000000000000000000}",
         "Write the size you mean."),
    Code("X005", "expansion-too-large", "blocks and repeat expand to more layers than specc's limit, blocks "
         "nest too deeply, or the spec evaluates too many ${} expressions.",
         "A few lines can describe an enormous model: repeat: 1000000, or blocks that each use the next twice, "
         "40 deep, describe more layers than any machine can build, and expanding them would exhaust memory. "
         "specc counts the layers before it expands anything: at most 10,000 layers after every repeat and "
         "block use is expanded, blocks nested at most 32 deep, and at most 30,000 ${} evaluations.",
         "- {type: Linear, out_features: 16, repeat: 1000000}",
         "Repeat fewer times; a real network has hundreds or a few thousand layers."),
    # -- language gaps (issue 12, area E): a block reading its input's sizes ----------------------
    Code("X006", "input-shape-misplaced", "A block reads ${input_shape[...]} where its input is not known yet, "
         "or reads a dim its input does not have.",
         "A block's input shape is known only once the layers before the block are built, so it can be read "
         "in the parameters of the block's own layers, not in when:, repeat:, name:, from:, type: or the "
         "arguments passed to a nested block, and not outside a block.",
         "blocks:\n  Head:\n    layers:\n      - {type: Linear, out_features: 4, repeat: \"${input_shape[1]}\"}",
         "Read the size in a layer's parameter (out_features: \"${input_shape[1]}\"), or pass it as a block "
         "argument; index a dim the input has (0 to rank - 1, or -1 for the last)."),
    Code("X007", "symbolic-size-read", "A block reads a dim of its input that is symbolic (B, T) where a "
         "number is needed.",
         "A layer's sizes are fixed when it is built; a dim that differs from batch to batch, such as B or a "
         "sequence length T, has no single value to build it with.",
         "inputs: {x: [B, T, 8]}\nblocks:\n  Proj:\n    layers:\n      - {type: Linear, out_features: "
         "\"${input_shape[1]}\"}",
         "Read a fixed dim (input_shape[-1] for the features, input_shape[1] for a conv map's channels), or "
         "give that dim a fixed size in inputs:."),
    Code("S011", "size-too-large", "A tensor dimension, a tensor's size or a parameter count is beyond what "
         "a framework can allocate.",
         "PyTorch and ONNX Runtime index tensors with 64-bit integers; a dimension over 2**31 - 1, a tensor of "
         "more than 2**63 - 1 elements or a model with more parameters than that would overflow when built or "
         "exported, long after check said ok.",
         "inputs: {x: [B, 4096]}\nlayers:\n  - {type: Linear, out_features: 4000000000}",
         "Use the sizes you mean; the message shows the size and the limit."),
    Code("S012", "params-memory", "The model's parameters need more memory than a machine plausibly has.",
         "The parameters alone, in float32, take more than 16 GB: building the model (or exporting or training "
         "it) needs at least that much memory and fails or swaps on most machines.",
         "inputs: {x: [B, 100000]}\nlayers:\n  - {type: Linear, out_features: 100000}\n"
         "  - {type: Linear, out_features: 100000}",
         "Make the layers smaller, or silence the warning (ignore: [S012]) for a machine with that much memory."),
    # -- issue 12, area A: element-wise arithmetic, Cast, layers with several outputs ---------
    Code("S016", "split-sizes", "A Split's sizes do not add up to the dim it splits, or a size or number of "
         "chunks does not divide it.",
         "PyTorch raises for sizes that do not add up, and torch.chunk quietly returns fewer or uneven parts "
         "than asked: the layers that read the parts would get other shapes than the spec says.",
         "inputs: {x: [B, 6]}\nlayers:\n  - {type: Split, sizes: [2, 3]}",
         "Use the sizes the message proposes (the last one made to fit), a size or number of chunks that "
         "divides the dim, or a Split with sizes: [...] to keep a remainder."),
    Code("S017", "several-outputs-read-whole", "from: or outputs: reads a layer with several outputs (a Split) "
         "without saying which one.",
         "A Split gives a tuple of tensors; a layer takes one tensor, so specc cannot know which part it meant.",
         "- {type: Chunk, chunks: 2, name: halves}\n- {type: Linear, out_features: 4, from: halves}",
         "Read one output by its index or name: from: halves.0 (or halves.left with names: [left, right])."),
    Code("S018", "weights-dtype", "A layer with weights receives floats other than float32 (float16, bfloat16, "
         "float64).",
         "Weights are created in float32 and the framework multiplies them with the input as is: a float16 "
         "input to a Linear or a conv fails when the model runs (mat1 and mat2 must have the same dtype).",
         "inputs: {x: [B, 8]}\nlayers:\n  - {type: Cast, dtype: float16}\n  - {type: Linear, out_features: 4}",
         "Cast back to float32 before the layer with weights, or declare the input float32."),
    Code("V034", "loss-on-integers", "A loss trains an output that holds integers or bools (after a Cast).",
         "A loss needs float values with a gradient: PyTorch's losses refuse integer outputs, and an integer "
         "value has no gradient to train anything before it.",
         "layers:\n  - {type: Linear, out_features: 1}\n  - {type: Cast, dtype: int64}\nloss: {type: MSELoss}",
         "End the model in a float layer; round or cast what predict returns instead."),
    Code("V035", "gradient-cut", "Trainable parameters reach the loss only through integer or bool values, or "
         "the loss reaches no trainable parameter at all.",
         "No gradient flows back through a Cast to an integer type, so the layers before it keep their initial "
         "weights; with nothing left to train, PyTorch refuses the backward pass.",
         "layers:\n  - {type: Linear, out_features: 4}\n  - {type: Cast, dtype: int64}\n  - {type: Cast, dtype: "
         "float32}\n  - {type: Linear, out_features: 1}\nloss: {type: MSELoss}",
         "Keep the path in floats, or freeze the layers before the Cast with trainable: false."),
    # -- training and data (specc train, predict, evaluate) -----------------------------------
    Code("V020", "stopping-without-validation", "Early stopping is set but there is no validation data.",
         "Early stopping watches a validation metric; with val_split: 0 and no val_source it would stop after "
         "exactly `patience` epochs whatever the model learns. The same where the validation data cannot "
         "define the metric watched: the ROC AUC of one class, the recall of no positive sample, the R² of "
         "targets that do not vary.",
         "train: {data: {source: iris, val_split: 0}, early_stopping: {patience: 5}}",
         "Keep some validation data (val_split: 0.2, or val_source: val.npz), or remove early_stopping."),
    Code("V021", "cannot-train", "The spec cannot be trained as written (no loss or no optimizer section).",
         "Training needs both a loss to minimise and an optimizer to minimise it with; `specc compile --train` "
         "and `specc train` cannot guess them.",
         "loss: {type: CrossEntropyLoss}\n# (no optimizer:)",
         "Add the missing section, e.g. optimizer: {type: Adam, lr: 0.001}."),
    Code("V022", "one-loss-several-outputs", "The model has several outputs but the spec has one loss.",
         "specc's training loop trains one loss on one output; which output the loss belongs to cannot be "
         "guessed, and training the first one silently would leave the others untrained.",
         "outputs: [logits, aux]\nloss: {type: CrossEntropyLoss}",
         "Return only the trained output (outputs: logits), or train with your own loop on the compiled module."),
    Code("V023", "monitor-not-computed", "Early stopping monitors a metric this loss's task does not compute.",
         "Accuracy means nothing for a regression and R² nothing for a classifier; the run could never improve "
         "on a metric it does not have.",
         "loss: {type: MSELoss}\ntrain: {early_stopping: {monitor: val_accuracy}}",
         "Monitor a metric of the task: val_loss always; val_accuracy/val_f1/… for classifiers; val_mae/val_rmse/"
         "val_r2 for regression."),
    Code("V024", "labels-needed", "class_weights: auto or sampler: balanced is set for a loss that has no class "
         "labels, or sampler: balanced for labels that are not one class per sample.",
         "Both count the classes in the training labels; a regression or probability target has none. "
         "sampler: balanced also draws each sample by its one class, which a tagger or a segmenter "
         "(a class per position) does not have; class_weights: auto counts classes position by position.",
         "loss: {type: MSELoss}\ntrain: {class_weights: auto}",
         "Use them with CrossEntropyLoss or NLLLoss, or remove them."),
    # -- several outputs, a loss per output (issue 9) ------------------------------------------
    Code("V025", "loss-output-unknown", "A key of the per-output loss names no output of the model.",
         "In `loss: {OUTPUT: {type: ...}, ...}` each key is the name of one of the model's outputs; a key "
         "that names none would train nothing, and its output's own loss would be missing.",
         "outputs: [species, size]\nloss:\n  specis: {type: CrossEntropyLoss}\n  size: {type: MSELoss}",
         "Spell the key as the output is named in outputs:."),
    Code("V026", "loss-weight-invalid", "An output's loss weight is not a finite number of 0 or more.",
         "The training loss is the sum of weight × loss over the outputs; a negative weight would push that "
         "output's loss up, and NaN or infinity would make every step NaN.",
         "loss:\n  species: {type: CrossEntropyLoss}\n  size: {type: MSELoss, weight: -1}",
         "Write a number such as 0.5 (the default is 1; 0 leaves the output untrained)."),
    Code("V027", "output-without-loss", "The model has several outputs, and one of them has no loss.",
         "specc trains every output it returns: an output without a loss would keep its initial weights and "
         "predict noise. Say so explicitly with weight: 0, or stop returning it.",
         "outputs: [species, size]\nloss:\n  species: {type: CrossEntropyLoss}",
         "Give the output a loss (size: {type: MSELoss}), with weight: 0 to leave it untrained, or remove it "
         "from outputs:."),
    Code("V028", "loss-not-per-output", "CTCLoss is given as one output's loss among several.",
         "CTC reads each sample's target length beside its padded targets, which the per-output data "
         "(one target array per output) does not carry.",
         "loss:\n  text: {type: CTCLoss}\n  lang: {type: CrossEntropyLoss}",
         "Train the CTC output alone (outputs: text, loss: {type: CTCLoss}), or with your own loop."),
    Code("V029", "targets-per-output", "The data does not give one target per output of a per-output loss, "
         "or a CSV's target columns do not fit the one output.",
         "Each output with its own loss trains on its own targets: a .npz names one array per output (y_key), a "
         "CSV one column per output (target); a bundled set, .npy file or image folder holds one target only. "
         "Likewise a mapping y_key or target needs a loss per output. A list of CSV target columns under one "
         "loss gives the K values of a (B, K) regression or multi-label output; a classifier reads one column.",
         "loss:\n  species: {type: CrossEntropyLoss}\n  size: {type: MSELoss}\ntrain: {data: {source: iris}}",
         "Give each output its targets: data: {source: data.npz, y_key: {species: y1, size: y2}} (a CSV: "
         "target: {species: col1, size: col2})."),
    Code("T001", "data-not-found", "The data source (a file or folder) does not exist or cannot be read.",
         "Nothing can be trained without the data; a relative path is read from the spec's folder.",
         "train: {data: {source: data/trian.npz}}",
         "Check the path, or use a bundled set (digits, iris, wine, breast_cancer, diabetes, xor, synthetic)."),
    Code("T002", "data-key-missing", "A key, column or array the spec names is not in the data file.",
         "The spec says where the inputs and targets are (x_key, y_key, features, target, lengths_key); the "
         "file has other names.",
         "train: {data: {source: data.npz, x_key: images}}   # data.npz holds x and y",
         "Use the names the file has (the message lists them)."),
    Code("T003", "data-shape", "The data's samples do not have the shape of the model's input or output.",
         "A sample of the wrong shape would fail inside the first batch, or be silently reshaped into nonsense.",
         "inputs: {x: [B, 5]}\ntrain: {data: {source: iris}}   # iris has 4 features",
         "Declare the input as the data has it, or choose matching data."),
    Code("T004", "data-dtype", "The data's values do not fit the input's dtype (floats fed to token ids, ids beyond "
         "the vocabulary, NaN).",
         "Token ids index an Embedding: fractional or out-of-range ids would crash or be silently truncated.",
         "inputs: {tokens: {shape: [B, T], dtype: int64}}   # data holds 0.5, 1.7, …",
         "Feed integer ids below num_embeddings, or declare a float input."),
    Code("T005", "classes-vs-output", "The data has more classes than the output gives scores for.",
         "A label at or beyond the output's width raises an IndexError mid-epoch (or trains a wrong model).",
         "layers: [..., {type: Linear, out_features: 2}]   # the data has labels 0, 1, 2",
         "Set the last layer's width to the number of classes."),
    Code("T006", "targets-vs-loss", "The targets do not fit the loss (BCE outside [0, 1], KL rows that are not "
         "probabilities, fractional class labels, CTC transcripts longer than the output steps, NaN).",
         "The loss would be NaN or meaningless from the first step, with no error.",
         "loss: {type: KLDivLoss}   # targets are raw scores, not rows summing to 1",
         "Give targets of the form the loss reads, or choose the loss that reads these targets."),
    Code("T007", "too-few-to-train", "The validation split leaves fewer training samples than the classes "
         "(or none).",
         "A val_split such as 0.99 on 150 samples trains on one or two of them: no class can be learnt from "
         "samples it never sees, and a stratified split cannot even be drawn.",
         "train: {data: {source: iris, val_split: 0.99}}",
         "Use a val_split such as 0.2; the hint gives the largest that leaves each class a sample to train on."),
    # -- check reads the data a spec trains on (helper d20) ---------------------------------------
    Code("T011", "data-checked-in-part", "A data file is larger than `specc check` reads: check read its first "
         "samples only (a warning).",
         "check reads the files train.data names with the code specc train reads them with, so a file that does "
         "not fit the model (its columns, shapes, classes, values) is an error at its spec line before anything "
         "is trained. Reading a large file whole on every check (and every keystroke in an editor) would make "
         "check slow, so above a size (a CSV over 4 MB, an image folder over 16 MB, .npz and .npy files over 64 "
         "MB) it reads the first 1000 samples: a class, a bad value or a row count past them is first seen by "
         "specc train.",
         "train: {data: {source: data/big.csv}}   # 800 MB",
         "Nothing, if the file is right (specc train checks all of it before its first epoch); specc check "
         "--no-data skips reading data, and lint: {ignore: [T011]} (or --ignore T011) silences the warning."),
    # -- vision and generative architectures (helper a19) ---------------------------------------
    Code("T008", "batch-of-one-into-batchnorm", "batch_size: 1 trains a BatchNorm that sees one value per "
         "channel in each batch.",
         "While training, BatchNorm normalises each channel with the batch's own mean and variance: over a "
         "(B, C) input (after a pooled feature vector, a Linear) a batch of one sample gives it a single value "
         "per channel, whose variance is undefined, and PyTorch stops at the first step (\"Expected more than "
         "1 value per channel when training\").",
         "layers: [..., {type: Linear, out_features: 512}, {type: BatchNorm1d}, ...]\n"
         "train: {batch_size: 1}",
         "Train with batch_size: 2 or more (BatchNorm's statistics want 16 or more), or normalise that layer "
         "with a LayerNorm or GroupNorm, which need no batch."),
    # -- training: memory (helper c24) ------------------------------------------------------------
    Code("T089", "attention-row-fully-masked", "A sample of the data has an attention mask that hides every key "
         "of a row (a sequence of nothing but padding, a query allowed no key).",
         "PyTorch's attention adds -inf to every hidden key's score, and a -inf MaskedFill writes it; with every "
         "key of a row hidden, its Softmax is 0/0 = nan, which the next MatMul spreads to the whole sample, and the "
         "loss turns nan at the first batch holding it. check reads the mask in the data; a mask the model "
         "builds itself is V177's, and synthetic data never holds such a row. A finite fill (-1e9) spreads the "
         "row's attention evenly instead.",
         "inputs: {x: [B, T, 64], pad: {shape: [B, T], dtype: bool}}   # a pad row of all true in the .npz\n"
         "layers:\n  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, masks: [key_padding], "
         "from: [x, pad]}",
         "Drop the empty samples from the data, or keep one key (a [CLS] or end-of-sequence token) unmasked in "
         "every sample."),
    Code("T090", "next-step-target-visible", "The targets in the data are an input one step ahead (a language "
         "model's next tokens, a one-step-ahead forecast), and a layer lets each step read the steps after it "
         "(a warning).",
         "Self-attention without a causal mask attends to every step, and a bidirectional recurrent layer reads the "
         "sequence backwards: step t then sees x[t + 1], which is its own target. The loss falls to almost 0 within "
         "an epoch, and generation or a forecast past the data, which has no next step to copy, fails; nothing "
         "errs. A masked language model (targets at the same step) and a classifier are not concerned.",
         "inputs: {ids: {shape: [B, T], dtype: int64}}   # y = ids shifted by one in the .npz\nlayers:\n"
         "  - {type: Embedding, num_embeddings: 1000, embedding_dim: 64}\n"
         "  - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 128}",
         "Set causal: true on the attention layer (GPT's mask of later steps), or bidirectional: false on the "
         "recurrent layer."),
    Code("T091", "onecycle-peak-below-lr", "OneCycleLR's max_lr is below the lr written on the optimizer (a "
         "warning).",
         "OneCycleLR sets the lr itself: it starts at max_lr / div_factor, rises to max_lr and anneals to far "
         "below, whatever the optimizer's lr says. An lr of 0.1 written on SGD beside max_lr: 0.01 reads as a "
         "run at 0.1 with a one-cycle shape, but trains at a tenth of it at best, from 1/250 of it.",
         "optimizer: {type: SGD, lr: 0.1, momentum: 0.9}\nscheduler: {type: OneCycleLR, max_lr: 0.01}",
         "Write the peak you mean as max_lr (max_lr: 0.1); the optimizer's lr may then be left out."),
    Code("T092", "val-split-reversed", "train.data.val_split is above one half: most samples are held out for "
         "validation (a warning).",
         "val_split is the share of the samples validated on (Keras' validation_split). Written as the share "
         "trained on (scikit-learn's train_size: 0.8), the model trains on the smaller part and is judged on the "
         "larger, and learns less than the data allows.",
         "train: {data: {source: data.npz, val_split: 0.8}}",
         "Set val_split to the share to validate on: 0.2 to train on 80%."),
    Code("T093", "post-ln-without-warmup", "A post-LN Transformer of 6 layers or more, 256 wide or more "
         "(norm_first: false, PyTorch's default), trains under Adam at lr 5e-4 or more with no warmup (a warning).",
         "In post-LN layers the gradients near the output are large at initialisation, and Adam's first steps "
         "are lr-sized whatever the gradient: without a warmup the run diverges or stalls (Xiong et al. 2020, "
         "On Layer Normalization in the Transformer Architecture). The original Transformer warms up over 4000 "
         "steps and BERT over 10,000; pre-LN (norm_first: true) trains without.",
         "layers:\n  - {type: TransformerEncoder, nhead: 8, num_layers: 6, dim_feedforward: 2048}\n"
         "optimizer: {type: Adam, lr: 1.0e-3}",
         "Add a warmup to the scheduler (warmup: {epochs: 1}), or set norm_first: true and norm: true on the "
         "stack."),
    Code("T080", "step-exceeds-memory", "One training step needs more memory than the machine it trains on has "
         "free: `specc train` stops before building the model.",
         "A step holds the weights, their gradients, the optimizer's state and every activation autograd saves "
         "for backward, and the activations grow with batch_size: the zoo's MobileNetV2 recipe (batch 96 of "
         "224x224 images) keeps about 7.5 GB of them. Started anyway, the run is killed by the kernel (or "
         "CUDA runs out of memory) with no message from specc, after minutes of setup. `specc summary` shows "
         "the estimate; `check` does not judge it, since it depends on the machine.",
         "train: {batch_size: 4096}   # on a 16 GB machine, for a model that keeps 5 MB per sample",
         "Lower batch_size to the size the message names (and raise accumulate: to keep the effective batch), "
         "train on a machine with more memory, or pass --ignore-memory (SPECC_IGNORE_MEMORY=1) if you know "
         "better."),
    # -- training: the optimizer's weight decay (helper c19, mistakes on published nets) -------
    Code("T010", "weight-decay-out-of-range", "The optimizer's weight_decay is so large that it pulls every "
         "weight to zero: a warning.",
         "SGD, Adam and the other coupled optimizers add weight_decay times each weight to its gradient (an L2 "
         "penalty): above about 0.1 that pull outweighs what the loss pushes, the weights shrink to nothing and "
         "the model answers one constant, with no error (SGD's recipes use 1e-4 to 5e-4). AdamW decays the "
         "weights by lr x weight_decay each step, apart from the gradient: its default is 0.01, and far above "
         "1 the weights fade faster than they learn. Such values come from a Keras l2() factor or a recipe's "
         "number copied without its scale.",
         "optimizer: {type: SGD, lr: 0.1, momentum: 0.9, weight_decay: 5}",
         "Use the recipe's scale: 5e-4 for SGD, 0 to 1e-4 for Adam (or AdamW with 0.01 for decoupled decay), "
         "0.01 to 0.3 for AdamW."),
    LintCode("L030", "bounded-logits-into-ce"),
    # -- helper b19: sequence models (CTC) ----------------------------------------------------------
    Code("T009", "ctc-output-layout", "The model's output does not fit CTCLoss: it is not (B, T, C) or (T, B, C) "
         "with the classes in the last dim, or the blank is not one of those classes.",
         "CTCLoss reads one distribution over the classes at every output step. A (B, C) output fails inside "
         "PyTorch's loss at the first batch; a convolution's (B, C, T) would be read with the steps as classes "
         "and the classes as steps, and train nonsense without an error; a blank past the classes fails mid-run.",
         "layers:\n  - {type: Conv1d, out_channels: 29, kernel_size: 1}   # (B, 29, T)\n"
         "  - {type: LogSoftmax, dim: 1}\nloss: {type: CTCLoss}",
         "Return every step with the classes last: - {type: Permute, dims: [0, 2, 1]} after a convolution, "
         "output: sequence on a recurrent layer, LogSoftmax over dim -1; keep blank below the class count."),
    # -- element-wise math: Sin, Cos, Exp (helper e19) -------------------------------------------
    Code("V053", "scale-zero", "A Sin, Cos, Exp or Scale is given scale: 0.",
         "The layer computes f(scale·x): with scale 0 every output is f(0) (0 for Sin and Scale, 1 for Cos and Exp) "
         "whatever the input, and no gradient reaches the layers before it.",
         "- {type: Sin, scale: 0}",
         "Leave scale out for f(x), or give the factor the input is multiplied by (SIREN's w0: scale: 30.0)."),
    Code("S037", "periodic-in-half", "A Sin or Cos computes in float16.",
         "float16 keeps 11 bits of the argument: sin(x) near x = 20 is off by up to 0.01 (an argument's last "
         "bit), which is more than half precision's tolerance, and ONNX Runtime computes the op from the "
         "unrounded float32 argument, so the exported model disagrees with PyTorch. Exp keeps its relative "
         "precision in float16 and is allowed.",
         "- {type: Cast, dtype: float16}\n- {type: Sin, scale: 30.0}",
         "Cast to float32 before the Sin or Cos (and back to float16 after it if the rest runs in half)."),
    LintCode("L034", "chaotic-periodic-stack"),
    # -- attention as LLaMA, Mistral and GPT-NeoX write it (helper a23) -----------------------------
    Code("S040", "rotary-dim-unfit", "A rotary: dim is odd or larger than a head (embed_dim / num_heads).",
         "Rotary embeddings turn a head's features in pairs, each pair by its own angle: an odd count leaves a "
         "feature without its partner, and a head has only embed_dim / num_heads features to turn.",
         "inputs: {x: [B, T, 64]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 8, rotary: {dim: 12}}",
         "Give an even dim of at most embed_dim / num_heads (GPT-NeoX turns rotary_pct of it: 0.25 · 64 = 16); "
         "leave dim out to turn the whole head."),
    Code("V100", "grouped-attention-option", "An attention with rotary: or num_kv_heads: is given an attn mask, "
         "add_bias_kv or add_zero_attn.",
         "rotary: and num_kv_heads: build attention from separate q/k/v/o projections, as LLaMA and Mistral do, "
         "and it has none of nn.MultiheadAttention's extras: its masks are a key-padding mask (B, S) and "
         "causal: true, built from the length.",
         "- {type: MultiheadAttention, num_heads: 8, num_kv_heads: 2, masks: [attn], from: [x, am]}",
         "Drop the attn mask (and its input) and use causal: true for a decoder, masks: [key_padding] for "
         "padding; or drop rotary: and num_kv_heads: to keep nn.MultiheadAttention's masks and extras."),
    # -- the LLaMA family: Qwen2, Gemma, Mistral, LLaMA 3.1 (helper a24) -----------------------------
    Code("V130", "window-without-causal", "An attention is given a sliding window: but not causal: true.",
         "Mistral's sliding window keeps, for each query, the last `window` keys up to and including its own "
         "position: a window of a causal attention. Without causal the layer would see every later key and only "
         "the earlier ones would be cut, an attention no published model has.",
         "- {type: MultiheadAttention, num_heads: 32, num_kv_heads: 8, rotary: {}, window: 4096}",
         "Set causal: true (Mistral: sliding_window 4096 on its causal attention), or drop window: for an attention "
         "that sees every key; keys on both sides of each query (ModernBERT's local attention) are local_window:."),
    Code("V131", "rotary-scaling-keys", "A rotary scaling: lacks a key its type reads, or gives one of another "
         "type.",
         "Each rope scaling reads its own settings (Hugging Face's rope_scaling): linear reads factor; llama3 "
         "reads factor, low_freq_factor, high_freq_factor and original_max_position_embeddings. A missing one has "
         "no default that is right for every model, and a key the type does not read would be silently ignored.",
         "- {type: MultiheadAttention, num_heads: 32, rotary: {base: 500000, scaling: {type: llama3, factor: 8}}}",
         "Copy the model's rope_scaling whole: LLaMA 3.1 is scaling: {type: llama3, factor: 8, low_freq_factor: 1, "
         "high_freq_factor: 4, original_max_position_embeddings: 8192}; linear takes factor alone."),
    Code("V132", "rotary-scaling-band", "A llama3 rotary scaling's high_freq_factor is not above its "
         "low_freq_factor.",
         "LLaMA 3.1 keeps the frequencies whose wavelength is below original_max_position_embeddings / "
         "high_freq_factor, slows those above original_max_position_embeddings / low_freq_factor by factor, and "
         "blends the band between, dividing by high_freq_factor - low_freq_factor: with high at or below low the "
         "band is empty or inverted and the blend divides by zero or flips sign.",
         "- {type: MultiheadAttention, num_heads: 32, rotary: {scaling: {type: llama3, factor: 8, low_freq_factor: 4, "
         "high_freq_factor: 1, original_max_position_embeddings: 8192}}}",
         "Give high_freq_factor above low_freq_factor (LLaMA 3.1: low_freq_factor: 1, high_freq_factor: 4)."),
    # -- rope scaling past LLaMA 3.1: YaRN, LongRoPE (helper c26) -------------------------------------
    Code("V156", "yarn-ramp-reversed", "A yarn rotary scaling's beta_fast is not above its beta_slow.",
         "YaRN keeps the frequency of the rotary pairs that turn more than beta_fast times over the trained "
         "context, divides by factor those that turn fewer than beta_slow times, and ramps between: with beta_fast "
         "at or below beta_slow the ramp runs backwards (Hugging Face computes it without complaint), interpolating "
         "the fast pairs and keeping the slow ones, a model that matches no checkpoint.",
         "- {type: MultiheadAttention, num_heads: 28, num_kv_heads: 4, rotary: {scaling: {type: yarn, factor: 4, "
         "original_max_position_embeddings: 32768, beta_fast: 1, beta_slow: 32}}}",
         "Drop beta_fast and beta_slow to take Hugging Face's 32 and 1, or swap them if they are the wrong way "
         "round."),
    Code("V157", "longrope-factor-count", "A longrope rotary scaling's short_factor or long_factor does not give "
         "one factor per rotary pair.",
         "LongRoPE divides each pair's frequency by its own factor: a list of rotary dim / 2 entries (Phi-3-mini: "
         "48 for heads of 96). Another count means the factors were made for another head width or "
         "partial_rotary_factor; PyTorch would fail at the first forward, or broadcast one factor over all pairs.",
         "- {type: MultiheadAttention, num_heads: 32, rotary: {scaling: {type: longrope, short_factor: [1.0, 1.1], "
         "long_factor: [1.0, 1.2], factor: 32, original_max_position_embeddings: 4096}}}",
         "Copy short_factor and long_factor whole from the model's rope_scaling, or set rotary: {dim: N} to the "
         "rotary width they were made for (twice their length)."),
    Code("V158", "local-window-with-causal", "An attention is given local_window: together with causal: true or "
         "window:.",
         "local_window is ModernBERT's bidirectional local attention: each query sees the keys within "
         "local_window // 2 steps before and after it. causal: true hides every later key and window: keeps a "
         "causal window of the last keys; given together the masks contradict each other, and whichever won "
         "would be a model other than the one written.",
         "- {type: MultiheadAttention, num_heads: 12, rotary: {}, local_window: 128, causal: true}",
         "For a causal sliding window (Mistral) write window: N with causal: true; for ModernBERT's local "
         "attention keep local_window and set causal: false (no window:)."),
    # -- query/key norms: Qwen3, OLMo-2, Gemma 3 (helper e26) -----------------------------------------
    Code("V159", "qk-norm-width", "An attention's qk_norm: gives a dim: that is not the width its over: "
         "normalises.",
         "qk_norm RMS-normalises the queries and keys before the rotary: over: head each head's head_dim "
         "features with one weight of head_dim (Qwen3, Gemma 3), over: all the whole projection, "
         "num_heads·head_dim for q and num_kv_heads·head_dim for k (OLMo-2). A dim: copied from the model's code "
         "must be that width: the other one means the other norm (a checkpoint's q_norm.weight would not load, or "
         "load into another model), and any other width matches no tensor the norm reads.",
         "- {type: MultiheadAttention, num_heads: 16, num_kv_heads: 8, head_dim: 128, qk_norm: {dim: 2048}, "
         "rotary: {}, causal: true}",
         "Give over: head with dim: head_dim (Qwen3's RMSNorm(head_dim)), over: all with dim: num_heads·head_dim "
         "(OLMo-2's RMSNorm(num_heads * head_dim)), or drop dim: and let over: say the width."),
    # -- query/key norms without a weight or with one per head: Llama 4, Cohere (helper c27) ------------
    Code("V171", "qk-norm-weight", "An attention's qk_norm: asks its norm for a weight its type or over: does not "
         "have: add_unit_offset or per_head on type l2 (Llama 4's weightless norm), or per_head with over: all.",
         "type l2 is Llama 4's L2 norm, x / sqrt(mean(x²) + eps) with no weight, so there is no 1 + weight to "
         "offset and no weight to give each head; per_head gives each head a weight of its own (Cohere's "
         "(num_heads, head_dim)), while over: all normalises the whole projection with one weight entry per "
         "feature of every head (OLMo-2's). Either way the spec asks for a norm no published model has, and a "
         "checkpoint's q_norm / k_norm would not load into it.",
         "- {type: MultiheadAttention, num_heads: 8, num_kv_heads: 2, qk_norm: {type: l2, add_unit_offset: true}, "
         "rotary: {}, causal: true}",
         "Drop add_unit_offset / per_head for Llama 4's weightless norm, or give type: rms (or layer) for a norm "
         "with a weight; give per_head: true with over: head (Cohere), or drop per_head for OLMo-2's norm."),
    # -- MADE's masked Linear (helper c27) -------------------------------------------------------------
    Code("V172", "made-width", "A Linear with made: role input reads other than the features inputs, or one with "
         "role output writes a number of outputs that is not a multiple of features.",
         "MADE numbers the inputs 1..D and masks each layer so that output d reads inputs 1..d - 1 alone: the "
         "input layer's degrees are the D inputs themselves, and the output layer gives each input the same "
         "number of outputs side by side (nflows' output_multiplier). Any other width leaves inputs without a "
         "degree or outputs with another input's, and the model is no longer autoregressive in the order written.",
         "inputs: {x: [B, 784]}\nlayers:\n  - {type: Linear, out_features: 500, made: {features: 784, role: input}}"
         "\n  - {type: ReLU}\n  - {type: Linear, out_features: 1000, made: {features: 784, role: output}}",
         "Give the output layer features · k outputs (k per input: 1 for a logit, 2 for MAF's mean and log-scale), "
         "and the input layer the D inputs themselves (features: their count)."),
    Code("V178", "made-chain", "A Linear with made: reads units whose degrees are not those its role assumes: "
         "a layer between MADE layers mixes the units (a plain Linear, LayerNorm, Softmax, Concat, Reshape), the "
         "layers disagree on features, or a role is out of place (hidden or output reading the inputs themselves, "
         "a layer after an output layer).",
         "A MADE layer's mask is fixed by its units' positions: the input layer takes its inputs as degrees "
         "1..D, hidden and output layers take what they read as a MADE layer's hidden units (k % (D - 1) + 1). "
         "Only a chain of MADE layers of one D, with elementwise layers between, keeps those degrees: anything "
         "else lets output d read input d or a later one, and the model checks, trains and computes a density "
         "that is not one, with no error anywhere.",
         "inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 16, made: {features: 8, role: input}}"
         "\n  - {type: LayerNorm}\n  - {type: Linear, out_features: 8, made: {features: 8, role: output}}",
         "Keep only elementwise layers between MADE layers (activations, dropout, BatchNorm1d over (B, F), sums of "
         "MADE layers' units), one features: D for all of them, role input first and role output last. The input "
         "layer takes what it reads as its inputs (a permutation or Linear before it is MAF's stack)."),
    # -- DeepSeek's multi-head latent attention (helper c27) -------------------------------------------
    Code("V173", "latent-rotary-dim", "A MultiheadLatentAttention's rotary: gives a dim: other than its "
         "qk_rope_head_dim.",
         "Latent attention turns exactly its decoupled rotary features, the last qk_rope_head_dim of each query "
         "head and the one key beside the latent; the qk_nope_head_dim features come from the latent and carry "
         "no position. A second count would say two things about one set of features.",
         "- {type: MultiheadLatentAttention, num_heads: 16, kv_lora_rank: 512, qk_nope_head_dim: 128, "
         "qk_rope_head_dim: 64, v_head_dim: 128, rotary: {dim: 128}}",
         "Drop dim from rotary: (qk_rope_head_dim says how many features turn), or set qk_rope_head_dim to the "
         "count the model's config gives."),
    # -- Mamba's selective state-space mixer (helper c28) ---------------------------------------------------
    Code("V174", "mamba-dt-range", "A Mamba's dt_min is not below its dt_max.",
         "dt_proj's bias starts at the inverse softplus of steps drawn log-uniformly between dt_min and dt_max "
         "(mamba_ssm's 0.001 to 0.1): the range is what spreads the channels over short and long memories. An "
         "empty range (or the two swapped) most likely comes from a config read the wrong way round.",
         "- {type: Mamba, d_state: 16, dt_min: 0.1, dt_max: 0.001}",
         "Give dt_min the smaller step and dt_max the larger (or leave both out for mamba_ssm's 0.001 and 0.1)."),
    Code("V175", "mamba-inner-width", "A Mamba's d_inner (intermediate_size) is not its expand times d_model.",
         "expand and d_inner both say the mixer's inner width (in_proj gives 2 · d_inner, conv1d, x_proj, dt_proj, "
         "A_log and D are d_inner wide); written both ways and disagreeing, one of them is wrong and a checkpoint "
         "would not load.",
         "inputs: {x: [B, T, 768]}\nlayers:\n  - {type: Mamba, expand: 2, d_inner: 1024}",
         "Write one of them: d_inner (transformers' intermediate_size) or expand (mamba_ssm's)."),
    Code("V133", "unit-offset-without-weight", "An RMSNorm is given add_unit_offset: true and elementwise_affine: "
         "false.",
         "add_unit_offset scales by 1 + weight (Gemma's RMSNorm, its weight starting at 0); without a weight there "
         "is nothing to offset, and the spec most likely meant Gemma's learned scale.",
         "- {type: RMSNorm, add_unit_offset: true, elementwise_affine: false}",
         "Set elementwise_affine: true for Gemma's norm (weight 0 at the start, the scale 1 + weight), or drop "
         "add_unit_offset for a norm without a learned scale."),
    # -- numbers that must not lie: float16 and int8 (helper a21) --------------------------------
    LintCode("L036", "eps-vanishes-in-half"),
    LintCode("L039", "concat-across-space"),
    LintCode("L040", "float-padding-mask"),
    LintCode("L041", "softmax-across-space"),
    LintCode("L042", "upsample-size-as-factor"),
    LintCode("L049", "causal-first-step"),
    LintCode("L050", "decoder-sees-the-future"),
    LintCode("L051", "dropout-as-keep-probability"),
    LintCode("L052", "softmax-across-steps"),
    LintCode("L055", "router-without-gradient"),
    LintCode("L058", "rnn-reads-padding"),
    LintCode("L057", "lora-head-frozen"),
    LintCode("L059", "mean-over-padding"),
    LintCode("L060", "prenorm-without-final-norm"),
    LintCode("L061", "attention-scale-inverted"),
    LintCode("L062", "normalize-across-steps"),
    LintCode("L063", "attention-scaled-twice"),
    LintCode("L064", "log-variance-bounded"),
    LintCode("L065", "sequence-first-into-batch-first"),
    LintCode("L066", "patches-leave-pixels"),
    LintCode("L067", "adaptive-pool-enlarges"),
    LintCode("L068", "reduced-over-batch"),
    # -- weight_norm and spectral_norm on a layer's weight (helper d19) --------------------------
    Code("V051", "conflicting-weight-reparametrization", "Two settings rework the same weight of a layer: "
         "two of weight_norm, spectral_norm, weight_standardization, mask and made, or a reworked weight that LoRA "
         "adapts or a tie: shares.",
         "Each is a parametrization of the one weight: stacked, the weight the layer uses is neither what one "
         "nor the other promises, and a tie would make one layer's plain weight another's normalised one.",
         "- {type: Conv2d, out_channels: 64, kernel_size: 3, weight_norm: true, spectral_norm: true}",
         "Keep one of them: spectral_norm for a GAN's discriminator (SNGAN, BigGAN), weight_norm for a "
         "WaveNet, TCN or HiFi-GAN."),
    Code("V052", "reparametrization-dim-out-of-range", "The dim of weight_norm or spectral_norm is not a dim "
         "of the layer's weight.",
         "The weight of a Linear has 2 dims and a Conv2d's 4 ((out, in/groups, kH, kW)); PyTorch raises on "
         "another dim, and weight_norm reads dim -1 as the whole tensor rather than the last dim, so a "
         "negative dim would silently mean something else.",
         "- {type: Linear, out_features: 10, weight_norm: {dim: 2}}",
         "Use a dim from 0 to the weight's rank - 1 (0, the output features, is the usual one), or "
         "weight_norm: {dim: null} for one magnitude over the whole weight."),
    # -- training settings people carry over from other code (helper d21) ---------------------
    Code("V065", "target-among-features", "A CSV's target column is also one of the feature columns given "
         "in features:.",
         "The model then reads the answer among its inputs: it learns to copy that column, validation looks "
         "perfect, and on new data, where the target is what is unknown, its predictions mean nothing.",
         "train: {data: {source: patients.csv, target: outcome, features: [age, dose, outcome]}}",
         "Leave the target out of features: (without features:, every column but the target is a feature)."),
    Code("V066", "coupled-decay-at-adamw-scale", "Adam, NAdam, RAdam or Adamax has a weight_decay of 0.01 to 0.1, "
         "the scale of AdamW's decoupled decay (a warning).",
         "These optimizers add weight_decay x weight to the gradient (an L2 penalty), and their per-weight step "
         "size then rescales it, so the pull is strongest on the weights with the smallest gradients. Recipes "
         "give 0.01 to 0.1 for AdamW, which shrinks the weights apart from the gradient; the same number under "
         "Adam regularises far harder: a digits MLP reached 93% with Adam and weight_decay 0.05, 97.5% with "
         "AdamW and 0.05, 97.8% with no decay.",
         "optimizer: {type: Adam, lr: 3.0e-4, weight_decay: 0.05}",
         "Use type: AdamW with that weight_decay, or keep Adam with an L2 penalty of about 0.0001."),
    Code("V067", "raw-data-scale", "Training would feed an input, or regress a target, as it is, and its values "
         "reach beyond 100 (a warning from the data check).",
         "PyTorch's initial weights and the usual learning rates assume inputs and targets of order 1. Pixels of "
         "0 to 255 or raw features such as prices swamp the first layer, and raw targets such as house prices "
         "start the loss near their square: SGD's steps then explode (a loss of 5e23 after one epoch of house "
         "prices) and Adam's, about lr each, take thousands of epochs to reach values that large. train.preprocess "
         "standardises tabular inputs and regression targets by default; images and sequences (auto) and anything "
         "under none are left as they are.",
         "inputs: {image: [B, 3, 32, 32]}   # pixels saved as 0..255\ntrain: {data: {source: pictures.npz}}",
         "Write train.preprocess: {inputs: standardize} (or {targets: standardize}, which predict undoes), or save "
         "the data scaled (images: x / 255)."),
    # -- init: how parameters start (helper e22) ------------------------------------------------
    Code("V091", "init-names-nothing", "An init: names a parameter the layer does not have, or a layer type, "
         "block or layer path that names nothing in the model.",
         "A misspelt name would leave the parameter at PyTorch's default without a word, and the model would "
         "train from another starting point than the recipe it copies.",
         "- {type: Linear, out_features: 10, init: {weigth: zeros}}",
         "Use the parameter's PyTorch name, as the layer's state_dict() names it (weight, bias, weight_ih_l0, "
         "in_proj_weight; the hint lists the layer's), or a layer type, block name or layer path the model has."),
    Code("V092", "init-unknown-initialiser", "An init: names an initialiser specc does not have, or an "
         "argument it does not take, or is not written as an initialiser.",
         "specc writes each initialiser as the torch.nn.init call of the same name; an unknown one has no call.",
         "- {type: Linear, out_features: 10, init: {weight: glorot}}",
         "Write one of zeros, ones, constant, normal, trunc_normal, uniform, xavier_uniform, xavier_normal, "
         "kaiming_uniform, kaiming_normal, orthogonal, or Keras' glorot_uniform, glorot_normal, he_uniform, "
         "he_normal, lecun_uniform, lecun_normal: a name, or {name: {argument: value}}."),
    Code("V093", "init-argument-out-of-range", "An initialiser's argument is out of its range: a std or gain of "
         "0 or less, a uniform or truncated normal whose a is not below b, an unknown mode or nonlinearity.",
         "torch.nn.init raises on some (a kaiming mode of fan_avg) and silently draws nonsense from others (a "
         "negative std, an empty interval).",
         "- {type: Linear, out_features: 10, init: {weight: {normal: {std: 0}}}}",
         "Give a positive std (GPT-2, BERT and ViT use 0.02), a below b, and mode fan_in or fan_out."),
    Code("V094", "init-fans-of-1d", "An initialiser that reads a tensor's fan-in and fan-out (xavier, kaiming, "
         "glorot, he, lecun) or makes it orthogonal is given a tensor of fewer than 2 dims, a bias or a norm's "
         "scale.",
         "PyTorch raises 'Fan in and fan out can not be computed for tensor with fewer than 2 dimensions' when "
         "the model is built.",
         "- {type: Linear, out_features: 10, init: {\"*\": xavier_uniform}}",
         "Give the weight the fan-based initialiser and the bias zeros: init: {weight: xavier_uniform, bias: "
         "zeros}."),
    Code("V095", "init-of-borrowed-weight", "An init: sets a weight that is not the layer's own to set: one "
         "weight_norm or spectral_norm reparametrises, or one tie: takes from another layer.",
         "torch.nn.init on a reparametrised weight changes a computed copy and leaves the parameter as it was; "
         "a tied weight is the other layer's, which its own init: decides.",
         "- {type: Linear, out_features: 10, spectral_norm: true, init: {weight: orthogonal}}",
         "Leave the weight out of init: (initialise a tied weight at the layer it comes from), or drop the "
         "reparametrisation."),
    Code("V096", "init-type-unused", "The model's or a block's init: names a layer type that no layer it "
         "covers has (a warning).",
         "The entry changes nothing, so the model starts from PyTorch's defaults where the recipe meant "
         "otherwise. Hugging Face's `isinstance(module, nn.Linear)` loops also reach the Linear layers inside "
         "attention and Transformer layers; specc's Linear: reaches Linear layers only.",
         "inputs: {x: [B, T, 64]}\ninit: {Linear: {weight: {normal: {std: 0.02}}}}\nlayers:\n"
         "  - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128}",
         "Name the type the model has; for a Transformer layer's inner weights, name them by pattern under its "
         "type: init: {TransformerEncoderLayer: {\"linear*.weight\": {normal: {std: 0.02}}}}."),
    Code("S045", "pick-index-shape", "A Pick's index does not hold one position per row: its shape is not the "
         "dims of the picked tensor before dim.",
         "Pick takes, in each row of x, the element of dim its index names (x[arange(B), index] along dim 1), so "
         "the index has exactly the dims before dim. An index of another shape (an ArgMax kept with keepdim, "
         "an index over the wrong dim) fails in torch.gather, or broadcasts into a different tensor than meant.",
         "inputs: {x: [B, T, 64], text: {shape: [B, T], dtype: int64}}\nlayers:\n"
         "  - {type: ArgMax, from: text, dim: -1, keepdim: true, name: eot}\n  - {type: Pick, from: [x, eot]}",
         "Give the index the dims of x before dim: an ArgMax without keepdim over the same rows, or set dim: to "
         "the dim after the index's dims."),
    Code("V166", "gamma-without-gain", "weight_standardization sets gamma without gain: true.",
         "gamma is the scale of timm's ScaledStdConv2d (NFNet): the standardised filters times a learned gain and "
         "gamma / sqrt(fan_in). StdConv2d (BiT, gain: false) standardises the filters and scales nothing, so the "
         "gamma would be silently ignored and the activations would not have the variance the paper's gamma "
         "restores.",
         "- {type: Conv2d, out_channels: 64, kernel_size: 3, weight_standardization: {gamma: 1.7015043}}",
         "Add gain: true (ScaledStdConv2d, NFNet, NF-ResNet), or remove gamma for BiT's StdConv2d."),
    Code("V167", "spread-setting-elsewhere", "A Reduce sets correction or eps where its op has no use for it: "
         "correction on a mean, sum, max, min or l2, eps on anything but std.",
         "correction says what a variance divides its sum of squares by, and eps is added under std's square "
         "root (sqrt(var + eps), RevIN's deviation); on another op PyTorch has no such argument, and the spec "
         "would promise a computation nothing runs.",
         "- {type: Reduce, op: mean, dim: 1, correction: 0}",
         "Remove the key, or use op: var / op: std (eps: op std only; after a var add the constant with "
         "- {type: Add, value: 1.0e-5})."),
    Code("V168", "absolute-offsets-with-class-token", "A RelativePositionIndex asks for absolute offsets (LeViT's) "
         "and a class token (BEiT's) together.",
         "Absolute offsets number the sizes (|dy|, |dx|) of a square map's offsets, Wh·Ww ids, as LeViT's "
         "attention_bias_idxs; BEiT's three class-token ids extend the signed table, and no published model "
         "defines them for the absolute one, so any choice would be specc's invention.",
         "- {type: RelativePositionIndex, window: 7, absolute: true, class_token: true}",
         "Remove class_token (LeViT pools the map's tokens for its head), or use signed offsets with it."),
    Code("V169", "renormalised-table-tied", "An Embedding with max_norm shares its table with another layer "
         "by tie:.",
         "PyTorch's Embedding renormalises the rows it looks up in the table itself, in place, during forward: a "
         "head tied to that table reads rows rescaled by whichever ids this call and every earlier one looked up, "
         "so its logits depend on the history of calls. The exported model reads the table as stored, and an "
         "in-place write to a weight another layer has read breaks the backward pass.",
         "- {type: Embedding, num_embeddings: 1000, embedding_dim: 64, max_norm: 1.0, name: embed}\n"
         "- {type: Linear, out_features: 1000, tie: embed}",
         "Remove max_norm (GPT-2, BERT and T5 tie their heads to unbounded tables), or the tie: to give the "
         "head its own weight."),
    Code("V170", "mask-hides-every-tap", "A convolution of a one-tap kernel (kernel_size 1) takes PixelCNN's "
         "mask A.",
         "Mask A zeroes the kernel's centre and every tap after it in raster order, keeping only the taps before "
         "the centre; a 1x1 kernel has none, so every weight is zero and the layer outputs its bias whatever it "
         "reads: a model that trains, exports and predicts a constant at that layer.",
         "- {type: Conv2d, out_channels: 64, kernel_size: 1, mask: A}",
         "Give the masked layer a kernel of 3 or more (PixelCNN's first layer is 7x7, padding 3), or use mask: B "
         "on the 1x1 convolutions after it, which keeps the centre."),
    Code("V176", "fill-value", "A MaskedFill writes a value its input's dtype cannot hold: a fraction or an "
         "infinity into integers, a number past float16's 65504 into float16 values, or nan.",
         "PyTorch's masked_fill converts the value to the input's dtype and raises where it cannot ('value cannot "
         "be converted to type at::Half without overflow': the -1e9 of many attention implementations on float16 "
         "scores), and a nan spreads through every sum that reads it.",
         "inputs: {x: {shape: [B, T, T], dtype: float16}, hide: {shape: [B, T, T], dtype: bool}}\nlayers:\n"
         "  - {type: MaskedFill, from: [x, hide], value: -1.0e9}",
         "Write -inf (or float16's lowest, -65504) into float16 scores; a whole number in range into integers."),
    Code("V177", "row-with-no-key", "A Softmax reads scores filled with -inf where a CausalMask of diagonal 0 or "
         "less hides every key from the first query.",
         "diagonal: 0 hides each query's own key too, so query 0 sees nothing: its row is all -inf, exp gives 0 "
         "everywhere and the Softmax divides 0 by 0. The nan then spreads through the weighted sum to every "
         "position; export finds nothing to compare.",
         "layers:\n  - {type: CausalMask, from: scores, diagonal: 0, name: hide}\n"
         "  - {type: MaskedFill, from: [scores, hide], value: -.inf}\n  - {type: Softmax, dim: -1}",
         "Use diagonal: 1 (each query sees itself and the keys before it), or fill with a finite value such as "
         "-1e4, whose row then averages its values evenly."),
    Code("V161", "window-past-the-keys", "A Softmax reads scores filled with -inf where a CausalMask with a window "
         "reads scores with window or more queries past the keys (T >= S + window at some size).",
         "Query i keeps the keys i - window + 1 .. i; past the last key plus window - 1 that range holds no key at "
         "all, so the row is all -inf, exp gives 0 everywhere and the Softmax divides 0 by 0. A cross-attention's "
         "queries and keys have lengths of their own, so some input sizes reach it; the nan then spreads through "
         "the weighted sum to every position.",
         "inputs: {q: [B, T, 16], k: [B, S, 16]}\nlayers:\n  - {type: Transpose, from: k, dim0: 1, dim1: 2, name: kt}\n"
         "  - {type: MatMul, from: [q, kt], name: scores}\n"
         "  - {type: CausalMask, from: scores, window: 4, name: hide}\n"
         "  - {type: MaskedFill, from: [scores, hide], value: -.inf}\n  - {type: Softmax, dim: -1}",
         "Give the mask a self-attention's scores (as many queries as keys), drop window:, or fill with a finite "
         "value such as -1e4, whose empty rows then average their values evenly."),
    Code("V105", "constant-operand", "A Compare, Add, Mul, Sub or Div has nothing to combine its input with (no "
         "value: and one input), two things (a value: and a second input), a constant its integer input cannot "
         "hold, or a division by value 0.",
         "These layers take input 1 with a constant (value:) or with a second input, one of the two. A constant "
         "outside an integer dtype's range (300 against uint8 ids) is not the number PyTorch computes with, and "
         "dividing by 0 gives inf or nan everywhere.",
         "inputs: {ids: {shape: [B, T], dtype: int64}}\nlayers:\n  - {type: Compare, op: ne}",
         "Give value: (the padding id, a threshold, an offset) or a second input with from: [a, b], not both; "
         "use a value of the integer input's range, or Cast it to int64 first."),
    # -- later stages: what build, forward, export or training cannot do ---------------------
    Code("U001", "batch-size-requirement", "A layer needs a minimum size along the batch dim.",
         "A model must run on a batch of any size: prediction feeds one sample at a time, and the last batch of "
         "an epoch is often smaller. Selecting index 2 along the batch works for batches of 3 or more and fails "
         "at 2; specc cannot promise every later stage works, so it refuses the spec.",
         "inputs: {x: [B, 4]}\nlayers:\n  - {type: Select, dim: 0, index: 2}",
         "Select along a non-batch dim, or use an index that always exists on the batch (0 or -1)."),
    Code("U002", "not-exportable", "A layer, as configured, cannot be exported to ONNX by the route `specc export` "
         "takes.",
         "`specc check` promises that every later stage works on a spec it accepts, export included. Export "
         "takes the direct target when it writes every layer, else the torch exporters; a layer the route it "
         "would take cannot write (neither route, or the direct target alone where torch is not installed, or "
         "the pinned torch exporter) would pass check and then fail at export, so check says so at the layer, "
         "with the reason.",
         "- {type: LSTM, hidden_size: 64, proj_size: 16}\nexport: {exporter: torchscript}   # no torch exporter "
         "writes proj_size",
         "Leave export.exporter at auto (the direct target writes proj_size), or set proj_size: 0 and add "
         "- {type: Linear, out_features: 16} after the LSTM."),
    # -- parameter groups (helper d23) -------------------------------------------------------
    Code("V113", "param-group-matches-nothing", "A name in the optimizer's no_decay or a param_groups entry's "
         "params reaches no parameter of the model.",
         "Each name picks parameters by a layer type, a block, a layer's path, a state-dict name or glob, or the "
         "rules bias, norm and 1d. One that picks none (a misspelt path, LayerNorm in a model of BatchNorm2d) "
         "leaves those parameters decaying, or at the optimizer's lr, with nothing said: the recipe the spec "
         "writes is not the one that trains.",
         "optimizer: {type: AdamW, no_decay: [bias, LayerNrom]}",
         "Name what the model has: the hint gives the nearest name, or the layer types it holds."),
    Code("V114", "parameter-in-two-groups", "One parameter is named by two of the optimizer's param_groups.",
         "PyTorch's optimizer takes a parameter in one group only ('some parameters appear in more than one "
         "parameter group'), and letting the first group win would hide which lr the parameter trains with. "
         "no_decay is no group of its own: it splits every group, so a head's biases can be in both.",
         "param_groups: [{params: [head], lr: 1.0e-3}, {params: ['*.bias'], weight_decay: 0}]",
         "Narrow one group's params so that each parameter is named once; for biases and norms without weight "
         "decay, use no_decay."),
    Code("V115", "param-group-setting-invalid", "A param_groups entry sets a key its optimizer does not take, "
         "or a value the optimizer would refuse.",
         "A group overrides the optimizer's own settings (lr, weight_decay, momentum, betas...) for its "
         "parameters; torch.optim ignores a key its optimizer does not read (momentum in a group of Adam), so "
         "the group trains with the optimizer's own value and nothing says so, and a value out of range (lr: 0, "
         "a beta of 1) fails when the optimizer first steps.",
         "optimizer: {type: Adam, param_groups: [{params: [fc], momentum: 0.9}]}",
         "Set only what the optimizer takes (the hint lists it), with a value it takes."),
    Code("T065", "param-group-trains-nothing", "A param_groups entry names only parameters that do not train "
         "(trainable: false, or the base weights under lora:): a warning.",
         "Frozen parameters are in no group (the optimizer never sees them), so the group's lr and weight_decay "
         "change nothing; under lora: only the adapters and the layers marked trainable: true train, and the "
         "adapters train with the optimizer's own settings.",
         "optimizer: {type: AdamW, param_groups: [{params: [backbone], lr: 1.0e-5}]}   # backbone: trainable: false",
         "Name the layers that train, or drop the group."),
    Code("T066", "no-decay-without-decay", "The optimizer has no_decay but no weight decay to leave out: a "
         "warning.",
         "no_decay takes biases and norms out of the weight decay the other parameters train with; with the "
         "optimizer's weight_decay at 0 (Adam's and SGD's default) and no group setting one, nothing decays at "
         "all, which is seldom what a spec copying BERT's or timm's recipe means.",
         "optimizer: {type: Adam, lr: 1.0e-3, no_decay: [bias, norm]}",
         "Set the optimizer's weight_decay (AdamW's default is 0.01), or drop no_decay."),
    # -- diffusion models: timestep embeddings and adaptive norms (helper b24) ---------------------
    Code("V134", "sinusoid-frequencies-unfit", "A SinusoidalEmbedding's dim has no sine and cosine pair, or its "
         "downscale_freq_shift is not below dim // 2.",
         "The frequencies are exp(-ln(max_period)·k / (dim // 2 - downscale_freq_shift)): with the shift equal to "
         "dim // 2 they divide by zero and every output is NaN, above it the frequencies grow as max_period to the "
         "k-th power and the sines of large timesteps are noise; a dim of 1 gives only the zero an odd dim is "
         "padded with.",
         "- {type: SinusoidalEmbedding, dim: 2, downscale_freq_shift: 1}",
         "Use downscale_freq_shift 0 (DiT, diffusers' UNets) or 1 (get_timestep_embedding's default) with a dim "
         "of 4 or more."),
    Code("V150", "relative-buckets-unfit", "A RelativePositionBucket's num_buckets leaves no exact offset, or its "
         "max_distance is not past the exact offsets.",
         "T5 gives the first max_exact = num_buckets / 4 offsets (num_buckets / 2 when causal) a bucket each and "
         "spaces the rest by log(offset / max_exact) / log(max_distance / max_exact): with max_exact 0, or "
         "max_distance at or below it, that divides by zero (or by a negative number) and the ids are garbage, "
         "which the Embedding after it reads out of range.",
         "inputs: {x: [B, T, 16]}\nlayers:\n  - {type: RelativePositionBucket, num_buckets: 32, max_distance: 8}",
         "Use T5's num_buckets: 32 and max_distance: 128, or a max_distance past num_buckets / 4."),
    Code("S063", "modulation-unfit", "A Modulate's shift or scale is not one vector per sample (B, F) whose F is "
         "the size of the input's dim it modulates.",
         "Modulate computes x · (1 + scale) + shift with each sample's scale and shift placed along one dim of x "
         "(the features of a (B, N, D) sequence, the channels of a (B, C, H, W) map) and repeated over the rest; a "
         "vector of another width, or one already shaped like x, would scale the wrong dim or none.",
         "- {type: Modulate, from: [x, mod.0, mod.1]}   # x (B, 256, 384), mod.0 (B, 768)",
         "Give the Linear that makes the modulation out_features: chunks x the width of x's dim, split it with "
         "Chunk along dim 1, and set dim: to the dim of x it modulates (-1 for a sequence, 1 for a map)."),
    # -- sparse mixture of experts (helper b25) ------------------------------------------------
    Code("V155", "more-experts-routed-than-exist", "A MixtureOfExperts routes each token to top_k experts, but "
         "top_k is larger than num_experts.",
         "The router picks each token's top_k experts among num_experts (torch.topk over the experts' "
         "probabilities); asking for more than there are fails in the first forward (selected index k out of "
         "range), and a top_k of num_experts would be a dense mixture anyway.",
         "- {type: MixtureOfExperts, num_experts: 4, top_k: 8, hidden_features: 64}",
         "Route each token to fewer experts than there are: Mixtral's top_k is 2 of 8, Switch's 1, Qwen1.5-MoE's "
         "4 of 60."),
    # -- internal ---------------------------------------------------------------------------
    Code("E999", "internal-error", "specc itself failed; this is a bug in specc, not in the spec.",
         "Every mistake in a spec should get its own code with a location and a hint; an internal error means "
         "specc met a case it does not handle.",
         "(any spec that makes specc print 'internal error')",
         "Report it with the spec attached; SPECC_DEBUG=1 shows the traceback."),
]

CODES: dict[str, Code | LintCode] = {c.code: c for c in _TABLE}
assert len(CODES) == len(_TABLE), "duplicate code in the table"

# The codes that are warnings (lint rules, unused inputs and layers): the only ones a spec
# may silence with `ignore:` or `lint: {ignore: [...]}`. Errors can never be silenced.
WARNING_CODES = frozenset({c for c in CODES if c.startswith("L")}
                          | {"G005", "G007", "G011", "G014", "S012", "T011", "T017", "V032", "V066", "V067", "V070",
                             "V072", "V096"}
                          | {"V074", "V075", "V076", "V160"}
                          | {"T019", "T020", "T021", "T022", "T023", "T024", "T061", "T062", "T063", "T064", "T073"}
                          | {"T084", "T085", "T086", "T087", "T088", "T090", "T091", "T092", "T093", "T095", "V140"}
                          | {"T065", "T066"})


def closest_warning_code(text: str) -> str | None:
    """The warning code a mistyped one most likely means: the same number written with its
    zeros ('L04', 'l4' -> 'L004') first, else the nearest spelling."""
    import difflib
    import re

    m = re.fullmatch(r"\s*([A-Za-z])\s*0*(\d{1,3})\s*", text)
    if m:
        padded = f"{m[1].upper()}{int(m[2]):03d}"
        if padded in WARNING_CODES:
            return padded
    # of two as near (X017: L017 and T017), a lint code: the kind people silence most
    close = difflib.get_close_matches(text.upper(), sorted(WARNING_CODES), n=3)
    best = [c for c in close if difflib.SequenceMatcher(None, text.upper(), c).ratio() ==
            difflib.SequenceMatcher(None, text.upper(), close[0]).ratio()] if close else []
    return min(best, key=lambda c: (c[0] != "L", c)) if best else None
