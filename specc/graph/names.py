"""Which names may become Python identifiers in generated code.

Layer, block and input names end up as attribute and variable names in an
``nn.Module``.  They must be plain ASCII identifiers (no Unicode look-alikes such as
``ﬁlter``, which Python would silently normalise to ``filter``), not keywords, not
dunder names, and not anything ``nn.Module`` already defines.
"""

from __future__ import annotations

import ast
import builtins
import functools
import keyword
import re
from collections.abc import Callable

from ..validate.naming import identifier_problem

# Attributes and methods of torch.nn.Module (torch 2.x), written out so that checking a
# name never imports torch.  A layer called `forward` or `to` would shadow them.
NN_MODULE_ATTRS = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)

_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))

# Builtins the AST gate refuses to see in generated code: no spec name may become one.
UNSAFE_BUILTINS = frozenset({
    "exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "open", "input", "breakpoint", "exit", "quit", "help", "memoryview", "__builtins__", "__loader__", "__spec__",
})

# Module-level names of the generated file: never usable.
GENERATED = frozenset({"self", "torch", "nn", "F", "math", "Tensor", "annotations"})


# Top-level names a target writes into generated files beside the model (its support code:
# ``rnn_last``, ``PositionalEncoding``, ``ConvLSTM2d``…): a layer, input or model called that
# would shadow them.  The graph knows no target, so the caller that does reserves them
# (specc/pipeline.py, for the PyTorch target).
_target_names: list[Callable[[], frozenset[str]]] = []
_reserved: list[frozenset[str]] = []  # their union, once asked for


def reserve_target_names(names: Callable[[], frozenset[str]]) -> None:
    """Reserve the names ``names()`` gives (asked the first time a name is checked)."""
    if names not in _target_names:
        _target_names.append(names)
        _reserved.clear()


def support_names() -> frozenset[str]:
    """Top-level names the reserved targets' support code defines in generated files."""
    if not _reserved:
        _reserved.append(frozenset().union(*(names() for names in _target_names)))
    return _reserved[0]


_TOP_LEVEL = re.compile(r"^(?:def|class) (\w+)|^(\w+) =", re.M)


@functools.cache
def template_names() -> frozenset[str]:
    """Top-level names the templates define beside the generated classes (``INPUT_SHAPES``,
    ``build_loss``, the training script's ``main`` and imports…): a model or block class of
    that name would be rebound by them."""
    from ..resources import templates_dir

    names: set[str] = set()
    for path in sorted(templates_dir().glob("*.j2")):
        text = path.read_text(encoding="utf-8")
        names.update(g for m in _TOP_LEVEL.finditer(text) for g in m.groups() if g)
        for line in re.sub(r"\{%.*?%\}", "", text).splitlines():
            if line.startswith(("import ", "from ")) and "{" not in line:
                for node in ast.parse(line).body:
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return frozenset(names)


# `input` is how a block's layers refer to the block input in a spec, so no layer may take it.
# (The generator picks its own variable names around whatever the layers are called.)
FORWARD_LOCALS = frozenset({"input"})


def name_problem(name: object, *, allow_input: bool = False, parameter: bool = False,
                 class_name: bool = False) -> str | None:
    """Why ``name`` cannot be used, or None when it can (``class_name``: a module-level class,
    which must not collide with what the templates define at module level either)."""
    if not isinstance(name, str):
        return f"a name must be text, got {name!r}"
    problem = identifier_problem(name)
    if problem:
        return f"name {name!r} {problem}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in ("True", "False", "None"):
        return f"name {name!r} is a Python keyword"
    if name.startswith("__") or name.endswith("__"):
        return f"name {name!r} is a dunder name"
    if name.startswith("_"):
        return f"name {name!r} starts with an underscore, which generated code reserves"
    if name in NN_MODULE_ATTRS:
        return f"name {name!r} is an attribute of nn.Module and would shadow it"
    if name in UNSAFE_BUILTINS:
        return f"name {name!r} is a Python builtin that generated code may not use"
    if parameter and name in _BUILTINS:
        # Parameters are locals of generated functions: `super` or `float` would break them.
        return f"name {name!r} would shadow the Python builtin {name}()"
    if class_name and name in template_names():
        return f"name {name!r} is defined by the generated module beside its classes"
    reserved = name in GENERATED or name in support_names()
    if reserved or (name in FORWARD_LOCALS and not parameter and not (allow_input and name == "input")):
        return f"name {name!r} is used by the generated code"
    return None


# A word written with inner capitals, as ReLU, PReLU, SiLU or ViT: one word, not "re_lu".
_CAPITALISED_WORD = re.compile(r"[A-Z]?[A-Z][a-z]{1,2}[A-Z]+(?![a-z])")
# Where CamelCase starts a new word: "MaxPool" -> "Max|Pool", "LSTMCell" -> "LSTM|Cell". A digit
# stays with the word before it ("Conv2d", "ReLU6").
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_words(type_name: str) -> str:
    """A type name as the snake_case words PyTorch's functional API uses: ``MaxPool2d`` ->
    ``max_pool2d``, ``PositionalEncoding`` -> ``positional_encoding``, ``LeakyReLU`` ->
    ``leaky_relu``, ``ConvLSTM2d`` -> ``conv_lstm2d``."""
    text = _CAPITALISED_WORD.sub(lambda m: m.group(0).upper(), type_name)
    return re.sub(r"[^a-z0-9_]", "_", _WORD_START.sub("_", text).lower())


def auto_name(type_name: str, n: int) -> str:
    """``conv2d_1``, ``max_pool2d_2``, ``positional_encoding_1``: the names PyTorch users give by hand."""
    return f"{snake_words(type_name)}_{n}"
