"""Shared fixtures: seeded RNGs, the digits data set, in-process CLI runs."""
from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest

from neurodeploy.passes import ConversionConfig, PassContext

# every report written during the tests (in-process or by a CLI subprocess, which inherits it) is checked against
# neurodeploy/report/report.schema.json: one that does not follow it fails the test that wrote it
os.environ["NEURODEPLOY_CHECK_REPORTS"] = "1"


@pytest.fixture(autouse=True)
def _seed():
    import torch

    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def digits():
    from neurodeploy.data import load_digits_dataset

    return load_digits_dataset()


@pytest.fixture
def ctx():
    """A pass context that runs the graph checker after every pass."""
    return PassContext(ConversionConfig(), check=True)


@pytest.fixture
def run_cli():
    """Run ``neurodeploy`` in-process; returns (exit code, stdout, stderr)."""
    from neurodeploy.cli import main

    def run(*argv: str):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
        return code, out.getvalue(), err.getvalue()

    return run
