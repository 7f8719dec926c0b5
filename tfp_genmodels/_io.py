"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Each writer writes to a temporary name in the destination's directory and
renames it over the destination (``os.replace`` is atomic on POSIX and
Windows within one file system).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str, mode: int) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give the usual modes."""
    os.chmod(tmp, mode & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path next to ``path``; on success renames it to ``path``.

    ``suffix`` keeps an extension that a writer insists on (``np.save`` adds
    ``.npy``, matplotlib picks the format from it).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp" + suffix,
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        _publish(tmp, 0o666)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj: Any) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())


def read_json(path: str) -> Any:
    """The JSON object in ``path`` (the counterpart of :func:`write_json`)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_npy(path: str, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(array))


def save_figure(path: str, figure) -> None:
    ext = os.path.splitext(path)[1]
    with atomic_path(path, suffix=ext) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")


def replace_directory(path: str, write: Callable[[str], None], overwrite: bool = True) -> None:
    """Runs ``write(tmp_dir)`` then swaps ``tmp_dir`` in for ``path``.

    The old directory is renamed aside first and removed only after the new
    one is in place, so a crash leaves either the old or the new contents
    (plus, at worst, a stray ``.old`` directory). With ``overwrite=False`` an
    existing ``path`` is an error (``FileExistsError``, checked before and
    after writing) and is never touched.
    """
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        write(tmp)
        _publish(tmp, 0o777)
        old = None
        if os.path.exists(path):
            if not overwrite:
                raise FileExistsError(f"{path} appeared while writing; left untouched.")
            old = f"{tmp}.old"  # unique because tmp is
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
