"""Targets: what a checked graph is lowered to. Each target is a package (``torch``: PyTorch
source); none is imported by the stages below it (load, validate, graph, lint)."""
