"""Glow (Kingma & Dhariwal, 2018) as a Keras flow model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tfp_genmodels import _args, _saving, _validation
from tfp_genmodels.flows import multiscale
from tfp_genmodels.flows.flow_model import FlowModel
from tfp_genmodels.flows.multiscale import (
    LEGACY_BOUNDS,
    LOG_SCALE_CLAMP,
    SHIFT_CLAMP,
    coupling_bounds,
)

if TYPE_CHECKING:
    from tensorflow_probability import bijectors as tfb


@_saving.register
class Glow(FlowModel):
    """Glow: ``num_scales`` x ``num_layers`` of ActNorm -> 1x1 conv -> affine coupling.

    Data to base, each scale (the paper's "level") squeezes
    ``[H, W, C] -> [H/2, W/2, 4C]``, runs ``num_layers`` flow steps (ActNorm
    with data-dependent init, an
    LU-factored invertible 1x1 convolution, an affine coupling over channel
    halves with a zero-initialised convolutional conditioner), and, except at
    the last scale, splits off half of the channels ``z_2`` under a learned
    conditional prior ``N(mu(z_1), sigma(z_1))`` before the next scale
    works on ``z_1``. See :mod:`tfp_genmodels.flows.multiscale`.

    The log-det of a step is ``H W sum log|s|`` (ActNorm) + ``H W log|det W|``
    (1x1 conv, O(C) from the LU factors) + the coupling's sum of log-scales.
    Every shape is computed from ``tf.shape``, so an unknown batch size works
    in ``tf.function`` and XLA (TFP's ``tfb.Glow`` needs a static batch).

    Pixels: by default the model takes 8-bit images in ``[0, 1]``
    (``pixel_levels=256, pixel_format="unit"``) and dequantises them inside
    (:class:`FlowModel`); ``sample(n, temperature=0.7)`` draws at reduced
    temperature.

    Args:
      event_shape: ``(H, W, C)``; ``H`` and ``W`` divisible by ``2**num_scales``.
      num_scales: the paper's levels ``L`` (default: up to 3, as many as the
        shape allows); the same name as :class:`RealNVP`'s. ``num_levels``
        is its deprecated name.
      num_layers: flow steps ``K`` per scale (default 8); the same name as the
        other recipes'. ``num_steps`` is its deprecated name.
      hidden_units: filters of the coupling conditioners' hidden 3x3 convolutions.
      seed: seed of the 1x1 convolutions' random-rotation initialisation.
      log_scale_clamp: the couplings' bound on ``|log-scale|`` (soft, ``tanh``).
      shift_clamp: the couplings' bound on ``|shift|`` (soft, ``tanh``), or
        ``None`` for unbounded shifts (0.1.x). See
        :class:`~tfp_genmodels.bijectors.elementwise.AffineMap` and
        ``docs/benchmarks.md`` ("Coupling bounds") for why and how it was chosen.

    References:
      Kingma & Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. 2018. arXiv:1807.03039.

    Example:

    >>> import numpy as np
    >>> from tfp_genmodels import flows
    >>> model = flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=2, hidden_units=(8,))
    >>> model.log_prob(np.full([3, 8, 8, 1], 128 / 255)).shape
    TensorShape([3])
    """

    def __init__(self, event_shape: Sequence[int], num_scales: int | None = None,
                 num_layers: int | None = None, hidden_units: Sequence[int] = (128, 128),
                 pixel_levels: int | None = 256, seed: int = 0,
                 context_shape: Sequence[int] | None = None, name: str | None = "glow",
                 log_scale_clamp: float = LOG_SCALE_CLAMP,
                 shift_clamp: float | None = SHIFT_CLAMP,
                 **kwargs: Any):
        num_scales = _args.renamed_arg(kwargs, "num_levels", "num_scales", num_scales, "Glow")
        num_layers = _args.renamed_arg(kwargs, "num_steps", "num_layers", num_layers, "Glow")
        shape = _validation.event_shape_arg(event_shape, ranks=(3,))
        possible = multiscale.max_squeezes(shape)
        if possible == 0:
            raise ValueError(f"`event_shape` must have even height and width for Glow's "
                             f"squeeze; got {shape}.")
        if num_scales is None:
            num_scales = min(3, possible)
        self.num_scales = _args.positive_int_arg(num_scales, "num_scales")
        multiscale.check_squeezes(shape, self.num_scales, "num_scales", num_scales)
        self.num_layers = _args.positive_int_arg(8 if num_layers is None else num_layers,
                                                 "num_layers")
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        self.seed = int(seed)
        self.bounds = coupling_bounds(log_scale_clamp, shift_clamp)
        super().__init__(shape, context_shape=context_shape, pixel_levels=pixel_levels,
                         name=name, **kwargs)

    def build_bijectors(self) -> list[tfb.Bijector]:
        return multiscale.glow_level(self.event_shape, 0, self.num_scales, self.num_layers,
                                     self.hidden_units, self.context_shape, self.seed,
                                     self.flow_dtype, self.bounds)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_scales": self.num_scales,
                "num_layers": self.num_layers, "hidden_units": self.hidden_units,
                "seed": self.seed, **self.bounds}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> Glow:
        # A config saved before the bounds existed (0.1.x) describes unbounded shifts.
        return cls(**{**LEGACY_BOUNDS, **config})
