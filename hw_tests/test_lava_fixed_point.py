"""Runs Lava's bit-accurate CPU model (Loihi2SimCfg, fixed_pt); hardware variants skip with a reason.

Lava really runs here: its fixed-point LIF matches the integer equations the golden simulator will use.

The expected trace is computed from Loihi's published fixed-point update (../shared/reference/chip-facts.md
§5a): v[t] = sign*floor(|v[t-1] * (4096 - dv)| / 4096) + u[t] + (bias_mant << bias_exp); spike when
v > vth << 6, then v = 0.
"""
from __future__ import annotations

import numpy as np
import pytest

from hardware import requires_loihi2_hardware

STEPS = 12
DV, BIAS_MANT, BIAS_EXP, VTH = 1024, [100, 37, -20], 6, 200


def expected_trace() -> tuple[np.ndarray, np.ndarray]:
    v = np.zeros(3, np.int64)
    volts, spikes = [], []
    for _ in range(STEPS):
        decayed = v * (4096 - DV)
        v = np.sign(decayed) * (np.abs(decayed) >> 12) + (np.array(BIAS_MANT) << BIAS_EXP)
        v = np.clip(v, -(2**23) + 1, 2**23 - 1)
        fired = v > (VTH << 6)
        v[fired] = 0
        volts.append(v.copy())
        spikes.append(fired.astype(int))
    return np.array(volts), np.array(spikes)


def run_lava_lif(run_cfg) -> tuple[np.ndarray, np.ndarray]:
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    lif = LIF(shape=(3,), du=0, dv=DV, bias_mant=np.array(BIAS_MANT), bias_exp=BIAS_EXP, vth=VTH)
    sink = RingBuffer(shape=(3,), buffer=STEPS)
    lif.s_out.connect(sink.a_in)
    monitor = Monitor()
    monitor.probe(lif.v, STEPS)
    try:
        lif.run(condition=RunSteps(num_steps=STEPS), run_cfg=run_cfg)
        volts = monitor.get_data()[lif.name]["v"]
        spikes = sink.data.get().T
    finally:
        lif.stop()
    return np.asarray(volts, np.int64), np.asarray(spikes, int)


@pytest.mark.lava
def test_lava_fixed_point_lif_matches_integer_equations():
    from lava.magma.core.run_configs import Loihi2SimCfg

    volts, spikes = run_lava_lif(Loihi2SimCfg(select_tag="fixed_pt"))
    want_volts, want_spikes = expected_trace()
    np.testing.assert_array_equal(volts, want_volts)
    np.testing.assert_array_equal(spikes, want_spikes)
    assert want_spikes[:, 0].sum() == 4 and want_spikes[:, 2].sum() == 0  # the case is not trivial


@pytest.mark.lava
@requires_loihi2_hardware
def test_loihi2_hardware_matches_integer_equations():
    from lava.magma.core.run_configs import Loihi2HwCfg

    volts, spikes = run_lava_lif(Loihi2HwCfg())
    np.testing.assert_array_equal(spikes, expected_trace()[1])
