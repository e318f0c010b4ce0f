"""Data sets: the bundled digits split and local .npz files."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.data import load_dataset
from neurodeploy.errors import InputError


def test_digits_split_is_fixed(digits):
    again = load_dataset("digits")
    assert digits.x_train.shape == (1347, 1, 8, 8) and digits.x_test.shape == (450, 1, 8, 8)
    np.testing.assert_array_equal(digits.y_test, again.y_test)
    assert 0 <= digits.x_train.min() and digits.x_train.max() <= 1 and digits.num_classes == 10


def test_npz_dataset(tmp_path):
    path = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((6, 2, 3, 3)), y_train=np.array([0, 1, 2, 0, 1, 2]),
             x_test=rng.random((3, 2, 3, 3)), y_test=np.array([2, 1, 0]))
    data = load_dataset(str(path))
    assert data.name == "tiny" and data.input_shape == (2, 3, 3) and data.num_classes == 3
    assert data.x_train.dtype == np.float32 and data.y_test.dtype == np.int64


def test_npz_problems_are_listed(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.zeros(3, np.int64), x_test=np.zeros((2, 3)),
             y_test=np.array([0.5, 1.0]))
    with pytest.raises(InputError) as err:
        load_dataset(str(path))
    assert err.value.problems == ["x_train [4, 2] and y_train [3] do not match",
                                  "y_test must hold non-negative integer class labels"]


@pytest.mark.parametrize("name,message", [("mnist", "unknown data set 'mnist'"), ("nope.npz", "no such data set")])
def test_unknown_datasets(name, message, tmp_path):
    with pytest.raises(InputError, match=message):
        load_dataset(name)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="corrupt.npz: cannot read as .npz data set"):
        load_dataset(str(path))
