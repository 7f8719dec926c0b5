"""Factor-out for multi-scale flows: an inner bijector on part of the channels.

RealNVP and Glow (Dinh et al., 2017; Kingma & Dhariwal, 2018) stop
transforming half of the channels after each scale: those dimensions go
straight to the base distribution, the rest continue through the next,
coarser scale. As one bijector on ``[H, W, C]`` with ``k`` kept channels::

    Forward:  y = concat(g(z[..., :k]), z[..., k:])        (g: the inner bijector)
    Inverse:  z = concat(g^-1(y[..., :k]), y[..., k:])
    log|det dy/dz| = log|det dg/dz_keep|

The Jacobian is block diagonal (inner block and identity). The inner
bijector must preserve the event shape ``[H, W, k]`` (a coarser scale wraps
itself in a squeeze and its inverse), so every scale keeps the data layout
and the flow's base is one standard normal of the data's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector

tfb = tfp.bijectors


class FactorOut(GreedyLogDetBijector):
    """Applies ``inner`` to the first ``num_kept`` channels; the rest pass through.

    Keyword arguments of ``forward``/``inverse`` (e.g. a ``tfb.Chain``'s
    per-bijector kwargs carrying a context) are passed on to ``inner``.

    Args:
      inner: a bijector on events ``[H, W, num_kept]`` that preserves the shape.
      event_shape: ``[H, W, C]`` of the full input.
      num_kept: channels that go through ``inner`` (default ``C // 2``).

    Example:

    >>> import numpy as np
    >>> from tfp_genmodels import bijectors
    >>> b = bijectors.FactorOut(bijectors.ActNorm([2, 2, 1]), event_shape=[2, 2, 2])
    >>> b.forward(np.ones([1, 2, 2, 2], np.float32)).shape
    TensorShape([1, 2, 2, 2])
    """

    def __init__(self, inner: tfb.Bijector, event_shape: Sequence[int],
                 num_kept: int | None = None, validate_args: bool = False,
                 name: str = "factor_out"):
        parameters = dict(locals())
        if not isinstance(inner, tfb.Bijector):
            raise TypeError(f"`inner` must be a tfp.bijectors.Bijector; got "
                            f"{type(inner).__name__}.")
        self._event_shape = _validation.event_shape_arg(event_shape, ranks=(3,))
        channels = self._event_shape[-1]
        num_kept = channels // 2 if num_kept is None else num_kept
        self._num_kept = _validation.positive_int_arg(num_kept, "num_kept")
        if self._num_kept >= channels:
            raise ValueError(f"`num_kept` must be less than the {channels} channels of "
                             f"`event_shape` {self._event_shape}; got {self._num_kept}.")
        kept_shape = [*self._event_shape[:2], self._num_kept]
        out_shape = inner.forward_event_shape(kept_shape)
        if out_shape.as_list() != kept_shape:
            raise ValueError(f"`inner` must preserve the event shape {kept_shape}; it maps "
                             f"it to {out_shape}.")
        self._inner = inner
        with tf.name_scope(name) as scope_name:
            super().__init__(forward_min_event_ndims=3, validate_args=validate_args,
                             parameters=parameters, name=scope_name)

    @property
    def inner(self) -> tfb.Bijector:
        return self._inner

    @property
    def num_kept(self) -> int:
        return self._num_kept

    def _split_apply(self, x, transform, log_det):
        _validation.check_event_shape(x, self._event_shape, "x")
        kept, passed = x[..., :self._num_kept], x[..., self._num_kept:]
        out = transform(kept)
        ldj = log_det(kept)
        return tf.concat([out, passed], axis=-1), ldj

    def _augmented_forward(self, x, **kwargs):
        y, fldj = self._split_apply(
            x, lambda t: self._inner.forward(t, **kwargs),
            lambda t: self._inner.forward_log_det_jacobian(t, event_ndims=3, **kwargs))
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x, ildj = self._split_apply(
            y, lambda t: self._inner.inverse(t, **kwargs),
            lambda t: self._inner.inverse_log_det_jacobian(t, event_ndims=3, **kwargs))
        return x, {"ildj": ildj, "fldj": -ildj}
