"""The IDX file format of (Fashion-)MNIST, read with NumPy.

IDX (LeCun et al.): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the values, big-endian, in
row-major order. ``<type>``: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64. Files may be gzipped.

Reference: http://yann.lecun.com/exdb/mnist/ ("file formats").
"""

from __future__ import annotations

import gzip
import os

import numpy as np

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(filename: str) -> np.ndarray:
    """The array in an IDX file (``.gz`` or plain); ``ValueError`` if it is not one."""
    opener = gzip.open if filename.endswith(".gz") else open
    with opener(filename, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{filename} is not an IDX file: its first bytes are {raw[:4]!r}, "
                         "expected 0x00 0x00 <type> <ndim>.")
    dtype, ndim = _TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{filename}: truncated IDX header ({len(raw)} bytes).")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{filename}: an IDX array of shape {shape} ({dtype}) needs "
                         f"{expected} bytes; the file has {len(raw)}.")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find(directory: str, stem: str) -> str | None:
    """``directory/stem.gz`` or ``directory/stem``, whichever exists."""
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None
