"""Real lava-dl netx networks (../shared/external/netx): imported, run on the golden simulator and on Lava
(Loihi2SimCfg, fixed_pt) for a fixed input, identical spikes in every layer at every step."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.frontend.netx import load_netx
from neurodeploy.sim.evaluate import seeded_input
from neurodeploy.ir import reference

NETX = Path(__file__).resolve().parents[2] / "shared" / "external" / "netx"
pytestmark = pytest.mark.skipif(not NETX.is_dir(), reason=f"external networks not found at {NETX}")


@pytest.mark.lava
@pytest.mark.parametrize("file,samples,rate", [("tiny", 2, 0.3), ("mnist_dense", 2, 0.3), ("oxford", 2, 0.1),
                                               ("mnist_bootstrap", 2, 0.3), ("pilotnet_lif", 1, 0.3)])
def test_netx_network_agrees_with_lava(file, samples, rate):
    from neurodeploy.backends.loihi.lava_run import run_lava

    g = load_netx(NETX / f"{file}.net")
    name, x = next(iter(g.inputs)), seeded_input(g, samples, rate)
    lava = run_lava(g, x)
    golden = reference.run(g, {name: x}, keep=list(lava))
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value], err_msg=f"{file}: {value}")
    assert sum(golden[v].sum() for v in lava) > 0
