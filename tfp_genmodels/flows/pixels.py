"""Discrete pixels in, discrete pixels out: dequantisation and logit inside a flow.

A flow is a density; pixels are discrete. With ``K`` levels and integer
values ``k``, the model fits ``y = k + u``, ``u ~ U[0, 1)^D``, on ``[0, K]^D``
and, data to base, applies ``v = y / K`` (:class:`~tfp_genmodels.bijectors.Dequantize`,
log-det ``-D log K``) and the ``alpha``-logit. Then (Theis et al., 2016)::

    log P(k) = log integral p(k + u) du  >=  E_u[log p(k + u)]

so the training loss and ``bits/dim = -log p(k + u) / (D log 2)`` refer to
the discrete data. Sampling goes the other way and floors ``y``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation
from tfp_genmodels.bijectors import Dequantize, Logit, uniform_dequantize

tfb = tfp.bijectors

PIXEL_FORMATS = ("integer", "unit")


class PixelPreprocessing:
    """Converts between the user's pixels and the flow's continuous space.

    Args:
      levels: ``K``, the number of discrete values per dimension (>= 2).
      pixel_format: ``"integer"`` (values ``0..K-1``) or ``"unit"``
        (values ``k / (K - 1)`` in ``[0, 1]``, e.g. ``uint8 / 255``).
      logit_alpha: squeeze of the logit transform.
    """

    def __init__(self, levels: int, pixel_format: str = "unit", logit_alpha: float = 0.05):
        self.levels = _validation.int_arg(levels, "pixel_levels", minimum=2)
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"`pixel_format` must be one of {PIXEL_FORMATS}; got "
                             f"{pixel_format!r}.")
        self.pixel_format = pixel_format
        self.logit_alpha = float(logit_alpha)
        self._max_value = self.levels - 1.0 if pixel_format == "integer" else 1.0

    def bijectors(self) -> list[tfb.Bijector]:
        """The data end of the chain (TFP order): ``y = K sigmoid-ish(h)``."""
        return [Dequantize(self.levels, name="dequantize"),
                tfb.Invert(Logit(self.logit_alpha), name="inverse_logit")]

    def check_values(self, x, name: str) -> None:
        """Raises if eager / NumPy values lie outside ``[0, max]`` (no-op when traced)."""
        if isinstance(x, tf.Tensor) and not tf.executing_eagerly():
            return
        x = np.asarray(x, dtype=np.float64)
        if x.size and (x.min() < 0 or x.max() > self._max_value or np.isnan(x).any()):
            raise ValueError(
                f"`{name}` must hold {self.pixel_format} pixels in [0, {self._max_value:g}] "
                f"(pixel_levels={self.levels}, pixel_format={self.pixel_format!r}); got "
                f"values in [{np.nanmin(x):g}, {np.nanmax(x):g}]"
                + (" and NaN" if np.isnan(x).any() else "") + ".")

    def assert_values(self, x: tf.Tensor, name: str) -> tf.Tensor:
        """``x``, checked in range (and not NaN) inside any graph, on every call.

        The NumPy check (:meth:`check_values`) only sees in-memory arrays; a
        ``tf.data`` pipeline or a served request reaches the model as a graph
        tensor, so the check must live in the graph too.
        """
        self.check_values(x, name)
        return _validation.assert_in_range(
            x, 0.0, self._max_value,
            f"`{name}` must hold {self.pixel_format} pixels in [0, {self._max_value:g}] "
            f"(pixel_levels={self.levels}, pixel_format={self.pixel_format!r}); got values "
            "outside that range or NaN. Use pixel_format='integer' for 0..K-1 values.")

    def to_integer(self, x: tf.Tensor) -> tf.Tensor:
        if self.pixel_format == "unit":
            x = x * (self.levels - 1.0)
        return tf.clip_by_value(tf.round(x), 0.0, self.levels - 1.0)

    def dequantize(self, x: tf.Tensor, seed=None) -> tf.Tensor:
        """``k + u`` with ``u ~ U[0, 1)``."""
        return uniform_dequantize(self.to_integer(x), seed=seed, dtype=x.dtype)

    def quantize(self, y: tf.Tensor) -> tf.Tensor:
        """The bin of a continuous ``y`` in ``[0, K]``, in the user's format."""
        k = tf.clip_by_value(tf.floor(y), 0.0, self.levels - 1.0)
        return k if self.pixel_format == "integer" else k / (self.levels - 1.0)
