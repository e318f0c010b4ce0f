"""Event data: an event-camera version of the bundled digits, readers for event files, and binning into frames.

Events are a structured array ``EVENT_DTYPE`` (t in microseconds, x, y, polarity 1 = ON / 0 = OFF), sorted by t.

* ``saccade_events`` makes events the way N-MNIST was made from MNIST (Orchard et al. 2015): the sensor looks at
  the image while it moves along the three sides of a triangle (three saccades, 100 ms each); a pixel emits an ON
  (OFF) event each time its log intensity has risen (fallen) by ``threshold`` since its last event. The image is
  moved by bilinear interpolation on a sensor ceil(amplitude) + 1 pixels larger than it; log intensity is
  log(i + ``LOG_EPS``). Deterministic: no noise, no randomness.
* ``bin_events``: the documented binning rule: the window [0, duration) is cut into T equal bins; bin k of a
  (polarity, y, x) cell is the number of its events with k <= t T / duration < k + 1 (``mode='count'``), or 1 when
  there is at least one (``mode='binary'``, what a chip's 1-bit spike input takes). Channel 0 is OFF, 1 is ON.
* ``read_nmnist``: N-MNIST's binary format, 5 bytes per event: x (8 bits), y (8 bits), then polarity (1 bit) and
  a 23-bit timestamp in microseconds, big-endian.
* ``read_aedat``: AEDAT 2.0 from DVS128 sensors: '#' header lines, then big-endian 32-bit address and 32-bit
  timestamp (us) per event; address bit 0 is the polarity (1 = OFF in the DVS128 convention), bits 1-7 x (mirrored:
  x = 127 - bits), bits 8-14 y.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.errors import InputError

DIGITS_EVENTS = {"threshold": 0.3, "amplitude": 2.0, "steps_per_saccade": 20, "steps": 12, "mode": "binary"}

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])
LOG_EPS = 0.1  # log(i + eps): a black pixel has a finite log intensity
SACCADE_US = 100_000


def sensor_shape(image_shape: tuple[int, int], amplitude: float) -> tuple[int, int]:
    """The sensor that sees an image of ``image_shape`` on every point of saccades of ``amplitude`` pixels."""
    pad = int(np.ceil(amplitude)) + 1
    return image_shape[0] + pad, image_shape[1] + pad


def _shifted(images: np.ndarray, dy: float, dx: float, sensor: tuple[int, int]) -> np.ndarray:
    """Images [N, H, W] with their top-left corner at (dy, dx) >= 0 of a zero sensor image, bilinear."""
    n, h, w = images.shape
    canvas = np.zeros((n, sensor[0] + 2, sensor[1] + 2))
    y0, x0 = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - y0, dx - x0
    for oy, ox, weight in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
        canvas[:, y0 + oy:y0 + oy + h, x0 + ox:x0 + ox + w] += weight * images
    return canvas[:, :sensor[0], :sensor[1]]


def saccade_path(steps_per_saccade: int, amplitude: float) -> np.ndarray:
    """(dy, dx, t_us) of the image at every sample point of the three saccades: along the sides of the triangle
    (0, 0) -> (amplitude, amplitude / 2) -> (0, amplitude) -> (0, 0)."""
    corners = np.array([(0.0, 0.0), (amplitude, amplitude / 2), (0.0, amplitude), (0.0, 0.0)])
    points = []
    for k in range(3):
        for j in range(steps_per_saccade):
            a = (j + 1) / steps_per_saccade
            dy, dx = (1 - a) * corners[k] + a * corners[k + 1]
            points.append((dy, dx, k * SACCADE_US + a * SACCADE_US))
    return np.array(points)


def saccade_events(images: np.ndarray, threshold: float = 0.3, amplitude: float = 2.0,
                   steps_per_saccade: int = 20) -> list[np.ndarray]:
    """The events of each image [N, H, W] (intensities in [0, 1]) on a sensor of ``sensor_shape`` pixels; see the
    module docstring."""
    images = np.asarray(images, np.float64)
    sensor = sensor_shape(images.shape[1:], amplitude)
    reference = np.log(_shifted(images, 0.0, 0.0, sensor) + LOG_EPS)
    chunks = []
    for dy, dx, t in saccade_path(steps_per_saccade, amplitude):
        level = np.log(_shifted(images, dy, dx, sensor) + LOG_EPS)
        crossings = np.trunc((level - reference) / threshold).astype(np.int64)  # events since the last one, signed
        reference = reference + crossings * threshold
        n, y, x = np.nonzero(crossings)
        c = crossings[n, y, x]
        repeat = np.abs(c)  # one event per threshold crossed, all at this sample point
        chunk = np.zeros(int(repeat.sum()), [("n", np.int64)] + EVENT_DTYPE.descr)
        chunk["n"], chunk["t"] = np.repeat(n, repeat), int(t)
        chunk["x"], chunk["y"], chunk["p"] = np.repeat(x, repeat), np.repeat(y, repeat), np.repeat(c > 0, repeat)
        chunks.append(chunk)
    every = np.concatenate(chunks)
    every = every[np.argsort(every["n"], kind="stable")]  # path points come in time order: t stays sorted
    bounds = np.searchsorted(every["n"], np.arange(len(images) + 1))
    fields = list(EVENT_DTYPE.names)
    return [every[fields][a:b].astype(EVENT_DTYPE) for a, b in zip(bounds[:-1], bounds[1:])]


def bin_events(events: np.ndarray, sensor: tuple[int, int], steps: int, duration_us: int,
               mode: str = "binary") -> np.ndarray:
    """Frames [T, 2, H, W] of one sample's events by the module docstring's rule (events at or after the window are
    dropped)."""
    if mode not in ("binary", "count"):
        raise InputError(f"event binning mode '{mode}': use 'binary' or 'count'")
    h, w = sensor
    frames = np.zeros((steps, 2, h, w), np.float32)
    inside = (events["t"] >= 0) & (events["t"] < duration_us)
    e = events[inside]
    k = (e["t"] * steps // duration_us).astype(np.int64)
    np.add.at(frames, (k, e["p"].astype(np.int64), e["y"].astype(np.int64), e["x"].astype(np.int64)), 1.0)
    return np.minimum(frames, 1.0) if mode == "binary" else frames


def _events_file(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such event file" + (" (it is a directory)" if path.is_dir() else ""))
    return path.read_bytes()


def read_nmnist(path: str | Path) -> np.ndarray:
    """Events of one N-MNIST ``.bin`` file (see the module docstring)."""
    path = Path(path)
    raw = _events_file(path)
    if len(raw) % 5:
        raise InputError(f"{path}: {len(raw)} bytes is not a whole number of 5-byte N-MNIST events "
                         f"({len(raw) % 5} bytes left over: truncated?)")
    b = np.frombuffer(raw, np.uint8).reshape(-1, 5).astype(np.int64)
    events = np.zeros(len(b), EVENT_DTYPE)
    events["x"], events["y"] = b[:, 0], b[:, 1]
    events["p"] = b[:, 2] >> 7
    events["t"] = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    _require_sorted(path, events)
    return events


def read_aedat(path: str | Path) -> np.ndarray:
    """Events of one AEDAT 2.0 DVS128 recording (see the module docstring)."""
    path = Path(path)
    raw = _events_file(path)
    start = 0
    while raw.startswith(b"#", start):  # header lines
        end = raw.find(b"\n", start)
        if end < 0:
            raise InputError(f"{path}: the AEDAT header never ends (no event data)")
        start = end + 1
    body = raw[start:]
    if len(body) % 8:
        raise InputError(f"{path}: {len(body)} bytes of event data is not a whole number of 8-byte AEDAT 2.0 events")
    words = np.frombuffer(body, ">u4").reshape(-1, 2).astype(np.int64)
    address, t = words[:, 0], words[:, 1]
    events = np.zeros(len(words), EVENT_DTYPE)
    events["p"] = 1 - (address & 1)  # DVS128: bit 0 set = OFF
    events["x"] = 127 - ((address >> 1) & 0x7F)
    events["y"] = (address >> 8) & 0x7F
    events["t"] = t - (t[0] if len(t) else 0)
    _require_sorted(path, events)
    return events


def _require_sorted(path: Path, events: np.ndarray) -> None:
    backwards = np.flatnonzero(np.diff(events["t"]) < 0)
    if len(backwards):
        raise InputError(f"{path}: timestamps go backwards at event {int(backwards[0]) + 1} "
                         f"({int(events['t'][backwards[0]])} us -> {int(events['t'][backwards[0] + 1])} us)")


def digits_event_frames(images: np.ndarray, params: dict = DIGITS_EVENTS) -> np.ndarray:
    """Binned saccade events [N, T, 2, H', W'] of images [N, 1, H, W] (the 'digits-events' data set's inputs)."""
    sensor = sensor_shape(images.shape[2:], params["amplitude"])
    events = saccade_events(images[:, 0], params["threshold"], params["amplitude"], params["steps_per_saccade"])
    return np.stack([bin_events(e, sensor, params["steps"], 3 * SACCADE_US, params["mode"]) for e in events])


def cached_arrays(name: str, params: dict, make, cache_dir: Path) -> dict[str, np.ndarray]:
    """Arrays ``make()`` computes, kept in ``cache_dir/name-<hash of params>.npz`` (written whole or not at all);
    a damaged cache file is made again."""
    import hashlib
    import json
    import os

    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{name}-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        pass  # absent or damaged: make it again
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return arrays
