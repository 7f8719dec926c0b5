"""Priors p(z) over the latent space.

* ``"normal"``: ``N(0, I)``; with a Gaussian posterior the KL is analytic.
* ``"mixture"``: a learned mixture of ``K`` diagonal Gaussians.
* ``"vamp"``: the VampPrior ``p(z) = (1/K) sum_k q_0(z | u_k)`` with ``K``
  learned pseudo-inputs ``u_k`` in data space (Tomczak & Welling, 2018);
  ``q_0`` is the posterior's Gaussian part (the whole posterior unless it
  is a flow).
* ``"flow"``: a RealNVP from :mod:`tfp_genmodels.flows` on ``N(0, I)``
  (``L >= 2``), trained jointly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._keras import keras
from tfp_genmodels._registry import PRIORS

tfd = tfp.distributions



class Prior(keras.layers.Layer):
    """``p(z)``: ``log_prob(z)`` for any leading shape, ``sample(n)``.

    Args:
      kind: one of :data:`PRIORS`.
      latent_dim: ``L``.
      num_components: mixture components / VampPrior pseudo-inputs ``K``.
      event_shape: data shape (VampPrior pseudo-inputs).
      encode_base: ``x -> q_0(z|x)`` (VampPrior).
      flow_layers: the flow prior's number of couplings.
      hidden_units: the flow prior's conditioner widths.
    """

    def __init__(self, kind: str, latent_dim: int, num_components: int = 10,
                 event_shape: Sequence[int] | None = None,
                 encode_base: Callable | None = None, flow_layers: int = 4,
                 hidden_units: Sequence[int] = (64, 64), **kwargs):
        super().__init__(**kwargs)
        if kind not in PRIORS:
            raise ValueError(f"`prior` must be one of {PRIORS}; got {kind!r}.")
        self.kind = kind
        self.latent_dim = int(latent_dim)
        self.num_components = int(num_components)
        latent = self.latent_dim
        if kind == "mixture":
            self.locs = self.add_weight(
                name="locs", shape=[self.num_components, latent],
                initializer=keras.initializers.RandomNormal(stddev=1.0))
            self.log_scales = self.add_weight(name="log_scales",
                                              shape=[self.num_components, latent],
                                              initializer="zeros")
            self.logits = self.add_weight(name="logits", shape=[self.num_components],
                                          initializer="zeros")
        elif kind == "vamp":
            if encode_base is None or event_shape is None:
                raise ValueError("the VampPrior needs the encoder (`encode_base`) and the "
                                 "data's `event_shape`.")
            self.encode_base = encode_base
            self.pseudo_inputs = self.add_weight(
                name="pseudo_inputs", shape=[self.num_components, *event_shape],
                initializer=keras.initializers.RandomUniform(0.0, 1.0))
        elif kind == "flow":
            if latent < 2:
                raise ValueError(f"the flow prior needs `latent_dim` >= 2 (coupling "
                                 f"layers); got {latent}.")
            from tfp_genmodels.flows import RealNVP
            self.flow = RealNVP(event_shape=(latent,), num_layers=flow_layers,
                                hidden_units=tuple(hidden_units), name="prior_flow")

    @property
    def is_standard_normal(self) -> bool:
        return self.kind == "normal"

    def distribution(self) -> tfd.Distribution:
        """``p(z)`` as a TFP distribution with event shape ``[L]``."""
        latent = self.latent_dim
        if self.kind == "normal":
            return tfd.MultivariateNormalDiag(tf.zeros(latent), tf.ones(latent))
        if self.kind == "mixture":
            return tfd.MixtureSameFamily(
                tfd.Categorical(logits=self.logits),
                tfd.MultivariateNormalDiag(self.locs, tf.exp(self.log_scales)))
        if self.kind == "vamp":
            q0 = self.encode_base(self.pseudo_inputs)  # batch [K], event [L]
            return tfd.MixtureSameFamily(
                tfd.Categorical(logits=tf.zeros(self.num_components)), q0)
        return self.flow.distribution

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return self.distribution().log_prob(z)

    def sample(self, n: int, seed=None) -> tf.Tensor:
        if self.kind == "flow":
            return self.flow.sample(n, seed=seed)
        return self.distribution().sample(n, seed=seed)
