"""Only the ``specc compile`` command lives here; the emitter is :mod:`specc.targets.torch.emit`."""
