"""Registered targets (installed as ``neurodeploy.backends``): an explicit table, imported lazily.

A backend module is imported only when its target is asked for, so ``neurodeploy targets`` and the ``ref``
backend never import Lava.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from neurodeploy.errors import InputError

BACKENDS: dict[str, str] = {
    "ref": "neurodeploy.backends.ref.backend:ReferenceBackend",
    "loihi1": "neurodeploy.backends.loihi1:Loihi1Backend",
    "loihi2": "neurodeploy.backends.loihi2:Loihi2Backend",
    "truenorth": "neurodeploy.backends.truenorth.backend:TrueNorthBackend",
    "spinnaker1": "neurodeploy.backends.spinnaker1:SpiNNaker1Backend",
    "spinnaker2": "neurodeploy.backends.spinnaker2:SpiNNaker2Backend",
}


def spec_path(name: str) -> Path:
    return Path(__file__).parent / name / "spec.yaml"


def get_backend(name: str):
    """Instantiate the backend registered as ``name`` with its validated spec."""
    from neurodeploy.spec import load_spec

    if name not in BACKENDS:
        raise InputError(f"unknown target '{name}'; registered targets: {', '.join(sorted(BACKENDS))}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(load_spec(spec_path(name)))
