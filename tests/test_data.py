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
                                  "y_test has element type float64; labels must be integer class indices"]


@pytest.mark.parametrize("name,message", [("mnist", "unknown data set 'mnist'"), ("nope.npz", "no such data set")])
def test_unknown_datasets(name, message, tmp_path):
    with pytest.raises(InputError, match=message):
        load_dataset(name)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="corrupt.npz: cannot read as .npz data set"):
        load_dataset(str(path))


def _split():
    rng = np.random.default_rng(0)
    return dict(x_train=rng.random((6, 1, 2, 2)), y_train=np.array([0, 1, 2, 0, 1, 2]),
                x_test=rng.random((3, 1, 2, 2)), y_test=np.array([2, 1, 0]))


@pytest.mark.parametrize("change,problem", [
    ({"x_train": np.zeros((0, 1, 2, 2)), "y_train": np.zeros(0, np.int64)},
     "the train split has no samples (x_train [0, 1, 2, 2], y_train [0])"),
    ({"x_test": np.zeros((0, 1, 2, 2)), "y_test": np.zeros(0, np.int64)}, "the test split has no samples"),
    ({"x_train": np.full((6, 1, 2, 2), "a")}, "x_train has element type <U1; inputs must be real numbers"),
    ({"x_test": np.ones((3, 1, 2, 2), np.complex64)}, "x_test has element type complex64"),
    ({"x_train": np.where(np.eye(6)[:, :4].reshape(6, 1, 2, 2) > 0, np.nan, 0.5)},
     "x_train has NaN or Inf values (beyond float32) in 4 samples, the first is sample 0"),
    ({"x_test": np.array([1, 1e300, 1]).reshape(3, 1, 1, 1) * np.ones((3, 1, 2, 2))},
     "x_test has NaN or Inf values (beyond float32) in 1 samples, the first is sample 1"),
    ({"x_train": np.zeros((6, 0, 2, 2))}, "x_train has shape [6, 0, 2, 2]; inputs must be [N, *per-sample shape]"),
    ({"x_test": np.zeros(3)}, "x_test has shape [3]"),
    ({"y_train": np.array([0, 1, 2, 0, 1, 2.0])}, "y_train has element type float64; labels must be integer"),
    ({"y_test": np.array([True, False, True])}, "y_test has element type bool"),
    ({"y_test": np.array([2, -1, 0])}, "y_test has negative labels (the smallest is -1)"),
    ({"y_test": np.array([[2], [1], [0]])}, "y_test has shape [3, 1]; labels must be one class index per sample"),
    ({"y_test": np.full(3, 2**63, np.uint64)}, "y_test has labels up to 9223372036854775808, too large"),
    ({"x_test": np.zeros((3, 1, 3, 3))},
     "x_train and x_test have different per-sample shapes ([1, 2, 2] and [1, 3, 3])"),
])
def test_npz_content_problems_name_the_array(tmp_path, change, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **{**_split(), **change})
    with pytest.raises(InputError) as err:
        load_dataset(str(path))
    assert "bad.npz: not a usable data set" in str(err.value), str(err.value)
    assert [p for p in err.value.problems if problem in p] == err.value.problems, err.value.problems


def test_boolean_inputs_are_numbers(tmp_path):
    path = tmp_path / "bool.npz"
    np.savez(path, **{**_split(), "x_train": np.ones((6, 1, 2, 2), bool)})
    assert load_dataset(str(path)).x_train.dtype == np.float32


def test_object_arrays_and_directories_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, **{**_split(), "x_train": np.array([None] * 6, dtype=object)})
    with pytest.raises(InputError, match="obj.npz: cannot read as .npz data set .*allow_pickle=False"):
        load_dataset(str(path))
    for name in ("folder.npz", "folder"):
        (tmp_path / name).mkdir()
        with pytest.raises(InputError, match=f"{name}: is a directory, not a .npz data set file"):
            load_dataset(str(tmp_path / name))


def test_label_problems_against_the_model_outputs(tmp_path):
    from neurodeploy.data import label_problems

    path = tmp_path / "tiny.npz"
    np.savez(path, **{**_split(), "y_test": np.array([2, 7, 0])})
    data = load_dataset(str(path))
    assert label_problems(data, 8) == []
    assert label_problems(data, 3) == ["y_test holds labels up to 7, but the model has 3 outputs (labels must be 0..2)"]


def test_compile_refuses_labels_beyond_the_model_outputs(tmp_path, run_cli, digits):
    from helpers import assert_clean_failure

    path = tmp_path / "many.npz"
    np.savez(path, x_train=digits.x_train[:20], y_train=digits.y_train[:20], x_test=digits.x_test[:5],
             y_test=np.array([0, 1, 12, 3, 4]))
    result = run_cli("compile", "digits_mlp", "--dataset", path, "-o", tmp_path / "out", "--steps", "4")
    assert_clean_failure(result, tmp_path / "out", "y_test holds labels up to 12, but the model has 10 outputs")
