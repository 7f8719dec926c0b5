"""Discrete latents: categorical and Bernoulli posteriors.

* :class:`CategoricalPosterior` (``posterior="categorical"``): ``L`` independent
  categorical variables with ``K`` classes each,
  ``q(z|x) = prod_l Cat(z_l; softmax(a_l(x)))``. The decoder receives ``z``
  as a float one-hot code of size ``L * K``.
* :class:`BernoulliPosterior` (``posterior="bernoulli"``): ``L`` binary
  variables, ``q(z|x) = prod_l Bernoulli(z_l; sigmoid(a_l(x)))``; the decoder
  receives ``z`` in ``{0, 1}^L``.

A discrete ``z`` has no reparameterisation, so gradients for the encoder
come from an estimator (:mod:`tfp_genmodels.vae.estimators`). For the
relaxed estimators both posteriors also draw from the Concrete / Gumbel-softmax
relaxation (Maddison et al., 2017; Jang et al., 2017)::

    y = softmax((a + g) / tau),   g_k = -log(-log u_k),  u_k ~ U(0, 1)

which tends to a one-hot draw from ``Cat(softmax(a))`` as ``tau -> 0``
(``tfd.RelaxedOneHotCategorical``; for ``K = 2`` the binary Concrete
``sigmoid((a + log u - log(1 - u)) / tau)``, the law of ``tfd.RelaxedBernoulli``).
The KL to a categorical or Bernoulli prior (:class:`~tfp_genmodels.vae.priors.UniformPrior`)
is exact: ``KL_l = sum_k q_lk (log q_lk - log p_lk)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving
from tfp_genmodels._keras import keras
from tfp_genmodels.vae.posteriors import Posterior

tfd = tfp.distributions


class DiscretePosterior(Posterior):
    """What the estimators need of a discrete ``q(z|x)``: logits, hard and relaxed draws."""

    is_discrete = True
    num_classes: int | None = None

    def logits(self, features) -> tf.Tensor:
        """The logits ``a(x)``: ``[B, L, K]`` (categorical) or ``[B, L]`` (Bernoulli)."""
        raise NotImplementedError

    def factors(self, features) -> tfd.Distribution:
        """The ``L`` independent factors ``q(z_l|x)`` (batch ``[B, L]``), integer-valued."""
        raise NotImplementedError

    def relaxed_sample(self, features, num_samples: int, temperature, hard: bool = False,
                       seed=None) -> tf.Tensor:
        """A Concrete draw at ``temperature`` (``[S, B, code_size]``, reparameterised);
        ``hard=True``: the one-hot (binary) draw it rounds to in the forward pass and
        the relaxed gradient in the backward pass (straight-through)."""
        raise NotImplementedError

    def kl_divergence(self, features, prior) -> tuple[tf.Tensor, tf.Tensor | None] | None:
        if not hasattr(prior, "factors"):  # a categorical / Bernoulli prior (UniformPrior)
            return None
        kl_dims = tfd.kl_divergence(self.factors(features), prior.factors())
        return tf.reduce_sum(kl_dims, axis=-1), kl_dims

    def point(self, features, seed=None) -> tf.Tensor:
        """The posterior mode as a code (what ``reconstruct`` decodes)."""
        return self.to_code(self.factors(features).mode())

    def to_code(self, values: tf.Tensor) -> tf.Tensor:
        """Integer values ``[..., L]`` -> the decoder's float code ``[..., code_size]``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}


@_saving.register
class CategoricalPosterior(DiscretePosterior):
    """``L`` categorical latents with ``K`` classes, one-hot coded (module docstring).

    Args:
      latent_dim: ``L`` (``None``: the VAE's).
      num_classes: ``K >= 2``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_classes: int = 10, **kwargs: Any):
        self.num_classes = _args.int_arg(num_classes, "num_classes", minimum=2)
        super().__init__(latent_dim, **kwargs)

    def build_part(self) -> None:
        self.params = keras.layers.Dense(self.latent_dim * self.num_classes,
                                         name="posterior_logits")

    @property
    def code_size(self) -> int:
        return self.latent_dim * self.num_classes

    def logits(self, features) -> tf.Tensor:
        a = self.params(features)
        return tf.reshape(a, tf.concat([tf.shape(a)[:-1], [self.latent_dim, self.num_classes]],
                                       0))

    def factors(self, features) -> tfd.Distribution:
        return tfd.Categorical(logits=self.logits(features))

    def call(self, features) -> tfd.Distribution:
        """``q(z|x)`` over one-hot codes: event ``[L, K]`` (the decoder sees it flattened)."""
        logits = self.logits(features)
        return tfd.Independent(tfd.OneHotCategorical(logits=logits, dtype=logits.dtype), 1)

    def _split(self, z):
        return tf.reshape(z, tf.concat([tf.shape(z)[:-1], [self.latent_dim, self.num_classes]],
                                       0))

    def _flat(self, z):
        return tf.reshape(z, tf.concat([tf.shape(z)[:-2], [self.code_size]], 0))

    def to_code(self, values) -> tf.Tensor:
        return self._flat(tf.one_hot(values, self.num_classes, dtype=self.dtype))

    def sample_and_log_prob(self, features, num_samples: int, seed=None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        q = self(features)
        z = q.sample(num_samples, seed=seed)
        return self._flat(z), q.log_prob(z)

    def log_prob(self, features, z) -> tf.Tensor:
        return self(features).log_prob(self._split(z))

    def mean(self, features, num_samples: int = 64, seed=None) -> tf.Tensor:
        """The class probabilities, flattened: ``E_q[z]`` of the one-hot code."""
        return self._flat(tf.nn.softmax(self.logits(features)))

    def relaxed_sample(self, features, num_samples, temperature, hard=False,
                       seed=None) -> tf.Tensor:
        y = tfd.RelaxedOneHotCategorical(temperature, logits=self.logits(features)).sample(
            num_samples, seed=seed)
        if hard:
            y = straight_through(tf.one_hot(tf.argmax(y, -1), self.num_classes,
                                            dtype=y.dtype), y)
        return self._flat(y)


@_saving.register
class BernoulliPosterior(DiscretePosterior):
    """``L`` binary latents (module docstring).

    Args:
      latent_dim: ``L`` (``None``: the VAE's).
      num_classes: ``None`` (or 2).
      **kwargs: Keras layer arguments.
    """

    def __init__(self, latent_dim: int | None = None, num_classes: int | None = None,
                 **kwargs: Any):
        if num_classes not in (None, 2):
            raise ValueError(f"a Bernoulli posterior has 2 classes; got num_classes={num_classes}.")
        super().__init__(latent_dim, **kwargs)

    def build_part(self) -> None:
        self.params = keras.layers.Dense(self.latent_dim, name="posterior_logits")

    def logits(self, features) -> tf.Tensor:
        return self.params(features)

    def factors(self, features) -> tfd.Distribution:
        return tfd.Bernoulli(logits=self.logits(features))

    def call(self, features) -> tfd.Distribution:
        logits = self.logits(features)
        return tfd.Independent(tfd.Bernoulli(logits=logits, dtype=logits.dtype), 1)

    def to_code(self, values) -> tf.Tensor:
        return tf.cast(values, self.dtype)

    def mean(self, features, num_samples: int = 64, seed=None) -> tf.Tensor:
        return tf.sigmoid(self.logits(features))

    def relaxed_sample(self, features, num_samples, temperature, hard=False,
                       seed=None) -> tf.Tensor:
        """The binary Concrete draw ``y = sigmoid((a + log u - log(1 - u)) / tau)``.

        Written out rather than ``tfd.RelaxedBernoulli``, whose sigmoid bijector
        gives NaN gradients once ``(a + noise) / tau`` saturates (at ``tau = 0.1``
        with logits of a few tens), which the annealed temperature reaches.
        """
        logits = self.logits(features)
        shape = tf.concat([[num_samples], tf.shape(logits)], 0)
        tiny = float(np.finfo(logits.dtype.as_numpy_dtype).tiny)
        u = (tf.random.uniform(shape, minval=tiny, dtype=logits.dtype) if seed is None
             else tf.random.stateless_uniform(shape, seed=seed, minval=tiny, alg="philox",
                                              dtype=logits.dtype))
        y = tf.sigmoid((logits + tf.math.log(u) - tf.math.log1p(-u)) / temperature)
        return straight_through(tf.round(y), y) if hard else y

    def antithetic_pair(self, features, num_samples: int, seed=None) -> tuple[tf.Tensor, tf.Tensor]:
        """DisARM's pair from one uniform (Dong et al., 2020): ``b = 1[u < sigmoid(a)]``,
        ``b~ = 1[1 - u < sigmoid(a)]``, each marginally ``q``; ``[S, B, L]`` each."""
        logits = self.logits(features)
        shape = tf.concat([[num_samples], tf.shape(logits)], 0)
        u = (tf.random.uniform(shape, dtype=logits.dtype) if seed is None
             else tf.random.stateless_uniform(shape, seed=seed, alg="philox", dtype=logits.dtype))
        p = tf.sigmoid(logits)
        return tf.cast(u < p, logits.dtype), tf.cast(1.0 - u < p, logits.dtype)


def straight_through(hard: tf.Tensor, soft: tf.Tensor) -> tf.Tensor:
    """``hard`` in the forward pass, the gradient of ``soft`` in the backward pass."""
    return soft + tf.stop_gradient(hard - soft)
