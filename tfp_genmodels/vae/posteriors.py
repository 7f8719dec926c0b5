"""Encoder heads: the approximate posterior q(z | x).

Every posterior is a :class:`Posterior`: a Keras layer ``features -> q(z|x)``
(``features`` is the encoder's output) with ``sample_and_log_prob``. The
VAE's ``posterior=`` takes one of these, or a registered name:

* ``"diagonal"`` (:class:`DiagonalGaussianPosterior`): ``tfp.layers.IndependentNormal``,
  ``N(mu(x), diag sigma(x)^2)``.
* ``"full"`` (:class:`FullGaussianPosterior`): ``tfp.layers.MultivariateNormalTriL``,
  ``N(mu(x), L(x) L(x)^T)``.
* ``"iaf"`` (:class:`IAFPosterior`): a diagonal Gaussian ``z_0`` refined by
  ``T`` inverse autoregressive steps ``z_t = (z_{t-1} - m_t) * exp(-s_t)``,
  ``(m_t, s_t) = MADE_t(z_{t-1}, h(x))`` with a context ``h(x)`` from the
  encoder (Kingma et al., 2016); reversals between steps.
* ``"planar"`` (:class:`PlanarPosterior`): ``K`` planar steps
  ``z_k = z_{k-1} + u_hat tanh(w.z_{k-1} + b)`` whose ``(u, w, b)`` the encoder
  outputs per example (Rezende & Mohamed, 2015).
* ``"categorical"`` and ``"bernoulli"``: discrete latents,
  :mod:`tfp_genmodels.vae.discrete`.

An encoder that already ends in a ``tfp.layers`` distribution layer (TFP's
tutorial VAE) is used as ``q(z|x)`` itself through
:class:`DistributionLayerPosterior`, with no head added.

The Gaussian kinds sample by reparameterisation, and ``sample_and_log_prob``
tracks ``log q(z_T|x) = log q_0(z_0|x) - sum_t log|det dz_t / dz_{t-1}|``
through the forward log-dets: no inverse is needed to train.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving
from tfp_genmodels._keras import keras
from tfp_genmodels.bijectors import Planar
from tfp_genmodels.bijectors.masks import reversal
from tfp_genmodels.flows.autoregressive_flows import identity_made
from tfp_genmodels.vae._binding import bind_once

tfb, tfd, tfpl = tfp.bijectors, tfp.distributions, tfp.layers


class Posterior(keras.layers.Layer):
    """The interface of ``q(z|x)``; subclass it for a posterior of your own.

    A subclass implements :meth:`call` (``features -> tfd.Distribution`` with
    batch ``[B]`` and event ``[L]``) and, when its samples need more than
    ``q.sample`` / ``q.log_prob`` (a flow, a discrete code), overrides
    :meth:`sample_and_log_prob`. ``get_config`` must return the constructor's
    arguments for ``.keras`` saving (register the class with
    ``keras.saving.register_keras_serializable``).

    ``latent_dim`` may be left to the VAE, which binds it (:meth:`bind`); what
    depends on it (its layers) is made in :meth:`build_part`, which runs once it
    is known. A subclass sets its own options *before* calling
    ``super().__init__`` so that ``build_part`` can read them.

    Attributes:
      latent_dim: ``L``, the number of latent variables.
      code_size: the size of ``z`` as the decoder receives it (``L``; a
        categorical posterior's one-hot code has ``L * K``).
      is_discrete: ``z`` is discrete (score-function or relaxed gradients).

    Args:
      latent_dim: ``L``, or ``None`` to take the VAE's.
      **kwargs: Keras layer arguments (``name``, ...).
    """

    is_discrete: bool = False

    def __init__(self, latent_dim: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.latent_dim = None
        if latent_dim is not None:
            self.bind(latent_dim)

    def bind(self, latent_dim: int) -> Posterior:
        """Sets ``latent_dim`` (and makes the layers that depend on it) or checks it."""
        bind_once(self, "latent_dim", _args.positive_int_arg(latent_dim, "latent_dim"),
                  "posterior", "the VAE's `latent_dim`")
        return self

    def build_part(self) -> None:
        """Makes what depends on ``latent_dim`` (nothing here)."""

    @property
    def code_size(self) -> int:
        return self.latent_dim

    def call(self, features) -> tfd.Distribution:
        raise NotImplementedError(f"{type(self).__name__} must implement call(features) -> "
                                  "tfd.Distribution.")

    def base(self, features) -> tfd.Distribution:
        """The closed-form part ``q_0(z|x)`` (the VampPrior mixes these); the whole
        posterior unless it is a flow."""
        return self(features)

    def sample_and_log_prob(self, features, num_samples: int, seed=None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        """``z ~ q(z|x)`` (``[S, B, code_size]``, reparameterised when ``q`` is) and
        ``log q(z|x)`` (``[S, B]``)."""
        q = self(features)
        z = q.sample(num_samples, seed=seed)
        return z, q.log_prob(z)

    def log_prob(self, features, z: tf.Tensor) -> tf.Tensor:
        """``log q(z|x)`` for codes ``z`` ``[..., B, code_size]`` (the batch last)."""
        return self(features).log_prob(z)

    def mean(self, features, num_samples: int = 64, seed=None) -> tf.Tensor:
        """``E_q[z]`` (``[B, code_size]``): exact where ``q`` has a mean, else Monte Carlo."""
        try:
            return self(features).mean()
        except NotImplementedError:
            z, _ = self.sample_and_log_prob(features, num_samples, seed=seed)
            return tf.reduce_mean(z, axis=0)

    def point(self, features, seed=None) -> tf.Tensor:
        """The code ``reconstruct`` decodes: the posterior mean (discrete: the mode)."""
        return self.mean(features, seed=seed)

    def kl_divergence(self, features, prior) -> tuple[tf.Tensor, tf.Tensor | None] | None:
        """``(KL [B], KL per latent [B, L] or None)`` in closed form, or ``None`` when
        there is none (the VAE then uses the Monte Carlo ``log q - log p``)."""
        if not getattr(prior, "has_closed_form", False):
            return None
        try:
            return tfd.kl_divergence(self(features), prior.distribution()), None
        except NotImplementedError:
            return None

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim}


@_saving.register
class DiagonalGaussianPosterior(Posterior):
    """``N(mu(x), diag sigma(x)^2)``: a dense layer and ``tfp.layers.IndependentNormal``."""

    def build_part(self) -> None:
        self.params = keras.layers.Dense(tfpl.IndependentNormal.params_size(self.latent_dim),
                                         name="posterior_params")
        self.gaussian = tfpl.IndependentNormal(self.latent_dim)

    def call(self, features) -> tfd.Distribution:
        return self.gaussian(self.params(features))

    def kl_divergence(self, features, prior) -> tuple[tf.Tensor, tf.Tensor | None] | None:
        if not getattr(prior, "is_standard_normal", False):
            return super().kl_divergence(features, prior)
        q = self(features).distribution
        kl_dims = tfd.kl_divergence(q, tfd.Normal(tf.zeros([], q.dtype), tf.ones([], q.dtype)))
        return tf.reduce_sum(kl_dims, axis=-1), kl_dims


@_saving.register
class FullGaussianPosterior(Posterior):
    """``N(mu(x), L(x) L(x)^T)``: a dense layer and ``tfp.layers.MultivariateNormalTriL``."""

    def build_part(self) -> None:
        self.params = keras.layers.Dense(
            tfpl.MultivariateNormalTriL.params_size(self.latent_dim), name="posterior_params")
        self.gaussian = tfpl.MultivariateNormalTriL(self.latent_dim)

    def call(self, features) -> tfd.Distribution:
        return self.gaussian(self.params(features))


class _FlowPosterior(DiagonalGaussianPosterior):
    """A diagonal Gaussian ``q_0`` pushed through per-example flow steps."""

    def __init__(self, latent_dim: int | None = None, num_layers: int | None = None,
                 **kwargs: Any):
        num_layers = _args.renamed_arg(kwargs, "num_flow_steps", "num_layers", num_layers,
                                       type(self).__name__)
        self.num_layers = _args.positive_int_arg(4 if num_layers is None else num_layers,
                                                 "num_layers")
        super().__init__(latent_dim, **kwargs)

    @property
    def num_flow_steps(self) -> int:
        """Deprecated name of :attr:`num_layers`."""
        return self.num_layers

    def base(self, features) -> tfd.Distribution:
        return super().call(features)

    def _bijectors(self, features) -> list[tfb.Bijector]:
        """Flow steps in application order (``z_0`` first), bound to this batch."""
        raise NotImplementedError

    def call(self, features) -> tfd.Distribution:
        """``q(z|x)`` as a ``TransformedDistribution``."""
        return tfd.TransformedDistribution(self.base(features),
                                           tfb.Chain(self._bijectors(features)[::-1]))

    def sample_and_log_prob(self, features, num_samples: int, seed=None):
        base = self.base(features)
        z = base.sample(num_samples, seed=seed)
        log_q = base.log_prob(z)
        for step in self._bijectors(features):
            log_q -= step.forward_log_det_jacobian(z, event_ndims=1)
            z = step.forward(z)
        return z, log_q

    def kl_divergence(self, features, prior):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers}

    @classmethod
    def from_config(cls, config: dict) -> _FlowPosterior:
        config = dict(config)
        if "num_flow_steps" in config:  # written by 0.1.x, without a warning on load
            config["num_layers"] = config.pop("num_flow_steps")
        return cls(**config)


@_saving.register
class IAFPosterior(_FlowPosterior):
    """Inverse autoregressive flow posterior (module docstring).

    Args:
      latent_dim: ``L`` (``None``: the VAE's).
      num_layers: ``T`` (``num_flow_steps`` is its deprecated name).
      hidden_units: MADE hidden widths.
      context_dim: size of the encoder context ``h(x)``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_layers: int | None = None,
                 hidden_units: Sequence[int] = (64, 64), context_dim: int = 32, **kwargs: Any):
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        self.context_dim = _args.positive_int_arg(context_dim, "context_dim")
        super().__init__(latent_dim, num_layers, **kwargs)

    def build_part(self) -> None:
        super().build_part()
        self.context = keras.layers.Dense(self.context_dim, activation="elu", name="iaf_context")
        self.mades = [identity_made(self.latent_dim, self.hidden_units, activation="elu",
                                    context_shape=[self.context_dim],
                                    kernel_initializer="glorot_uniform", name=f"iaf_made_{t}")
                      for t in range(self.num_layers)]

    def _bijectors(self, features):
        context = self.context(features)
        steps = []
        for t, made in enumerate(self.mades):
            if t:
                steps.append(reversal(self.latent_dim))
            steps.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(
                shift_and_log_scale_fn=_conditioned(made, context, self.latent_dim))))
        return steps

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_units": list(self.hidden_units),
                "context_dim": self.context_dim}


@_saving.register
class PlanarPosterior(_FlowPosterior):
    """Planar-flow posterior with per-example parameters (module docstring)."""

    def build_part(self) -> None:
        super().build_part()
        # Not zero-initialised: at u = w = 0 every gradient of a planar step
        # vanishes (a saddle), so the steps start small but generic.
        self.planar_params = keras.layers.Dense(
            self.num_layers * (2 * self.latent_dim + 1),
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="planar_params")

    def _bijectors(self, features):
        latent = self.latent_dim
        p = self.planar_params(features)
        size = 2 * latent + 1
        return [Planar(p[..., k * size:k * size + latent],
                       p[..., k * size + latent:k * size + 2 * latent],
                       p[..., k * size + 2 * latent], name=f"planar_{k}")
                for k in range(self.num_layers)]


class DistributionLayerPosterior(Posterior):
    """``q(z|x)`` computed by the encoder itself: its last layer is a ``tfp.layers``
    distribution layer (TFP's tutorial VAE), so ``features`` *is* the distribution.

    Built by the VAE when it finds such a layer; not saved on its own (the
    encoder is).
    """

    def call(self, features) -> tfd.Distribution:
        if not isinstance(features, tfd.Distribution):
            raise TypeError("the encoder ends in a tfp.layers distribution layer, so its "
                            f"output must be a tfd.Distribution; got {type(features).__name__}.")
        return features


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
