"""Seeded fuzzing of ``.npz`` data sets through the CLI: every unusable data set is refused cleanly (exit 2, one
``error:`` line naming the file and the array, no traceback, no build folder), and a mutation that leaves a
usable data set (another real dtype, an extra array) compiles (exit 0)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import assert_clean_failure, byte_mutations

KEYS = ("x_train", "y_train", "x_test", "y_test")
COMPILE = ("--steps", "4", "--eval-samples", "10", "--calibration-samples", "64")


@pytest.fixture(scope="module")
def arrays(digits):
    return {"x_train": digits.x_train[:64], "y_train": digits.y_train[:64], "x_test": digits.x_test[:16],
            "y_test": digits.y_test[:16]}


def _dtype(a, rng):
    kind = int(rng.integers(9))
    if kind == 0:
        return a.astype(str)
    if kind == 1:
        return a.astype(np.complex64)
    if kind == 2:
        return np.array([None] * len(a), dtype=object)  # pickled by savez, refused by allow_pickle=False
    return a.astype([bool, np.float16, np.int8, np.uint8, np.float64, np.float32][kind - 3])


def _shape(a, rng):
    kind = int(rng.integers(6))
    if kind == 0:
        return a.reshape(len(a), -1)[:, 0] if a.ndim > 1 else a[:, None]
    if kind == 1:
        return a[..., None]
    if kind == 2:
        return a[:0]
    if kind == 3:
        return a[: len(a) // 2]
    if kind == 4:
        return np.zeros((len(a), 0) + a.shape[2:], a.dtype) if a.ndim > 1 else a[:1]
    return a.T


def _values(a, rng):
    a = a.astype(np.float64 if a.dtype.kind == "f" else np.int64).copy()
    flat = a.reshape(-1)
    flat[int(rng.integers(flat.size))] = [np.nan if a.dtype.kind == "f" else -3, np.inf if a.dtype.kind == "f" else 10,
                                          1e300 if a.dtype.kind == "f" else 2 ** 40][int(rng.integers(3))]
    return a


def _labels(a, rng):
    return [a.astype(np.float32), a - 1, a + 10, a.astype(np.uint64) + np.uint64(2 ** 63), a > 4][int(rng.integers(5))]


def _mutated(arrays: dict, rng) -> dict:
    arrays, key = dict(arrays), KEYS[int(rng.integers(4))]
    kind = int(rng.integers(5))
    if kind == 0:
        arrays[key] = _dtype(arrays[key], rng)
    elif kind == 1:
        arrays[key] = _shape(arrays[key], rng)
    elif kind == 2:
        arrays[key] = _values(arrays[key], rng) if key[0] == "x" else _labels(arrays[key], rng)
    elif kind == 3:
        del arrays[key]
    else:
        arrays[str(rng.choice(["extra", key.upper(), "x_val"]))] = arrays.pop(key) if rng.random() < 0.5 else 1
    return arrays


def _compile(run_cli, folder, dataset):
    out = folder / "out"
    result = run_cli("compile", "digits_mlp", "--dataset", dataset, "-o", out, *COMPILE)
    if result[0] != 0:
        assert_clean_failure(result, out, str(dataset))
    else:
        assert (out / "report.json").is_file()
    return result[0]


@pytest.mark.parametrize("seed", range(100))
def test_mutated_data_set(run_cli, tmp_path, arrays, seed):
    path = tmp_path / "data.npz"
    np.savez(path, **_mutated(arrays, np.random.default_rng(seed)))
    _compile(run_cli, tmp_path, path)


def test_byte_corrupted_data_sets(run_cli, tmp_path, arrays):
    np.savez(tmp_path / "good.npz", **arrays)
    codes = []
    for i, data in enumerate(byte_mutations((tmp_path / "good.npz").read_bytes(), 2, 40)):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "data.npz").write_bytes(data)
        codes.append(_compile(run_cli, folder, folder / "data.npz"))
    assert 2 in codes


@pytest.mark.parametrize("change,fragment", [
    ({"x_test": "nan"}, "x_test has NaN or Inf values"),
    ({"y_test": "range"}, "y_test holds labels up to 19, but the model has 10 outputs"),
    ({"y_train": "float"}, "y_train has element type float32"),
    ({"x_train": "empty"}, "the train split has no samples"),
    ({"x_test": "strings"}, "x_test has element type <U"),
])
def test_known_data_set_problems_name_the_array(run_cli, tmp_path, arrays, change, fragment):
    (key, what), = change.items()
    a = arrays[key]
    changed = {"nan": lambda: np.where(a > 0.9, np.nan, a), "range": lambda: a + 10,
               "float": lambda: a.astype(np.float32), "strings": lambda: a.astype(str),
               "empty": lambda: a[:0]}[what]()
    extra = {"y_train": arrays["y_train"][:0]} if what == "empty" else {}
    np.savez(tmp_path / "data.npz", **{**arrays, key: changed, **extra})
    result = run_cli("compile", "digits_mlp", "--dataset", tmp_path / "data.npz", "-o", tmp_path / "out", *COMPILE)
    assert_clean_failure(result, tmp_path / "out", "data", fragment)


def test_data_set_paths_that_are_not_files(run_cli, tmp_path):
    (tmp_path / "folder.npz").mkdir()
    for dataset, fragment in ((tmp_path / "folder.npz", "is a directory"), (tmp_path, "is a directory"),
                              (tmp_path / "absent.npz", "no such data set file")):
        result = run_cli("compile", "digits_mlp", "--dataset", dataset, "-o", tmp_path / "out", *COMPILE)
        assert_clean_failure(result, tmp_path / "out", fragment)


@pytest.mark.parametrize("seed", range(40))
def test_mutated_arrays_given_to_the_python_api(tmp_path, arrays, seed):
    """The same mutations as data held in memory (neurodeploy.compile(data=dict)): refused with a neurodeploy error
    naming the array, no build folder, or compiled."""
    import neurodeploy
    from neurodeploy.errors import NeurodeployError

    out = tmp_path / "out"
    try:
        result = neurodeploy.compile("digits_mlp", data=_mutated(arrays, np.random.default_rng(seed)), output=out,
                                     steps=4, eval_samples=10, calibration_samples=64)
    except NeurodeployError as e:
        assert not out.exists()
        assert any(k in str(e) for k in (*KEYS, "data", "split")), str(e)
    else:
        assert (result.folder / "report.json").is_file()
