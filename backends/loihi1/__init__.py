"""Target loihi1: Intel Loihi (2018); numbers in spec.yaml."""
from neurodeploy.backends.loihi.backend import LoihiBackend


class Loihi1Backend(LoihiBackend):
    name = "loihi1"
