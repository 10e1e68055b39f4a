"""Every rule for the names a spec declares, and which warning codes it may silence.

Names: :func:`identifier_problem` is the rule for every name and symbol (layer, block, input,
output, model, block argument, dim symbol): a plain ASCII identifier, checked over the whole
text.  :func:`name_problem` adds what the generated code needs of a name that becomes a Python
identifier (no keyword, no nn.Module attribute, nothing the generated module defines), and
:func:`suggest_name` offers a usable one.  The graph engine, the checks of the document and the code
writers all ask here.

Silencing: only warnings may be silenced (``ignore:``, ``lint: {ignore: [...]}``, ``--ignore``);
:func:`split_silenceable` is the one check the three places share.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import PurePath

from ..codes import WARNING_CODES

# fullmatch, never `^...$`: `$` also matches before a final newline, so "fc\n" passed as an
# identifier and reached the generated code and the exported model.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"  # also the JSON schema's pattern for names (report/schema.py)
_IDENT = re.compile(IDENTIFIER)


def identifier_problem(text: str) -> str | None:
    """Why ``text`` is not a plain ASCII identifier (to follow the quoted name in a message),
    or None when it is one."""
    if _IDENT.fullmatch(text):
        return None
    control = next((c for c in text if not c.isprintable()), None)
    if control is not None:
        return f"contains the control character {control!r}, which no name may hold"
    if not text.isascii():
        return "contains non-ASCII characters (look-alikes are not allowed)"
    return "is not an identifier (letters, digits and _ only, not starting with a digit)"


def model_name_of(path: str) -> str:
    """The class name of a model whose spec gives no name: its file's, 'my-net.yaml' -> MyNet."""
    stem = re.sub(r"[^0-9A-Za-z]+", " ", PurePath(path).stem).title().replace(" ", "")
    stem = stem if stem[:1].isalpha() else f"Model{stem}"
    # f.yaml or focal_loss.yaml must not name the class after what the generated module
    # defines (F, FocalLoss): compile would refuse it, or define FocalLoss twice.
    return stem if class_name_problem(stem) is None else f"{stem}Model"


def class_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a generated class, or None: it must not shadow builtins, nor be
    rebound by what the templates define (build_loss, main…)."""
    return name_problem(name, parameter=True, class_name=True)


def suggest_name(name: object, kind: str, problem: Callable[[str], str | None]) -> str:
    """'my layer' -> 'my_layer', 'ﬁlter' -> 'filter', 'class' -> 'class_layer', '2d' -> 'layer_2d'."""
    text = unicodedata.normalize("NFKC", str(name))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\W+", "_", text).strip("_")
    if not text:
        return f"{kind}_1"
    if text[0].isdigit():
        text = f"{kind}_{text}"
    if problem(text) is not None:
        text = f"{text}_{kind}"
    return text if problem(text) is None else f"{kind}_1"


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
# would shadow them.  Validation knows no target, so the caller that does reserves them
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


# Top-level names the templates define beside the generated classes (``INPUT_SHAPES``, ``build_loss``,
# the training script's ``main`` and imports…): a model or block class of that name would be rebound
# by them.  Written out: reading and scanning the templates cost every check of a spec with blocks
# ~3 M instructions; tests/test_sections.py holds this list equal to the templates' top-level
# assignments, defs, classes and imports.
TEMPLATE_NAMES = frozenset({
    "ClassesAt", "FocalLoss", "FromLogits", "INPUT_SHAPES", "LoRA", "MultiLoss", "OUTPUT_SHAPES", "Outputs",
    "SCHEDULER_INTERVAL", "TRAIN_CONFIG", "_spec_name", "add_lora", "annotations", "build_loss", "build_optimizer",
    "build_scheduler", "freeze_norm_stats", "main", "param_groups",
})


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
    if class_name and name in TEMPLATE_NAMES:
        return f"name {name!r} is defined by the generated module beside its classes"
    reserved = name in GENERATED or name in support_names()
    if reserved or (name in FORWARD_LOCALS and not parameter and not (allow_input and name == "input")):
        return f"name {name!r} is used by the generated code"
    return None



# -- silencing ---------------------------------------------------------------------------------

SILENCEABLE = WARNING_CODES


def split_silenceable(codes: Iterable[object]) -> tuple[list[str], list[object]]:
    """The codes that may be silenced (upper-cased: 'l004' is L004), and the others as written."""
    ok: list[str] = []
    bad: list[object] = []
    for code in codes:
        if isinstance(code, str) and code.upper() in SILENCEABLE:
            ok.append(code.upper())
        else:
            bad.append(code)
    return ok, bad


def silenceable_list() -> str:
    """The codes that may be silenced, for a message: 'G005, G007, L001, ...'."""
    return ", ".join(sorted(SILENCEABLE))
