"""Passes: plain functions ``(Graph, PassContext) -> Graph`` run in explicit, ordered lists.

A pass returns a new graph and never mutates its input. ``run_passes`` records each pass in
``graph.meta['passes']``; with ``ctx.check`` (always on in tests) it runs the graph checker after every pass,
and any failure is re-raised as a :class:`PassError` naming the pass and the passes that ran before it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neurodeploy.errors import InputError, PassError, SpecError, UnsupportedError
from neurodeploy.ir.check import check_graph, infer_shapes
from neurodeploy.ir.graph import Graph


@dataclass
class ConversionConfig:
    """Options of ANN -> SNN conversion.

    ``coding``: 'rate' (IF neurons), 'ttfs' or 'sc-ttfs' (papers/001); ``num_steps`` is T, the whole window of a
    rate SNN or the window of each layer of a temporal one. ``percentile`` is the activation percentile used as
    each layer's threshold (100 = max); ``v_init`` is the initial membrane potential as a fraction of the
    threshold; ``maxpool`` says what to do with MaxPool: 'error' refuses it, 'avg' replaces it by average
    pooling (documented in docs/). ``ttfs_range`` is the factor by which a temporal layer's encoding threshold
    initially falls over its window; ``finetune_*`` drive threshold fine-tuning (0 epochs = none).
    """

    coding: str = "rate"
    num_steps: int = 64
    percentile: float = 99.9
    reset: str = "subtract"
    v_init: float = 0.5
    encoding: str = "direct"
    readout: str = "membrane"
    maxpool: str = "error"
    ttfs_range: float = 32.0
    finetune_epochs: int = 10
    finetune_lr: float = 0.001
    finetune_batch: int = 64
    seed: int = 0


@dataclass
class PassContext:
    """What passes may read besides the graph: options, calibration inputs, and whether to check."""

    conversion: ConversionConfig = field(default_factory=ConversionConfig)
    calibration: np.ndarray | None = None
    training: tuple[np.ndarray, np.ndarray] | None = None  # labelled inputs for passes that train (fine-tuning)
    spec: object | None = None  # the target's ChipSpec, for target passes
    check: bool = False
    log: list[str] = field(default_factory=list)  # one line per pass (deterministic: no timings)
    timings: list[tuple[str, float]] = field(default_factory=list)  # (pass, seconds), kept apart from the log


Pass = Callable[[Graph, PassContext], Graph]


def run_passes(g: Graph, passes: list[Pass], ctx: PassContext) -> Graph:
    """Run ``passes`` in order; see the module docstring for checking and error reporting."""
    for i, pass_fn in enumerate(passes):
        start = time.perf_counter()
        try:
            g = pass_fn(g, ctx)
            if ctx.check:
                check_graph(g)
        except PassError:
            raise
        except Exception as e:
            before = ", ".join(p.__name__ for p in passes[:i]) or "none"
            where = f"pass '{pass_fn.__name__}' failed (passes run before it: {before})"
            # problems with the user's model keep their type; an invalid graph out of a pass is a pass bug
            if isinstance(e, (InputError, UnsupportedError, SpecError)):
                raise type(e)(f"{where}: {e.headline}", e.problems) from e
            raise PassError(f"{where}: {e}") from e
        g.meta.setdefault("passes", []).append(pass_fn.__name__)
        ctx.log.append(f"{pass_fn.__name__}: {len(g.nodes)} nodes")
        ctx.timings.append((pass_fn.__name__, round(time.perf_counter() - start, 3)))
    return g


def _stages() -> dict[str, list[Pass]]:
    from neurodeploy.passes.canonicalize import fold_batchnorm, normalize_gemm, remove_identities
    from neurodeploy.passes.convert_temporal import convert_to_temporal
    from neurodeploy.passes.finetune import finetune_thresholds
    from neurodeploy.passes.fold_pooling import fold_average_pool
    from neurodeploy.passes.fold_synapses import expand_current_sums, fold_channel_scales, fold_weight_standardization
    from neurodeploy.passes.convert_rate import (
        balance_thresholds,
        fold_spike_scales,
        replace_maxpool,
    )

    shapes = lambda g, ctx: infer_shapes(g.copy())
    shapes.__name__ = "infer_shapes"
    return {
        "canonicalize": [shapes, remove_identities, normalize_gemm, fold_weight_standardization, fold_batchnorm,
                         fold_channel_scales, expand_current_sums, shapes],
        "export": [shapes, remove_identities, fold_weight_standardization, fold_batchnorm, fold_channel_scales,
                   expand_current_sums, shapes],
        "rate": [replace_maxpool, balance_thresholds, fold_spike_scales, shapes],
        "ttfs": [replace_maxpool, fold_average_pool, convert_to_temporal, finetune_thresholds, shapes],
        "sc-ttfs": [replace_maxpool, fold_average_pool, convert_to_temporal, finetune_thresholds, shapes],
    }


def stage(name: str) -> list[Pass]:
    """The ordered pass list of one stage: 'canonicalize' (ANN clean-up), 'export' (a trained SNN's folds before
    the target passes: docs/trevsnn.md), or a coding: 'rate', 'ttfs', 'sc-ttfs' (ANN -> SNN)."""
    return _stages()[name]
