"""The direct ONNX target: a checked spec's graph written as an ONNX model without torch.

``lower.py`` walks the shaped graph; ``kinds/`` holds one lowering per layer kind, a module per
family; ``builder.py`` adds nodes, constants and run-time sizes; ``weights.py`` fills parameters
from a checkpoint or draws them from a seed as PyTorch would.
"""
