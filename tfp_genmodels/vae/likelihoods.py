"""Decoder heads: the observation model p(x | z) over one example's event.

Every likelihood is a :class:`Likelihood`: a Keras layer ``decoder output ->
tfd.Distribution`` over ``x`` whose ``log_prob`` sums over the event. The
VAE's ``likelihood=`` takes one of these, a registered name or a callable:

* ``"bernoulli"`` (:class:`BernoulliLikelihood`): binary ``x``;
  ``p(x|z) = prod Bernoulli(x_d; sigmoid(l_d))``.
* ``"gaussian"`` (:class:`GaussianLikelihood`): ``N(x_d; mu_d(z), sigma_d)`` with
  ``sigma`` learned per dimension (shared across examples, ``scale="learned"``)
  or a fixed float.
* ``"categorical"`` (:class:`CategoricalLikelihood`): ``K`` levels
  ``x_d in {0..K-1}`` (the digits: 17); ``p(x|z) = prod softmax(l_d)[x_d]``:
  exact discrete probabilities, so bits/dim compare directly with a
  dequantised flow's.
* a callable ``decoder output -> tfd.Distribution`` over ``x``
  (:class:`CallableLikelihood`, no head).

A decoder that already ends in a ``tfp.layers`` distribution layer (TFP's
tutorial VAE) is ``p(x|z)`` itself (:class:`DistributionLayerLikelihood`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving, _validation
from tfp_genmodels._keras import keras
from tfp_genmodels.vae._binding import bind_once

tfd = tfp.distributions


class Likelihood(keras.layers.Layer):
    """The interface of ``p(x|z)``; subclass it for a likelihood of your own.

    A subclass implements :meth:`call` (``decoder output [B, ...] -> tfd.Distribution``
    with batch ``[B]`` and event ``event_shape``) and, when its support is
    smaller than the reals, :meth:`check_support`.

    Args:
      event_shape: shape of one example ``x``, or ``None`` to take the VAE's
        (:meth:`bind`).
      **kwargs: Keras layer arguments.
    """

    def __init__(self, event_shape: Sequence[int] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.event_shape = None
        if event_shape is not None:
            self.bind(event_shape)

    def bind(self, event_shape: Sequence[int]) -> Likelihood:
        """Sets ``event_shape`` (and makes what depends on it) or checks it."""
        bind_once(self, "event_shape", tuple(int(d) for d in event_shape), "likelihood",
                  "the data's")
        return self

    def build_part(self) -> None:
        """Makes what depends on ``event_shape`` (nothing here)."""

    def call(self, decoded) -> tfd.Distribution:
        raise NotImplementedError(f"{type(self).__name__} must implement call(decoded) -> "
                                  "tfd.Distribution.")

    def check_support(self, x: tf.Tensor, name: str = "x", finite: bool = True) -> tf.Tensor:
        """``x``, checked to lie in the support of ``p(x|z)``, eagerly and in any graph.

        A likelihood evaluated outside its support returns a number that is no
        probability (a Bernoulli "log-probability" of a pixel value 16 is
        positive), so data it cannot describe is refused, on every path that
        reaches the VAE's bounds (``fit``, ``evaluate``, ``predict``,
        ``tf.data``, exported signatures). The VAE checks finiteness itself
        (with ``finite=False`` a NaN is left to the non-finite policy), so the
        base class accepts every real value; a subclass with a smaller support
        overrides this (with :func:`tfp_genmodels._validation.assert_support`).
        """
        return x

    def check_distribution_support(self, dist: tfd.Distribution, x: tf.Tensor,
                                   name: str = "x", finite: bool = True) -> tf.Tensor:
        """``x``, checked against the support of ``p(x|z)`` = ``dist`` itself: for a
        likelihood that only knows its distribution once it is built (a callable, a
        decoder ending in a ``tfp.layers`` distribution layer). The heads above check
        their support up front (:meth:`check_support`), so by default this is ``x``."""
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "event_shape": list(self.event_shape)}


class _DenseHead(Likelihood):
    """A dense head ``features -> [B, *event_shape, P]`` and a factorised distribution."""

    num_params = 1

    def build(self, input_shape) -> None:
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(int(np.prod(self.event_shape)) * self.num_params,
                                        name="likelihood_params")
        super().build(input_shape)

    def factors(self, params: tf.Tensor) -> tfd.Distribution:
        """The per-dimension distribution from ``params`` ``[B, *event, P]``."""
        raise NotImplementedError

    def call(self, decoded) -> tfd.Distribution:
        batch = tf.shape(decoded)[:1]
        flat = decoded if decoded.shape.rank == 2 else self.flatten(decoded)
        params = tf.reshape(self.dense(flat),
                            tf.concat([batch, self.event_shape, [self.num_params]], 0))
        return tfd.Independent(self.factors(params),
                               reinterpreted_batch_ndims=len(self.event_shape))


@_saving.register
class BernoulliLikelihood(_DenseHead):
    """Binary ``x``: independent Bernoullis with logits from the decoder.

    The support is ``[0, 1]``: binary data, or grey levels read as
    probabilities (the common "continuous" use on MNIST); anything outside is
    refused (:meth:`check_support`).
    """

    def check_support(self, x, name="x", finite=True) -> tf.Tensor:
        return _validation.assert_support(
            x, _validation.in_unit_interval(x),
            f"`{name}` must lie in the Bernoulli likelihood's support [0, 1] (binary "
            "pixels or grey levels scaled to [0, 1], e.g. x / 255; integer levels 0..K-1 "
            "need likelihood='categorical' with pixel_levels=K)", finite)

    def factors(self, params) -> tfd.Distribution:
        return tfd.Bernoulli(logits=params[..., 0], dtype=params.dtype)


@_saving.register
class GaussianLikelihood(_DenseHead):
    """``N(x_d; mu_d(z), sigma_d)``.

    Args:
      event_shape: shape of one example (``None``: the VAE's).
      scale: ``"learned"`` (per dimension, shared across examples) or a positive float.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, event_shape: Sequence[int] | None = None,
                 scale: str | float = "learned", **kwargs: Any):
        self.scale = scale
        self.fixed_scale = None
        if scale != "learned":
            try:
                self.fixed_scale = float(scale)
            except (TypeError, ValueError):
                self.fixed_scale = -1.0
            if not math.isfinite(self.fixed_scale) or self.fixed_scale <= 0:
                raise ValueError(f"`scale` must be 'learned' or a positive float; got "
                                 f"{scale!r}.")
        super().__init__(event_shape, **kwargs)

    def build_part(self) -> None:
        if self.fixed_scale is None:
            self.log_scale = self.add_weight(name="log_scale", shape=self.event_shape,
                                             initializer="zeros")

    def factors(self, params) -> tfd.Distribution:
        scale = (tf.exp(self.log_scale) if self.fixed_scale is None
                 else tf.constant(self.fixed_scale, params.dtype))
        return tfd.Normal(params[..., 0], scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


@_saving.register
class CategoricalLikelihood(_DenseHead):
    """``K`` pixel levels ``x_d in {0..K-1}``.

    Args:
      event_shape: shape of one example (``None``: the VAE's).
      pixel_levels: ``K``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, event_shape: Sequence[int] | None = None,
                 pixel_levels: int | None = None, **kwargs: Any):
        self.pixel_levels = self.num_params = _args.int_arg(pixel_levels, "pixel_levels",
                                                            minimum=2)
        super().__init__(event_shape, **kwargs)

    def factors(self, params) -> tfd.Distribution:
        return tfd.Categorical(logits=params, dtype=params.dtype)

    def check_support(self, x, name="x", finite=True) -> tf.Tensor:
        top = self.pixel_levels - 1
        return _validation.assert_support(
            x, _validation.in_levels(x, top),
            f"`{name}` must lie in the categorical likelihood's support, the integers "
            f"0..{top} (pixel_levels={self.pixel_levels}; values in [0, 1] need "
            f"x * {top} or likelihood='bernoulli')", finite)

    def get_config(self) -> dict:
        return {**super().get_config(), "pixel_levels": self.pixel_levels}


class CallableLikelihood(Likelihood):
    """A callable ``decoder output -> tfd.Distribution`` over ``x`` (no head).

    Its support is read off the distribution it returns: Bernoulli factors take
    ``[0, 1]``, categorical ones the integers ``0..K-1``
    (:meth:`check_distribution_support`); other families only finite values.
    """

    def check_distribution_support(self, dist, x, name="x", finite=True) -> tf.Tensor:
        inner = getattr(dist, "tensor_distribution", dist)
        while isinstance(inner, (tfd.Independent, tfd.BatchReshape)):
            inner = inner.distribution
        if isinstance(inner, tfd.Bernoulli):
            return _validation.assert_support(
                x, _validation.in_unit_interval(x),
                f"`{name}` must lie in the support [0, 1] of the decoder's Bernoulli "
                "distribution (binary pixels or grey levels scaled to [0, 1], e.g. x / 255)",
                finite)
        if isinstance(inner, tfd.Categorical):
            top = tf.cast(tf.shape(inner.logits_parameter())[-1] - 1, x.dtype)
            return _validation.assert_support(
                x, _validation.in_levels(x, top),
                f"`{name}` must lie in the support of the decoder's categorical distribution, "
                "the integers 0..K-1", finite)
        return x

    def __init__(self, fn: Callable, event_shape: Sequence[int] | None = None, **kwargs: Any):
        self.fn = fn
        super().__init__(event_shape, **kwargs)

    def call(self, decoded) -> tfd.Distribution:
        dist = self.fn(decoded)
        if not isinstance(dist, tfd.Distribution):
            raise TypeError(f"`likelihood` callable must return a tfd.Distribution; got "
                            f"{type(dist).__name__}.")
        return dist


class DistributionLayerLikelihood(CallableLikelihood):
    """``p(x|z)`` computed by the decoder itself (it ends in a ``tfp.layers``
    distribution layer, TFP's tutorial VAE)."""

    def __init__(self, event_shape: Sequence[int] | None = None, **kwargs: Any):
        super().__init__(lambda decoded: decoded, event_shape, **kwargs)


def distribution_mean(dist: tfd.Distribution) -> tf.Tensor:
    """Mean of ``p(x|z)`` (probabilities for Bernoulli, ``sum_k k p_k`` for categorical)."""
    inner = dist.distribution if isinstance(dist, tfd.Independent) else dist
    if isinstance(inner, tfd.Categorical):
        probs = tf.nn.softmax(inner.logits_parameter())
        levels = tf.range(probs.shape[-1], dtype=probs.dtype)
        return tf.reduce_sum(probs * levels, axis=-1)
    return dist.mean()
