"""Settings of the hardware and simulator tests (their fixtures are in tests/helpers.py)."""
import os

# every report written during the tests (in-process or by a CLI subprocess, which inherits it) is checked against
# neurodeploy/report/report.schema.json: one that does not follow it fails the test that wrote it
os.environ["NEURODEPLOY_CHECK_REPORTS"] = "1"
