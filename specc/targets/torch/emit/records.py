"""The records that planning produces and the templates print: plain data, no decisions.

Every string in a record is finished Python source (a constructor, an expression, a
statement) or finished comment text; the templates only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attribute:
    """``self.<name> = <constructor>`` in ``__init__``; a frozen one is followed by
    ``requires_grad_(False)`` (trainable: false)."""

    name: str
    constructor: str
    frozen: bool


@dataclass(frozen=True)
class ForwardStep:
    """``target = expr`` in ``forward``, commented with the shape it gives ("" for no comment);
    with ``loop`` (``layer in self.stack``), the body of ``for <loop>:``."""

    target: str
    expr: str
    shape: str
    loop: str = ""


@dataclass
class ClassRecord:
    """One ``nn.Module`` class: a block's class or the model itself."""

    name: str
    doc: list[str]  # docstring lines; one line is written on the opening line
    params: list[str]  # constructor parameters, "name: annotation"
    attributes: list[Attribute]
    args: list[str]  # forward's tensor arguments
    steps: list[ForwardStep]
    returns: list[str]
    return_type: str
    after_init: list[str] = field(default_factory=list)  # statements after the layers (LoRA adapters)
    frozen_norms: list[str] = field(default_factory=list)  # modules whose norm statistics stay fixed in train()
    init_weights: list[str] = field(default_factory=list)  # the body of _init_weights (the spec's init:)


@dataclass
class Builders:
    """The bodies of build_loss(), build_optimizer() and build_scheduler(); None: not written."""

    loss: str | None = None
    optimizer: str | None = None
    optimizer_since: tuple[str, str] | None = None  # (class, first torch version) of a newer optimizer
    param_groups: list[str] = field(default_factory=list)  # the lines of PARAM_GROUPS (optimizer: groups)
    scheduler: str | None = None
    scheduler_interval: str = "epoch"
    scheduler_setup: list[str] = field(default_factory=list)  # statements before `return scheduler`


@dataclass
class ModuleRecord:
    """The whole generated module, top to bottom."""

    header: list[str]  # comment lines
    description: list[str]  # comment lines: the spec's description
    imports: list[list[str]]  # import statements after ``from __future__``, in groups
    input_shapes: list[tuple[str, str, str]]  # (name, shape literal, dtype)
    output_shapes: list[tuple[str, str]]  # (name, shape literal)
    support: list[str]  # helper code the layers need, each text once
    training_support: set[str]  # pieces of templates/training_support.py.j2 to print
    classes: list[ClassRecord]  # block classes before the classes using them; the model last
    model: str
    builders: Builders
