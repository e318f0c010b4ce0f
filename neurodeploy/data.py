"""Data sets, all local: scikit-learn's bundled 8x8 digits, or arrays from a local ``.npz`` file.

Nothing is downloaded. A ``.npz`` data set holds ``x_train, y_train, x_test, y_test`` with inputs shaped
[N, *per-sample shape] (real numbers, finite, N >= 1) and integer labels [N] >= 0; every problem of a file is
listed at once, each naming its array.

Event data for spiking networks: inputs shaped [N, T, *shape] hold spike trains or event counts per time step
(T steps of a network whose input is ``shape``). Whether a data set is event data is decided against the model
it is used with (``spike_fit``): a spike-input network (NIR, netx without an input layer) needs them, and a
network with an analog encoder (DirectEncode) given them runs without its encoder.
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
    """A labelled train/test split; inputs are float32 [N, *input_shape], labels int64 [N]. ``steps`` is T when the
    inputs are event data [N, T, *shape] for the model at hand (set by the compile driver, see ``spike_fit``)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    steps: int | None = None

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


def _x_problems(key: str, x: np.ndarray) -> list[str]:
    """Inputs: [N >= 1, *shape without zero dims] of real numbers (bool counts as 0/1), finite as float32."""
    if x.dtype.kind not in "biuf":
        return [f"{key} has element type {x.dtype}; inputs must be real numbers"]
    if x.ndim < 2 or 0 in x.shape:
        return [f"{key} has shape {list(x.shape)}; inputs must be [N, *per-sample shape] with N >= 1 and no "
                "zero-size dims"]
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(x.astype(np.float32)).reshape(len(x), -1).all(axis=1)  # float32: what the models see
    if bad.any():
        return [f"{key} has NaN or Inf values (beyond float32) in {int(bad.sum())} samples, the first is sample "
                f"{int(np.argmax(bad))}"]
    return []


def _y_problems(key: str, y: np.ndarray) -> list[str]:
    if y.ndim != 1:
        return [f"{key} has shape {list(y.shape)}; labels must be one class index per sample, [N]"]
    if y.dtype.kind not in "iu":
        return [f"{key} has element type {y.dtype}; labels must be integer class indices"]
    if len(y) and y.min() < 0:
        return [f"{key} has negative labels (the smallest is {y.min()}); class indices must be >= 0"]
    if len(y) and y.max() > np.iinfo(np.int32).max:  # also keeps uint64 labels from wrapping in int64
        return [f"{key} has labels up to {y.max()}, too large for class indices"]
    return []


def _split_problems(arrays: dict, split: str) -> list[str]:
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if x.ndim >= 1 and y.ndim >= 1 and (len(x) == 0 or len(y) == 0):
        return [f"the {split} split has no samples (x_{split} {list(x.shape)}, y_{split} {list(y.shape)})"]
    problems = _x_problems(f"x_{split}", x) + _y_problems(f"y_{split}", y)
    if not problems and len(x) != len(y):
        problems.append(f"x_{split} {list(x.shape)} and y_{split} {list(y.shape)} do not match")
    return problems


def load_npz_dataset(path: Path) -> Dataset:
    """Read a data set from a local ``.npz`` file, checking keys, element types, shapes, values and labels."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zip/pickle/format errors all mean the file is unusable
        raise InputError(f"{path}: cannot read as .npz data set ({type(e).__name__}: {e})") from None
    return dataset_from_arrays(arrays, path.stem, str(path))


def dataset_from_arrays(arrays: dict, name: str = "arrays", where: str = "data") -> Dataset:
    """A data set from arrays x_train, y_train, x_test, y_test (a file's or the caller's), with the same checks as a
    file: keys, element types, shapes, values and labels, all problems at once."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    problems = [f"missing array '{k}'" for k in _NPZ_KEYS if k not in arrays]
    if not problems:
        problems = _split_problems(arrays, "train") + _split_problems(arrays, "test")
        if not problems and arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
            problems.append(f"x_train and x_test have different per-sample shapes ({list(arrays['x_train'].shape[1:])}"
                            f" and {list(arrays['x_test'].shape[1:])})")
    if problems:
        raise InputError(f"{where}: not a usable data set", problems)
    return Dataset(name, *(arrays[k].astype(np.float32 if k[0] == "x" else np.int64) for k in _NPZ_KEYS))


def fit_problems(dataset: Dataset, input_name: str, input_shape: tuple[int, ...], num_outputs: int) -> list[str]:
    """Why ``dataset`` cannot be run through a model with that input and ``num_outputs`` class scores."""
    problems = []
    if tuple(input_shape) != dataset.input_shape:
        problems.append(f"model input '{input_name}' has per-sample shape {list(input_shape)} but data set "
                        f"'{dataset.name}' has {list(dataset.input_shape)}")
    return problems + label_problems(dataset, num_outputs)


def spike_fit(dataset: Dataset, input_name: str, input_shape: tuple[int, ...], timed_input: bool,
              num_outputs: int) -> tuple[int | None, list[str]]:
    """(T of event data or None for analog samples, problems) of ``dataset`` for a spiking network's input."""
    shape, have = tuple(input_shape), dataset.input_shape
    steps = have[0] if have[1:] == shape else None
    problems = []
    if timed_input and steps is None:
        hint = " (that is one sample without a time axis)" if have == shape else ""
        problems.append(f"model input '{input_name}' takes spike trains [N, T, {', '.join(map(str, shape))}] but data "
                        f"set '{dataset.name}' has samples of shape {list(have)}{hint}")
    elif not timed_input and steps is None and have != shape:
        problems.append(f"model input '{input_name}' has per-sample shape {list(shape)} but data set "
                        f"'{dataset.name}' has {list(have)} (neither samples nor [T, ...] event trains of it)")
    return steps, problems + label_problems(dataset, num_outputs)


def binary_problems(dataset: Dataset) -> list[str]:
    """Event trains that are not 0/1 spikes, the first offending entry of each split named (a chip's spike input is
    one bit per neuron and step; Lava's spike source would silently cast other values)."""
    problems = []
    for key in ("x_train", "x_test"):
        x = getattr(dataset, key)
        bad = (x != 0) & (x != 1)
        if bad.any():
            where = np.unravel_index(int(np.argmax(bad)), x.shape)
            problems.append(f"{key} holds values other than 0 and 1 in {int(bad.reshape(len(x), -1).any(1).sum())} "
                            f"samples (the first: sample {where[0]}, step {where[1]}, value {x[where]:g}); a chip's "
                            "spike input is 0 or 1 per neuron and step (split event counts over steps)")
    return problems


def label_problems(dataset: Dataset, num_outputs: int) -> list[str]:
    """Labels a model with ``num_outputs`` scores cannot predict (its prediction is the argmax of them)."""
    problems = []
    for split, y in (("train", dataset.y_train), ("test", dataset.y_test)):
        if len(y) and y.max() >= num_outputs:
            problems.append(f"y_{split} holds labels up to {int(y.max())}, but the model has {num_outputs} outputs "
                            f"(labels must be 0..{num_outputs - 1})")
    return problems


def cache_dir() -> Path:
    """Where generated data sets are kept: $NEURODEPLOY_CACHE, else build/cache under the working folder."""
    import os

    return Path(os.environ.get("NEURODEPLOY_CACHE") or Path("build") / "cache")


def load_digits_events_dataset() -> Dataset:
    """The digits as an event camera would see them (neurodeploy.events: N-MNIST's saccades, ON/OFF events binned
    into T = 12 binary frames [2, 11, 11]), on the digits' train/test split; generated once, then read from the cache."""
    from neurodeploy.events import DIGITS_EVENTS, cached_arrays, digits_event_frames

    digits = load_digits_dataset()
    make = lambda: {"x_train": digits_event_frames(digits.x_train), "x_test": digits_event_frames(digits.x_test)}
    arrays = cached_arrays("digits-events", {**DIGITS_EVENTS, "split_seed": DIGITS_SPLIT_SEED}, make, cache_dir())
    return Dataset("digits-events", arrays["x_train"], digits.y_train, arrays["x_test"], digits.y_test)


EVENT_IMAGE_WINDOW = 4
"""Steps OR-ed into one frame of 'digits-events-binary': 4 of the 12 bins are one 100 ms saccade, so the binary image
has one ON and one OFF frame per saccade ([6, 11, 11])."""


def load_digits_event_images(kind: str) -> Dataset:
    """'digits-events' as ANN inputs (papers/000's benchmark models 4 and 5, neurodeploy.signals): ``kind``
    'binary' is the spike pattern unrolled over time, OR-ed over windows of ``EVENT_IMAGE_WINDOW`` steps, [N, 6, 11,
    11]; 'intensity' the event counts of each (polarity, y, x) cell over the 12 steps, divided by the sample's
    largest count, [N, 2, 11, 11]."""
    from neurodeploy.signals import spikes_to_binary_image, spikes_to_intensity_image

    events = load_digits_events_dataset()
    convert = (lambda x: spikes_to_binary_image(x, EVENT_IMAGE_WINDOW)) if kind == "binary" else \
        (lambda x: spikes_to_intensity_image(x, "max"))
    return Dataset(f"digits-events-{kind}", convert(events.x_train), events.y_train, convert(events.x_test),
                   events.y_test)


BERNOULLI_STEPS = 8
BERNOULLI_SEED = 0


def load_digits_bernoulli_dataset() -> Dataset:
    """The digits as Bernoulli spike trains [N, 8, 1, 8, 8] (neurodeploy.signals.image_to_spikes: a spike with
    p = pixel intensity per step, T = ``BERNOULLI_STEPS``): the IR's RateEncode reference numbers, seeded with
    ``BERNOULLI_SEED``, drawn for each split as one batch, so the test split holds exactly the spikes that a model's
    ``RateEncode(8, seed=0)`` gives the whole test split in eval mode."""
    from neurodeploy.signals import image_to_spikes

    digits = load_digits_dataset()
    encode = lambda x: image_to_spikes(x, BERNOULLI_STEPS, "bernoulli", seed=BERNOULLI_SEED)
    return Dataset("digits-bernoulli", encode(digits.x_train), digits.y_train, encode(digits.x_test), digits.y_test)


DATASETS = ("digits", "digits-bernoulli", "digits-events", "digits-events-binary", "digits-events-intensity")


def load_dataset(name_or_path: str) -> Dataset:
    """A bundled data set (``DATASETS``) or the path of a ``.npz`` file."""
    if name_or_path == "digits":
        return load_digits_dataset()
    if name_or_path == "digits-bernoulli":
        return load_digits_bernoulli_dataset()
    if name_or_path == "digits-events":
        return load_digits_events_dataset()
    if name_or_path in ("digits-events-binary", "digits-events-intensity"):
        return load_digits_event_images(name_or_path.rsplit("-", 1)[1])
    path = Path(name_or_path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a .npz data set file")
    if path.suffix == ".npz":
        if not path.is_file():
            raise InputError(f"{path}: no such data set file")
        return load_npz_dataset(path)
    raise InputError(f"unknown data set '{name_or_path}': use {', '.join(repr(d) for d in DATASETS)} or a .npz file "
                     f"with {', '.join(_NPZ_KEYS)}")
