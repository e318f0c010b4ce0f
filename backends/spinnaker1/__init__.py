"""Target spinnaker1: SpiNNaker 1 (18 ARM968 cores per chip); numbers in spec.yaml."""
from neurodeploy.backends.spinnaker.backend import SpiNNakerBackend


class SpiNNaker1Backend(SpiNNakerBackend):
    name = "spinnaker1"
