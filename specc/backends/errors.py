"""Errors of the ONNX backends that are the user's to fix (exit code 1), not specc bugs.

Each carries a one-sentence message in user terms; the CLI prints it and writes nothing.
"""

from __future__ import annotations


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """A library's error, short: its type and the first line of its text (at most ``limit`` characters)."""
    text = str(exc).strip()
    line = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
    return line[:limit] if limit is not None else line.rstrip(": ")


class BackendError(Exception):
    """A model, weights file or runtime problem the user can act on."""


class ExportFailed(BackendError):
    """Neither torch exporter produced a model."""


class VerificationFailed(BackendError):
    """The exported model does not behave like the PyTorch module it came from."""

    def __init__(self, problems: list[str], exporter: str | None = None):
        self.problems = problems
        self.exporter = exporter
        head = f"the ONNX model failed verification ({len(problems)} problem{'s' if len(problems) != 1 else ''})"
        if exporter:
            head += f" with the {exporter} exporter"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in problems))


class WeightsError(BackendError):
    """A --weights checkpoint does not fit the model built from the spec."""


class ModelError(BackendError):
    """An ONNX file is unreadable, malformed or unsafe to load."""


class UnsafeModel(ModelError):
    """An ONNX file points at external data outside its own folder."""


class ProviderUnavailable(BackendError):
    """An execution provider that was asked for cannot run on this machine."""


class InputError(BackendError):
    """Input arrays given to `specc run` do not fit the model."""
