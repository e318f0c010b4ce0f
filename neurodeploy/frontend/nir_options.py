"""The options with which a NIR file's continuous time is read (docs/nir.md): data only, so that the CLI can offer
them without importing the importer (and h5py) at start-up."""
from __future__ import annotations

DEFAULT_DT = 1e-4  # seconds: the NIR paper's files (lif_norse, braille) were made and run at 0.1 ms
INTEGRATIONS = ("euler", "exact", "impulse")  # 'impulse': euler decays, a CubaLIF's input enters its current at once
RESETS = {  # option -> (IR reset, IR reset_timing)
    "zero": ("zero", "immediate"),  # NIR's v = v_reset on a spike; Norse, Lava, snnTorch's NIR import
    "subtract": ("subtract", "immediate"),  # v -= v_threshold right after the spike (Norse reset_subtract)
    "snntorch-subtract": ("subtract", "next_step"),  # snnTorch Leaky/Synaptic defaults (reset_delay=True)
    "snntorch-zero": ("zero", "next_step"),  # snnTorch reset_mechanism="zero"
    "none": ("none", "immediate"),  # no reset (neurodeploy's export of an IR neuron that never resets)
}
DEFAULT_RESET = "zero"
