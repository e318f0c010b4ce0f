"""Signal conversions between images and spike trains (papers/000, section "Signal conversion"), plain numpy.

Papers/000 benchmarks SNNs and ANNs on each other's data, which needs three conversions. All functions here take
and return the data-set layout: samples first, then time, ``[N, T, *shape]`` for spike trains (as
``neurodeploy.data`` stores event data) and ``[N, *shape]`` for images.

* image -> spikes (:func:`image_to_spikes`): rate coding, one draw per pixel and step, with p = clip(gain x, 0, 1)
  ('bernoulli') or p = 1 - exp(-gain x), the chance of at least one Poisson event in the step ('poisson'). The
  numbers are the IR's ``RateEncode`` reference (``neurodeploy.ir.ops.OPS['RateEncode'].ref``, a numpy generator
  seeded with ``seed`` drawing [T, N, *shape]), so a batch encoded here gets the same spikes as the deployed
  encoder and as ``neurodeploy.nn.RateEncode`` in eval mode on the same batch.
* the trainable analog encoding layer of papers/000 is no function here: it is ``neurodeploy.nn.DirectEncode``
  (the analog image presented at every step) followed by the network's first weighted layer and its LIF neurons,
  as in ``models/digits_snn.py``. That first layer takes analog values, so it needs multiplications; its LIF
  neurons emit the spikes that the rest of the network sees. On Loihi the host computes it (a per-sample bias).
* spikes -> binary image (:func:`spikes_to_binary_image`): the spike pattern unrolled over time, after an
  aggregation step that shrinks T: window w of k steps is the OR of the spikes of steps w k .. w k + k - 1, and the
  T/k windows become channels, ``[N, T, C, H, W] -> [N, (T/k) C, H, W]``, channel w C + c (time-major).
* spikes -> intensity image (:func:`spikes_to_intensity_image`): spike counts over the whole window, normalized:
  ``'max'`` (the default) divides each sample's counts by the largest count in that sample, so its most active
  cell is 1 whatever T (an all-silent sample stays 0); ``'steps'`` divides by T, the firing rate per step (1 = a
  spike at every step). ``[N, T, *shape] -> [N, *shape]`` in [0, 1] for 0/1 spikes.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import InputError

NORMALIZATIONS = ("max", "steps")


def _spike_trains(spikes: np.ndarray, what: str) -> np.ndarray:
    spikes = np.asarray(spikes)
    if spikes.ndim < 2 or 0 in spikes.shape:
        raise InputError(f"{what}: spike trains must be [N, T, *shape] with no zero-size axis, got shape "
                         f"{list(spikes.shape)}")
    return spikes


def image_to_spikes(images: np.ndarray, num_steps: int, distribution: str = "bernoulli", gain: float = 1.0,
                    seed: int = 0) -> np.ndarray:
    """Rate-coded spike trains [N, T, *shape] (float32 0/1) of images [N, *shape] (intensities, ideally in [0, 1]).

    Args:
        images: analog inputs; values <= 0 never spike, values >= 1/gain spike at every step ('bernoulli').
        num_steps: T, the number of steps (papers/000 uses T = 15).
        distribution: 'bernoulli' (p = clip(gain x, 0, 1)) or 'poisson' (p = 1 - exp(-gain x)).
        gain: spike probability (bernoulli) or rate (poisson) per unit of input.
        seed: seed of the IR reference's numpy generator; the draws depend on the whole batch's shape, exactly as
            the deployed ``RateEncode`` node's do.
    """
    from neurodeploy.ir.ops import OPS

    images = np.asarray(images, np.float32)
    if images.ndim < 1 or 0 in images.shape:
        raise InputError(f"image_to_spikes: images must be [N, *shape], got shape {list(images.shape)}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise InputError(f"image_to_spikes: num_steps={num_steps!r} must be a whole number >= 1")
    if distribution not in ("bernoulli", "poisson"):
        raise InputError(f"image_to_spikes: distribution={distribution!r}: choose bernoulli or poisson")
    attrs = {"num_steps": num_steps, "distribution": distribution, "gain": float(np.float32(gain)), "seed": seed}
    spikes = OPS["RateEncode"].ref([images], attrs)[0]  # [T, N, *shape]
    return np.ascontiguousarray(np.moveaxis(spikes, 0, 1))


def spikes_to_binary_image(spikes: np.ndarray, window: int = 1) -> np.ndarray:
    """Binary images [N, (T / window) C, *rest] of spike trains [N, T, C, *rest] (papers/000, "spike pattern to
    image"): the OR (any spike, for counts any count > 0) over each window of ``window`` consecutive steps, the
    windows stacked as channels in time order (channel w C + c is channel c of window w).

    ``window`` = 1 unrolls every step; ``window`` = T gives one image, "did the cell ever spike". T must be a
    multiple of ``window``.
    """
    spikes = _spike_trains(spikes, "spikes_to_binary_image")
    if spikes.ndim < 3:
        raise InputError(f"spikes_to_binary_image: spike trains must be [N, T, C, ...], got shape {list(spikes.shape)}")
    n, steps = spikes.shape[:2]
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or steps % window:
        raise InputError(f"spikes_to_binary_image: window={window!r} must be a whole number >= 1 that divides "
                         f"T = {steps}")
    windows = spikes.reshape(n, steps // window, window, *spikes.shape[2:]) > 0
    binary = windows.any(axis=2)  # [N, T / k, C, ...]
    return binary.reshape(n, -1, *spikes.shape[3:]).astype(np.float32)


def spikes_to_intensity_image(spikes: np.ndarray, normalize: str = "max") -> np.ndarray:
    """Intensity images [N, *shape] (float32) of spike trains [N, T, *shape]: each cell's spike count over the T
    steps, divided by the sample's largest count (``normalize='max'``; a silent sample stays all zero) or by T
    (``'steps'``, the firing rate per step)."""
    spikes = _spike_trains(spikes, "spikes_to_intensity_image")
    if normalize not in NORMALIZATIONS:
        raise InputError(f"spikes_to_intensity_image: normalize={normalize!r}: choose one of "
                         f"{', '.join(NORMALIZATIONS)}")
    counts = spikes.astype(np.float64).sum(axis=1)
    if normalize == "steps":
        return (counts / spikes.shape[1]).astype(np.float32)
    peak = counts.reshape(len(counts), -1).max(axis=1).reshape((-1,) + (1,) * (counts.ndim - 1))
    return np.divide(counts, peak, out=np.zeros_like(counts), where=peak > 0).astype(np.float32)
