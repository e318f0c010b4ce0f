"""Progress bars (tqdm) with counts and ETA for the steps that take more than a moment: evaluation over samples,
Lava and SANA-FE runs per sample, fine-tuning epochs, ``--target all`` per target.

Off by default (a library call prints nothing); the CLI turns them on when stderr is a terminal and ``--quiet`` is
not given. Bars go to stderr, so reports on stdout stay clean.
"""
from __future__ import annotations

import contextlib
import sys

_enabled = False


def enable(on: bool) -> None:
    global _enabled
    _enabled = bool(on)


def enabled() -> bool:
    return _enabled


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@contextlib.contextmanager
def bar(total: int, desc: str, unit: str = "sample"):
    """A bar of ``total`` units (``update(n)`` as they finish), or a silent stand-in when progress is off or there is
    only one unit of work."""
    if not _enabled or total <= 1:
        yield _Silent()
        return
    import shutil

    from tqdm import tqdm

    size = shutil.get_terminal_size()  # a terminal that reports no size (0 x 0) gets 100 x 24: tqdm hides bars
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, ncols=size.columns or 100,
              nrows=size.lines or 24) as t:  # that do not fit the screen's rows
        yield t


def bar_range(total: int, desc: str, unit: str = "sample"):
    """``range(total)`` with a bar that advances as each item finishes (the loop body's work)."""
    with bar(total, desc, unit) as progress:
        for i in range(total):
            yield i
            progress.update()
