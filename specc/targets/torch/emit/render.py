"""Printing: the records of a module through its Jinja2 template, formatted and gated."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from ....resources import templates_dir
from .format import format_source
from .gate import MODULE_IMPORTS, gate
from .records import ModuleRecord


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML: values are quoted by .quote
    )


def render_module(module: ModuleRecord, template: str = "module.py.j2", allowed: frozenset[str] = MODULE_IMPORTS,
                  **extra: Any) -> str:
    source = format_source(environment().get_template(template).render(ctx=module, **extra))
    gate(source, allowed)
    return source
