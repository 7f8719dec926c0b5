"""Affine coupling (RealNVP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfp_genmodels.bijectors.coupling import CouplingBijector
from tfp_genmodels.bijectors.elementwise import AffineMap


class AffineCoupling(CouplingBijector):
    """Affine coupling layer of RealNVP.

    With mask ``m`` (ones: conditioning elements) and ``(s, t) = NN(m * x, c)``::

        Forward:  y = m * x + (1 - m) * (x * exp(s) + t)
        Inverse:  x = m * y + (1 - m) * (y - t) * exp(-s)
        log|det dy/dx| = sum_i (1 - m_i) * s_i = -log|det dx/dy|

    Bounded log-scale: the network's raw output ``r`` is soft-clamped,
    ``s = clamp * tanh(r / clamp)``, so ``|s| < clamp`` (scales in
    ``(e^-clamp, e^clamp)``) while ``s ~ r`` for small ``r``. This keeps a
    randomly initialised or badly conditioned layer from producing ``inf``;
    the gradient stays non-zero, unlike a hard clip. ``shift_clamp`` bounds
    the shift the same way (default: unbounded); with both, a layer maps data
    to base with ``|z| <= (|y| + shift_clamp) e^log_scale_clamp`` (see
    :class:`~tfp_genmodels.bijectors.elementwise.AffineMap`).
    A zero network output gives ``s = t = 0``: a fresh layer is the identity.

    A :class:`CouplingBijector` with
    :class:`~tfp_genmodels.bijectors.elementwise.AffineMap`.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      log_scale_clamp: the bound on ``|s|``.
      shift_clamp: the bound on ``|t|``, or ``None`` (unbounded).
      name: the bijector's name.
      **kwargs: ``mask``, ``flip_mask``, ``conditioner`` (2 parameters per
        element: raw log-scale, shift), ``hidden_units``, ``context_shape``,
        ``dtype``, ``validate_args``: as in :class:`CouplingBijector`.

    References:
      Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP. 2017.
      arXiv:1605.08803.

    Example:

    >>> import tensorflow as tf
    >>> from tfp_genmodels.bijectors import AffineCoupling
    >>> layer = AffineCoupling(event_shape=[4], hidden_units=[8])
    >>> x = tf.ones([3, 4])
    >>> bool(tf.reduce_all(layer.forward(x) == x))  # identity at initialisation
    True
    """

    def __init__(self, event_shape: Sequence[int], *, log_scale_clamp: float = 3.0,
                 shift_clamp: float | None = None, name: str = "affine_coupling",
                 **kwargs: Any):
        parameters = dict(event_shape=event_shape, log_scale_clamp=log_scale_clamp,
                          shift_clamp=shift_clamp, name=name, **kwargs)
        super().__init__(event_shape, AffineMap(log_scale_clamp, shift_clamp), name=name,
                         parameters=parameters, **kwargs)
