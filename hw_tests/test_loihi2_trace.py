"""lif_norse.nir on loihi2 against a trace measured on a Loihi 2 chip (../shared/external/nir/
lif_loihi2_hardware_trace.csv; the NIR paper's own fixed-point import of the same file, dt = 1e-4, 1000 steps).

The file is imported at dt = 1e-4, quantized by neurodeploy's Loihi lowering, driven by the trace's input spikes
and run on the golden simulator (and on Lava's fixed_pt model): the same four output spike steps, and the voltage,
up to one scale factor (neurodeploy picks its own weight scale), within 2 % of the chip's peak at every other step.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.backends import get_backend
from neurodeploy.ir import reference
from neurodeploy.ir.ops import OPS, resolve_attrs
from neurodeploy.ir.ops.loihi import lif_dynamics
from neurodeploy.passes import ConversionConfig, PassContext, run_passes

NIR_DIR = Path(__file__).resolve().parents[2] / "shared" / "external" / "nir"
TRACE = NIR_DIR / "lif_loihi2_hardware_trace.csv"
pytestmark = pytest.mark.skipif(not TRACE.is_file(), reason=f"{TRACE} not present")


def _chip_trace():
    data = np.loadtxt(TRACE, delimiter=",")
    return data[:, 0].astype(np.float32), data[:, 1], data[:, 2].astype(bool)


def _deployed(x: np.ndarray):
    from neurodeploy.frontend.nir_import import load_nir

    g = load_nir(NIR_DIR / "lif_norse.nir", dt=1e-4)
    backend = get_backend("loihi2")
    ctx = PassContext(ConversionConfig(num_steps=len(x)), calibration=x.reshape(1, -1, 1), spec=backend.spec,
                      check=True)
    return run_passes(g, backend.passes(), ctx)


def _voltages(g, feed: np.ndarray, layer: str) -> np.ndarray:
    """The LIF layer's voltage after every step (before its reset, as the chip reads it between steps)."""
    node = g.node(layer)
    current = reference.run(g, {next(iter(g.inputs)): feed}, keep=[node.inputs[0]])[node.inputs[0]]
    attrs = resolve_attrs(OPS[node.op], node)
    bias = g.param_of(node, 1)
    updates = lif_dynamics(current, bias, attrs, current.shape[0], current.shape[1:])
    return np.array([float(v[0, 0]) for v, *_ in updates])


def test_lif_norse_reproduces_the_loihi2_hardware_trace():
    x, v_chip, s_chip = _chip_trace()
    g = _deployed(x)
    feed = x.reshape(-1, 1, 1)
    lif, = g.find("LoihiLIF")
    spikes = reference.run(g, {next(iter(g.inputs)): feed})[lif.outputs[0]][:len(x), 0, 0].astype(bool)
    assert np.flatnonzero(s_chip).tolist() == [461, 511, 711, 761]
    assert np.flatnonzero(spikes).tolist() == np.flatnonzero(s_chip).tolist()
    v = _voltages(g, feed, lif.name)[:len(x)]
    other = ~s_chip  # at spike steps the chip reads 128 (Lava's CPU model 0)
    scale = float(v_chip[other] @ v[other] / (v[other] @ v[other]))
    error = np.abs(scale * v[other] - v_chip[other])
    assert error.max() <= 0.02 * v_chip.max(), (error.max(), v_chip.max(), scale)


@pytest.mark.lava
def test_lava_gives_the_same_spikes_on_the_trace_input():
    from neurodeploy.backends.loihi.lava_run import run_lava

    x, _, s_chip = _chip_trace()
    g = _deployed(x)
    lif, = g.find("LoihiLIF")
    lava = run_lava(g, x.reshape(-1, 1, 1))[lif.outputs[0]][:len(x), 0, 0]
    assert np.flatnonzero(lava).tolist() == np.flatnonzero(s_chip).tolist()
