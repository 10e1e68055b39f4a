"""The PyTorch target: how each layer kind is written as PyTorch source."""
