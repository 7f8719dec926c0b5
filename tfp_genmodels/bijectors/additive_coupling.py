"""Additive coupling (NICE)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfp_genmodels.bijectors.coupling import CouplingBijector


class AdditiveCoupling(CouplingBijector):
    """Additive (volume-preserving) coupling layer of NICE.

    With mask ``m`` (ones: conditioning elements) and ``t = NN(m * x, c)``::

        Forward:  y = m * x + (1 - m) * (x + t)
        Inverse:  x = m * y + (1 - m) * (y - t)
        log|det dy/dx| = 0 = log|det dx/dy|

    The Jacobian is unit triangular, so the layer preserves volume; NICE adds
    a learned diagonal scaling at the end of the flow to change volume.
    A zero network output gives the identity.

    Args: as :class:`AffineCoupling`, without ``log_scale_clamp``; the
    conditioner returns 1 parameter (the shift) per element.

    References:
      Dinh, Krueger & Bengio. NICE: Non-linear Independent Components
      Estimation. 2015. arXiv:1410.8516.
    """

    def __init__(self, event_shape: Sequence[int], mask: str | np.ndarray | None = None,
                 flip_mask: bool = False, conditioner: Callable | None = None,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None,
                 dtype: tf.DType = tf.float32, validate_args: bool = False,
                 name: str = "additive_coupling"):
        parameters = dict(locals())
        super().__init__(event_shape, num_params=1, mask=mask, flip_mask=flip_mask,
                         conditioner=conditioner, hidden_units=hidden_units,
                         context_shape=context_shape, dtype=dtype,
                         validate_args=validate_args, name=name, parameters=parameters)

    def _transform_forward(self, x, params):
        return x + params[..., 0], tf.zeros_like(x)

    def _transform_inverse(self, y, params):
        return y - params[..., 0], tf.zeros_like(y)
