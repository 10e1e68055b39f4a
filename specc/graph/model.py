"""The graph stage in one call: the model's layers built and shaped, and what it returns."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..validate.items import Layers
from ..validate.sections import InputDecl, OutputsDecl
from .build import GraphBuilder, fix_batch_second_macs
from .ir import Graph
from .outputs import resolve_outputs


def build_model(builder: GraphBuilder, name: str, layers: Layers, inputs: list[InputDecl],
                outputs: OutputsDecl) -> tuple[Graph, list[Diagnostic]]:
    """The shaped graph and the problems found building it.  A broken input (reported by
    validation) skips the layers that read it, and is no input of the graph."""
    graph = builder.build(name, layers, {i.name: i.type for i in inputs})  # type: ignore[arg-type]  (None: broken)
    graph.inputs = {k: v for k, v in graph.inputs.items() if v is not None}
    fix_batch_second_macs(graph)
    return graph, [*builder.diags, *resolve_outputs(graph, outputs, builder.rejected_top)]
