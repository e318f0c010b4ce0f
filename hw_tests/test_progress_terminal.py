"""In a terminal, a Lava run shows a progress bar with counts and ETA (a pseudo-terminal stands in for one)."""
from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from neurodeploy.cli import main


@pytest.mark.lava
def test_lava_run_shows_a_progress_bar_with_eta_in_a_terminal(tmp_path):
    build = tmp_path / "mlp"
    assert main(["compile", "digits_mlp", "--target", "loihi1", "-o", str(build), "--steps", "8", "--quiet"]) == 0
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "neurodeploy", "run", str(build), "--backend", "lava",
                             "--samples", "6"], stdout=subprocess.DEVNULL, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=600) == 0
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    import re

    # a frame after the first sample: count and tqdm's [elapsed<remaining] ETA
    assert re.search(r"Lava:\s+\d+%\|.*\| [1-6]/6 \[\d\d:\d\d<\d\d:\d\d", text), text[-2000:]
