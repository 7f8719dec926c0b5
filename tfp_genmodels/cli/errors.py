"""The two errors the CLI reports as one line (no traceback)."""

from __future__ import annotations


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class TrainingFailed(Exception):
    """Training could not finish (a non-finite loss): one line, exit status 1."""
