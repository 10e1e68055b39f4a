"""How long a run is, where check can know it without reading data: the samples of the bundled
sets and of the data specc makes (synthetic, xor), the validation split's share of them, the
optimizer steps of an epoch. NumPy-free, so `specc check` of a spec without a data file stays light;
training computes the same numbers from the data it reads (specc/data/read.py) with these rules.
"""

from __future__ import annotations

import math
from typing import Any

# The samples of each bundled scikit-learn set (sklearn.datasets.load_<name>()).
BUNDLED_SAMPLES = {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569, "diabetes": 442}
# The bundled sets whose rows come sorted by class, as (class, rows) runs in file order: scikit-learn's
# load_iris() and load_wine() list every sample of class 0 first (digits and breast_cancer are mixed).
BUNDLED_CLASS_RUNS = {"iris": [(0, 50), (1, 50), (2, 50)], "wine": [(0, 59), (1, 71), (2, 48)]}


SHUFFLE_FIX = ("set shuffle: true in train.data (the default): batches then mix the classes and validation is a "
               "stratified draw")


def unshuffled_sorted(runs: list[tuple[int, int]], n_val: int, balanced: bool) -> str | None:
    """T084's message for rows read in file order (shuffle: false) whose class labels come in ``runs``
    of (class, rows), one run per class: each batch then holds one class, and the last ``n_val`` rows
    that validate hold the last classes alone. None when nothing is harmed (a balanced sampler and no
    validation split)."""
    n = sum(rows for _, rows in runs)
    harms = []
    if not balanced:
        harms.append(f"every batch holds one class, so each epoch trains the {len(runs)} classes one after the "
                     "other and the model forgets each for the next")
    if n_val:
        trained, held, at = set(), [], 0
        for label, rows in runs:
            if at < n - n_val:
                trained.add(label)
            if at + rows > n - n_val:
                held.append(label)
            at += rows
        unseen = [c for c in held if c not in trained]
        harms.append(f"the validation split, the last {n_val} rows, holds class{'es' * (len(held) > 1)} "
                     f"{', '.join(map(str, held))} alone"
                     + (f" ({', '.join(map(str, unseen))} never trained on)" if unseen else ""))
    if not harms:
        return None
    return (f"shuffle: false reads the rows in the file's order, and its class labels are sorted ({runs[0][0]} "
            f"first, {runs[-1][0]} last): " + "; and ".join(harms))


def known_samples(train: Any) -> int | None:
    """The samples train.data's source holds, where that is known without reading it."""
    source = train.data.source
    if source in ("synthetic", "xor"):
        return int(train.data.num_samples)
    return BUNDLED_SAMPLES.get(source)


def known_training_samples(train: Any) -> int | None:
    """The samples of the training split, where the source's size is known without reading it."""
    n = known_samples(train)
    if n is None or train.data.val_source is not None:
        return n
    return n - validation_count(n, train.data.val_split)


def validation_count(n: int, val_split: float) -> int:
    """The samples val_split keeps for validation out of ``n``."""
    return int(n * val_split)


def too_few_to_train(n: int, val_split: float, classes: int) -> tuple[str, str] | None:
    """T007's (message, fix) where val_split leaves fewer of ``n`` samples to train on than the
    ``classes`` (1 for a task without classes: none left), else None."""
    n_val = validation_count(n, val_split)
    if n_val == 0 or n - n_val >= classes:
        return None
    spare = n - classes  # the most samples validation can take and leave each class one to train on
    what = f"the {classes} classes" if classes > 1 else "one"
    if spare < 1:  # no split leaves one: the 0.2 of other hints would fail the same way
        fix = (f"give more data ({2 * classes} samples or more, two of each class), or train without "
               "validation: val_split: 0")
    else:
        most = math.floor(100 * (spare + 1) / n - 1e-9) / 100  # int(n * most) <= spare
        fix = (f"use val_split: {min(0.2, most):g} (any value up to {most:.2f} leaves a sample of each class to "
               "train on)")
    return (f"val_split: {val_split:g} keeps {n_val} of the {n} samples for validation and leaves {n - n_val} to "
            f"train on, fewer than {what}", fix)


def no_validation(n: int, val_split: float, monitor: str) -> tuple[str, str] | None:
    """V020's (message, fix) where val_split keeps no sample of ``n`` for the validation that early
    stopping watches (int(n x val_split) is 0), else None."""
    if val_split == 0 or validation_count(n, val_split) > 0:
        return None  # val_split: 0 is the schema's V020; a split of one sample or more validates
    least = math.ceil(100 / n) / 100  # the least val_split of two decimals that keeps one sample
    fix = (f"use val_split: {least:g} (it keeps {validation_count(n, least)} of the {n} samples)" if least < 1 else
           "give more data (2 samples or more), or remove early_stopping")
    return (f"val_split: {val_split:g} of {n} samples keeps none for validation (int({n} x {val_split:g}) is 0), "
            f"so early stopping has no {monitor} to watch", fix)


def steps_per_epoch(train_samples: int, batch_size: int, accumulate: int) -> int:
    """The optimizer steps of an epoch on one process, as the loop takes them (the last batch and
    the last accumulation window may be short)."""
    return max(1, math.ceil(math.ceil(train_samples / batch_size) / accumulate))


ONE_SAMPLE_HINT = ("train on 2 samples or more (16 or more gives BatchNorm useful statistics): more data, or a smaller "
                   "val_split; or a LayerNorm or GroupNorm in the BatchNorm's place")


def one_sample_message(norm: str) -> str:
    """T008's words for a training split of one sample into a BatchNorm (``norm``: which)."""
    return (f"the training split holds one sample, so every batch is that sample alone, and {norm} normalises "
            "with a batch's own statistics while training: of one sample there are none (PyTorch stops where "
            "that leaves one value per channel)")
