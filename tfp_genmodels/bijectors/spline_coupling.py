"""Rational-quadratic spline coupling (neural spline flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfp_genmodels.bijectors.coupling import CouplingBijector
from tfp_genmodels.bijectors.elementwise import SplineMap


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

    A :class:`CouplingBijector` with
    :class:`~tfp_genmodels.bijectors.elementwise.SplineMap`.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      num_bins: number of bins ``K`` (positive int).
      bound: ``B``, half-width of the spline's interval.
      affine: follow the spline by a conditional affine map (see above).
      log_scale_clamp: the bound on ``|s|`` of that affine map.
      name: the bijector's name.
      **kwargs: ``mask``, ``flip_mask``, ``conditioner`` (``3K - 1``
        parameters per element, ``3K + 1`` with ``affine``), ``hidden_units``,
        ``context_shape``, ``dtype``, ``validate_args``: as in
        :class:`CouplingBijector`.

    References:
      Durkan, Bekasov, Murray & Papamakarios. Neural Spline Flows. 2019.
      arXiv:1906.04032.

      Ho, Chen, Srinivas, Duan & Abbeel. Flow++: Improving Flow-Based
      Generative Models with Variational Dequantization and Architecture
      Design. 2019. arXiv:1902.00275.
    """

    def __init__(self, event_shape: Sequence[int], *, num_bins: int = 8, bound: float = 5.0,
                 affine: bool = True, log_scale_clamp: float = 3.0,
                 name: str = "spline_coupling", **kwargs: Any):
        parameters = dict(event_shape=event_shape, num_bins=num_bins, bound=bound,
                          affine=affine, log_scale_clamp=log_scale_clamp, name=name, **kwargs)
        super().__init__(event_shape, SplineMap(num_bins, bound, affine, log_scale_clamp),
                         name=name, parameters=parameters, **kwargs)

    @property
    def num_bins(self) -> int:
        return self.transform.num_bins

    @property
    def bound(self) -> float:
        return self.transform.bound

    @property
    def affine(self) -> bool:
        return self.transform.affine
