"""The ``specc`` command line: ``main`` parses the arguments and runs one verb.

One module per verb family (check, compile, export, train, editor), each with a ``VERBS``
table; :mod:`.dispatch` imports only the module of the verb being run, and :mod:`.common` holds
what they share.
"""

from .common import EXIT_CRASH, EXIT_INTERRUPT, EXIT_OK, EXIT_SPEC, EXIT_TERMINATED, EXIT_USAGE, UsageError
from .dispatch import entry, main

__all__ = ["EXIT_CRASH", "EXIT_INTERRUPT", "EXIT_OK", "EXIT_SPEC", "EXIT_TERMINATED", "EXIT_USAGE", "UsageError",
           "entry", "main"]
