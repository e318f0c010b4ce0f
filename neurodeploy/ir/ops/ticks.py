"""Helpers of the integer chip ops: tick delays and exact integer synaptic sums."""
from __future__ import annotations

import numpy as np

from neurodeploy.ir.ops.ann import conv2d


def delayed(x: np.ndarray, ticks: int) -> np.ndarray:
    out = np.zeros_like(x)
    if ticks < x.shape[0]:
        out[ticks:] = x[: x.shape[0] - ticks]
    return out


def synaptic_input(s: np.ndarray, w: np.ndarray, attrs: dict) -> np.ndarray:
    """Per-tick integer input of spikes s [T, N, ...] through integer weights w (exact in float64)."""
    steps, batch = s.shape[:2]
    flat = s.reshape((steps * batch,) + s.shape[2:]).astype(np.float64)
    if w.ndim == 2:
        out = flat @ w.T.astype(np.float64)
    else:
        out = conv2d(flat, w.astype(np.float64), None, attrs["strides"], attrs["pads"], attrs["dilations"],
                     attrs["group"])
    return np.rint(out).astype(np.int64).reshape((steps, batch) + out.shape[1:])
