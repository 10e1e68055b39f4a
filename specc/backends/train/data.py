"""Training data: bundled scikit-learn sets, xor, synthetic, .npz/.npy/.csv files and image folders.

Arrays stay NumPy until the loop turns them into tensors. Integer inputs (token ids) keep
their integer dtype; float inputs become float32. Every problem the data reveals is a
:class:`DataError` located at the spec key it comes from (the data source, an input).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...shapes.dims import evaluate, from_json
from ...shapes.rules import nearest_fit, refusal, rules_from_json
from ...validate.document import SKLEARN_DATASETS as BUNDLED
from ...validate.train_config import classes_at, head

DEFAULT_SIZE = 16  # a symbol's size in data specc makes, where the spec gives none
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
    sizes = dict(cfg["sizes"])
    free = {d for t in cfg["inputs"].values() for d in t["shape"][1:] if isinstance(d, str) and d not in sizes}
    env = {**sizes, **dict.fromkeys(sorted(free), DEFAULT_SIZE)}
    fits = nearest_fit(rules_from_json(cfg.get("size_rules")), env)  # every broken symbol at once
    env.update({s: v for s, v in fits.items() if s in free})
    return env


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
         validation: bool = False) -> Data:
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
        return _images(cfg, path, where)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(cfg, path, data_cfg, where)
    if suffix == ".npy":
        return _npy(cfg, path, data_cfg, base, where)
    if suffix == ".csv":
        return _csv(cfg, path, data_cfg, where)
    raise DataError("T001", f"cannot read {source!r}: specc reads .npz, .npy and .csv files and folders of images",
                    "convert the data to .npz (np.savez('data.npz', x=x, y=y))", where)


def split(cfg: dict[str, Any], data: Data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: stratified for classification when every class has two rows."""
    dcfg = cfg["train"]["data"]
    n = len(data)
    n_val = int(n * dcfg["val_split"])
    if n_val == 0:
        return np.arange(n), np.arange(0)
    rng = np.random.default_rng(seed)
    y, task = data.targets, cfg["task"]
    if isinstance(y, dict):  # a loss per output: stratify on the first classifier's labels
        first = next((n for n, h in cfg["heads"].items() if h["task"] == "classification"), None)
        y, task = (y[first], "classification") if first is not None else (next(iter(y.values())), "multi")
    classes = len(np.unique(y)) if task == "classification" and y.ndim == 1 else 1
    if n - n_val < classes:
        keep = max(0.0, (n - classes) / n)
        what = f"the {classes} classes" if classes > 1 else "one"
        raise DataError("T007", f"val_split: {dcfg['val_split']:g} keeps {n_val} of the {n} samples for validation "
                        f"and leaves {n - n_val} to train on, fewer than {what}",
                        f"use val_split: 0.2 (any value up to {keep:.2f} leaves a sample of each class to train on)",
                        "val_split")
    if task == "classification" and dcfg["stratify"] and y.ndim == 1:
        from sklearn.model_selection import train_test_split

        counts = np.bincount(y) if y.size and y.min() >= 0 else np.array([0])
        if counts[counts > 0].min() >= 2 and n_val >= (counts > 0).sum():
            tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=y, random_state=seed % 2**32)
            return np.sort(tr), np.sort(va)
    order = rng.permutation(n) if dcfg["shuffle"] else np.arange(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


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
            inputs[name] = _padding(shape, rng)
        else:
            inputs[name] = rng.integers(0, cfg["vocab"].get(name, 2), size=shape).astype(spec["dtype"])
    if cfg.get("heads"):
        return Data(inputs, {name: _random_targets(head(cfg, name), n, rng, sizes) for name in cfg["heads"]})
    if cfg["task"] == "ctc":
        return Data(inputs, *_random_transcripts(cfg, n, rng, sizes))
    return Data(inputs, _random_targets(cfg, n, rng, sizes))


def _padding(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Made-up bool inputs as padding masks are: True on a random tail of each row of the last
    dim, never the whole row (a row of only padding leaves attention nothing to attend to: nan)."""
    if not shape or shape[-1] < 1:
        return np.zeros(shape, dtype=bool)
    tail = rng.integers(0, shape[-1], size=shape[:-1])  # 0 to L - 1 padded steps
    return np.arange(shape[-1]) >= (shape[-1] - tail)[..., None]


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


def _npz(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], where: str) -> Data:
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError("T001", f"cannot read {path.name}: {exc}", "write it with np.savez", where) from None
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
    lengths = np.asarray(arrays[data_cfg["lengths_key"]]) if data_cfg["lengths_key"] in arrays.files else None
    if cfg["task"] == "ctc" and lengths is None:
        raise DataError("T002", f"CTC training needs each target's length, but {path.name} has no "
                        f"{data_cfg['lengths_key']!r} array",
                        "save the lengths beside the padded targets (np.savez(..., y_lengths=lengths)) or set "
                        "lengths_key", where)
    y = ({n: np.asarray(arrays[k]) for n, k in y_keys.items()} if isinstance(y_keys, dict) else
         np.asarray(arrays[y_keys]))
    data = _shaped(cfg, {n: np.asarray(arrays[k]) for n, k in wanted.items()}, y, where)
    data.lengths = lengths
    return data


def _npy(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], base: Path, where: str) -> Data:
    if not data_cfg.get("targets"):
        raise DataError("T002", f"{path.name} holds one array (the inputs); the targets are missing",
                        "name the targets' file: data: {source: x.npy, targets: y.npy}, or use one .npz", where)
    tpath = Path(data_cfg["targets"])
    tpath = tpath if tpath.is_absolute() else base / tpath
    if not tpath.is_file():
        raise DataError("T001", f"targets file {data_cfg['targets']!r} does not exist", "check the path", "data")
    x, y = np.load(path, allow_pickle=False), np.load(tpath, allow_pickle=False)
    return _shaped(cfg, {_only_input(cfg, path.name): x}, y, where)


def _csv(cfg: dict[str, Any], path: Path, data_cfg: dict[str, Any], where: str) -> Data:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise DataError("T001", f"{path.name} has no data rows", "the first row names the columns", where)
    header, body = [h.strip() for h in rows[0]], rows[1:]
    target = _per_output(cfg, data_cfg.get("target") or header[-1], "target", "COLUMN")
    columns = list(target.values()) if isinstance(target, dict) else [target]
    features = data_cfg.get("features") or [h for h in header if h not in columns]
    for col in [*features, *columns]:
        if col not in header:
            raise DataError("T002", f"{path.name} has no column {col!r} (it has {', '.join(header)})",
                            "set features: [...] and target: ... in train.data to column names of the file", "data")
    fi = [header.index(c) for c in features]
    try:
        x = np.array([[float(r[i]) for i in fi] for r in body], dtype=np.float64)
    except (ValueError, IndexError):
        raise DataError("T004", f"{path.name}: a feature column holds something that is not a number",
                        "clean the file, or list only numeric columns in features:", "data") from None
    if isinstance(target, dict):
        columns_of = {n: _column(body, header.index(c)) for n, c in target.items()}
        data = _shaped(cfg, {_only_input(cfg, path.name): x}, {n: y for n, (y, _) in columns_of.items()}, where)
        data.classes = {n: names for n, (_, names) in columns_of.items() if names}  # type: ignore[assignment]
        return data
    y, classes = _column(body, header.index(target))
    data = _shaped(cfg, {_only_input(cfg, path.name): x}, y, where)
    data.classes = classes
    return data


def _column(body: list[list[str]], index: int) -> tuple[np.ndarray, list[str] | None]:
    """One CSV column as numbers, or as class indices (and their names) when it holds text."""
    raw_y = [r[index].strip() for r in body]
    try:
        return np.array([float(v) for v in raw_y]), None
    except ValueError:
        classes = sorted(set(raw_y))
        return np.array([classes.index(v) for v in raw_y]), classes


def _per_output(cfg: dict[str, Any], given: Any, key: str, what: str) -> Any:
    """y_key or target: one name for one trained output; a mapping (or a list in the order of
    outputs:) of output name to name when each output has its own loss."""
    heads = list(cfg.get("heads") or [])
    if not heads:
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


def _images(cfg: dict[str, Any], folder: Path, where: str) -> Data:
    from PIL import Image

    name = _only_input(cfg, folder.name)
    declared = cfg["inputs"][name]["shape"]
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError("T001", f"{folder} has no sub-folders; each class needs one", "put cat/*.png, dog/*.png…",
                        where)
    shape = fixed(declared, _image_sizes(cfg, declared, folder, classes, name))
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError("T003", f"a folder of images feeds an input of shape [B, 1 or 3, H, W], not {shape}",
                        "declare the input as [B, 3, H, W] (or 1 channel for greyscale)", f"inputs.{name}")
    mode = "L" if shape[0] == 1 else "RGB"
    xs, ys = [], []
    for label, cls in enumerate(classes):
        for f in sorted((folder / cls).iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(f) as im:
                    arr = np.asarray(im.convert(mode).resize((shape[2], shape[1])), dtype=np.float32) / 255.0
                xs.append(arr[None] if mode == "L" else arr.transpose(2, 0, 1))
                ys.append(label)
    if not xs:
        raise DataError("T001", f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})", "add images", where)
    return Data({name: np.stack(xs)}, np.array(ys), classes=classes)


def _image_sizes(cfg: dict[str, Any], declared: list[Any], folder: Path, classes: list[str],
                 name: str) -> dict[str, int]:
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
    from PIL import Image

    with Image.open(first) as im:
        width, height = im.size
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
            where: str) -> Data:
    """Check every array against the declared input (shape and dtype) and shape the targets."""
    if isinstance(y, dict):
        n = len(next(iter(y.values())))
        for name, arr in y.items():
            if len(arr) != n:
                raise DataError("T003", f"the targets of {name!r} have {len(arr)} rows, the others {n}",
                                "give every output's targets the same number of rows", where)
        return Data(shape_inputs(cfg, inputs, n, where),
                    {name: _targets(head(cfg, name), np.asarray(arr), where) for name, arr in y.items()})
    return Data(shape_inputs(cfg, inputs, len(y), where), _targets(cfg, np.asarray(y), where))


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
            high = cfg["vocab"].get(name)
            if x.size and (x.min() < 0 or (high is not None and x.max() >= high)):
                raise DataError("T004", f"input {name!r} holds ids from {int(x.min())} to {int(x.max())}, but the "
                                f"Embedding reading it has {high} rows (ids 0 to {high - 1 if high else '?'})",
                                f"set num_embeddings to at least {int(x.max()) + 1}", f"inputs.{name}")
            x = x.astype(spec["dtype"])
        else:
            if x.dtype.kind not in "iufb":
                raise DataError("T004", f"input {name!r} holds {_kind(x)}, not numbers", "feed numeric arrays",
                                f"inputs.{name}")
            x = x.astype(np.float32)
        per = x.shape[1:]
        if len(per) != len(declared) or any(d is not None and d != s for d, s in zip(declared, per)):
            want = [d if d is not None else "*" for d in declared]
            if all(d is not None for d in declared) and int(np.prod(per)) == int(np.prod(declared)) and len(per) <= 1:
                x = x.reshape(len(x), *declared)  # flat rows of an image (digits: 64 → 1×8×8)
            else:
                raise DataError("T003", f"input {name!r} takes samples of shape {want}, but the data has "
                                f"{list(per)} ({int(np.prod(per))} values)", _input_shape_fix(declared, per),
                                f"inputs.{name}")
        out[name] = x
    return out


def _input_shape_fix(declared: Sequence[int | None], per: Sequence[int]) -> str:
    """How the spec reads data of per-sample shape ``per`` for an input declared ``declared``:
    channels-last data (Keras, images as NumPy reads them) for a channels-first input is
    declared as it comes and permuted by the model's first layer."""
    rank = len(per)
    if rank == len(declared) >= 2 and all(d is None or d == s for d, s in zip([*declared[1:], declared[0]], per)):
        dims = [0, rank, *range(1, rank)]
        shape = ", ".join(str(s) if d is not None else "*" for s, d in zip(per, [*declared[1:], declared[0]]))
        return (f"the data is channels-last: declare the input as [B, {shape}] and add - {{type: Permute, dims: "
                f"{dims}}} as the model's first layer (channels to dim 1, where PyTorch reads them)")
    return "choose another data source, or declare the input's shape as the data has it"


def _one_hot(y: np.ndarray, at: int) -> np.ndarray | None:
    """Class indices from one-hot rows along dim ``at`` of each sample (Keras' categorical targets),
    or None when ``y`` is not exactly one-hot there."""
    axis = at + 1
    if y.ndim <= axis or not np.isin(y, (0, 1)).all() or not (y.sum(axis=axis) == 1).all():
        return None
    return y.argmax(axis=axis).astype(np.int64)


def _targets(cfg: dict[str, Any], y: np.ndarray, where: str) -> np.ndarray:
    task = cfg["task"]
    if task == "ctc":
        return y.astype(np.int64)
    out = fixed(next(iter(cfg["outputs"].values())), cfg["sizes"])
    n = len(y)
    if task == "classification":
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise DataError("T006", "the loss wants class indices, but the targets hold fractional values",
                            "use integer class labels, or a regression loss such as MSELoss", "loss")
        at = classes_at(cfg) - 1
        want = [*out[:at], *out[at + 1:]]  # one class index per position of the output
        if y.ndim - 1 == len(out) and y.shape[1 + at] == out[at] and out[at] > 1:
            # one-hot rows, as Keras' categorical_crossentropy takes them: the index of each row's 1
            hot = _one_hot(y, at)
            if hot is not None:
                y = hot
        y = y.astype(np.int64)
        if y.ndim == 2 and y.shape[1] == 1 and not want:
            y = y[:, 0]
        if tuple(y.shape[1:]) != tuple(want) and len(want) != y.ndim - 1:
            # the output's own dims, symbols kept: a (B, T, K) tagger needs (T,) per sample, whatever T is
            declared = [d if isinstance(d, int) else str(d) for d in next(iter(cfg["outputs"].values()))[1:]]
            shown = "[" + ", ".join(map(str, [*declared[:at], *declared[at + 1:]])) + "]"
            raise DataError("T003", f"targets have shape {list(y.shape[1:])} per sample, the output needs {shown} "
                            f"(one class index per position of its {len(declared) + 1}-d output)",
                            "give one class index per position of the output", where)
        return y
    y = y.astype(np.float32)
    if int(np.prod(y.shape[1:])) == int(np.prod(out)) and all(isinstance(d, int) for d in out):
        return y.reshape(n, *out)
    raise DataError("T003", f"targets have shape {list(y.shape[1:])} per sample, the output has {list(out)}",
                    _target_shape_fix(y, out, cfg), where)


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
    return f"make the output {list(y.shape[1:])} per sample (the targets' shape), or give targets of {list(out)}"
