"""Whether real Loihi hardware is reachable (never here: Intel's lava-loihi extension is INRC-only)."""
from __future__ import annotations

import pytest


def loihi2_hardware_available() -> bool:
    try:
        from lava.utils.system import Loihi2

        return bool(Loihi2.is_loihi2_available)
    except Exception:  # lava-loihi extension absent: no hardware access
        return False


requires_loihi2_hardware = pytest.mark.skipif(
    not loihi2_hardware_available(), reason="no Loihi 2 system reachable (needs Intel's lava-loihi and an INRC host)")
