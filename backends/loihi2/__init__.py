"""Target loihi2: Intel Loihi 2; numbers in spec.yaml (energies extrapolated from Loihi 1)."""
from neurodeploy.backends.loihi.backend import LoihiBackend


class Loihi2Backend(LoihiBackend):
    name = "loihi2"
