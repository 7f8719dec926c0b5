"""Additive coupling (NICE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfp_genmodels.bijectors.coupling import CouplingBijector
from tfp_genmodels.bijectors.elementwise import ShiftMap


class AdditiveCoupling(CouplingBijector):
    """Additive (volume-preserving) coupling layer of NICE.

    With mask ``m`` (ones: conditioning elements) and ``t = NN(m * x, c)``::

        Forward:  y = m * x + (1 - m) * (x + t)
        Inverse:  x = m * y + (1 - m) * (y - t)
        log|det dy/dx| = 0 = log|det dx/dy|

    The Jacobian is unit triangular, so the layer preserves volume; NICE adds
    a learned diagonal scaling at the end of the flow to change volume.
    A zero network output gives the identity. A :class:`CouplingBijector`
    with :class:`~tfp_genmodels.bijectors.elementwise.ShiftMap`.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      name: the bijector's name.
      **kwargs: ``mask``, ``flip_mask``, ``conditioner`` (1 parameter per
        element: the shift), ``hidden_units``, ``context_shape``, ``dtype``,
        ``validate_args``: as in :class:`CouplingBijector`.

    References:
      Dinh, Krueger & Bengio. NICE: Non-linear Independent Components
      Estimation. 2015. arXiv:1410.8516.
    """

    def __init__(self, event_shape: Sequence[int], *, name: str = "additive_coupling",
                 **kwargs: Any):
        parameters = dict(event_shape=event_shape, name=name, **kwargs)
        super().__init__(event_shape, ShiftMap(), name=name, parameters=parameters, **kwargs)
