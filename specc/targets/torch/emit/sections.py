"""build_loss(), build_optimizer() and build_scheduler(): the spec's training sections as
PyTorch expressions, and the support pieces they need."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ....shapes.tensor import TensorType
from ....validate.document import MIN_TORCH
from .quote import Ref, lit
from .records import Builders

if TYPE_CHECKING:
    from ....graph.groups import Plan
    from ....graph.ir import Graph
    from ....validate.document import Document

# Defaults specc chooses differently from PyTorch: written out even when the spec leaves
# them alone (PyTorch's KLDivLoss "mean" is not the KL divergence and warns).
DEFAULTS_UNLIKE_PYTORCH = {"KLDivLoss": ("reduction",)}
# Arguments that come from the training run rather than the spec: names in build_scheduler.
RUN_ARGUMENTS = {"OneCycleLR": {"epochs": Ref("epochs"), "steps_per_epoch": Ref("steps_per_epoch")}}
# specc's own keys of a section, which are not arguments of the PyTorch class.
SPECC_KEYS = {"interval", "warmup", "class_dim", "from_logits", "mode", "no_decay", "param_groups"}


def builders(d: Document | None, g: Graph, support: set[str], groups: Plan | None = None) -> Builders:
    """The three build functions of the document ``d`` over the model ``g`` (its optimizer's
    parameter ``groups``); the training support pieces they use are added to ``support``."""
    if d is None:
        return Builders()
    sched, opt = d.scheduler, d.optimizer
    setup, sched_expr = _scheduler(sched, opt, groups) if sched else ([], None)
    if groups is not None:
        support.add("param_groups")
    main_out = g.value(g.outputs[0][1]) if g.outputs else None
    if isinstance(d.loss, dict):
        loss = _multi_loss(d.loss, {n: g.value(src) for n, src in g.outputs}, support)
    else:
        loss = _loss(d.loss, main_out, support) if d.loss else None
    return Builders(
        loss=loss,
        optimizer=_section(opt, "torch.optim", "params"),
        param_groups=_groups_literal(groups) if groups is not None else [],
        optimizer_since=(opt.type, MIN_TORCH[opt.type]) if opt is not None and opt.type in MIN_TORCH else None,
        scheduler=sched_expr,
        scheduler_interval=sched.interval if sched else "epoch",
        scheduler_setup=setup,
    )


def _call(qualname: str, fields: dict[str, Any], lead: str = "") -> str:
    parts = [lead] if lead else []
    for k, v in fields.items():
        if k in ("weight", "pos_weight") and v is not None:
            parts.append(f"{k}=torch.tensor({lit(v)})")
        else:
            parts.append(f"{k}={lit(v)}")
    return f"{qualname}({', '.join(parts)})"


def _section(model: Any, prefix: str, lead: str = "") -> str | None:
    if model is None:
        return None
    fields = model.model_dump(exclude={"type", *SPECC_KEYS}, exclude_defaults=True)
    for k in DEFAULTS_UNLIKE_PYTORCH.get(model.type, ()):
        fields.setdefault(k, getattr(model, k))
    fields.update(RUN_ARGUMENTS.get(model.type, {}))
    return _call(f"{prefix}.{model.type}", fields, lead)


def _loss(loss: Any, out: TensorType | None, support: set[str]) -> str:
    """build_loss()'s expression: PyTorch's loss, or specc's FocalLoss, wrapped when the
    classes are not at dim 1 (ClassesAt) or the model returns logits to KLDivLoss (FromLogits)."""
    from ....validate.training import class_dim, classification, focal_mode

    if loss.type == "FocalLoss":
        support.add("FocalLoss")
        binary = out is not None and focal_mode(loss, out) == "binary"
        fields = loss.model_dump(include={"gamma", "alpha", "reduction", "ignore_index"}, exclude_defaults=True)
        expr = f"FocalLoss({', '.join(f'{k}={lit(v)}' for k, v in {**fields, 'binary': binary}.items())})"
    else:
        expr = _section(loss, "nn") or ""
    if loss.type == "KLDivLoss" and loss.from_logits:
        support.add("FromLogits")
        return f"FromLogits({expr}, dim={lit(loss.class_dim)})"
    if out is not None and classification(loss, out) and class_dim(loss, out) not in (None, 1):
        support.add("ClassesAt")
        return f"ClassesAt({expr}, dim={lit(loss.class_dim)})"
    return expr


def _plain(loss: Any) -> Any:
    """A per-output loss as the single form writes it: its number ``weight`` weighs the term in
    MultiLoss, so only a list ``weight`` (class weights) reaches PyTorch's loss."""
    from ....validate.document import class_weights

    data = loss.model_dump(exclude={"weight"})
    if class_weights(loss) is not None:
        data["weight"] = class_weights(loss)
    return type(loss).__mro__[1].model_validate(data)


def _multi_loss(losses: dict[str, Any], outs: dict[str, TensorType | None], support: set[str]) -> str:
    """build_loss()'s MultiLoss: one loss per output, and the weight of each term in the sum."""
    from ....validate.document import term_weight

    support.add("MultiLoss")
    terms = ", ".join(f"{lit(n)}: {_loss(_plain(loss), outs.get(n), support)}" for n, loss in losses.items())
    weights = ", ".join(f"{lit(n)}: {lit(term_weight(loss))}" for n, loss in losses.items())
    return f"MultiLoss({{{terms}}}, weights={{{weights}}})"


def _groups_literal(plan: Plan) -> list[str]:
    """PARAM_GROUPS's lines, laid out as ruff lays out a literal with trailing commas: each group's
    settings, then its parameters' state-dict names one a line."""
    lines = ["PARAM_GROUPS = ["]
    for g in plan.groups:
        lines.append("    {")
        lines += [f"        {lit(k)}: {lit(v)}," for k, v in {"name": g.name, **g.options}.items()]
        lines.append('        "params": [')
        lines += [f"            {lit(n)}," for n in g.params]
        lines += ["        ],", "    },"]
    return [*lines, "]"]


def _scheduler(sched: Any, opt: Any, groups: Plan | None = None) -> tuple[list[str], str]:
    """(setup statements, returned expression) of build_scheduler(); a warmup is a LinearLR
    that SequentialLR runs first, for as many scheduler steps as the warmup lasts."""
    main = _section(sched, "torch.optim.lr_scheduler", "optimizer") or ""
    if sched.type == "OneCycleLR" and groups is not None and any("lr" in g.options for g in groups.groups):
        # OneCycleLR's one max_lr would set every group's lr alike: each group peaks at its own
        # lr times max_lr / the optimizer's lr, as a group's lr scales the optimizer's
        ratio = lit(sched.max_lr / opt.lr)
        main = main.replace(f"max_lr={lit(sched.max_lr)}",
                            f'max_lr=[group["lr"] * {ratio} for group in optimizer.param_groups]', 1)
    if sched.type == "OneCycleLR" and opt is not None and not {"momentum", "betas"} & set(type(opt).model_fields):
        # OneCycleLR cycles the momentum (or Adam's beta1) too, and PyTorch raises for an
        # optimizer that has neither (Adagrad, Adadelta, Adafactor): there the lr cycles alone
        main = main[:-1] + ", cycle_momentum=False)"
    w = sched.warmup
    if w is None:
        return [], main
    length = w.epochs if sched.interval == "epoch" else w.steps
    warmup = _call("torch.optim.lr_scheduler.LinearLR", {"start_factor": w.start_factor, "total_iters": length},
                   "optimizer")
    return ([f"warmup = {warmup}", f"main = {main}"],
            f"torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones={lit([length])})")
