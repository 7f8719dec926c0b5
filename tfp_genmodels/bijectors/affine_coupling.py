"""Affine coupling (RealNVP)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfp_genmodels.bijectors import _validation
from tfp_genmodels.bijectors.coupling import CouplingBijector


def soft_clamp(raw: tf.Tensor, bound: float) -> tf.Tensor:
    """``bound * tanh(raw / bound)``: ``|out| < bound``, ``out ~ raw`` near 0, gradient never 0.

    The log-scale bound of RealNVP-style layers (also ``tfb.RealNVP``'s
    common recipe); unlike a hard clip it keeps a gradient everywhere.
    """
    bound = tf.constant(bound, raw.dtype)
    return bound * tf.tanh(raw / bound)


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
    the gradient stays non-zero, unlike a hard clip.
    A zero network output gives ``s = t = 0``: a fresh layer is the identity.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      mask: ``"half"``/``"alternating"`` (vectors), ``"checkerboard"``/
        ``"channel"`` (images), or a 0/1 array of shape ``event_shape``.
        Defaults to ``"half"`` / ``"checkerboard"``.
      flip_mask: use the complementary mask.
      conditioner: optional network (see ``conditioners`` for its contract)
        returning 2 parameters per element: raw log-scale, shift.
      hidden_units: hidden widths (vectors) or filters (images) of the default
        conditioner.
      context_shape: ``(K,)`` to condition on a context vector, passed as
        ``forward(x, context=c)`` (or ``bijector_kwargs`` in distributions).
      log_scale_clamp: the bound on ``|s|``.
      dtype: dtype of the conditioner's variables and of the inputs.

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

    def __init__(self, event_shape: Sequence[int], mask: str | np.ndarray | None = None,
                 flip_mask: bool = False, conditioner: Callable | None = None,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None,
                 log_scale_clamp: float = 3.0, dtype: tf.DType = tf.float32,
                 validate_args: bool = False, name: str = "affine_coupling"):
        parameters = dict(locals())
        self._log_scale_clamp = _validation.positive_float_arg(
            log_scale_clamp, "log_scale_clamp")
        super().__init__(event_shape, num_params=2, mask=mask, flip_mask=flip_mask,
                         conditioner=conditioner, hidden_units=hidden_units,
                         context_shape=context_shape, dtype=dtype,
                         validate_args=validate_args, name=name, parameters=parameters)

    def _log_scale_and_shift(self, params):
        return soft_clamp(params[..., 0], self._log_scale_clamp), params[..., 1]

    def _transform_forward(self, x, params):
        log_scale, shift = self._log_scale_and_shift(params)
        return x * tf.exp(log_scale) + shift, log_scale

    def _transform_inverse(self, y, params):
        log_scale, shift = self._log_scale_and_shift(params)
        return (y - shift) * tf.exp(-log_scale), -log_scale
