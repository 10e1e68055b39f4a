"""Training data: bundled scikit-learn sets, xor, synthetic, .npz/.npy/.csv files and image folders.

Arrays stay NumPy until the loop turns them into tensors. Integer inputs (token ids) keep
their integer dtype; float inputs become float32. Every problem the data reveals is a
:class:`DataError` located at the spec key it comes from (the data source, an input).
"""

from __future__ import annotations

import csv
import itertools
import re
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..diagnostics import yaml_flow
from ..shapes.dims import evaluate, from_json
from ..shapes.rules import DATA_SIZE, made_sizes, refusal, rules_from_json
from ..validate.document import SKLEARN_DATASETS as BUNDLED
from ..validate.indices import bound_fix, index_high
from ..validate.run_size import no_validation, too_few_to_train, validation_count
from ..validate.train_config import classes_at, head

DEFAULT_SIZE = DATA_SIZE  # a symbol's size in data specc makes, where the spec gives none
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DataError(Exception):
    """A problem in the data or in how the spec reads it: reported with a code, at a spec key."""

    def __init__(self, code: str, message: str, hint: str, where: str = "source"):
        super().__init__(message)
        self.code, self.message, self.hint, self.where = code, message, hint, where


@dataclass
class Data:
    inputs: dict[str, np.ndarray]
    targets: np.ndarray | dict[str, np.ndarray]  # several outputs with a loss each: one array per output
    lengths: np.ndarray | None = None  # CTC: true length of each padded target row
    classes: list[str] | None = None  # label names, when the source has them (several outputs: a dict per output)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.targets.values())) if isinstance(self.targets, dict) else self.targets)

    def reading(self) -> dict[str, Any]:
        """How this data was read, for other data to be read alike (``load(known=...)``)."""
        found = {k: self.meta[k] for k in ("columns", "images") if k in self.meta}
        return {**found, "classes": self.classes} if self.classes else found

    def take(self, idx: np.ndarray) -> Data:
        y = {k: v[idx] for k, v in self.targets.items()} if isinstance(self.targets, dict) else self.targets[idx]
        return Data({k: v[idx] for k, v in self.inputs.items()}, y,
                    None if self.lengths is None else self.lengths[idx], self.classes, self.meta)


def concrete(shape: list[Any], sizes: dict[str, int]) -> list[int | None]:
    """A declared shape with the batch dim dropped; symbols without a size stay None (free)."""
    return [d if isinstance(d, int) else sizes.get(d) for d in shape[1:]]


def fixed(shape: list[Any], sizes: dict[str, int], default: int = DEFAULT_SIZE) -> tuple[int, ...]:
    return tuple(d if d is not None else default for d in concrete(shape, sizes))


def data_sizes(cfg: dict[str, Any]) -> dict[str, int]:
    """The size of each symbol of the inputs in data specc makes (synthetic) or resizes to (image
    folders): the spec's export size, else 16, moved where the model cannot run at it (too small
    for its kernels: the size rules check proves) to the nearest size where it can."""
    free = {d for t in cfg["inputs"].values() for d in t["shape"][1:] if isinstance(d, str)}
    return made_sizes(rules_from_json(cfg.get("size_rules")), cfg["sizes"], free)


def output_shape(cfg: dict[str, Any], sizes: dict[str, int]) -> tuple[int, ...]:
    """The (first) output's shape per sample at the inputs' symbol sizes ``sizes``."""
    return _output_dims(cfg, sizes)[1:]


def _output_dims(cfg: dict[str, Any], sizes: dict[str, int]) -> tuple[int, ...]:
    """The (first) output's whole shape, dim 0 included, at the symbol sizes ``sizes``: its
    formulas evaluated, a symbol not in ``sizes`` (the batch) taken as 16 (a run written before
    the formulas were kept: every symbolic size after dim 0 taken as 16, dim 0 as 1)."""
    name, shape = next(iter(cfg["outputs"].items()))
    exact = (cfg.get("output_dims") or {}).get(name)
    if exact is None:
        return (1, *fixed(shape, sizes))
    env = {**dict.fromkeys(_symbols(exact), DEFAULT_SIZE), **sizes}
    return tuple(evaluate(from_json(d), env) for d in exact)


def _symbols(dims: list[Any]) -> set[str]:
    found: set[str] = set()
    for d in dims:
        d = from_json(d)
        if not isinstance(d, int):
            found |= set(d.symbols())
    return found


def load(source: str, cfg: dict[str, Any], base: Path, rng: np.random.Generator, *,
         validation: bool = False, known: dict[str, Any] | None = None, rows: int | None = None) -> Data:
    """The data of ``source``.  ``known`` is how the training data was read (its ``classes``, a CSV's
    ``columns``, the ``images``' size), for validation and evaluation data: a label numbers the
    class it numbered in training, whatever classes this file happens to hold.  ``rows``: the
    first that many samples of a file only (of an image folder: as many, spread over its classes),
    for `specc check` to look into a file too large to read whole."""
    data_cfg = cfg["train"]["data"]
    where = "val_source" if validation else "source"
    if source == "synthetic":
        return _synthetic(cfg, data_cfg["num_samples"], rng)
    if cfg.get("heads") and (source in ("xor", *BUNDLED) or Path(source).suffix.lower() not in (".npz", ".csv")):
        raise DataError("T002", f"data source {source!r} holds one target, but the model trains "
                        f"{len(cfg['heads'])} outputs ({', '.join(cfg['heads'])})",
                        "use a .npz file with y_key: {" + ", ".join(f"{n}: KEY" for n in cfg["heads"]) +
                        "}, or a .csv file with target: {" + ", ".join(f"{n}: COLUMN" for n in cfg["heads"]) +
                        "}", where)
    if source == "xor":
        bits = rng.integers(0, 2, size=(data_cfg["num_samples"], 2))
        x = (bits + rng.normal(0.0, 0.05, size=bits.shape)).astype(np.float32)
        y = np.logical_xor(bits[:, 0], bits[:, 1]).astype(np.float32)
        return _shaped(cfg, {_only_input(cfg, source): x}, y, where)
    if source in BUNDLED:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{source}")()
        names = [str(c) for c in bunch.target_names] if hasattr(bunch, "target_names") else None
        data = _shaped(cfg, {_only_input(cfg, source): np.asarray(bunch.data)}, np.asarray(bunch.target), where)
        data.classes = names
        return data
    path = Path(source) if Path(source).is_absolute() else base / source
    if not path.exists():
        raise DataError("T001", f"data file {source!r} does not exist (looked in {path.parent})",
                        "check the path; a relative path is read from the spec's folder", where)
    if path.is_dir():
        return _images(cfg, path, where, known or {}, source.rstrip("/"), rows)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(cfg, path, data_cfg, where, known, rows)
    if suffix == ".npy":
        return _npy(cfg, path, data_cfg, base, where, known, rows)
    if suffix == ".csv":
        return _csv(cfg, path, data_cfg, where, known or {}, rows)
    raise DataError("T001", f"cannot read {source!r}: specc reads .npz, .npy and .csv files and folders of images",
                    "convert the data to .npz (np.savez('data.npz', x=x, y=y))", where)


def split(cfg: dict[str, Any], data: Data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: stratified for classification when every class has two rows."""
    dcfg = cfg["train"]["data"]
    n, n_val = len(data), validation_size(cfg, data)
    if n_val == 0:
        return np.arange(n), np.arange(0)
    if not dcfg["shuffle"]:
        # the rows' order means something (a time series): validate on the last ones, as Keras'
        # validation_split and scikit-learn's train_test_split(shuffle=False) do, never on the first
        return np.arange(n - n_val), np.arange(n - n_val, n)
    rng = np.random.default_rng(seed)
    y, task = _split_labels(cfg, data)
    if task == "classification" and dcfg["stratify"] and y.ndim == 1:
        from sklearn.model_selection import train_test_split

        # labels below 0 (an ignore_index of -1) are not classes to stratify by: a plain split
        counts = np.bincount(y) if y.size and y.min() >= 0 else np.array([0])
        present = counts[counts > 0]
        if present.size and present.min() >= 2 and n_val >= present.size:
            tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=y, random_state=seed % 2**32)
            return np.sort(tr), np.sort(va)
    order = rng.permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _split_labels(cfg: dict[str, Any], data: Data) -> tuple[np.ndarray, str]:
    """The targets a split stratifies on, and their task (a loss per output: the first classifier's)."""
    y, task = data.targets, cfg["task"]
    if isinstance(y, dict):
        first = next((n for n, h in cfg["heads"].items() if h["task"] == "classification"), None)
        y, task = (y[first], "classification") if first is not None else (next(iter(y.values())), "multi")
    return y, task


def validation_size(cfg: dict[str, Any], data: Data) -> int:
    """How many samples val_split keeps for validation (T007 where it leaves fewer to train on than
    there are classes): what the split draws, without drawing it (check has no scikit-learn). The
    random labels of synthetic data are no classes to learn: how many of them a draw happens to hold
    would make a smoke test pass or fail by its seed (ResNet18's 1000 classes on 512 samples)."""
    dcfg = cfg["train"]["data"]
    y, task = _split_labels(cfg, data)
    classes = len(np.unique(y)) if task == "classification" and y.ndim == 1 and not data.meta.get("random_labels") \
        else 1
    found = too_few_to_train(len(data), dcfg["val_split"], classes)
    if found is not None:
        raise DataError("T007", *found, "val_split")
    stopper = cfg["train"].get("early_stopping")
    empty = no_validation(len(data), dcfg["val_split"], stopper["monitor"]) if stopper else None
    if empty is not None:
        raise DataError("V020", *empty, "val_split")
    return validation_count(len(data), dcfg["val_split"])


def _only_input(cfg: dict[str, Any], source: str) -> str:
    names = list(cfg["inputs"])
    if len(names) != 1:
        raise DataError("T003", f"data source {source!r} feeds one input, but the model has {len(names)} "
                        f"({', '.join(names)})",
                        "use a .npz file with one array per input (x_key: {input: key, ...})")
    return names[0]


def _synthetic(cfg: dict[str, Any], n: int, rng: np.random.Generator) -> Data:
    inputs: dict[str, np.ndarray] = {}
    sizes = data_sizes(cfg)
    for name, spec in cfg["inputs"].items():
        shape = (n, *fixed(spec["shape"], sizes))
        if spec["dtype"].startswith(("float", "bfloat")):
            inputs[name] = rng.standard_normal(shape).astype(np.float32)
        elif spec["dtype"] == "bool":
            inputs[name] = padding_mask(shape, rng)
        else:
            bounds = input_bounds(cfg).get(name, [])
            high = index_high([from_json(b[0]) for b in bounds], sizes)
            inputs[name] = rng.integers(0, high, size=shape).astype(spec["dtype"])
            pad = next((b[3] for b in bounds if b[3] is not None), None)
            if pad is not None:  # samples along dim 0, as every source here: a padded tail along the last dim
                inputs[name] = padded_ids(inputs[name], pad, high, rng)
    if cfg.get("heads"):
        return Data(inputs, {name: _random_targets(head(cfg, name), n, rng, sizes) for name in cfg["heads"]})
    if cfg["task"] == "ctc":
        return Data(inputs, *_random_transcripts(cfg, n, rng, sizes))
    return Data(inputs, _random_targets(cfg, n, rng, sizes), meta={"random_labels": True})


def padding_mask(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Made-up bool inputs as padding masks are: True on a random tail of each row of the last
    dim, never the whole row (a row of only padding leaves attention nothing to attend to: nan).
    Training's synthetic data and the examples export verifies with both draw them so."""
    if not shape or shape[-1] < 1:
        return np.zeros(shape, dtype=bool)
    tail = rng.integers(0, shape[-1], size=shape[:-1])  # 0 to L - 1 padded steps
    return np.arange(shape[-1]) >= (shape[-1] - tail)[..., None]


def padded_ids(ids: np.ndarray, pad: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Made-up ids as padded batches hold them: ``pad`` on a random tail of each row of the last
    dim (never the whole row), and no ``pad`` before it, so a model that counts its sequences'
    lengths from the ids (Keras' mask_zero) meets lengths from 1 to T, not T alone."""
    if ids.ndim < 2 or high < 2:
        return ids
    ids = np.where(ids == pad, (pad + 1) % high, ids)
    return np.where(padding_mask(ids.shape, rng), pad, ids).astype(ids.dtype)


def _random_transcripts(cfg: dict[str, Any], n: int, rng: np.random.Generator,
                        sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """CTC targets for made-up inputs: label sequences (the blank left out) padded to one width,
    and their lengths, each short enough for the output's steps to spell it (a repeated label
    needs a blank between: 2·length - 1 steps at most)."""
    name = next(iter(cfg["outputs"]))
    steps, width = ctc_steps(cfg, sizes)
    blank = (cfg.get("loss") or {}).get("blank", 0)
    labels = np.array([c for c in range(width) if c != blank])
    if not labels.size:
        raise DataError("T005", f"CTC spells labels besides the blank, but output {name!r} has {width} class",
                        "give the last layer one output per label plus the blank", f"output.{name}")
    longest = max(1, min(16, (steps + 1) // 2))
    lengths = rng.integers(1, longest + 1, size=n)
    y = np.where(np.arange(longest) < lengths[:, None], rng.choice(labels, size=(n, longest)), blank)
    return y.astype(np.int64), lengths.astype(np.int64)


def ctc_steps(cfg: dict[str, Any], sizes: dict[str, int]) -> tuple[int, int]:
    """The CTC output's steps and classes at the inputs' symbol sizes ``sizes``, its dims read as
    the loop reads them: (B, T, C) when dim 0 is the inputs' batch, else (T, B, C)."""
    shape = next(iter(cfg["outputs"].values()))
    batch = next(iter(cfg["inputs"].values()))["shape"][0]
    full = _output_dims(cfg, {**sizes, **({batch: 1} if isinstance(batch, str) else {})})
    batch_first = shape[0] == batch and shape[0] != shape[1]
    return (full[1] if batch_first else full[0]), full[-1]


def _random_targets(cfg: dict[str, Any], n: int, rng: np.random.Generator, sizes: dict[str, int]) -> np.ndarray:
    out = output_shape(cfg, sizes)
    task = cfg["task"]
    if task == "classification":
        at = classes_at(cfg) - 1  # per sample: the class dim without the batch
        y = rng.integers(0, out[at], size=(n, *out[:at], *out[at + 1:]))
    elif task == "binary":
        y = rng.integers(0, 2, size=(n, *out)).astype(np.float32)
    elif task == "distribution":
        y = rng.dirichlet(np.ones(out[-1]), size=(n, *out[:-1])).astype(np.float32)
    else:
        y = rng.standard_normal((n, *out)).astype(np.float32)
    return y


def _npz(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], where: str,
         known: dict[str, Any] | None = None, rows: int | None = None) -> Data:
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # empty, truncated, not NumPy's
        raise DataError("T001", f"cannot read {path.name}: {str(exc).split(chr(10))[0][:120]}",
                        "write it with np.savez", where) from None
    if not hasattr(arrays, "files"):  # np.save's one array under an .npz name
        raise DataError("T001", f"{path.name} holds one array (np.save), not named arrays (np.savez)",
                        "save it with np.savez('data.npz', x=x, y=y), or name it .npy with targets: y.npy", where)

    def get(key: str) -> np.ndarray:
        try:
            found = np.asarray(arrays[key]) if rows is None else _npz_head(arrays, key, rows)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # object arrays (pickles), truncation
            raise DataError("T001", f"cannot read array {key!r} of {path.name}: {str(exc).split(chr(10))[0][:120]}",
                            "save plain numeric (or text) arrays with np.savez", where) from None
        return _rows(found, f"array {key!r} of {path.name}", where)
    keys = data_cfg["x_key"]
    wanted = keys if isinstance(keys, dict) else {_only_input(cfg, path.name): keys}
    unknown = sorted(set(wanted) - set(cfg["inputs"]))
    if unknown:
        raise DataError("T002", f"x_key names {', '.join(unknown)}, which is not an input of the model",
                        f"map each input ({', '.join(cfg['inputs'])}) to a key of {path.name}", "data")
    missing_inputs = sorted(set(cfg["inputs"]) - set(wanted))
    if missing_inputs:
        raise DataError("T002", f"x_key gives no array for input {', '.join(missing_inputs)}",
                        "x_key: {" + ", ".join(f"{n}: KEY" for n in cfg["inputs"]) + "}", "data")
    y_keys = _per_output(cfg, data_cfg["y_key"], "y_key", "KEY")
    needed = [*wanted.values(), *(y_keys.values() if isinstance(y_keys, dict) else [y_keys])]
    absent = [k for k in needed if k not in arrays.files]
    if absent:
        raise DataError("T002", f"{path.name} has no array {absent[0]!r} (it holds {', '.join(arrays.files)})",
                        "set x_key / y_key in train.data to the names the file uses", where)
    lengths = get(data_cfg["lengths_key"]) if data_cfg["lengths_key"] in arrays.files else None
    if cfg["task"] == "ctc" and lengths is None:
        raise DataError("T002", f"CTC training needs each target's length, but {path.name} has no "
                        f"{data_cfg['lengths_key']!r} array",
                        "save the lengths beside the padded targets (np.savez(..., y_lengths=lengths)) or set "
                        "lengths_key", where)
    y = {n: get(k) for n, k in y_keys.items()} if isinstance(y_keys, dict) else get(y_keys)
    data = _shaped(cfg, {n: get(k) for n, k in wanted.items()}, y, where, known)
    data.lengths = lengths
    return data


def _npz_head(arrays: Any, key: str, rows: int) -> np.ndarray:
    """The first ``rows`` samples of array ``key`` of an open .npz, read from its member's header and
    the bytes that follow it (a compressed member is inflated that far only)."""
    with arrays.zip.open(f"{key}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            return np.asarray(arrays[key])
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(fh)
        if dtype.hasobject:
            raise ValueError("it holds Python objects, which specc does not unpickle")
        if fortran_order or not shape:
            return np.asarray(arrays[key])
        n = min(rows, shape[0])
        count = n * int(np.prod(shape[1:], dtype=np.int64))
        raw = fh.read(count * dtype.itemsize)
        if len(raw) < count * dtype.itemsize:
            raise ValueError("the array ends early (a truncated file)")
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(n, *shape[1:])


def _npy_array(path: Path, rows: int | None, where: str) -> np.ndarray:
    """A .npy file's array (its first ``rows`` samples only, mapped rather than read)."""
    try:
        found = np.load(path, mmap_mode=None if rows is None else "r", allow_pickle=False)
        if not isinstance(found, np.ndarray):  # an .npz archive under an .npy name
            raise DataError("T001", f"{path.name} holds named arrays (np.savez), not one array (np.save)",
                            "name it .npz and set x_key / y_key to its arrays' names", where)
        if rows is not None:
            found = np.array(found[:rows] if found.ndim else found)
    except (OSError, ValueError, EOFError) as exc:  # object arrays (pickles), truncated or foreign files
        raise DataError("T001", f"cannot read {path.name}: {str(exc).split(chr(10))[0][:120]}",
                        "save a plain numeric (or text) array with np.save", where) from None
    return _rows(found, path.name, where)


def _rows(x: np.ndarray, what: str, where: str) -> np.ndarray:
    """``x``, which must hold one sample per row: a single value (a 0-d array) holds none."""
    if x.ndim == 0:
        raise DataError("T003", f"{what} is a single value ({str(x)[:20]}), not one sample per row",
                        "save one row per sample (an array of shape (N, ...))", where)
    return x


def _npy(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], base: Path, where: str,
         known: dict[str, Any] | None = None, rows: int | None = None) -> Data:
    if not data_cfg.get("targets"):
        raise DataError("T002", f"{path.name} holds one array (the inputs); the targets are missing",
                        "name the targets' file: data: {source: x.npy, targets: y.npy}, or use one .npz", where)
    tpath = Path(data_cfg["targets"])
    tpath = tpath if tpath.is_absolute() else base / tpath
    if not tpath.is_file():
        raise DataError("T001", f"targets file {data_cfg['targets']!r} does not exist", "check the path", "data")
    x, y = _npy_array(path, rows, where), _npy_array(tpath, rows, "data")
    return _shaped(cfg, {_only_input(cfg, path.name): x}, y, where, known)


def _csv(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], where: str, known: dict[str, Any],
         rows: int | None = None) -> Data:
    header, body = read_csv(path, where, rows)
    if not body:
        raise DataError("T001", f"{path.name} has no data rows", "the first row names the columns", where)
    numbered = header is None  # no header row (a UCI file): every column but the last, and the last
    if numbered:
        if data_cfg.get("features") or data_cfg.get("target"):
            raise DataError("T002", f"{path.name} has no header row (its first row reads as data), so "
                            f"{'features' if data_cfg.get('features') else 'target'}: names no column of it",
                            "add a header row naming the columns, or leave out features: and target: (every "
                            "column but the last, and the last)", "data")
        header = [f"column {i}" for i in range(1, len(body[0][1]) + 1)]
    target = _per_output(cfg, data_cfg.get("target") or header[-1], "target", "COLUMN")
    columns = list(target.values()) if isinstance(target, dict) else list(target) if isinstance(target, list) \
        else [target]
    # an unnamed column is a row index (pandas' to_csv writes one): numbering the rows, it would
    # teach the model the file's order, so the default features leave it out
    name = _only_input(cfg, path.name)
    features = (data_cfg.get("features") or (known.get("columns") or {}).get(name)
                or [h for h in header if h not in columns and h not in ("", "Unnamed: 0")])
    for col in [*features, *columns]:
        if col not in header:
            raise DataError("T002", f"{path.name} has no column {col!r} (it has {', '.join(header)})",
                            "set features: [...] and target: ... in train.data to column names of the file",
                            "target" if col in columns else "features")
    x = csv_numbers(path, header, body, features, where, named=not numbered)
    trained = known.get("classes")
    if isinstance(target, dict):
        columns_of = {n: _column(path, header, body, c, head(cfg, n)["task"], where,
                                 trained.get(n) if isinstance(trained, dict) else None) for n, c in target.items()}
        data = _shaped(cfg, {name: x}, {n: y for n, (y, _) in columns_of.items()}, where)
        data.classes = {n: names for n, (_, names) in columns_of.items() if names}  # type: ignore[assignment]
    elif isinstance(target, list):  # a regression's K values, or K labels of 0/1
        data = _shaped(cfg, {name: x}, _target_table(path, header, body, target, where), where)
    else:
        y, classes = _column(path, header, body, target, cfg["task"], where,
                             trained if isinstance(trained, list) else None)
        data = _shaped(cfg, {name: x}, y, where)
        data.classes = classes
    if not numbered:
        data.meta["columns"] = {name: list(features)}  # predict picks these out of a CSV by its header
    if not data_cfg.get("features") and not known:
        data.meta.setdefault("warnings", []).extend(_id_columns(x, features, name))
    if not data_cfg.get("features") and not known and len(features) + len(columns) < len(header):
        data.meta.setdefault("notes", []).append(
            f"{path.name}: the unnamed first column (a row index, as pandas' to_csv writes) is not a feature "
            "(list the columns in features: to choose otherwise)")
    return data


Rows = list[tuple[int, list[str]]]

# A column named as an identifier: id, PassengerId, customer_id, CustomerID (not paid, valid, fluid)
_ID_NAME = re.compile(r"(?i:(?:^|[_\s.-])id$|^id[_\s.-])|[a-z](?:Id|ID)$")


def _id_columns(x: np.ndarray, features: list[str], name: str) -> list[tuple[str, str, str, str]]:
    """V076: a default feature column named as an identifier whose values are whole numbers, each row's
    its own (Titanic's PassengerId): a row's number teaches the model the file's order, not the task."""
    out = []
    for i, col in enumerate(features):
        v = x[:, i] if x.ndim == 2 and i < x.shape[1] else None
        if v is None or not _ID_NAME.search(col) or len(v) < 2 or not np.all(v == np.round(v)) or \
                len(np.unique(v)) != len(v):
            continue
        kept = [f for f in features if f != col]
        out.append(("V076", f"column {col!r} is an identifier (a whole number of its own in every row), and as a "
                    "default feature it is fed to the model: it numbers the rows, so the model learns the file's "
                    "order, which new data does not share",
                    f"leave it out: write features: [{', '.join(kept)}], and declare input {name!r} with "
                    f"{len(kept)} features", "features"))
    return out


def read_csv(path: Path, where: str = "source", limit: int | None = None) -> tuple[list[str] | None, Rows]:
    """A CSV file's header (None when its first row is data) and its data rows, each with its line
    in the file; blank lines skipped, a UTF-8 byte-order mark (Excel's) dropped.  ``limit``: the
    first that many data rows only."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            kept = ((reader.line_num, row) for row in reader if any(cell.strip() for cell in row))
            rows = list(kept if limit is None else itertools.islice(kept, limit + 1))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError("T001", f"{path.name} is not a readable CSV file ({exc})", "save it as UTF-8 CSV",
                        where) from None
    if not rows:
        return None, []
    if len(rows[0][1]) == 1 and ";" in rows[0][1][0]:
        # one column of 'a;b;c': a spreadsheet's CSV in a locale whose decimal mark is the comma
        raise DataError("T001", f"{path.name} separates its values with ';', not ','",
                        "save it as CSV with commas and decimal points (a spreadsheet's 'CSV UTF-8, comma "
                        "delimited')", where)
    first = [cell.strip() for cell in rows[0][1]]
    texts = [_number(cell) is None for cell in first]
    if len(rows) > 1:  # a header: a name above a number somewhere (a data row may hold a category)
        below = rows[1][1]
        header = any(t and j < len(below) and _number(below[j].strip()) is not None for j, t in enumerate(texts))
    else:
        header = all(texts)
    return (first, rows[1:]) if header else (None, rows)


def csv_samples(path: Path, columns: Sequence[str] | None, where: str = "input") -> np.ndarray:
    """The samples of a CSV file to answer, one a row: a training run's feature ``columns`` picked by
    name under a header (other columns, the target's among them, left out), every column otherwise."""
    header, body = read_csv(path, where)
    if not body:
        raise DataError("T001", f"{path.name} holds no rows of numbers", "give one sample a row", where)
    if header is not None and columns is not None:
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError("T002", f"{path.name} has no column {', '.join(map(repr, missing[:5]))}"
                            f"{' …' if len(missing) > 5 else ''}; the model was trained on the columns "
                            f"{', '.join(columns)}", "give the file those columns (any order, others beside)", where)
        return csv_numbers(path, header, body, list(columns), where)
    return csv_numbers(path, header, body, header, where)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def csv_numbers(path: Path, header: list[str] | None, body: Rows, columns: list[str] | None,
                where: str = "source", named: bool = True) -> np.ndarray:
    """The named columns (all of them without a header) as float64, one row a sample.  A cell
    that is empty, text, NaN or infinite is named by line, column and value: a missing value
    would train as NaN, and a text category has no number specc could make up for it.  ``named``:
    false where specc numbered the columns of a file without a header."""
    width = len(header) if header is not None else len(body[0][1])
    index = ([column_index(path, header, c, where) for c in columns] if header is not None and columns is not None
             else list(range(width)))
    x = np.empty((len(body), len(index)), dtype=np.float64)
    for i, (line, row) in enumerate(body):
        if len(row) != width:
            raise DataError("T004", f"{path.name} line {line} has {len(row)} values, but "
                            + (f"the header names {width} columns" if header is not None and named else
                               f"the first row has {width}"),
                            "give every row one value per column (quote values that hold commas)", where)
        for k, j in enumerate(index):
            text = row[j].strip()
            value = _number(text)
            if value is not None and np.isfinite(value):
                x[i, k] = value
                continue
            column = f"column {header[j]!r}" if header is not None and named else f"column {j + 1}"
            if value is None and text:  # a category or a typo: no number to train on
                # a gap in a number column is the next error, not a reason to drop the column
                numeric = [c for c in (columns or []) if all(_finite(r[header.index(c)]) or not r[header.index(c)]
                                                             .strip() for _, r in body)] if header is not None else []
                fix = ("encode it as numbers, or leave it out: features: [" + ", ".join(map(yaml_flow, numeric)) + "]"
                       f" ({len(numeric)} columns; the input then takes {len(numeric)} features)"
                       if numeric and len(numeric) < len(columns or []) else "encode it as numbers")
                raise DataError("T004", f"{path.name} line {line}, {column} holds {text!r}, which is not a number",
                                fix, where)
            if value is not None and not np.isnan(value):  # inf, or a number past float64 such as 1e400
                raise DataError("T004", f"{path.name} line {line}, {column} holds {text}, which is infinite as a "
                                "number", "replace it with a finite value (clip the column) or drop those rows", where)
            what = "is empty (a missing value)" if not text else f"holds {text}"
            raise DataError("T004", f"{path.name} line {line}, {column} {what}",
                            "fill the missing values (with the column's mean or median, say) or drop those rows: "
                            "specc does not impute", where)
    return x


def column_index(path: Path, header: list[str], name: str, where: str) -> int:
    """Where the column ``name`` is; two columns of that name (a join gone wrong, a copied column)
    would leave which one feeds the model to chance."""
    at = [j + 1 for j, h in enumerate(header) if h == name]
    if len(at) > 1:
        raise DataError("T002", f"{path.name} has {len(at)} columns named {name!r} (columns "
                        f"{', '.join(map(str, at))})", "give each column its own name, or drop the copies", where)
    return header.index(name)


def _finite(text: str) -> bool:
    value = _number(text.strip())
    return value is not None and bool(np.isfinite(value))


def _column(path: Path, header: list[str], body: Rows, name: str, task: str, where: str,
            trained: list[str] | None = None) -> tuple[np.ndarray, list[str] | None]:
    """One CSV target column: numbers, or class indices (and their names) when it holds text.
    A gap is named, never read as a class of its own; text is refused where the loss wants numbers."""
    j = column_index(path, header, name, where)
    cells = [(line, row[j].strip() if j < len(row) else "") for line, row in body]
    for line, text in cells:
        if not text:
            raise DataError("T006", f"{path.name} line {line}: the target column {name!r} is empty (a missing "
                            "value)", "drop the rows whose target is missing", where)
    values = [_number(text) for _, text in cells]
    if all(v is not None for v in values):
        for (line, text), v in zip(cells, values):
            if not np.isfinite(v):
                raise DataError("T006", f"{path.name} line {line}: the target column {name!r} holds {text}",
                                "drop the rows whose target is missing", where)
        return np.array(values, dtype=np.float64), None
    if task not in ("classification", "binary"):  # a regression's target with a word in it
        line, text = next((ln, t) for (ln, t), v in zip(cells, values) if v is None)
        raise DataError("T006", f"{path.name} line {line}: the target column {name!r} holds {text!r}, but the "
                        "loss regresses numbers", "clean the column, or use CrossEntropyLoss if its values are "
                        "class names", where)
    classes = trained or sorted({text for _, text in cells})
    return np.array([_class_index(classes, text, f"{path.name} line {line}", where) for line, text in cells]), classes


def _target_table(path: Path, header: list[str], body: Rows, columns: list[str], where: str) -> np.ndarray:
    try:
        return csv_numbers(path, header, body, columns, where)
    except DataError as exc:  # a target's gap, not a feature's: the targets' code and fix
        raise DataError("T006", exc.message, "drop the rows whose targets are missing, or clean the columns",
                        where) from None


def _class_index(classes: list[str], label: str, at: str, where: str) -> int:
    try:
        return classes.index(label)
    except ValueError:
        raise DataError("T005", f"{at}: the class {label!r} is not one of the classes the model was trained on "
                        f"({', '.join(classes[:10])}{', …' if len(classes) > 10 else ''})",
                        "use data with the training classes only", where) from None


def _per_output(cfg: dict[str, Any], given: Any, key: str, what: str) -> Any:
    """y_key or target: one name for one trained output; a mapping (or a list in the order of
    outputs:) of output name to name when each output has its own loss."""
    heads = list(cfg.get("heads") or [])
    if not heads:
        if key == "target" and isinstance(given, list) and all(isinstance(c, str) for c in given):
            return given  # the columns of one (B, K) output
        if not isinstance(given, str):
            raise DataError("T002", f"{key} names one target per output, but the model trains one output",
                            f"write {key}: {what}", "data")
        return given
    if isinstance(given, list) and len(given) == len(heads):
        given = dict(zip(heads, given))
    if not isinstance(given, dict) or sorted(given) != sorted(heads):
        raise DataError("T002", f"the model trains {len(heads)} outputs ({', '.join(heads)}), so {key} needs one "
                        f"{what.lower()} for each of them", f"{key}: {{" + ", ".join(f"{n}: {what}" for n in heads) +
                        "}", "data")
    return given


def _images(cfg: dict[str, Any], folder: Path, where: str, known: dict[str, Any], written: str,
            rows: int | None = None) -> Data:
    name = _only_input(cfg, folder.name)
    declared = cfg["inputs"][name]["shape"]
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not found:
        raise DataError("T001", f"{folder} has no sub-folders; each class needs one", "put cat/*.png, dog/*.png…",
                        where)
    # validation images are read as the training ones were: their classes' numbers, their size
    classes = known.get("classes") if isinstance(known.get("classes"), list) else found
    size = (known.get("images") or {}).get(name)
    shape = size if size is not None else fixed(declared, _image_sizes(cfg, declared, folder, found, name, where))
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError("T003", f"a folder of images feeds an input of shape [B, 1 or 3, H, W], not {shape}",
                        "declare the input as [B, 3, H, W] (or 1 channel for greyscale)", f"inputs.{name}")
    xs, ys = [], []
    each = None if rows is None else max(1, rows // len(found))  # a few of every class: each label is seen
    empty: list[str] = []
    looks: dict[tuple[tuple[int, int], str], int] = {}  # (size, mode) of the images read: how many
    for cls in found:
        label = _class_index(classes, cls, f"{folder}/{cls}", where)
        files = [f for f in sorted((folder / cls).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            empty.append(cls)
        for f in files[:each]:
            xs.append(image_array(f, shape, where, looks))
            ys.append(label)
    if not xs:
        deeper = [cls for cls in found if any(
            sub.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in sub.iterdir())
            for sub in (folder / cls).iterdir())]
        if deeper:  # data/train/cat/…, data/val/cat/…: the splits' folders, not classes
            train_dir = next((c for c in deeper if c.lower() in ("train", "training")), deeper[0])
            val_dir = next((c for c in deeper if c.lower() in ("val", "valid", "validation", "test")), None)
            fix = f"source: {written}/{train_dir}/" + (f", val_source: {written}/{val_dir}/" if val_dir else "")
            raise DataError("T001", f"{folder} holds the folders {', '.join(deeper)} with class folders inside "
                            "them, not images in class folders", f"point at one of them: {fix}", where)
        raise DataError("T001", f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders "
                        f"({', '.join(found[:5])})", "put each class's images in its folder: cat/1.png, dog/1.png…",
                        where)
    data = Data({name: np.stack(xs)}, np.array(ys), classes=classes)
    data.meta["images"] = {name: list(shape)}  # predict reads image files as training did
    data.meta["warnings"] = _folder_warnings(cfg, written, found, empty, looks, shape, where,
                                             training="classes" not in known)
    return data


def _folder_warnings(cfg: dict[str, Any], written: str, found: list[str], empty: list[str],
                     looks: dict[tuple[tuple[int, int], str], int], shape: Sequence[int], where: str,
                     training: bool) -> list[tuple[str, str, str, str]]:
    """What an image folder trains that its user may not mean, as (code, message, hint, spec key)
    warnings: fewer class folders than the output has classes (T021: outputs that no sample ever
    trains), a class folder without images (T022), images of another size (T023, resized) or another
    colour mode than the input reads (T024, converted)."""
    found_warnings: list[tuple[str, str, str, str]] = []
    out_name, out = next(iter(cfg["outputs"].items()))
    width = out[classes_at(cfg)] if cfg["task"] == "classification" and len(out) > classes_at(cfg) else None
    if training and isinstance(width, int) and len(found) < width:
        found_warnings.append((
            "T021", f"{written} has {len(found)} class folders ({', '.join(found[:6])}"
            f"{', …' if len(found) > 6 else ''}), but output {out_name!r} gives {width} scores: the other "
            f"{width - len(found)} are outputs no sample trains, which the model learns to never answer",
            f"set the last layer's width to {len(found)}, or add the missing classes' folders", f"output.{out_name}"))
    if empty:
        found_warnings.append((
            "T022", f"{written} has class folders without images ({', '.join(empty)}): each such class keeps a "
            "label and an output, and nothing to learn from",
            "put the class's images in its folder, or remove the empty folder (the classes after it are "
            "numbered one lower)", where))
    channels, height, width_px = shape
    sizes: dict[tuple[int, int], int] = {}
    modes: dict[str, int] = {}
    for (size, mode), n in looks.items():
        sizes[size] = sizes.get(size, 0) + n
        modes[mode] = modes.get(mode, 0) + n
    total = sum(sizes.values())
    other = {s: n for s, n in sizes.items() if s != (width_px, height)}
    if other:
        listed = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sorted(other.items(), key=lambda kv: -kv[1])[:4])
        found_warnings.append((
            "T023", f"{sum(other.values())} of the {total} images read from {written} are not {width_px}x{height}, "
            f"the size the input reads ({listed}): each is resized to {width_px}x{height}, stretched where its "
            "aspect ratio differs", f"resize the images to {width_px}x{height} beforehand, or declare the input at "
            "their size", where))
    # modes read without loss: bilevel as grey, a palette (without transparency) as the colours it names
    wanted = ("L", "1", "I;16", "I;16B", "I;16L", "I") if channels == 1 else ("RGB", "P")
    converted = {m: n for m, n in modes.items() if m not in wanted}
    if converted:
        what = {**dict.fromkeys(("RGBA", "LA", "PA"), "their transparency dropped"),
                "P": "their palette's colours averaged to grey", "L": "their one grey channel copied to three",
                "RGB": "their colour averaged to grey", "1": "their black and white copied to three channels",
                **dict.fromkeys(("I;16", "I;16B", "I;16L", "I"), "their 16-bit grey copied to three channels")}
        listed = ", ".join(f"{m} ({n}: {what.get(m, 'converted')})" for m, n in sorted(converted.items()))
        found_warnings.append((
            "T024", f"{sum(converted.values())} of the {total} images read from {written} are not "
            f"{wanted[0]}, which the input's {channels} channel{'s' if channels > 1 else ''} read: {listed}",
            "nothing to fix if that is meant; else convert the images beforehand, or declare the input with "
            f"{3 if channels == 1 else 1} channel{'s' if channels == 1 else ''}", where))
    return found_warnings


def image_input_shape(recorded: Sequence[int] | None, declared: Sequence[Any]) -> list[int] | None:
    """The (C, H, W) an input reads image files at: the size training read its image folder at, else
    the input's own fixed (C, H, W) ([B, 3, 32, 32]); None where image files cannot feed it."""
    fixed_dims = len(declared) == 4 and all(isinstance(d, int) for d in declared[1:])
    shape = list(recorded) if recorded is not None else [int(d) for d in declared[1:]] if fixed_dims else None
    return shape if shape is not None and len(shape) == 3 and shape[0] in (1, 3) else None


def image_array(path: Path, shape: Sequence[int], where: str = "source",
                looks: dict[tuple[tuple[int, int], str], int] | None = None) -> np.ndarray:
    """One image file as the model reads it: (C, H, W) float32 in [0, 1], greyscale for one channel
    and RGB for three, resized to ``shape``'s H x W; ``looks`` counts the files' (size, mode)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # `specc[deploy]` runs models without Pillow
        raise DataError("T001", f"reading {path.name} needs Pillow, which is not installed",
                        "pip install pillow (or 'specc[train]'), or give the image as a .npy array", where) from None
    channels, height, width = shape
    try:
        with Image.open(path) as im:
            if looks is not None:  # a palette with a transparent colour counted apart, as PA
                mode = "PA" if im.mode == "P" and "transparency" in im.info else im.mode
                looks[(im.size, mode)] = looks.get((im.size, mode), 0) + 1
            if im.mode.startswith("I"):
                # 16-bit greyscale (a scan, a depth map): Pillow's convert to 8 bits clips every value
                # above 255 to white, so it is resized as floats and scaled by its own full range
                grey = np.asarray(im.convert("F").resize((width, height)), dtype=np.float32) / 65535.0
                arr = grey if channels == 1 else np.repeat(grey[..., None], 3, axis=-1)
            else:
                im = im.convert("L" if channels == 1 else "RGB").resize((width, height))
                arr = np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:  # a truncated file, or not an image
        raise _unreadable_image(path, exc, where) from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _unreadable_image(path: Path, exc: Exception, where: str) -> DataError:
    return DataError("T001", f"{path} is not an image Pillow can read ({str(exc).split(chr(10))[0][:80]})",
                     "remove the file or replace it with a readable image", where)


def _image_sizes(cfg: dict[str, Any], declared: list[Any], folder: Path, classes: list[str],
                 name: str, where: str = "source") -> dict[str, int]:
    """The sizes images are resized to: a symbolic H or W the spec gives no export size takes the
    first image's (not the 16 of made-up data: 224-pixel photos trained as 16-pixel thumbnails),
    and must be a size the model runs at."""
    sizes = data_sizes(cfg)
    spatial = declared[2:] if len(declared) == 4 else []
    free = [d for d in spatial if isinstance(d, str) and d not in cfg["sizes"]]
    first = next((f for c in classes for f in sorted((folder / c).iterdir())
                  if f.suffix.lower() in IMAGE_SUFFIXES), None)
    if not free or first is None:
        return sizes
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(first) as im:
            width, height = im.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:  # read for its size: the same refusal
        raise _unreadable_image(first, exc, where) from None
    given = {}
    for d, v in zip(spatial, (height, width)):
        if d in free:
            given.setdefault(d, v)
    sizes.update(given)
    found = refusal(rules_from_json(cfg.get("size_rules")), sizes)
    if found is not None:
        why, fix = found
        raise DataError("T003", f"the images are {height}x{width} ({first.parent.name}/{first.name}), and the model "
                        f"cannot take that size: {why}", f"{fix}: resize the images, or set it under export: "
                        "sizes:, which the images are resized to", f"inputs.{name}")
    return sizes


def _shaped(cfg: dict[str, Any], inputs: dict[str, np.ndarray], y: np.ndarray | dict[str, np.ndarray],
            where: str, known: dict[str, Any] | None = None) -> Data:
    """Check every array against the declared input (shape and dtype) and shape the targets; text
    targets (class names) become class indices, numbered as in training where ``known`` says."""
    trained = (known or {}).get("classes")
    if isinstance(y, dict):
        n = len(next(iter(y.values())))
        for name, arr in y.items():
            if len(arr) != n:
                raise DataError("T003", f"the targets of {name!r} have {len(arr)} rows, the others {n}",
                                "give every output's targets the same number of rows", where)
        named = {name: _text_targets(head(cfg, name), np.asarray(arr), where,
                                     trained.get(name) if isinstance(trained, dict) else None)
                 for name, arr in y.items()}
        shaped = shape_inputs(cfg, inputs, n, where)
        data = Data(shaped, {name: _positions(head(cfg, name), shaped, _targets(head(cfg, name), arr, where, shaped),
                                                   where)
                             for name, (arr, _) in named.items()})
        classes = {name: c for name, (_, c) in named.items() if c}
        data.classes = classes or None  # type: ignore[assignment]
        return data
    arr, classes = _text_targets(cfg, np.asarray(y), where, trained if isinstance(trained, list) else None)
    shaped = shape_inputs(cfg, inputs, len(arr), where)
    data = Data(shaped, _positions(cfg, shaped, _targets(cfg, arr, where, shaped), where))
    data.classes = classes
    data.meta["notes"] = _byte_images(cfg, inputs)
    return data


def _byte_images(cfg: dict[str, Any], inputs: dict[str, np.ndarray]) -> list[str]:
    """Images saved as bytes (0 to 255) train as they are: what a reader of the run should know, as
    torchvision's ToTensor and Keras' Rescaling(1/255) scale them first."""
    return [f"input {name!r} holds bytes from 0 to {int(x.max())} (uint8 images), trained as they are; images "
            "usually train better scaled to [0, 1] (save x / 255) or standardised (train.preprocess: {inputs: "
            "standardize})" for name, x in inputs.items()
            if x.dtype == np.uint8 and x.ndim >= 3 and x.size and int(x.max()) > 1
            and cfg["inputs"][name]["dtype"].startswith(("float", "bfloat"))
            and (cfg.get("train") or {}).get("preprocess", {}).get("inputs", "auto") in ("auto", "none")]


def _text_targets(cfg: dict[str, Any], y: np.ndarray, where: str,
                  trained: list[str] | None) -> tuple[np.ndarray, list[str] | None]:
    """Targets saved as class names (np.savez(y=np.array(["cat", "dog", …]))): their indices in
    sorted order (or the training run's), and the names; other targets as they are."""
    if y.dtype.kind not in "US":
        return y, None
    if cfg["task"] not in ("classification", "binary"):
        raise DataError("T006", f"the targets hold text such as {str(y.flat[0])[:20]!r}, but "
                        f"{(cfg.get('loss') or {}).get('type', 'the loss')} regresses numbers",
                        "give numeric targets, or use CrossEntropyLoss if they are class names", where)
    text = np.char.strip(y.astype(str))
    classes = trained or sorted(np.unique(text).tolist())
    index = {c: i for i, c in enumerate(classes)}
    bad = next((str(t) for t in text.flat if t not in index), None)
    if bad is not None:
        _class_index(classes, bad, "the targets", where)  # raises, naming it
    return np.vectorize(index.__getitem__, otypes=[np.int64])(text) if text.size else text.astype(np.int64), classes


def _kind(x: np.ndarray) -> str:
    """What a non-numeric array holds, in words: text such as 'a', or its dtype."""
    if x.dtype.kind in "USO" and x.size:
        return f"text such as {str(x.flat[0])[:20]!r}"
    return f"{x.dtype} values"


def shape_inputs(cfg: dict[str, Any], inputs: dict[str, np.ndarray], n: int, where: str = "source"
                 ) -> dict[str, np.ndarray]:
    """Each input array checked against its declaration and given its declared shape and dtype."""
    out: dict[str, np.ndarray] = {}
    for name, x in inputs.items():
        spec = cfg["inputs"][name]
        if len(x) != n:
            raise DataError("T003", f"input {name!r} has {len(x)} samples but there are {n} targets",
                            "give every input and the targets the same number of rows", where)
        # a symbol's size is the data's (export.sizes only picks the size of a dummy example): a tagger
        # trained on 12 tokens predicts on 4
        declared = [d if isinstance(d, int) else None for d in spec["shape"][1:]]
        is_float = spec["dtype"].startswith(("float", "bfloat"))
        if not is_float:
            if x.dtype.kind == "f" and not np.all(np.isfinite(x) & (x == np.round(x))):
                raise DataError("T004", f"input {name!r} is declared {spec['dtype']} (token ids), but the data "
                                "holds fractional values",
                                "feed integer ids, or declare the input float32 and drop the Embedding",
                                f"inputs.{name}")
            if x.dtype.kind not in "iub" and x.dtype.kind != "f":
                raise DataError("T004", f"input {name!r} holds {_kind(x)}, not numbers", "feed numeric arrays",
                                f"inputs.{name}")
            if x.size and x.min() < 0:
                raise DataError("T004", f"input {name!r} holds ids from {int(x.min())} to {int(x.max())}, but "
                                "ids and positions count from 0", "map each id into 0 … n - 1 (no negative "
                                "ids: an Embedding and a Pick index from the start)", f"inputs.{name}")
            x = x.astype(spec["dtype"])
        else:
            if x.dtype.kind not in "iufb":
                raise DataError("T004", f"input {name!r} holds {_kind(x)}, not numbers", "feed numeric arrays",
                                f"inputs.{name}")
            x = x.astype(np.float32)
        per = x.shape[1:]
        if len(per) != len(declared) or any(d is not None and d != s for d, s in zip(declared, per)):
            want = [d if d is not None else "*" for d in declared]
            squeezed = [d for d in declared if d != 1]
            if all(d is not None for d in declared) and int(np.prod(per)) == int(np.prod(declared)) and len(per) <= 1:
                x = x.reshape(len(x), *declared)  # flat rows of an image (digits: 64 → 1×8×8)
            elif len(per) == len(squeezed) < len(declared) and all(d is None or d == s for d, s in zip(squeezed, per)):
                # only the declared size-1 dims are missing (greyscale images saved (N, H, W)): insert them
                sizes = iter(per)
                x = x.reshape(len(x), *[1 if d == 1 else next(sizes) for d in declared])
            else:
                # the data to answer is the user's to reshape; training data may mean the spec is to change
                fix = _input_shape_fix(spec["shape"], per) if where != "input" else _answer_shape_fix(declared, per)
                raise DataError("T003", f"input {name!r} takes samples of shape {want}, but the data has "
                                f"{list(per)} ({int(np.prod(per))} values)", fix, f"inputs.{name}")
        out[name] = x
    if where != "input":  # predict tests its inputs with the batch's size too
        _sizes_fit(cfg, out)
    _ids_in_bounds(cfg, out)
    return out


def symbol_sizes(cfg: dict[str, Any], arrays: dict[str, np.ndarray], batch: bool = True) -> dict[str, int]:
    """The sizes of the spec's symbols in the given input arrays (T from a length, ...), and the batch
    dim's unless ``batch`` is False (a data set's row count is no batch size)."""
    env: dict[str, int] = {}
    for name, x in arrays.items():
        dims = list(zip(cfg["inputs"][name]["shape"], x.shape))
        for d, size in dims if batch else dims[1:]:
            if isinstance(d, str) and d.isidentifier():
                env.setdefault(d, int(size))
    return env


def _sizes_fit(cfg: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """T003 for samples of a size the model cannot run at, as predict refuses them: a sequence longer
    than a position table, a signal shorter than a kernel; the first input that sizes the rule broken."""
    env = symbol_sizes(cfg, arrays, batch=False)
    rules = rules_from_json(cfg.get("size_rules"))
    found = refusal(rules, env)
    if found is None:
        return
    bad = next(r for r in rules if not r.holds(env))
    symbols = set(bad.size.symbols()) if not isinstance(bad.size, int) else set()
    name = next((n for n in arrays if symbols & {str(d) for d in cfg["inputs"][n]["shape"][1:]}), next(iter(arrays)))
    raise DataError("T003", f"the samples of input {name!r} are a size the model cannot run at: {found[0]}",
                    f"{found[1]}: crop or pad the samples to it, or change the layer it names",
                    f"inputs.{name}")


def _ids_in_bounds(cfg: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """T004 for an integer input holding an id at or past what reads it takes: an Embedding's rows,
    the length a Pick picks from (its symbol sized by the data's own arrays)."""
    env: dict[str, int] = {}
    for name, x in arrays.items():
        for d, size in zip(cfg["inputs"][name]["shape"][1:], x.shape[1:]):
            if isinstance(d, str) and d.isidentifier():
                env.setdefault(d, int(size))
    for name, bounds in input_bounds(cfg).items():
        x = arrays.get(name)
        if x is None or not x.size or x.dtype.kind not in "iu":
            continue
        largest = int(x.max())
        for high_json, reader, kind, _ in bounds:
            try:
                high = evaluate(from_json(high_json), env)
            except (KeyError, ValueError):  # a symbol no input of the data sizes
                continue
            if largest >= high:
                raise DataError("T004", f"input {name!r} holds ids from {int(x.min())} to {largest}, but {reader} "
                                f"(ids 0 to {high - 1})", bound_fix(kind, largest), f"inputs.{name}")


def input_bounds(cfg: dict[str, Any]) -> dict[str, list[tuple[Any, str, str, int | None]]]:
    """Each bounded input's (size as JSON, reader in words, reader's type, padding id); a run written before
    the config kept them has its Embedding's rows alone."""
    if "index_bounds" in cfg:
        return {name: [(b[0], b[1], b[2], b[3] if len(b) > 3 else None) for b in found]
                for name, found in cfg["index_bounds"].items()}
    return {name: [(high, f"the Embedding reading it has {high} rows", "Embedding", None)]
            for name, high in cfg.get("vocab", {}).items()}


def _answer_shape_fix(declared: Sequence[int | None], per: Sequence[int]) -> str:
    """How to give a trained model samples of the shape it takes (predict, evaluate --data): the
    model is fixed, so the data moves."""
    rank = len(per)
    if rank == len(declared) >= 2 and all(d is None or d == s for d, s in zip([*declared[1:], declared[0]], per)):
        order = ", ".join(str(i) for i in [0, rank, *range(1, rank)])
        return f"the data is channels-last: move the channels to dim 1 first (np.transpose(x, ({order})))"
    want = ", ".join(str(d) if d is not None else "any" for d in declared)
    return f"give each sample as [{want}], as the model was trained"


def _input_shape_fix(shape: Sequence[Any], per: Sequence[int]) -> str:
    """How the spec reads data of per-sample shape ``per`` for an input declared ``shape`` (batch
    included): channels-last data (Keras, images as NumPy reads them) for a channels-first input is
    declared as it comes and permuted by the model's first layer; other data is declared as it is."""
    declared = [d if isinstance(d, int) else None for d in shape[1:]]
    rank = len(per)
    if rank == len(declared) >= 2 and all(d is None or d == s for d, s in zip([*declared[1:], declared[0]], per)):
        dims = [0, rank, *range(1, rank)]
        shape = ", ".join(str(s) if d is not None else "*" for s, d in zip(per, [*declared[1:], declared[0]]))
        return (f"the data is channels-last: declare the input as [B, {shape}] and add - {{type: Permute, dims: "
                f"{dims}}} as the model's first layer (channels to dim 1, where PyTorch reads them)")
    dims = ", ".join(map(str, [shape[0], *per]))
    return f"declare the input as the data has it, [{dims}] (the layers after it follow), or choose other data"


def _one_hot(y: np.ndarray, at: int) -> np.ndarray | None:
    """Class indices from one-hot rows along dim ``at`` of each sample (Keras' categorical targets),
    or None when ``y`` is not exactly one-hot there."""
    axis = at + 1
    if y.ndim <= axis or not np.isin(y, (0, 1)).all() or not (y.sum(axis=axis) == 1).all():
        return None
    return y.argmax(axis=axis).astype(np.int64)


def _label_rows(cfg: dict[str, Any], y: np.ndarray, at: int, out: Sequence[Any]) -> NoReturn:
    """0/1 rows along the class dim that do not fit a classification output: one-hot rows of
    another class count (T005, the count), or rows with several 1s, multi-label targets that a
    loss picking one class per sample cannot train (T006, a per-label yes/no loss)."""
    k, loss = y.shape[1 + at], (cfg.get("loss") or {}).get("type", "the loss")
    name = next(iter(cfg["outputs"]))
    ones = y.sum(axis=1 + at)
    if (ones == 1).all():
        raise DataError("T005", f"the targets are one-hot rows of {k} classes, but output {name!r} gives {out[at]} "
                        "scores per sample", f"set the last layer's width to {k}", f"output.{name}")
    width = f" and give the last layer {k} outputs" if out[at] != k else ""
    raise DataError("T006", f"the targets are rows of {k} yes/no labels with up to {int(ones.max())} 1s per sample "
                    f"(multi-label), but {loss} picks one class per sample",
                    f"use loss: {{type: BCEWithLogitsLoss}}, one yes/no per label{width}", "loss")


def _targets(cfg: dict[str, Any], y: np.ndarray, where: str,
             inputs: dict[str, np.ndarray] | None = None) -> np.ndarray:
    task = cfg["task"]
    if task == "ctc":
        return y.astype(np.int64)
    # the output at the sizes of the inputs it comes with: a per-step regression over 24 steps of
    # data has 24 targets per sample, not the 16 of the export size
    sizes = dict(cfg["sizes"])
    for name, x in (inputs or {}).items():
        for d, v in zip(cfg["inputs"][name]["shape"][1:], x.shape[1:]):
            if isinstance(d, str):
                sizes[d] = int(v)
    out = fixed(next(iter(cfg["outputs"].values())), sizes)
    n = len(y)
    if task == "classification":
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            check_finite(Data({}, y), "the data")
        at = classes_at(cfg) - 1
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            rows = y.ndim - 1 == len(out) and y.shape[1 + at] == out[at] and ((y >= 0) & (y <= 1)).all() and \
                np.allclose(y.sum(axis=1 + at), 1, atol=1e-3)
            # Rows of class probabilities (label-smoothed one-hot, mixup, a teacher's softmax): a
            # regression loss would be the wrong cure.
            raise DataError("T006", "the loss wants class indices, but the targets hold " + (
                f"class probabilities (rows of {out[at]} that sum to 1)" if rows else "fractional values"),
                "give each sample's class index (the argmax of its row) and set label_smoothing: 0.1 in the loss "
                "for smoothed targets, or use loss: {type: KLDivLoss, from_logits: true} to train on the "
                "distributions" if rows else "use integer class labels, or a regression loss such as MSELoss",
                "loss")
        want = [*out[:at], *out[at + 1:]]  # one class index per position of the output
        rest = [d for i, d in enumerate(y.shape[1:]) if i != at] == [d for i, d in enumerate(out) if i != at]
        if y.ndim - 1 == len(out) and rest and y.shape[1 + at] > 1 and np.isin(y, (0, 1)).all():
            # one-hot rows, as Keras' categorical_crossentropy takes them: the index of each row's 1
            hot = _one_hot(y, at) if y.shape[1 + at] == out[at] else None
            if hot is None:
                _label_rows(cfg, y, at, out)
            y = hot
        y = y.astype(np.int64)
        if y.ndim - 1 == len(want) + 1 and y.shape[1 + at] == 1:
            # (N, 1) labels, an (N, 1, H, W) mask saved as a one-channel image: the dim of 1 stands
            # where the output has its classes, one index per position already
            y = np.squeeze(y, axis=1 + at)
        if tuple(y.shape[1:]) != tuple(want) and len(want) != y.ndim - 1:
            # the output's own dims, symbols kept: a (B, T, K) tagger needs (T,) per sample, whatever T is
            declared = [d if isinstance(d, int) else str(d) for d in next(iter(cfg["outputs"].values()))[1:]]
            shown = "[" + ", ".join(map(str, [*declared[:at], *declared[at + 1:]])) + "]"
            ones = [i for i, s in enumerate(y.shape[1:]) if s == 1]
            last_hot = y.ndim - 1 == len(out) and y.shape[-1] == out[at] and \
                _one_hot(np.moveaxis(y, -1, 1 + at), at) is not None
            fix = (f"drop the targets' dim of size 1 (dim {ones[-1] + 1} of the array: y.squeeze({ones[-1] + 1}), "
                   "a mask saved (N, H, W, 1))" if y.ndim - 1 == len(want) + 1 and ones else
                   f"the targets are one-hot along their last dim (channels-last, {y.shape[-1]} classes): save each "
                   "position's class index, y.argmax(-1)" if last_hot else
                   _per_step_fix(y, inputs) if not want else
                   "give one class index per position of the output")
            raise DataError("T003", f"targets have shape {list(y.shape[1:])} per sample, the output needs {shown} "
                            + ("(one class index per sample)" if not want else
                               f"(one class index per position of its {len(declared) + 1}-d output)"), fix, where)
        return y
    y = y.astype(np.float32)
    if int(np.prod(y.shape[1:])) == int(np.prod(out)) and all(isinstance(d, int) for d in out):
        return y.reshape(n, *out)
    raise DataError("T003", f"targets have shape {list(y.shape[1:])} per sample, the output has {list(out)}",
                    _target_shape_fix(y, out, cfg), where)


def _per_step_fix(y: np.ndarray, inputs: dict[str, np.ndarray] | None) -> str:
    """The fix for class-index targets with positions where the model answers one class per sample:
    a tagger's labels, one per step of an input, trained on a model that pools or keeps only the last step."""
    steps = next((name for name, x in (inputs or {}).items() if y.ndim == 2 and x.ndim >= 2 and
                  x.shape[1] == y.shape[1] and (x.ndim >= 3 or x.dtype.kind in "iu")), None)  # (N, T, F) or ids
    if steps is None:
        return "give one class index per sample, or keep the positions the targets have in the output"
    return (f"the targets hold a class per step ({y.shape[1]}, the steps of input {steps!r}), but the model answers "
            "one class per sample: keep the steps to the output (output: sequence on a recurrent layer, no pooling "
            "over them) and set class_dim: -1 in the loss")


def _positions(cfg: dict[str, Any], inputs: dict[str, np.ndarray], y: np.ndarray, where: str) -> np.ndarray:
    """Class-index targets with a position for each of the output's (a segmentation mask, a
    tagger's labels) must have the output's sizes at the size of the inputs they come with: a
    decoder that upsamples 4 times after 8 times of striding gives 8x8 scores for 16x16 masks, and
    the loss fails on the first batch. Only the output dims whose sizes the inputs decide (a fixed
    size, or symbols the inputs bind) are compared."""
    exact = (cfg.get("output_dims") or {}).get(next(iter(cfg["outputs"])))
    if cfg["task"] != "classification" or exact is None or y.ndim < 2:
        return y
    sizes: dict[str, int] = {}
    for name, x in inputs.items():
        for d, v in zip(cfg["inputs"][name]["shape"][1:], x.shape[1:]):
            if isinstance(d, str):
                sizes.setdefault(d, int(v))
    at = classes_at(cfg)
    dims = [from_json(d) for i, d in enumerate(exact) if i not in (0, at)]
    if len(dims) != y.ndim - 1 or any(not isinstance(d, int) and not set(d.symbols()) <= set(sizes) for d in dims):
        return y
    want = [d if isinstance(d, int) else int(evaluate(d, sizes)) for d in dims]
    got = [int(v) for v in y.shape[1:]]
    if want == got:
        return y
    name = next(iter(cfg["outputs"]))
    shown = "x".join(map(str, want))
    ratios = {g // w if w and g % w == 0 else 0 for g, w in zip(got, want)}
    r = next(iter(ratios)) if len(ratios) == 1 else 0
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(len(dims))
    # FCN and DeepLab end in the logits at a fraction of the image and resize them to the mask
    resize = (f"end the model in - {{type: Upsample, scale_factor: {r}, mode: {mode}}} (FCN's and DeepLab's "
              "resizing of the logits), or " if mode is not None and at == 1 else "")
    fix = (f"the output is {r} times smaller than the targets along each dim: {resize}upsample it {r} times more "
           "(a larger scale_factor on its last Upsample, or one stride fewer in the encoder)" if r > 1 else
           f"make the output {'x'.join(map(str, got))} positions per sample")
    if len(got) == 1 and got[0] == want[0] + 1:
        # teacher forcing: the model reads seq[:, :-1] and predicts seq[:, 1:]; a target row holding the
        # whole sequence (or a BOS and an EOS around the input) is one step longer than the output
        fix = (f"the targets are one step longer than the {want[0]} steps of the output: for next-token training "
               f"save the inputs as seq[:, :-1] and the targets as seq[:, 1:], {want[0]} steps each (the targets "
               f"shifted by one, not the whole sequence); else make the output {got[0]} positions per sample")
    raise DataError("T003", f"the targets have {'x'.join(map(str, got))} class indices per sample, but output "
                    f"{name!r} gives scores at {shown} positions for these inputs: the loss needs one class index "
                    "per position of the output", f"{fix}, or give targets of {shown}", where)


def _target_shape_fix(y: np.ndarray, out: Sequence[Any], cfg: dict[str, Any]) -> str:
    """What makes a (non-classification) loss's targets and the output agree: one whole number in
    [0, K) per sample against K outputs is a class index, wanting a classification loss."""
    loss = (cfg.get("loss") or {}).get("type", "the loss")
    width = out[-1] if len(out) == 1 and isinstance(out[-1], int) else None
    if y.ndim == 1 and width is not None and width > 1 and y.size and np.all(y == np.round(y)) and \
            y.min() >= 0 and y.max() < width:
        return (f"the targets are one class index (0 to {int(y.max())}) per sample: for classification use loss: "
                f"{{type: CrossEntropyLoss}} with the {width} outputs; to regress one value, end the model in "
                f"out_features: 1 with {loss}")
    if y.ndim == 1 and width is not None:
        return "the targets are one value per sample: end the model in out_features: 1"
    per = list(y.shape[1:])
    kept = len(out) - max(len(per), 1)  # the output's dims ahead of the ones the targets have
    if kept >= 1 and list(out[kept:]) == (per or [1]) and all(isinstance(d, int) for d in out):
        # (B, T, 1) against one value per sample: a Linear acts on the last dim only (Keras' Dense too),
        # so a head on a sequence or a map predicts once per position
        return (f"the output keeps {' x '.join(map(str, out[:kept]))} positions the targets do not have (a Linear "
                "acts on the last dim only, as Keras' Dense does, so each position got its own prediction): reduce "
                "them before the head, - {type: Mean, dim: 1} (or Flatten before the first Linear), or give "
                f"targets of {list(out)}")
    return f"make the output {list(y.shape[1:])} per sample (the targets' shape), or give targets of {list(out)}"


def check_finite(d: Data, source: str, masks: Collection[str] = ()) -> None:
    """NaN or infinity anywhere in the inputs or targets, named by sample (its row in ``source``,
    so checked before any split or shuffle) and position: it would train as NaN. In an input read as
    an attention mask (``masks``), -inf is how an additive mask hides a key, and is kept."""
    for name, x in d.inputs.items():
        if x.dtype.kind == "f" and name in masks and not (np.isfinite(x) | (x == -np.inf)).all():
            raise DataError("T004", f"input {name!r} of {source} holds {_first_bad(np.where(x == -np.inf, 0, x))}",
                            "an attention mask holds 0 where a key is seen and -inf (or true) where it is hidden",
                            "source")
        if x.dtype.kind == "f" and name not in masks and not np.isfinite(x).all():
            raise DataError("T004", f"input {name!r} of {source} holds {_first_bad(x)}",
                            "clean or impute them before training", "source")
    for name, y in (d.targets.items() if isinstance(d.targets, dict) else [("", d.targets)]):
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError("T006", f"the targets{f' of {name!r}' if name else ''} in {source} hold {_first_bad(y)}",
                            "clean them before training", "source")


def _first_bad(x: np.ndarray) -> str:
    """Where the first NaN or infinity is, and how many there are: 'NaN at sample 17, index (2,) (3 values
    in 2 samples)'."""
    bad = ~np.isfinite(x)
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    samples = int(bad.reshape(len(x), -1).any(1).sum()) if x.ndim > 1 else int(bad.sum())
    where = f"sample {at[0]}" + (f", index {at[1:]}" if len(at) > 1 else "")
    return (f"{'NaN' if np.isnan(x[at]) else 'an infinite value'} at {where} "
            f"({int(bad.sum())} non-finite value{'s' * (int(bad.sum()) != 1)} in {samples} of {len(x)} samples)")
