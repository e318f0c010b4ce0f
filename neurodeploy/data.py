"""Data sets, all local: scikit-learn's bundled 8x8 digits, or arrays from a local ``.npz`` file.

Nothing is downloaded. A ``.npz`` data set holds ``x_train, y_train, x_test, y_test`` with inputs shaped
[N, *per-sample shape] and integer labels [N].
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodeploy.errors import InputError

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.25
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """A labelled train/test split; inputs are float32 [N, *input_shape], labels int64 [N]."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_digits_dataset() -> Dataset:
    """scikit-learn's 8x8 digits (1797 images, bundled), pixels scaled to [0, 1], shape [N, 1, 8, 8].

    Fixed stratified split: 25 % test (450 images), seed 0.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te)


def load_npz_dataset(path: Path) -> Dataset:
    """Read a data set from a local ``.npz`` file, checking keys, shapes and label ranges."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zip/pickle/format errors all mean the file is unusable
        raise InputError(f"{path}: cannot read as .npz data set ({type(e).__name__}: {e})") from None
    problems = [f"missing array '{k}'" for k in _NPZ_KEYS if k not in arrays]
    if not problems:
        for split in ("train", "test"):
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
                problems.append(f"x_{split} {list(x.shape)} and y_{split} {list(y.shape)} do not match")
            elif not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
                problems.append(f"y_{split} must hold non-negative integer class labels")
        if not problems and arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
            problems.append("x_train and x_test have different per-sample shapes")
    if problems:
        raise InputError(f"{path}: not a usable data set", problems)
    return Dataset(path.stem, *(arrays[k].astype(np.float32 if k[0] == "x" else np.int64) for k in _NPZ_KEYS))


def load_dataset(name_or_path: str) -> Dataset:
    """'digits' or the path of a ``.npz`` file."""
    if name_or_path == "digits":
        return load_digits_dataset()
    path = Path(name_or_path)
    if path.suffix == ".npz":
        if not path.is_file():
            raise InputError(f"{path}: no such data set file")
        return load_npz_dataset(path)
    raise InputError(f"unknown data set '{name_or_path}': use 'digits' or a .npz file with {', '.join(_NPZ_KEYS)}")
