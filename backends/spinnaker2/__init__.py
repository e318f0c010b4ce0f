"""Target spinnaker2: SpiNNaker 2 (152 ARM Cortex-M4F PEs per chip); numbers in spec.yaml, energies unknown."""
from neurodeploy.backends.spinnaker.backend import SpiNNakerBackend


class SpiNNaker2Backend(SpiNNakerBackend):
    name = "spinnaker2"
