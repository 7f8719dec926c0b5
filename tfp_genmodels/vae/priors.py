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
from tfp_genmodels.vae._binding import bind_once

tfd = tfp.distributions


class Prior(keras.layers.Layer):
    """The interface of ``p(z)``; subclass it for a prior of your own.

    A subclass implements :meth:`distribution` (``p(z)`` with event
    ``[code_size]``), or :meth:`log_prob` and :meth:`sample` directly. Set
    ``has_closed_form = True`` when posteriors may take
    ``tfd.kl_divergence(q, distribution())`` in closed form.

    ``latent_dim`` may be left to the VAE, which binds it (:meth:`bind`, which
    also hands over the posterior, the data's shape and the encoder); what
    depends on it (weights) is made in :meth:`build_part`. A subclass sets its
    own options *before* calling ``super().__init__``.

    Args:
      latent_dim: ``L``, or ``None`` to take the VAE's.
      **kwargs: Keras layer arguments.
    """

    has_closed_form: bool = False
    is_standard_normal: bool = False
    #: For continuous latents (else for discrete ones: categorical / Bernoulli codes).
    continuous: bool = True

    def __init__(self, latent_dim: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.latent_dim = None
        if latent_dim is not None:
            self.bind(latent_dim)

    def bind(self, latent_dim: int, posterior=None, event_shape: Sequence[int] | None = None,
             encode_base: Callable | None = None) -> Prior:
        """Sets ``latent_dim`` (and makes the weights that depend on it) or checks it.
        The VAE also passes its ``posterior``, the data's ``event_shape`` and
        ``encode_base`` (``x -> q_0(z|x)``), for priors that need them."""
        latent_dim = _args.positive_int_arg(latent_dim, "latent_dim")
        if posterior is not None and posterior.is_discrete == self.continuous:
            kind = "discrete" if posterior.is_discrete else "continuous"
            raise ValueError(f"`prior`={type(self).__name__} does not fit a {kind} posterior "
                             f"({type(posterior).__name__}); use one for {kind} latents.")
        bind_once(self, "latent_dim", latent_dim, "prior", "the VAE's `latent_dim`")
        return self

    def build_part(self) -> None:
        """Makes what depends on ``latent_dim`` (nothing here)."""

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
      latent_dim: ``L`` (``None``: the VAE's).
      num_components: ``K``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_components: int = 10, **kwargs: Any):
        self.num_components = _args.positive_int_arg(num_components, "num_components")
        super().__init__(latent_dim, **kwargs)

    def build_part(self) -> None:
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


@_saving.register
class VampPrior(Prior):
    """The VampPrior (module docstring): a mixture of the encoder's ``q_0(z|u_k)`` at
    ``K`` learned pseudo-inputs ``u_k``. The VAE binds the encoder and the data's shape.

    Args:
      latent_dim: ``L`` (``None``: the VAE's).
      num_components: ``K`` pseudo-inputs.
      event_shape: the data's shape (``None``: the VAE's).
      encode_base: ``x -> q_0(z|x)`` (``None``: the VAE's encoder).
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_components: int = 10,
                 event_shape: Sequence[int] | None = None, encode_base: Callable | None = None,
                 **kwargs: Any):
        self.num_components = _args.positive_int_arg(num_components, "num_components")
        self.event_shape = None if event_shape is None else tuple(int(d) for d in event_shape)
        self.encode_base = encode_base
        # Bound (its weights made) once the encoder and the data's shape are known too.
        self.requested_latent_dim = latent_dim
        super().__init__(None, **kwargs)
        if latent_dim is not None and event_shape is not None and encode_base is not None:
            self.bind(latent_dim)

    def bind(self, latent_dim, posterior=None, event_shape=None, encode_base=None) -> Prior:
        if self.event_shape is None:
            self.event_shape = None if event_shape is None else tuple(event_shape)
        if self.encode_base is None:
            self.encode_base = encode_base
        if self.event_shape is None or self.encode_base is None:
            raise ValueError("the VampPrior needs the encoder (`encode_base`) and the "
                             "data's `event_shape`; a VAE gives both.")
        if self.requested_latent_dim not in (None, latent_dim):
            raise ValueError(f"`prior` has latent_dim={self.requested_latent_dim} but the "
                             f"VAE's `latent_dim` is {latent_dim}.")
        return super().bind(latent_dim, posterior)

    def build_part(self) -> None:
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=[self.num_components, *self.event_shape],
            initializer=keras.initializers.RandomUniform(0.0, 1.0))

    def distribution(self) -> tfd.Distribution:
        q0 = self.encode_base(self.pseudo_inputs)  # batch [K], event [L]
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.zeros(self.num_components, q0.dtype)), q0)

    def get_config(self) -> dict:
        # The encoder is the VAE's: bound again on load.
        return {**super().get_config(), "num_components": self.num_components,
                "latent_dim": self.latent_dim or self.requested_latent_dim}


@_saving.register
class FlowPrior(Prior):
    """A RealNVP prior trained jointly (``L >= 2``).

    Args:
      latent_dim: ``L`` (``None``: the VAE's).
      num_layers: couplings (``flow_layers`` is its deprecated name).
      hidden_units: conditioner widths.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_layers: int | None = None,
                 hidden_units: Sequence[int] = (64, 64), **kwargs: Any):
        num_layers = _args.renamed_arg(kwargs, "flow_layers", "num_layers", num_layers,
                                       "FlowPrior")
        self.num_layers = _args.positive_int_arg(4 if num_layers is None else num_layers,
                                                 "num_layers")
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        super().__init__(latent_dim, **kwargs)

    def build_part(self) -> None:
        if self.latent_dim < 2:
            raise ValueError(f"the flow prior needs `latent_dim` >= 2 (coupling "
                             f"layers); got {self.latent_dim}.")
        from tfp_genmodels.flows import RealNVP
        self.flow = RealNVP(event_shape=(self.latent_dim,), num_layers=self.num_layers,
                            hidden_units=self.hidden_units, name="prior_flow")

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers,
                "hidden_units": list(self.hidden_units)}

    def distribution(self) -> tfd.Distribution:
        return self.flow.distribution

    def sample(self, n: int, seed=None) -> tf.Tensor:
        return self.flow.sample(n, seed=seed)


@_saving.register
class UniformPrior(Prior):
    """``L`` independent categorical (``num_classes=K``) or Bernoulli
    (``num_classes=None``) latents: uniform, or with learned logits that start uniform.

    Args:
      latent_dim: ``L`` (``None``: the VAE's, and then ``num_classes`` is its
        posterior's unless given).
      num_classes: ``K``, or ``None`` for Bernoulli latents.
      learned: learn the logits (a categorical prior, not only a uniform one).
      **kwargs: Keras layer arguments.
    """

    has_closed_form = True
    continuous = False

    def __init__(self, latent_dim: int | None = None, num_classes: int | None = None,
                 learned: bool = False, **kwargs: Any):
        self.num_classes = (None if num_classes is None
                            else _args.int_arg(num_classes, "num_classes", minimum=2))
        self._classes_given = num_classes is not None or latent_dim is not None
        self.learned = bool(learned)
        super().__init__(latent_dim, **kwargs)

    def bind(self, latent_dim, posterior=None, event_shape=None, encode_base=None) -> Prior:
        classes = getattr(posterior, "num_classes", None)
        if posterior is not None and self.latent_dim is None and not self._classes_given:
            self.num_classes = classes
        if posterior is not None and posterior.is_discrete and classes != self.num_classes:
            raise ValueError(f"`prior` has num_classes={self.num_classes} but the posterior "
                             f"has {classes}.")
        return super().bind(latent_dim, posterior)

    def build_part(self) -> None:
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
