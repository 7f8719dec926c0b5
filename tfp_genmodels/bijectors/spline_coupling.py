"""Rational-quadratic spline coupling (neural spline flow)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfp_genmodels.bijectors import _validation
from tfp_genmodels.bijectors.coupling import CouplingBijector
from tfp_genmodels.bijectors.rational_quadratic import (
    num_spline_params, rational_quadratic_spline)


class SplineCoupling(CouplingBijector):
    """Rational-quadratic spline coupling layer of neural spline flows.

    With mask ``m`` and ``theta = NN(m * x, c)`` (``3K - 1`` values per
    element), ``g`` is a monotone rational-quadratic spline with ``K`` bins on
    ``[-B, B]`` and identity (linear) tails outside::

        Forward:  y = m * x + (1 - m) * g(x; theta)
        Inverse:  x = m * y + (1 - m) * g^-1(y; theta)   (a quadratic root per element)
        log|det dy/dx| = sum_i (1 - m_i) log g'(x_i; theta_i) = -log|det dx/dy|

    See :mod:`tfp_genmodels.bijectors.rational_quadratic` for the formulas.
    Output and gradients are finite for every finite input, also far outside
    ``[-B, B]``. All-zero conditioner output gives the identity, so a fresh
    layer is the identity.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      num_bins: number of bins ``K`` (positive int).
      bound: ``B``, half-width of the spline's interval.
      mask: as in :class:`AffineCoupling`.
      flip_mask: as in :class:`AffineCoupling`.
      conditioner: as in :class:`AffineCoupling`.
      hidden_units: as in :class:`AffineCoupling`.
      context_shape: as in :class:`AffineCoupling`.
      dtype: as in :class:`AffineCoupling`.

    References:
      Durkan, Bekasov, Murray & Papamakarios. Neural Spline Flows. 2019.
      arXiv:1906.04032.
    """

    def __init__(self, event_shape: Sequence[int], num_bins: int = 8,
                 bound: float = 5.0, mask: str | np.ndarray | None = None,
                 flip_mask: bool = False, conditioner: Callable | None = None,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None,
                 dtype: tf.DType = tf.float32, validate_args: bool = False,
                 name: str = "spline_coupling"):
        parameters = dict(locals())
        self._num_bins = _validation.positive_int_arg(num_bins, "num_bins")
        self._bound = _validation.positive_float_arg(bound, "bound")
        super().__init__(event_shape, num_params=num_spline_params(self._num_bins),
                         mask=mask, flip_mask=flip_mask, conditioner=conditioner,
                         hidden_units=hidden_units, context_shape=context_shape,
                         dtype=dtype, validate_args=validate_args, name=name,
                         parameters=parameters)

    @property
    def num_bins(self) -> int:
        return self._num_bins

    @property
    def bound(self) -> float:
        return self._bound

    def _transform_forward(self, x, params):
        return rational_quadratic_spline(x, params, self._bound)

    def _transform_inverse(self, y, params):
        return rational_quadratic_spline(y, params, self._bound, inverse=True)
