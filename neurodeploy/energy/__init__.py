"""Chip-independent energy models. Per-chip absolute models live with their backends (backends/<chip>/energy.py).

The normalized model of the SC-TTFS paper (papers/001 section 4.3, eq. 25, after Moradi & Manohar 2018):
E = N * E_i + L * E_l, with N the spikes per inference and L the latency in steps, each divided by its largest value
among the compared runs, and (E_i, E_l) a chip's relative weights of spikes and latency (TrueNorth (0.4, 0.6),
SpiNNaker (0.64, 0.36), from each spec's ``normalized_energy``). The result is unitless: it ranks runs on one chip.
"""
from __future__ import annotations


def normalized_energy(runs: dict[str, tuple[float, float]], spike_weight: float, latency_weight: float) -> dict[str, float]:
    """E per run for ``runs`` = {name: (spikes per inference, latency in steps)}."""
    if not runs:
        return {}
    top_n = max(n for n, _ in runs.values()) or 1.0
    top_l = max(l for _, l in runs.values()) or 1.0
    return {name: spike_weight * n / top_n + latency_weight * l / top_l for name, (n, l) in runs.items()}


def chip_weights(spec) -> tuple[float, float] | None:
    """(E_i, E_l) of a chip spec, or None when the chip has no normalized model."""
    weights = spec.values.get("normalized_energy")
    return None if weights is None else (float(spec.value("normalized_energy.spike")),
                                         float(spec.value("normalized_energy.latency")))
