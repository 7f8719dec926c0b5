"""Rational-quadratic spline coupling (neural spline flow)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfp_genmodels.bijectors import _validation
from tfp_genmodels.bijectors.affine_coupling import soft_clamp
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

    With ``affine=True`` (the default) the conditioner also gives a log-scale
    ``s`` (soft-clamped as in :class:`AffineCoupling`) and a shift ``t``, and
    the elementwise map is the spline followed by an affine map, as in the
    couplings of Flow++::

        g(x) = exp(s) * spline(x) + t,    log g'(x) = s + log spline'(x)

    In the data -> base direction the data are first standardised
    (``(y - t) * exp(-s)``) and then enter the spline, so values that would
    fall outside ``[-B, B]``, where the spline is the identity, are moved
    inside it: heavy tails and a conditional scale (a funnel) are
    modelled instead of passed through. It costs 2 of the ``3K + 1`` outputs
    per element. ``affine=False`` is the plain spline of the paper (the same
    map as a ``tfb.RationalQuadraticSpline`` with identity tails).

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      num_bins: number of bins ``K`` (positive int).
      bound: ``B``, half-width of the spline's interval.
      mask: as in :class:`AffineCoupling`.
      flip_mask: as in :class:`AffineCoupling`.
      conditioner: as in :class:`AffineCoupling`.
      hidden_units: as in :class:`AffineCoupling`.
      context_shape: as in :class:`AffineCoupling`.
      affine: follow the spline by a conditional affine map (see above).
      log_scale_clamp: the bound on ``|s|`` of that affine map.
      dtype: as in :class:`AffineCoupling`.

    References:
      Durkan, Bekasov, Murray & Papamakarios. Neural Spline Flows. 2019.
      arXiv:1906.04032.

      Ho, Chen, Srinivas, Duan & Abbeel. Flow++: Improving Flow-Based
      Generative Models with Variational Dequantization and Architecture
      Design. 2019. arXiv:1902.00275.
    """

    def __init__(self, event_shape: Sequence[int], num_bins: int = 8,
                 bound: float = 5.0, mask: str | np.ndarray | None = None,
                 flip_mask: bool = False, conditioner: Callable | None = None,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None, affine: bool = True,
                 log_scale_clamp: float = 3.0,
                 dtype: tf.DType = tf.float32, validate_args: bool = False,
                 name: str = "spline_coupling"):
        parameters = dict(locals())
        self._num_bins = _validation.positive_int_arg(num_bins, "num_bins")
        self._bound = _validation.positive_float_arg(bound, "bound")
        if not isinstance(affine, (bool, np.bool_)):
            raise TypeError(f"`affine` must be a bool; got {affine!r}.")
        self._affine = bool(affine)
        self._log_scale_clamp = _validation.positive_float_arg(
            log_scale_clamp, "log_scale_clamp")
        self._num_spline_params = num_spline_params(self._num_bins)
        super().__init__(event_shape,
                         num_params=self._num_spline_params + 2 * self._affine,
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

    @property
    def affine(self) -> bool:
        return self._affine

    def _split(self, params):
        """Spline parameters, and the affine map's log-scale and shift (zeros if none)."""
        n = self._num_spline_params
        if not self._affine:
            return params, None, None
        return (params[..., :n], soft_clamp(params[..., n], self._log_scale_clamp),
                params[..., n + 1])

    def _transform_forward(self, x, params):
        spline_params, log_scale, shift = self._split(params)
        y, log_det = rational_quadratic_spline(x, spline_params, self._bound)
        if log_scale is None:
            return y, log_det
        return y * tf.exp(log_scale) + shift, log_det + log_scale

    def _transform_inverse(self, y, params):
        spline_params, log_scale, shift = self._split(params)
        if log_scale is not None:
            y = (y - shift) * tf.exp(-log_scale)
        x, log_det = rational_quadratic_spline(y, spline_params, self._bound, inverse=True)
        return x, log_det if log_scale is None else log_det - log_scale
