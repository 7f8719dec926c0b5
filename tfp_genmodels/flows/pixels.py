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

    def bijectors(self) -> list[tfb.Bijector]:
        """The data end of the chain (TFP order): ``y = K sigmoid-ish(h)``."""
        return [Dequantize(self.levels, name="dequantize"),
                tfb.Invert(Logit(self.logit_alpha), name="inverse_logit")]

    #: How far (in level units) a ``"unit"`` pixel may lie from the grid ``k / (K - 1)``:
    #: float32 rounding of ``k / 255`` is ~1e-5 levels, a 17-level value read as 256
    #: levels is >= 0.06 off.
    GRID_TOLERANCE = 1e-2

    def _expected(self, name: str) -> str:
        top = self.levels - 1
        integer = self.pixel_format == "integer"
        grid = "integers" if integer else f"values k / {top} for integer k"
        return (f"`{name}` must hold {self.pixel_format} pixels in [0, {top if integer else 1}]"
                f", {grid} (pixel_levels={self.levels}, pixel_format={self.pixel_format!r}); "
                "data with another number of levels needs pixel_levels=<that number>, "
                "continuous data pixel_levels=None. Use pixel_format='integer' for 0..K-1 values")

    def _on_grid(self, x: tf.Tensor) -> tf.Tensor:
        """Elementwise: whether ``x`` is a pixel value of this format (NaN: no)."""
        top = self.levels - 1.0
        if self.pixel_format == "integer":
            return _validation.in_levels(x, top)
        levels = x * top
        return tf.logical_and(tf.abs(levels - tf.round(levels)) <= self.GRID_TOLERANCE,
                              tf.logical_and(levels >= 0.0, levels <= top))

    def check_values(self, x, name: str) -> None:
        """Raises ``ValueError`` if eager / NumPy values are no pixels of this format
        (off the grid, out of range or NaN); a no-op when traced."""
        if isinstance(x, tf.Tensor) and not tf.executing_eagerly():
            return
        x = tf.constant(np.asarray(x, dtype=np.float64))
        _validation.assert_support(x, self._on_grid(x), self._expected(name))

    def assert_values(self, x: tf.Tensor, name: str) -> tf.Tensor:
        """``x``, checked to be pixels of this format (on the grid, in range, not NaN)
        inside any graph, on every call.

        The NumPy check (:meth:`check_values`) only sees in-memory arrays; a
        ``tf.data`` pipeline or a served request reaches the model as a graph
        tensor, so the check must live in the graph too. A value off the grid
        (e.g. 17-level data ``k / 16`` given to a 256-level model) is refused:
        dequantising would round it to a neighbouring level and report a score
        for data the model does not describe.
        """
        return _validation.assert_support(x, self._on_grid(x), self._expected(name))

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
