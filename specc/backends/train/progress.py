"""Progress on a terminal (rich), one line per epoch elsewhere (plain or JSON lines)."""

from __future__ import annotations

from typing import Any


def rich_log() -> Any:
    try:
        from rich.console import Console
    except ImportError:  # rich is optional: plain lines do
        from .loop import plain_log

        return plain_log()
    console = Console(stderr=True)

    def log(rec: dict[str, Any]) -> None:
        if rec.get("event") != "epoch":
            return
        metrics = "  ".join(f"[cyan]{k}[/] {v:.4f}" for k, v in rec.items()
                            if k.startswith("val_") and isinstance(v, float))
        console.print(f"[bold]epoch {rec['epoch']}/{rec['epochs']}[/]  loss {rec['loss']:.4f}  {metrics}  "
                      f"[dim]{rec['seconds']:.1f}s[/]")

    return log
