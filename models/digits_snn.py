"""A spiking network for scikit-learn's 8x8 digits, trained directly with neurodeploy.nn (no ANN conversion).

Chosen for exact deployment: the analog image is presented at each of T = 8 steps (DirectEncode), so the first
layer's W1 x + b1 is one constant current per neuron that the host can compute; the LIF layers have no current
state (i_decay = 1), decay v by 1/4 per step (a power of two, exact in Loihi's 12-bit dv), reset to zero and
fire when v > v_th, as Loihi and Norse (NIR export) do; the readout integrates the last layer's output over the
T steps without leak (MembraneReadout), and its argmax is the class.
"""
from __future__ import annotations

from torch import nn

from neurodeploy.nn import LIF, SNN, DirectEncode, MembraneReadout

INPUT_SHAPE = (1, 8, 8)
NUM_STEPS = 8
V_DECAY = 0.25


def _lif() -> LIF:
    return LIF(v_decay=V_DECAY, threshold=1.0, reset="zero", reset_timing="immediate", fire_when="gt",
               surrogate="rectangular")


class DigitsSNN(SNN):
    """DirectEncode(8) -> 64-128 Linear -> LIF -> 128-64 Linear -> LIF -> 64-10 Linear -> MembraneReadout."""

    def __init__(self) -> None:
        super().__init__(
            DirectEncode(NUM_STEPS), nn.Flatten(),
            nn.Linear(64, 128), _lif(),
            nn.Linear(128, 64), _lif(),
            nn.Linear(64, 10), MembraneReadout(),
        )
