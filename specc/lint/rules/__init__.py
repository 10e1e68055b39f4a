"""Every lint rule, one per module; each module of this package is imported here, which
registers its rule (a new rule is a new file, with no list to extend)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
