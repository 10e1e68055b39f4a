"""Progress on a terminal: a rich progress bar per epoch and a line of metrics after it.

Elsewhere (a pipe, a CI log) the loop prints one plain line per epoch, or JSON lines with
``--format json``: a bar redrawn with carriage returns is noise in a file.
"""

from __future__ import annotations

from typing import Any

from .metrics import shown


class RichLog:
    batches = True  # the loop reports every batch to a logger that says so

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(),
                                 console=self.console, transient=True)
        self.task: Any = None

    def __call__(self, rec: dict[str, Any]) -> None:
        event = rec.get("event")
        if event == "batch":
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task("", total=rec["batches"], epoch=f"{rec['epoch']}/{rec['epochs']}",
                                                   loss=rec["loss"])
            self.progress.update(self.task, completed=rec["batch"], loss=rec["loss"])
        elif event == "epoch":
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.progress.stop()
                self.task = None
            metrics = "  ".join(f"[cyan]{k}[/] {shown(v, '.4f')}" for k, v in rec.items()
                                if k.startswith("val_") and isinstance(v, float))
            self.console.print(f"[bold]epoch {rec['epoch']}/{rec['epochs']}[/]  loss {rec['loss']:.4f}  {metrics}  "
                               f"[dim]{rec['seconds']:.1f}s[/]")


def rich_log() -> Any:
    try:
        return RichLog()
    except ImportError:  # rich is optional: plain lines do
        from .loop import plain_log

        return plain_log()
