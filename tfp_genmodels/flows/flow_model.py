"""``FlowModel``: a Keras model around a ``tfd.TransformedDistribution``."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tfp_genmodels.bijectors import _validation

tfb, tfd = tfp.bijectors, tfp.distributions


class FlowModel(keras.Model):
    """A normalizing flow ``x = f(z)``, ``z ~ N(0, I)``, trained by maximum likelihood.

    ``model.distribution`` is ``tfd.TransformedDistribution(base, tfb.Chain(bijectors))``
    with TFP's direction: ``forward`` maps base to data, and the chain applies
    its last bijector first. The density is the change of variables::

        log p(x) = log N(f^-1(x); 0, I) + log|det d f^-1(x) / dx|

    ``compile(optimizer=...)`` then ``fit(x)`` (or ``fit((x, context))``) with no
    loss: the loss is the mean negative log-likelihood in nats and
    ``bits_per_dim = NLL / (D log 2)`` is logged in training and evaluation.

    Subclasses (the recipes) build the bijectors in :meth:`build_bijectors`.
    Bijectors that take a context declare the keyword through
    ``context_kwargs`` (bijector name -> keyword, e.g. ``"context"`` or TFP's
    ``"conditional_input"``).

    Args:
      event_shape: shape of one example.
      bijectors: the bijectors, in ``tfb.Chain`` order (for direct use; the
        recipes build their own).
      context_shape: ``(K,)`` for a conditional flow.
      context_kwargs: for conditional bijectors, name -> keyword.
    """

    def __init__(self, event_shape: Sequence[int], bijectors: Sequence[tfb.Bijector] | None = None,
                 context_shape: Sequence[int] | None = None,
                 context_kwargs: dict[str, str] | None = None, name: str | None = None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.event_shape = _validation.event_shape_arg(event_shape)
        self.context_shape = (None if context_shape is None else
                              _validation.event_shape_arg(context_shape, "context_shape",
                                                          ranks=(1,)))
        self.num_dims = int(np.prod(self.event_shape))
        self.context_kwargs = dict(context_kwargs or {})
        if bijectors is None:
            bijectors = self.build_bijectors()
        bijectors = list(bijectors)
        names = [b.name for b in bijectors]
        if len(set(names)) != len(names):
            raise ValueError(f"`bijectors` must have unique names (context is routed by "
                             f"name); got {names}.")
        self.flow = tfb.Chain(bijectors, name="flow")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")

    def build_bijectors(self) -> list[tfb.Bijector]:
        raise NotImplementedError("pass `bijectors` or use a recipe (RealNVP, MAF, ...)")

    # -- distribution -------------------------------------------------------------
    def base_distribution(self, temperature: float = 1.0) -> tfd.Distribution:
        """``N(0, T^2 I)`` over the event (temperature ``T``; 1 for the model density)."""
        return tfd.Independent(
            tfd.Normal(tf.zeros(self.event_shape), tf.cast(temperature, tf.float32)),
            reinterpreted_batch_ndims=len(self.event_shape))

    @property
    def distribution(self) -> tfd.TransformedDistribution:
        return tfd.TransformedDistribution(self.base_distribution(), self.flow)

    def _check_context(self, context):
        if self.context_shape is None:
            if context is not None:
                raise ValueError("`context` was given to an unconditional flow "
                                 "(built without `context_shape`).")
            return None
        if context is None:
            raise ValueError(f"`context` of shape [..., {self.context_shape[0]}] is required "
                             f"by this conditional flow; got None.")
        context = tf.cast(context, tf.float32)
        _validation.check_event_shape(context, self.context_shape, "context")
        return context

    def _bijector_kwargs(self, context) -> dict:
        if context is None:
            return {}
        return {name: {key: context} for name, key in self.context_kwargs.items()}

    def _check_x(self, x):
        x = tf.cast(x, tf.float32)
        _validation.check_event_shape(x, self.event_shape, "x")
        return x

    def log_prob(self, x, context=None) -> tf.Tensor:
        """Per-example log density of ``x`` in nats."""
        x = self._check_x(x)
        context = self._check_context(context)
        return self.distribution.log_prob(x, bijector_kwargs=self._bijector_kwargs(context))

    def bits_per_dim(self, x, context=None) -> tf.Tensor:
        """Per-example ``-log p(x) / (D log 2)``."""
        return -self.log_prob(x, context) / (self.num_dims * math.log(2.0))

    def sample(self, n: int, context=None, temperature: float = 1.0, seed=None) -> tf.Tensor:
        """Draws ``n`` samples; ``temperature`` scales the base (Glow's T).

        For a conditional flow ``context`` is one vector ``[K]`` (all samples)
        or ``[n, K]`` (one per sample).
        """
        context = self._check_context(context)
        z = self.base_distribution(temperature).sample(n, seed=seed)
        if context is not None and context.shape.rank == 1:
            context = tf.broadcast_to(context, [n, *self.context_shape])
        return self.flow.forward(z, **self._bijector_kwargs(context))

    # -- Keras --------------------------------------------------------------------
    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, y = x
        return x, y

    def call(self, inputs, training=None):
        x, context = self._unpack(inputs) if isinstance(inputs, (tuple, list)) else (inputs, None)
        return self.log_prob(x, context)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        """``keras.Model.fit``; ``validation_data`` may also be a bare array of x."""
        if isinstance(validation_data, (np.ndarray, tf.Tensor)):
            validation_data = (validation_data,)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_per_dim_tracker]

    def _update_metrics(self, log_prob):
        nll = -tf.reduce_mean(log_prob)
        self.loss_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(nll / (self.num_dims * math.log(2.0)))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, context = self._unpack(data)
        with tf.GradientTape() as tape:
            log_prob = self.log_prob(x, context)
            loss = -tf.reduce_mean(log_prob)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update_metrics(log_prob)

    def test_step(self, data):
        x, context = self._unpack(data)
        return self._update_metrics(self.log_prob(x, context))

    def get_config(self) -> dict:
        return {"event_shape": self.event_shape, "context_shape": self.context_shape,
                "name": self.name}
