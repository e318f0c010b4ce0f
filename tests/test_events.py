"""Event data: saccade events of images (N-MNIST's method), the binning rule, N-MNIST and AEDAT 2.0 readers on files
written here, and the cached 'digits-events' data set."""
import numpy as np
import pytest
from helpers import byte_mutations

from neurodeploy.errors import InputError
from neurodeploy.events import (EVENT_DTYPE, LOG_EPS, SACCADE_US, bin_events, read_aedat, read_nmnist,
                                saccade_events, sensor_shape)


def _events(*rows):
    return np.array(list(rows), EVENT_DTYPE)


def test_a_blank_image_gives_no_events_and_the_output_is_deterministic():
    assert [len(e) for e in saccade_events(np.zeros((2, 4, 4)))] == [0, 0]
    image = np.random.default_rng(0).random((3, 6, 6))
    first, second = saccade_events(image), saccade_events(image)
    assert all(np.array_equal(a, b) for a, b in zip(first, second)) and sum(map(len, first)) > 0


def test_a_bright_pixel_moving_one_pixel_right_gives_the_threshold_crossings_of_log_intensity():
    image = np.zeros((1, 1, 1))
    image[0, 0, 0] = 1.0
    # one saccade of 1 step to (0, 1): the triangle path (0,0) -> (a, a/2) -> (0, a) -> (0, 0) with a = 2 and one
    # step per saccade visits (2, 1), (0, 2), (0, 0); at (2, 1) pixel (0, 0) goes dark and (2, 1) lights up
    events = saccade_events(image, threshold=0.5, amplitude=2.0, steps_per_saccade=1)[0]
    crossings = int(np.trunc((np.log(1 + LOG_EPS) - np.log(LOG_EPS)) / 0.5))  # 4
    first = events[events["t"] == SACCADE_US]
    on, off = first[first["p"] == 1], first[first["p"] == 0]
    assert len(on) == len(off) == crossings
    assert {(int(e["y"]), int(e["x"])) for e in on} == {(2, 1)} and {(int(e["y"]), int(e["x"])) for e in off} == {(0, 0)}
    assert sensor_shape((1, 1), 2.0) == (4, 4)


def test_binning_rule_binary_and_count():
    events = _events((0, 1, 0, 1), (9, 1, 0, 1), (10, 0, 1, 0), (29, 0, 1, 0), (30, 1, 1, 1))
    counts = bin_events(events, (2, 2), steps=3, duration_us=30, mode="count")
    assert counts.shape == (3, 2, 2, 2) and counts.sum() == 4  # t = 30 is past the window
    assert counts[0, 1, 0, 1] == 2 and counts[1, 0, 1, 0] == 1 and counts[2, 0, 1, 0] == 1
    binary = bin_events(events, (2, 2), steps=3, duration_us=30)
    assert binary[0, 1, 0, 1] == 1 and binary.max() == 1
    with pytest.raises(InputError, match="binning mode 'sum'"):
        bin_events(events, (2, 2), 3, 30, mode="sum")


def _nmnist_bytes(events) -> bytes:
    b = np.zeros((len(events), 5), np.uint8)
    b[:, 0], b[:, 1] = events["x"], events["y"]
    b[:, 2] = (events["p"].astype(np.int64) << 7) | (events["t"] >> 16)
    b[:, 3], b[:, 4] = (events["t"] >> 8) & 0xFF, events["t"] & 0xFF
    return b.tobytes()


def test_nmnist_file_written_here_reads_back(tmp_path):
    events = _events((0, 3, 4, 1), (7, 33, 0, 0), (2 ** 23 - 1, 0, 33, 1))
    path = tmp_path / "00001.bin"
    path.write_bytes(_nmnist_bytes(events))
    assert np.array_equal(read_nmnist(path), events)
    path.write_bytes(_nmnist_bytes(events)[:-2])
    with pytest.raises(InputError, match="not a whole number of 5-byte N-MNIST events"):
        read_nmnist(path)
    path.write_bytes(_nmnist_bytes(events[::-1]))
    with pytest.raises(InputError, match="timestamps go backwards at event 1"):
        read_nmnist(path)


def _aedat_bytes(events) -> bytes:
    address = ((events["y"].astype(np.int64) << 8) | ((127 - events["x"].astype(np.int64)) << 1)
               | (1 - events["p"].astype(np.int64)))
    body = np.stack([address, events["t"] + 1000], axis=1).astype(">u4").tobytes()
    return b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n" + body


def test_aedat_file_written_here_reads_back(tmp_path):
    events = _events((0, 5, 6, 1), (12, 127, 0, 0), (40, 0, 127, 1))
    path = tmp_path / "rec.aedat"
    path.write_bytes(_aedat_bytes(events))
    assert np.array_equal(read_aedat(path), events)  # timestamps relative to the first event
    path.write_bytes(_aedat_bytes(events)[:-3])
    with pytest.raises(InputError, match="not a whole number of 8-byte AEDAT 2.0 events"):
        read_aedat(path)
    path.write_bytes(b"#!AER-DAT2.0 header without an end")
    with pytest.raises(InputError, match="header never ends"):
        read_aedat(path)


@pytest.mark.parametrize("reader, writer", [(read_nmnist, _nmnist_bytes), (read_aedat, _aedat_bytes)])
def test_damaged_event_files_are_refused_or_read(tmp_path, reader, writer):
    events = _events(*[(10 * i, i % 30, (3 * i) % 30, i % 2) for i in range(40)])
    path = tmp_path / "f"
    for damaged in byte_mutations(writer(events), seed=3, count=60):
        path.write_bytes(damaged)
        try:
            out = reader(path)
        except InputError:
            continue
        assert out.dtype == EVENT_DTYPE and (np.diff(out["t"]) >= 0).all()
    with pytest.raises(InputError, match="no such event file"):
        reader(tmp_path / "missing")


def test_digits_events_data_set_is_generated_once_then_cached(tmp_path, monkeypatch):
    from neurodeploy.data import load_dataset

    monkeypatch.setenv("NEURODEPLOY_CACHE", str(tmp_path))
    first = load_dataset("digits-events")
    assert first.x_train.shape == (1347, 12, 2, 11, 11) and first.x_test.shape == (450, 12, 2, 11, 11)
    assert set(np.unique(first.x_train)) == {0.0, 1.0} and len(list(tmp_path.glob("digits-events-*.npz"))) == 1
    cached = next(tmp_path.glob("digits-events-*.npz"))
    second = load_dataset("digits-events")
    assert np.array_equal(first.x_test, second.x_test) and np.array_equal(first.y_test, second.y_test)
    cached.write_bytes(b"damaged")
    assert np.array_equal(load_dataset("digits-events").x_train, first.x_train)  # made again
