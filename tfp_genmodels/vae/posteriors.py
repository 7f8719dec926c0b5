"""Encoder heads: the approximate posterior q(z | x).

* ``"diagonal"``: ``tfp.layers.IndependentNormal``, ``N(mu(x), diag sigma(x)^2)``.
* ``"full"``: ``tfp.layers.MultivariateNormalTriL``, ``N(mu(x), L(x) L(x)^T)``.
* ``"iaf"``: a diagonal Gaussian ``z_0`` refined by ``T`` inverse
  autoregressive steps ``z_t = (z_{t-1} - m_t) * exp(-s_t)``, ``(m_t, s_t) =
  MADE_t(z_{t-1}, h(x))`` with a context ``h(x)`` from the encoder
  (Kingma et al., 2016); reversals between steps.
* ``"planar"``: ``K`` planar steps ``z_k = z_{k-1} + u_hat tanh(w.z_{k-1} + b)``
  whose ``(u, w, b)`` the encoder outputs per example (Rezende & Mohamed, 2015).

All sample by reparameterisation, and ``sample_and_log_prob`` tracks
``log q(z_T|x) = log q_0(z_0|x) - sum_t log|det dz_t / dz_{t-1}|`` through the
forward log-dets: no inverse is needed to train.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._keras import keras
from tfp_genmodels._registry import POSTERIORS
from tfp_genmodels.bijectors import Planar
from tfp_genmodels.bijectors.masks import reversal
from tfp_genmodels.flows.autoregressive_flows import identity_made

tfb, tfd, tfpl = tfp.bijectors, tfp.distributions, tfp.layers



class Posterior(keras.layers.Layer):
    """``features -> q(z|x)``; see the module docstring for the kinds.

    Args:
      kind: one of :data:`POSTERIORS`.
      latent_dim: ``L``.
      num_flow_steps: ``T`` (IAF) or ``K`` (planar) steps.
      hidden_units: MADE hidden widths for IAF.
      context_dim: size of IAF's encoder context ``h(x)``.
    """

    def __init__(self, kind: str, latent_dim: int, num_flow_steps: int = 4,
                 hidden_units: Sequence[int] = (64, 64), context_dim: int = 32, **kwargs):
        super().__init__(**kwargs)
        if kind not in POSTERIORS:
            raise ValueError(f"`posterior` must be one of {POSTERIORS}; got {kind!r}.")
        self.kind = kind
        self.latent_dim = int(latent_dim)
        self.num_flow_steps = int(num_flow_steps)
        latent = self.latent_dim
        if kind == "full":
            self.params = keras.layers.Dense(tfpl.MultivariateNormalTriL.params_size(latent),
                                             name="posterior_params")
            self.gaussian = tfpl.MultivariateNormalTriL(latent)
        else:
            self.params = keras.layers.Dense(tfpl.IndependentNormal.params_size(latent),
                                             name="posterior_params")
            self.gaussian = tfpl.IndependentNormal(latent)
        if kind == "iaf":
            self.context = keras.layers.Dense(context_dim, activation="elu", name="iaf_context")
            self.mades = []
            for t in range(self.num_flow_steps):
                self.mades.append(identity_made(
                    latent, hidden_units, activation="elu", context_shape=[context_dim],
                    kernel_initializer="glorot_uniform", name=f"iaf_made_{t}"))
        if kind == "planar":
            # Not zero-initialised: at u = w = 0 every gradient of a planar step
            # vanishes (a saddle), so the steps start small but generic.
            self.planar_params = keras.layers.Dense(
                self.num_flow_steps * (2 * latent + 1),
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                name="planar_params")

    @property
    def is_gaussian(self) -> bool:
        """``q`` is exactly Gaussian (an analytic KL to a Gaussian prior exists)."""
        return self.kind in ("diagonal", "full")

    def base(self, features: tf.Tensor) -> tfd.Distribution:
        """The Gaussian ``q_0(z|x)`` (the whole posterior for diagonal / full)."""
        return self.gaussian(self.params(features))

    def _bijectors(self, features: tf.Tensor) -> list[tfb.Bijector]:
        """Flow steps in application order (``z_0`` first), bound to this batch."""
        latent = self.latent_dim
        if self.kind == "iaf":
            context = self.context(features)
            steps = []
            for t, made in enumerate(self.mades):
                if t:
                    steps.append(reversal(latent))
                steps.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(
                    shift_and_log_scale_fn=_conditioned(made, context, latent))))
            return steps
        if self.kind == "planar":
            p = self.planar_params(features)
            size = 2 * latent + 1
            return [Planar(p[..., k * size:k * size + latent],
                           p[..., k * size + latent:k * size + 2 * latent],
                           p[..., k * size + 2 * latent], name=f"planar_{k}")
                    for k in range(self.num_flow_steps)]
        return []

    def call(self, features: tf.Tensor) -> tfd.Distribution:
        """``q(z|x)`` as a distribution (flows: a ``TransformedDistribution``)."""
        base = self.base(features)
        steps = self._bijectors(features)
        if not steps:
            return base
        return tfd.TransformedDistribution(base, tfb.Chain(steps[::-1]))

    def sample_and_log_prob(self, features: tf.Tensor, num_samples: int, seed=None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        """``z ~ q(z|x)`` (``[S, B, L]``, reparameterised) and ``log q(z|x)`` (``[S, B]``)."""
        base = self.base(features)
        z = base.sample(num_samples, seed=seed)
        log_q = base.log_prob(z)
        for step in self._bijectors(features):
            log_q -= step.forward_log_det_jacobian(z, event_ndims=1)
            z = step.forward(z)
        return z, log_q

    def mean(self, features: tf.Tensor, num_samples: int = 64, seed=None) -> tf.Tensor:
        """``E_q[z]``: exact for Gaussians, a Monte Carlo mean for flows."""
        if self.is_gaussian:
            return self.base(features).mean()
        z, _ = self.sample_and_log_prob(features, num_samples, seed=seed)
        return tf.reduce_mean(z, axis=0)


def _conditioned(made, context: tf.Tensor, latent: int):
    """MADE as a shift-and-log-scale function of ``z`` (any leading shape) and ``context``."""
    def fn(z):
        lead = tf.shape(z)[:-1]
        ctx = tf.broadcast_to(context, tf.concat([lead, tf.shape(context)[-1:]], 0))
        params = made(tf.reshape(z, [-1, latent]),
                      conditional_input=tf.reshape(ctx, [-1, context.shape[-1]]))
        params = tf.reshape(params, tf.concat([lead, [latent, 2]], 0))
        return params[..., 0], params[..., 1]
    return fn
