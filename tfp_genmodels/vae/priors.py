"""Priors p(z) over the latent space.

Every prior is a :class:`Prior` (``log_prob(z)``, ``sample(n)`` and, when it
has one, a closed-form ``distribution()`` for an exact KL). The VAE's
``prior=`` takes one of these, or a registered name:

* ``"normal"`` (:class:`StandardNormalPrior`): ``N(0, I)``; with a Gaussian
  posterior the KL is analytic.
* ``"mixture"`` (:class:`MixturePrior`): a learned mixture of ``K`` diagonal Gaussians.
* ``"vamp"`` (:class:`VampPrior`): ``p(z) = (1/K) sum_k q_0(z | u_k)`` with ``K``
  learned pseudo-inputs ``u_k`` in data space (Tomczak & Welling, 2018);
  ``q_0`` is the posterior's closed-form part (the whole posterior unless it
  is a flow).
* ``"flow"`` (:class:`FlowPrior`): a RealNVP from :mod:`tfp_genmodels.flows`
  on ``N(0, I)`` (``L >= 2``), trained jointly.
* ``"uniform"`` / ``"learned"`` (:class:`UniformPrior`): for discrete latents,
  uniform over each latent's classes, or categorical (Bernoulli) with learned
  logits that start uniform; the KL from a discrete posterior is exact.

:class:`DistributionPrior` wraps any ``tfd.Distribution`` with event ``[L]``
(the VAE uses it for the prior of a ``KLDivergenceRegularizer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import PRIORS

tfd = tfp.distributions


class Prior(keras.layers.Layer):
    """The interface of ``p(z)``; subclass it for a prior of your own.

    A subclass implements :meth:`distribution` (``p(z)`` with event
    ``[code_size]``), or :meth:`log_prob` and :meth:`sample` directly. Set
    ``has_closed_form = True`` when posteriors may take
    ``tfd.kl_divergence(q, distribution())`` in closed form.

    Args:
      latent_dim: ``L``.
      **kwargs: Keras layer arguments.
    """

    has_closed_form: bool = False
    is_standard_normal: bool = False

    def __init__(self, latent_dim: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.latent_dim = _args.positive_int_arg(latent_dim, "latent_dim")

    def distribution(self) -> tfd.Distribution:
        """``p(z)`` as a TFP distribution."""
        raise NotImplementedError(f"{type(self).__name__} must implement distribution() or "
                                  "log_prob() and sample().")

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        """``log p(z)`` for codes ``[..., code_size]``."""
        return self.distribution().log_prob(z)

    def sample(self, n: int, seed=None) -> tf.Tensor:
        """``n`` codes ``[n, code_size]``."""
        return self.distribution().sample(n, seed=seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim}


@_saving.register
class StandardNormalPrior(Prior):
    """``N(0, I)``."""

    has_closed_form = True
    is_standard_normal = True

    def distribution(self) -> tfd.Distribution:
        latent = self.latent_dim
        return tfd.MultivariateNormalDiag(tf.zeros(latent, self.dtype), tf.ones(latent, self.dtype))


@_saving.register
class MixturePrior(Prior):
    """A learned mixture of ``K`` diagonal Gaussians.

    Args:
      latent_dim: ``L``.
      num_components: ``K``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int, num_components: int = 10, **kwargs: Any):
        super().__init__(latent_dim, **kwargs)
        self.num_components = _args.positive_int_arg(num_components, "num_components")
        shape = [self.num_components, self.latent_dim]
        self.locs = self.add_weight(name="locs", shape=shape,
                                    initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.log_scales = self.add_weight(name="log_scales", shape=shape, initializer="zeros")
        self.logits = self.add_weight(name="logits", shape=[self.num_components],
                                      initializer="zeros")

    def distribution(self) -> tfd.Distribution:
        return tfd.MixtureSameFamily(tfd.Categorical(logits=self.logits),
                                     tfd.MultivariateNormalDiag(self.locs,
                                                                tf.exp(self.log_scales)))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_components": self.num_components}


class VampPrior(Prior):
    """The VampPrior (module docstring); built by the VAE, which owns the encoder.

    Args:
      latent_dim: ``L``.
      num_components: ``K`` pseudo-inputs.
      event_shape: the data's shape.
      encode_base: ``x -> q_0(z|x)``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int, num_components: int, event_shape: Sequence[int],
                 encode_base: Callable, **kwargs: Any):
        super().__init__(latent_dim, **kwargs)
        self.num_components = _args.positive_int_arg(num_components, "num_components")
        self.encode_base = encode_base
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=[self.num_components, *event_shape],
            initializer=keras.initializers.RandomUniform(0.0, 1.0))

    def distribution(self) -> tfd.Distribution:
        q0 = self.encode_base(self.pseudo_inputs)  # batch [K], event [L]
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.zeros(self.num_components, q0.dtype)), q0)


class FlowPrior(Prior):
    """A RealNVP prior trained jointly (``L >= 2``).

    Args:
      latent_dim: ``L``.
      flow_layers: couplings.
      hidden_units: conditioner widths.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int, flow_layers: int = 4,
                 hidden_units: Sequence[int] = (64, 64), **kwargs: Any):
        super().__init__(latent_dim, **kwargs)
        if self.latent_dim < 2:
            raise ValueError(f"the flow prior needs `latent_dim` >= 2 (coupling "
                             f"layers); got {latent_dim}.")
        from tfp_genmodels.flows import RealNVP
        self.flow = RealNVP(event_shape=(self.latent_dim,), num_layers=flow_layers,
                            hidden_units=tuple(hidden_units), name="prior_flow")

    def distribution(self) -> tfd.Distribution:
        return self.flow.distribution

    def sample(self, n: int, seed=None) -> tf.Tensor:
        return self.flow.sample(n, seed=seed)


@_saving.register
class UniformPrior(Prior):
    """``L`` independent categorical (``num_classes=K``) or Bernoulli
    (``num_classes=None``) latents: uniform, or with learned logits that start uniform.

    Args:
      latent_dim: ``L``.
      num_classes: ``K``, or ``None`` for Bernoulli latents.
      learned: learn the logits (a categorical prior, not only a uniform one).
      **kwargs: Keras layer arguments.
    """

    has_closed_form = True

    def __init__(self, latent_dim: int, num_classes: int | None = None, learned: bool = False,
                 **kwargs: Any):
        super().__init__(latent_dim, **kwargs)
        self.num_classes = (None if num_classes is None
                            else _args.int_arg(num_classes, "num_classes", minimum=2))
        self.learned = bool(learned)
        shape = [self.latent_dim] + ([] if self.num_classes is None else [self.num_classes])
        self.logits = self.add_weight(name="logits", shape=shape, initializer="zeros",
                                      trainable=self.learned)

    def factors(self) -> tfd.Distribution:
        """The ``L`` factors ``p(z_l)`` (batch ``[L]``)."""
        if self.num_classes is None:
            return tfd.Bernoulli(logits=self.logits)
        return tfd.Categorical(logits=self.logits)

    def distribution(self) -> tfd.Distribution:
        """Over codes: event ``[L, K]`` one-hot (Bernoulli: ``[L]``)."""
        if self.num_classes is None:
            return tfd.Independent(tfd.Bernoulli(logits=self.logits, dtype=self.logits.dtype), 1)
        return tfd.Independent(tfd.OneHotCategorical(logits=self.logits,
                                                    dtype=self.logits.dtype), 1)

    def log_prob(self, z) -> tf.Tensor:
        if self.num_classes is not None:
            z = tf.reshape(z, tf.concat([tf.shape(z)[:-1], [self.latent_dim, self.num_classes]],
                                        0))
        return self.distribution().log_prob(z)

    def sample(self, n: int, seed=None) -> tf.Tensor:
        z = self.distribution().sample(n, seed=seed)
        if self.num_classes is None:
            return z
        return tf.reshape(z, [-1, self.latent_dim * self.num_classes])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes,
                "learned": self.learned}


class DistributionPrior(Prior):
    """A fixed ``tfd.Distribution`` with event ``[L]`` as the prior (no Keras config:
    a VAE holding one saves only when the distribution is ``N(0, I)``)."""

    has_closed_form = True

    def __init__(self, distribution: tfd.Distribution, **kwargs: Any):
        event = distribution.event_shape
        if event.rank != 1 or event[0] is None:
            raise ValueError(f"a prior needs event shape [L]; got {event}.")
        super().__init__(int(event[0]), **kwargs)
        self._distribution = distribution

    def distribution(self) -> tfd.Distribution:
        return self._distribution


def is_standard_normal(dist: tfd.Distribution, latent_dim: int) -> bool:
    """Whether ``dist`` is ``N(0, I_L)``: an ``Independent(Normal)`` or an MVN, checked on
    its mean and covariance."""
    inner = getattr(dist, "distribution", None)
    try:
        if isinstance(dist, tfd.Independent) and isinstance(inner, tfd.Normal):
            mean = np.broadcast_to(np.asarray(inner.mean()), [latent_dim])
            cov = np.diag(np.broadcast_to(np.asarray(inner.variance()), [latent_dim]))
        elif isinstance(dist, tfd.MultivariateNormalLinearOperator):
            mean, cov = np.asarray(dist.mean()), np.asarray(dist.covariance())
        else:
            return False
    except ValueError:  # shapes that do not broadcast to [L]
        return False
    return (tuple(dist.event_shape) == (latent_dim,) and mean.shape == (latent_dim,)
            and np.allclose(mean, 0.0) and np.allclose(cov, np.eye(latent_dim)))


def make_prior(spec: str | Prior, latent_dim: int, posterior, num_components: int = 10,
               event_shape: Sequence[int] | None = None, encode_base: Callable | None = None,
               name: str = "prior") -> Prior:
    """The prior for the VAE's ``prior=`` argument, checked against the posterior:
    an instance is used as it is, a name from :data:`PRIORS` is built."""
    discrete = posterior.is_discrete
    if isinstance(spec, Prior):
        return spec
    if not isinstance(spec, str) or spec not in PRIORS:
        raise ValueError(f"`prior` must be one of {PRIORS} or a tfp_genmodels.vae.Prior "
                         f"instance; got {spec!r}.")
    if discrete != (spec in ("uniform", "learned")):
        allowed = ("uniform", "learned") if discrete else PRIORS[:4]
        raise ValueError(f"`prior`={spec!r} does not fit a "
                         f"{'discrete' if discrete else 'continuous'} posterior "
                         f"({type(posterior).__name__}); use one of {allowed}.")
    if spec in ("uniform", "learned"):
        return UniformPrior(latent_dim, num_classes=getattr(posterior, "num_classes", None),
                            learned=spec == "learned", name=name)
    if spec == "normal":
        return StandardNormalPrior(latent_dim, name=name)
    if spec == "mixture":
        return MixturePrior(latent_dim, num_components, name=name)
    if spec == "vamp":
        if encode_base is None or event_shape is None:
            raise ValueError("the VampPrior needs the encoder (`encode_base`) and the "
                             "data's `event_shape`.")
        return VampPrior(latent_dim, num_components, event_shape, encode_base, name=name)
    return FlowPrior(latent_dim, name=name)
