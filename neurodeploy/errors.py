"""Exceptions raised by neurodeploy.

Every error a user can cause is a :class:`NeurodeployError`; the CLI prints its message (one line per
problem) and exits non-zero without a traceback unless ``--debug`` is given. Messages name the file,
node or layer involved and the numbers that were wrong.
"""
from __future__ import annotations


class NeurodeployError(Exception):
    """Base class; ``problems`` holds every problem found, so all are reported at once."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.headline = message
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class GraphError(NeurodeployError):
    """The IR graph is malformed (dangling value, wrong attribute, shape mismatch)."""


class UnsupportedError(NeurodeployError):
    """The model uses something neurodeploy cannot lower or convert."""


class PassError(NeurodeployError):
    """A pass failed; the message names the pass and the passes that ran before it."""


class SpecError(NeurodeployError):
    """A chip spec file is invalid, or an estimate needs a value the spec marks unknown (null)."""


class InputError(NeurodeployError):
    """A user-supplied file, model name, shape or option is wrong."""
