"""Binary masks for coupling layers.

A mask ``m`` over the event has ones on the *conditioning* elements (passed
through unchanged and fed to the conditioner) and zeros on the *transformed*
elements. Vectors: ``"half"`` (first ceil(D/2) ones) or ``"alternating"``
(even indices ones). Images ``[H, W, C]``: ``"checkerboard"`` (ones where
``h + w`` is even) or ``"channel"`` (first C/2 channels ones), as in RealNVP
(Dinh et al., 2017, arXiv:1605.08803). :func:`reversal` is the permutation
placed between layers so that the next one transforms the other coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow_probability as tfp

VECTOR_MASKS = ("half", "alternating")
IMAGE_MASKS = ("checkerboard", "channel")


def make_mask(mask: str | Sequence | np.ndarray, event_shape: Sequence[int],
              flip: bool = False) -> np.ndarray:
    """Returns a float64 0/1 mask of shape ``event_shape``.

    Args:
      mask: a mask name (see module docstring) or an explicit 0/1 array of
        shape ``event_shape``.
      event_shape: the event shape the mask covers.
      flip: swap the roles of ones and zeros (the complementary coupling).

    Raises:
      ValueError: unknown name, a name that does not fit the event rank, an
        array of the wrong shape, non-binary entries, or a mask that leaves
        nothing to condition on or nothing to transform.
    """
    event_shape = tuple(int(d) for d in event_shape)
    if isinstance(mask, str):
        m = _named_mask(mask, event_shape)
    else:
        m = np.asarray(mask, dtype=np.float64)
        if m.shape != event_shape:
            raise ValueError(f"`mask` must have the event shape {event_shape}; "
                             f"got an array of shape {m.shape}.")
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"`mask` must contain only 0 and 1; got values "
                             f"{np.unique(m).tolist()}.")
    if flip:
        m = 1.0 - m
    if m.all() or not m.any():
        raise ValueError(f"`mask` must contain both ones (conditioning) and zeros "
                         f"(transformed); got {int(m.sum())} ones of {m.size}.")
    return m


def _named_mask(name: str, event_shape: tuple[int, ...]) -> np.ndarray:
    rank = len(event_shape)
    if name in VECTOR_MASKS:
        if rank != 1:
            raise ValueError(f"`mask`={name!r} needs a rank-1 event shape; got "
                             f"{event_shape}. Use one of {IMAGE_MASKS} for images.")
        (d,) = event_shape
        idx = np.arange(d)
        return (idx < (d + 1) // 2).astype(np.float64) if name == "half" else (
            (idx % 2 == 0).astype(np.float64))
    if name in IMAGE_MASKS:
        if rank != 3:
            raise ValueError(f"`mask`={name!r} needs an [H, W, C] event shape; got "
                             f"{event_shape}. Use one of {VECTOR_MASKS} for vectors.")
        h, w, c = event_shape
        if name == "checkerboard":
            board = (np.add.outer(np.arange(h), np.arange(w)) % 2 == 0)
            return np.broadcast_to(board[:, :, None], event_shape).astype(np.float64)
        if c < 2:
            raise ValueError(f"`mask`='channel' needs at least 2 channels; got "
                             f"event shape {event_shape}.")
        chan = (np.arange(c) < c // 2)
        return np.broadcast_to(chan[None, None, :], event_shape).astype(np.float64)
    raise ValueError(f"`mask` must be one of {VECTOR_MASKS + IMAGE_MASKS} or a 0/1 "
                     f"array; got {name!r}.")


def default_mask(event_shape: Sequence[int]) -> str:
    """``"half"`` for vectors, ``"checkerboard"`` for images."""
    return "half" if len(event_shape) == 1 else "checkerboard"


def reversal(dim: int, name: str | None = None) -> tfp.bijectors.Permute:
    """``tfb.Permute`` that reverses a ``[dim]`` event (TFP's ``tfb.RealNVP`` /
    MAF recipes put one between layers)."""
    return tfp.bijectors.Permute(np.arange(dim)[::-1].copy(), name=name or "reversal")
