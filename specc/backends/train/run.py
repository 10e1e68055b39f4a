"""The run folder: every file written atomically, checkpoints as safetensors + JSON.

    run/spec.yaml, run.json        the spec as given, its overrides and the resolved config
    run/model.py                   the generated, standalone model module
    run/preprocess.{json,safetensors}
    run/checkpoints/eNNNN/         model.safetensors, state.safetensors, state.json
    run/last, run/best             links to a checkpoint folder, swapped atomically
    run/model.safetensors          the final weights (the best epoch's when early stopping restores them)
    run/history.csv, curves.png, report.json, report.txt
    run/<split>_confusion_matrix.csv   a classifier's matrix, named in report.json (confusion_matrices)

A checkpoint folder is written under a hidden temporary name and renamed when complete, then
``last`` is pointed at it: a run killed at any moment resumes from a whole checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...atomic import atomic_path, atomic_write, make_folder
from ...diagnostics import dumps_json
from .metrics import shown


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, dumps_json(obj) + "\n")  # an undefined metric (NaN) as null


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from ..run_folder import unreadable_tensors

    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 -- safetensors raises its own error types for bad files
        raise unreadable_tensors(path, exc) from None


def sweep(folder: Path) -> None:
    """Remove what a killed run left half-written (hidden .tmp names are always specc's own)."""
    for p in [*folder.glob(".*.tmp"), *(folder / "checkpoints").glob(".*.tmp")]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def write_checkpoint(run: Path, epoch: int, weights: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                     meta: dict[str, Any], links: tuple[str, ...]) -> Path:
    folder = run / "checkpoints"
    make_folder(folder)
    final = folder / f"e{epoch:04d}"
    again = 1
    while final.exists():
        # The same epoch again (a resume that re-ran it, or finished the epoch --max-steps cut): a
        # folder of its own, which the links move to at once. Removing the old one first left `last`
        # naming nothing until the new one was renamed in, and a run killed then could not resume.
        final, again = folder / f"e{epoch:04d}.{again}", again + 1
    tmp = folder / f".e{epoch:04d}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        save_tensors(tmp / "model.safetensors", weights)
        save_tensors(tmp / "state.safetensors", state)
        # json's own Infinity/NaN, read back as they were: the state resumes exactly (a plateau
        # scheduler's best is inf until its first step; report.json's null would come back as None)
        atomic_write(tmp / "state.json", json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name in links:
        point(run / name, Path("checkpoints") / final.name)
    _prune(run)
    return final


def point(link: Path, target: Path) -> None:
    tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}.tmp"
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _prune(run: Path) -> None:
    keep = {os.path.realpath(run / n) for n in ("last", "best") if (run / n).exists()}
    for p in (run / "checkpoints").glob("e[0-9]*"):
        if os.path.realpath(p) not in keep:
            shutil.rmtree(p, ignore_errors=True)


def write_history(run: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for rec in history:
        keys += [k for k, v in rec.items() if k not in keys and not isinstance(v, (list, dict))]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for rec in history:  # an undefined metric (NaN, or null in a resumed history) as n/a, as printed
        w.writerow({k: "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
                    for k, v in rec.items()})
    atomic_write(run / "history.csv", buf.getvalue())


# A panel is 360 pixels wide (4.5 in at 80 dpi): past CURVE_POINTS epochs a curve is drawn through each
# stretch's lowest and highest epoch, the same picture, where lines, markers and the legend's 'best' place
# cost per point; markers only where epochs can be told apart.
CURVE_POINTS = 400
MARKED_EPOCHS = 50


def write_curves(run: Path, history: list[dict[str, Any]]) -> None:
    """Loss and metric curves, one panel each, written by matplotlib's Agg backend (imported here,
    when a run folder is written, not by the training loop)."""
    collecting = gc.isenabled()
    # drawing makes some 100,000 short-lived objects, which set off full collections of a heap that
    # holds torch: a sixth of the drawing's time; the figure's cycles are collected after it
    gc.disable()
    try:
        _draw_curves(run, history)
    finally:
        if collecting:
            gc.enable()


def _draw_curves(run: Path, history: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    metrics = sorted({k.removeprefix("val_") for rec in history for k, v in rec.items()
                      if k.startswith("val_") and k != "val_loss" and isinstance(v, float)})
    panels = ["loss", *metrics]
    width, height = 4.5 * len(panels), 3.5
    fig = Figure(figsize=(width, height))
    # margins fixed in inches, room for tick labels and titles: tight_layout measured every label
    # first and took most of a short run's last second
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.35 / height,
                        wspace=0.3)
    epochs = np.array([r["epoch"] for r in history], dtype=np.float64)
    for i, name in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        # whole epochs on x (a 3-epoch run had ticks at 1.25, 1.5 …), and few labels, each laid out in text
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        plotted = False
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            # null in a resumed history: undefined, a gap in the line
            ys = np.array([v if isinstance(v := r.get(key), float) else math.nan for r in history])
            if np.isfinite(ys).any():
                xs, ys = _thinned(epochs, ys)
                ax.plot(xs, ys, marker="." if len(history) <= MARKED_EPOCHS else None, label=label)
                plotted = True
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if plotted:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "undefined in every epoch", ha="center", va="center", transform=ax.transAxes)
    with atomic_path(run / "curves.png") as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def _thinned(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2 * CURVE_POINTS points: in each of CURVE_POINTS stretches of epochs its lowest and
    highest value in epoch order, so a spike stays drawn (every k-th epoch could skip it); a stretch
    undefined throughout stays a gap."""
    if len(xs) <= 2 * CURVE_POINTS:
        return xs, ys
    keep: list[int] = []
    for part in np.array_split(np.arange(len(xs)), CURVE_POINTS):
        seen = part[np.isfinite(ys[part])]
        if not seen.size:
            keep.append(int(part[0]))
            continue
        keep += sorted({int(seen[np.argmin(ys[seen])]), int(seen[np.argmax(ys[seen])])})
    return xs[keep], ys[keep]


def write_report(run: Path, report: dict[str, Any]) -> None:
    write_json(run / "report.json", _matrices_beside(run, report))
    lines = [f"model {report['model']} trained on {report['data']['source']} "
             f"({report['data']['train_samples']} training, {report['data']['val_samples']} validation samples)",
             f"device {report['device']}, precision {report['precision']}, {report['epochs_run']} "
             f"epoch{'' if report['epochs_run'] == 1 else 's'} "
             f"in {report['seconds']:.1f} s" + (f"; stopped early: {report['stopped_early']}"
                                               if report.get("stopped_early") else ""),
             "preprocessing (fitted on the training split): " +
             ", ".join(f"{k} {v}" for k, v in report["preprocess"].items())]
    groups = report.get("param_groups") or []
    if len(groups) > 1:
        lines.append("parameter groups: " + "; ".join(
            f"{g['name']} {g['tensors']} tensor{'' if g['tensors'] == 1 else 's'} ({g['parameters']:,} weights) lr "
            f"{g['lr']:g} weight_decay "
            f"{g['weight_decay']:g}" for g in groups))
    final = report.get("final", {})
    if final:
        lines.append("final: " + ", ".join(f"{k} {shown(v)}" for k, v in final.items()
                                           if isinstance(v, float)))
    if report.get("best_epoch") is not None:
        lines.append(f"best epoch {report['best_epoch']} by {report['monitor']}")
    if report.get("init_from"):
        init = report["init_from"]
        lines.append(init.get("text") or f"initialised from {init['path']}: {len(init['missing'])} missing, "
                     f"{len(init['unexpected'])} unexpected keys")
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    atomic_write(run / "report.txt", "\n".join(lines) + "\n")


def _matrices_beside(run: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The report as report.json holds it: each confusion matrix in a CSV file of its own beside it,
    named under confusion_matrices. Inline, a 1000-class run's matrix made report.json 11 MB of
    mostly zeros, the summary a person reads buried in it (specc evaluate --format json gives the
    matrix as JSON)."""
    final = dict(report.get("final") or {})
    files: dict[str, str] = {}
    for key in [k for k, v in final.items() if k.endswith("confusion_matrix") and isinstance(v, list)]:
        matrix = final.pop(key)
        head = key.split("_", 1)[1].removesuffix("confusion_matrix").removesuffix("_")  # after val_ or train_
        classes = report.get("data", {}).get("classes")
        names = classes.get(head) if isinstance(classes, dict) else classes
        labels = [str(n) for n in names] if isinstance(names, list) and len(names) == len(matrix) else \
            [str(i) for i in range(len(matrix))]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["true \\ predicted", *labels])  # rows: the true class, columns: the predicted one
        w.writerows([label, *row] for label, row in zip(labels, matrix))
        files[key] = f"{key}.csv"
        atomic_write(run / files[key], buf.getvalue())
    return {**report, "final": final, "confusion_matrices": files} if files else report


def jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v
