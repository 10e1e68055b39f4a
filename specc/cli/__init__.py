"""The ``specc`` command line: ``main`` parses the arguments and runs one verb."""

from .main import (
    EXIT_CRASH,
    EXIT_INTERRUPT,
    EXIT_OK,
    EXIT_SPEC,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UsageError,
    entry,
    main,
)

__all__ = ["EXIT_CRASH", "EXIT_INTERRUPT", "EXIT_OK", "EXIT_SPEC", "EXIT_TERMINATED", "EXIT_USAGE", "UsageError",
           "entry", "main"]
