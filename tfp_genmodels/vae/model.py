"""The VAE: a Keras model whose loss is the negative (beta-weighted) ELBO.

With encoder ``q(z|x)``, decoder ``p(x|z)`` and prior ``p(z)``::

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

The KL is in closed form when the posterior and prior have one
(``Posterior.kl_divergence``: a Gaussian posterior and the standard normal
prior, as ``tfp.layers``' ``KLDivergenceRegularizer`` with
``use_exact_kl=True``; a discrete posterior and its categorical prior), else
the Monte Carlo estimate ``log q(z|x) - log p(z)`` at the same samples. It is
computed once per step, never also added through ``layer.losses``, so it
cannot be counted twice (tensorflow/probability#1215): an encoder with a
``KLDivergenceRegularizer`` (TFP's tutorial) lends the VAE its prior and its
weight as ``beta`` instead (:mod:`tfp_genmodels.vae.tfp_layers`).

The parts (posterior, prior, likelihood, estimator) are objects resolved by
:mod:`tfp_genmodels.vae.parts`; the bounds (ELBO, IWAE with ``num_samples``,
free bits, ``beta`` warm-up) are :mod:`tfp_genmodels.vae.bounds`'; training
(:mod:`tfp_genmodels.vae.steps`) draws ``z`` through the estimator, and every
bound the model reports (``elbo``, ``log_likelihood``, ``evaluate``, the
export) uses exact draws. A conditional VAE (``context_shape=(C,)``) feeds
``[x, c]`` to the encoder and ``[z, c]`` to the decoder (two-input networks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _keras, _saving, _training, _validation
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import OBJECTIVES
from tfp_genmodels._validation import TensorLike
from tfp_genmodels.bijectors.dequantize import bits_per_dim as _bits_per_dim
from tfp_genmodels.vae import bounds, networks, parts, tfp_layers
from tfp_genmodels.vae import estimators as E
from tfp_genmodels.vae.bounds import Terms
from tfp_genmodels.vae.config import VAEConfig
from tfp_genmodels.vae.diagnostics import ACTIVE_THRESHOLD, collapse_diagnostics
from tfp_genmodels.vae.likelihoods import (
    Likelihood,
    distribution_mean,
)
from tfp_genmodels.vae.posteriors import DistributionLayerPosterior, Posterior
from tfp_genmodels.vae.priors import Prior, VampPrior
from tfp_genmodels.vae.steps import VAESteps

tfd = tfp.distributions


@_saving.register
class VAE(VAESteps, VAEConfig, _saving.SavesAllVariables, _training.CheckedModel, keras.Model):
    """Variational autoencoder with pluggable posterior, prior and likelihood (module docstring).

    Args:
      latent_dim: ``L``, the number of latent variables.
      encoder: Keras network ``x -> features`` (the VAE adds the posterior head),
        or one ending in a ``tfp.layers`` distribution layer (then it is ``q(z|x)``).
        Conditional: it takes ``[x, c]``.
      decoder: Keras network ``z -> features`` (the VAE adds the likelihood head),
        or one ending in a ``tfp.layers`` distribution layer (then it is
        ``p(x|z)``). It receives ``z`` as a code of ``posterior.code_size``
        (one-hot ``L * K`` for categorical latents). Conditional: ``[z, c]``.
      likelihood: ``"bernoulli"`` (default), ``"gaussian"``, ``"categorical"``, a
        :class:`~tfp_genmodels.vae.likelihoods.Likelihood` (e.g.
        ``GaussianLikelihood(scale=0.1)``) or a callable
        ``decoder output -> tfd.Distribution`` over ``x``.
      posterior: ``"diagonal"`` (default), ``"full"``, ``"iaf"``, ``"planar"``,
        ``"categorical"``, ``"bernoulli"`` or a
        :class:`~tfp_genmodels.vae.posteriors.Posterior` (e.g.
        ``IAFPosterior(num_layers=4)``, ``CategoricalPosterior(num_classes=10)``).
      prior: ``"normal"`` (default for continuous latents), ``"mixture"``,
        ``"vamp"``, ``"flow"``, ``"uniform"`` (default for discrete latents),
        ``"learned"`` or a :class:`~tfp_genmodels.vae.priors.Prior` (e.g.
        ``MixturePrior(num_components=10)``).
      estimator: how the encoder gets its gradient: ``"reparameterized"``
        (default for continuous latents), ``"reinforce"`` (default for discrete
        latents with ``objective="elbo"``), ``"gumbel_softmax"``,
        ``"straight_through"``, ``"vimco"`` (default with ``"iwae"``),
        ``"disarm"`` (Bernoulli) or an
        :class:`~tfp_genmodels.vae.estimators.Estimator` (e.g.
        ``GumbelSoftmax(temperature=0.5)``, ``VIMCO(num_samples=5)``).
      beta: weight of the KL term (beta-VAE); default 1, or the encoder's
        ``KLDivergenceRegularizer`` weight.
      kl_warmup_steps: anneal beta linearly from 0 over this many steps.
      free_bits: ``lambda`` nats per latent dimension.
      objective: ``"elbo"`` or ``"iwae"``.
      num_samples: samples of ``z`` per example in training (``K`` for IWAE);
        default 1, or the estimator's ``num_samples``.
      event_shape: shape of one ``x`` (default: the encoder's input shape).
      pixel_levels: ``K`` levels of the data, for ``likelihood="categorical"`` (the
        name the flows use for it; ``num_levels`` is its deprecated name).
      context_shape: ``(C,)`` for a conditional VAE.
      name: the Keras model name.
      **kwargs: Keras model arguments. The part options of 0.1
        (``likelihood_scale``, ``num_flow_steps``, ``num_components``,
        ``num_classes``, ``temperature``, ``temperature_decay``,
        ``min_temperature``) still work with a ``DeprecationWarning``; give them
        to the part instead (:data:`tfp_genmodels.vae.parts.DEPRECATED_OPTIONS`).

    Saving: ``model.save("vae.keras")`` and ``tf_keras.models.load_model``
    restore the model with its encoder, decoder, parts, weights and optimizer
    state (a callable ``likelihood`` or a part of your own must be
    Keras-serialisable, e.g. registered with ``register_keras_serializable``).
    For TF Serving see :func:`tfp_genmodels.export.save_for_serving`.
    """

    def __init__(self, latent_dim: int, encoder: keras.layers.Layer,
                 decoder: keras.layers.Layer, likelihood: str | Callable | Likelihood | None = None,
                 posterior: str | Posterior | None = None, prior: str | Prior | None = None,
                 estimator: str | E.Estimator | None = None, beta: float | None = None,
                 kl_warmup_steps: int = 0, free_bits: float = 0.0, objective: str = "elbo",
                 num_samples: int | None = None, event_shape: Sequence[int] | None = None,
                 pixel_levels: int | None = None, context_shape: Sequence[int] | None = None,
                 name: str | None = "vae", **kwargs: Any):
        pixel_levels = _args.renamed_arg(kwargs, "num_levels", "pixel_levels", pixel_levels,
                                         "VAE")
        options = parts.deprecated_options(kwargs, warn=not kwargs.pop("_from_config", False))
        super().__init__(name=name, **kwargs)
        # Keras' `dtype` keyword: float32 (default) or float64 for every part the VAE makes.
        self.vae_dtype = _keras.model_dtype(self.dtype_policy)
        with _keras.default_dtype(self.vae_dtype):
            self.latent_dim = _validation.positive_int_arg(latent_dim, "latent_dim")
            for arg, net in (("encoder", encoder), ("decoder", decoder)):
                _keras.refuse_keras3(net, arg)
                if not callable(net):
                    raise TypeError(f"`{arg}` must be a Keras network (callable); got "
                                    f"{type(net).__name__}.")
            _keras.refuse_keras3(likelihood, "likelihood")
            self.encoder, self.decoder = encoder, decoder
            self.context_shape = (None if context_shape is None else
                                  _validation.event_shape_arg(context_shape, "context_shape"))
            if self.context_shape is not None and len(self.context_shape) != 1:
                raise ValueError(f"`context_shape` must be (C,); got {self.context_shape}.")
            self.event_shape = networks.data_event_shape(event_shape, encoder)
            self.num_dims = int(np.prod(self.event_shape))
            self.kl_warmup_steps = _validation.nonnegative_int_arg(
                kl_warmup_steps, "kl_warmup_steps")
            self.free_bits = _validation.nonnegative_float_arg(free_bits, "free_bits")
            if objective not in OBJECTIVES:
                raise ValueError(f"`objective` must be one of {OBJECTIVES}; got {objective!r}.")
            self.objective = objective
            self._event_shapes: dict[str, tuple[int, ...]] = {}
            if self.context_shape is not None and (prior == "vamp"
                                                   or isinstance(prior, VampPrior)):
                raise ValueError("the VampPrior has no context (its pseudo-inputs are x "
                                 "alone); a conditional VAE needs another `prior`.")
            context_dim = 0 if self.context_shape is None else self.context_shape[0]
            resolved = parts.resolve(
                self.encoder, self.decoder, self.latent_dim, self.event_shape, objective,
                self.num_dims + context_dim, self._encode_base, likelihood=likelihood,
                posterior=posterior, prior=prior, estimator=estimator, beta=beta,
                num_samples=num_samples, pixel_levels=pixel_levels, options=options)
            (self.posterior, self.likelihood, self.prior, self.estimator, self.beta,
             self.num_samples, self._specs) = resolved
            self._config = {"latent_dim": self.latent_dim, "beta": self.beta,
                            "kl_warmup_steps": self.kl_warmup_steps,
                            "free_bits": self.free_bits, "objective": self.objective,
                            "num_samples": self.num_samples, "event_shape": self.event_shape,
                            "pixel_levels": pixel_levels, "context_shape": self.context_shape}
            self.trackers = {k: keras.metrics.Mean(name=k)
                             for k in ("loss", "reconstruction", "kl", "elbo")}
            self._pseudo_inputs_set = tf.Variable(False, trainable=False, name="pseudo_inputs_set")
            self._create_skip_counter()
            # Build every layer now (variables exist before fit, save and load).
            self._build_parts()
            self.built = True

    def _build_parts(self) -> None:
        x = tf.zeros([1, *self.event_shape], self.vae_dtype)
        context = (None if self.context_shape is None
                   else tf.zeros([1, *self.context_shape], self.vae_dtype))
        if isinstance(self.posterior, DistributionLayerPosterior):
            q = self._features(x, context)
            if tuple(q.event_shape) != (self.latent_dim,):
                raise ValueError(f"the encoder's distribution has event shape "
                                 f"{tuple(q.event_shape)}; `latent_dim` is {self.latent_dim}.")
            if q.reparameterization_type != tfd.FULLY_REPARAMETERIZED:
                raise ValueError("the encoder's distribution layer is not reparameterised; "
                                 "for discrete latents use posterior='categorical' or "
                                 "'bernoulli' with an estimator.")
        try:
            terms = self._terms(x, context, 1)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
            wanted = ("[x, c] and [z, c] (two-input networks)" if self.context_shape
                      else "x and z")
            raise ValueError(f"building the VAE failed: its encoder and decoder must take "
                             f"{wanted}, with z a code of size {self.posterior.code_size} "
                             f"({type(self.posterior).__name__}). Keras said: {error}"
                             ) from error
        for network, dist in ((self.encoder, terms.features),
                              (self.decoder, self._decoded(terms.z[0], context))):
            layer = tfp_layers.distribution_layer(network)
            if layer is not None:
                self._event_shapes[layer.name] = tuple(dist.event_shape)
        self.estimator.build(None)
        if self.estimator.relaxed and self.posterior.kl_divergence(
                terms.features, self.prior) is None:
            raise ValueError("the relaxed estimators need a closed-form KL: a "
                             "categorical / Bernoulli prior ('uniform' or 'learned').")

    # -- the model's pieces ---------------------------------------------------------
    def _checked(self, x, context, finite: bool = True):
        x = self.likelihood.check_support(_validation.checked_input(
            x, self.event_shape, "x", finite, dtype=self.vae_dtype), "x", finite)
        if _validation.require_context(context, self.context_shape, "this VAE"):
            context = _validation.assert_context_batch(
                x, len(self.event_shape), self._checked_context(context))
        return x, context

    def check_inputs(self, x, context=None, finite: bool = True) -> None:
        """Checks data as every call does (shape, the likelihood's support, context)."""
        self._checked(x, context, finite)

    def _checked_context(self, context):
        return _validation.checked_input(context, self.context_shape, "context",
                                         dtype=self.vae_dtype)

    def _features(self, x, context):
        return self.encoder(x if context is None else [x, context])

    def _encode_base(self, x):
        return self.posterior.base(self.encoder(tf.cast(x, self.vae_dtype)))

    def _decoded(self, z, context) -> tfd.Distribution:
        """``p(x|z)`` for codes ``z`` ``[N, code]`` (and context ``[N, C]``): batch ``[N]``."""
        return self.likelihood(self.decoder(z if context is None else [z, context]))

    def features(self, x, context=None) -> Any:
        """The encoder's output for ``x`` (and ``context``): what the posterior reads."""
        x, context = self._checked(x, context)
        return self._features(x, context)

    def encode(self, x, context=None) -> tfd.Distribution:
        """``q(z|x)``: batch ``[B]``, event ``[L]`` (categorical: one-hot ``[L, K]``)."""
        x, context = self._checked(x, context)
        return self.posterior(self._features(x, context))

    def decode(self, z, context=None) -> tfd.Distribution:
        """``p(x|z)`` for codes ``z`` ``[..., code_size]``: batch ``[...]``, event = the data's.

        Categorical latents also take the one-hot form ``[..., L, K]`` that
        ``encode(x).sample()`` and ``prior`` draws have, so
        ``decode(encode(x).sample())`` works for every posterior.
        """
        z = self._flat_code(z)
        z = _validation.checked_input(z, (self.posterior.code_size,), "z", finite=False,
                                      dtype=self.vae_dtype)
        lead = tf.shape(z)[:-1]
        flat_context = None
        if _validation.require_context(context, self.context_shape, "this VAE"):
            context = self._checked_context(context)
            flat_context = tf.reshape(tf.broadcast_to(context, tf.concat(
                [lead, self.context_shape], 0)), [-1, *self.context_shape])
        dist = self._decoded(tf.reshape(z, [-1, self.posterior.code_size]), flat_context)
        if z.shape.rank == 2:
            return dist
        return tfd.BatchReshape(dist, lead)

    def _flat_code(self, z):
        """A categorical code ``[..., L, K]`` as the decoder's ``[..., L * K]``."""
        classes = getattr(self.posterior, "num_classes", None)
        shape = getattr(z, "shape", np.shape(z))
        if (classes and len(shape) >= 2 and tuple(shape[-2:]) == (self.latent_dim, classes)
                and (len(shape) >= 3 or self.latent_dim > 1)):
            z = _validation.as_float_tensor(z, "z", self.vae_dtype)
            return tf.reshape(z, tf.concat([tf.shape(z)[:-2], [self.latent_dim * classes]], 0))
        return z

    def log_px_z(self, x, z, context=None) -> tf.Tensor:
        """``log p(x|z_s)`` ``[S, B]`` for codes ``z`` ``[S, B, code]``, ``x`` ``[B, ...]``
        and context ``[B, C]`` (no input checks: the bounds' building block)."""
        x = tf.cast(x, self.vae_dtype)
        s, b = tf.shape(z)[0], tf.shape(z)[1]
        if context is not None:
            context = tf.reshape(tf.broadcast_to(context, tf.concat(
                [[s], tf.shape(context)], 0)), [-1, *self.context_shape])
        dist = self._decoded(tf.reshape(z, [-1, self.posterior.code_size]), context)
        x_tiled = tf.reshape(tf.broadcast_to(x, tf.concat([[s], tf.shape(x)], 0)),
                             tf.concat([[-1], self.event_shape], 0))
        # NaN was refused by the callers' input check, except in training, where it is
        # left to the non-finite policy.
        x_tiled = self.likelihood.check_distribution_support(dist, x_tiled, finite=False)
        return tf.reshape(dist.log_prob(x_tiled), [s, b])

    def _problem(self, x, context, beta, features, exact_kl: bool = True) -> E.Problem:
        """What an estimator needs for the batch, as callables and tensors."""
        inputs = tf.reshape(x, [tf.shape(x)[0], -1])
        if context is not None:
            inputs = tf.concat([inputs, tf.cast(context, inputs.dtype)], -1)
        step = self.optimizer.iterations if self.optimizer is not None else 0
        return E.Problem(self.posterior, features,
                         lambda z: self.log_px_z(x, z, context), self.prior.log_prob,
                         beta, exact_kl, inputs, step)

    # -- bounds ---------------------------------------------------------------------
    def terms(self, x: TensorLike, num_samples: int = 1, context: TensorLike | None = None,
              seed=None) -> Terms:
        """The batch's :class:`Terms` with ``num_samples`` draws of ``z`` (discrete
        latents: exact discrete draws). ``seed``: a stateless seed."""
        num_samples = _validation.positive_int_arg(num_samples, "num_samples")
        x, context = self._checked(x, context)
        return self._terms(x, context, num_samples, seed)

    def _terms(self, x, context, num_samples, seed=None) -> Terms:
        features = self._features(x, context)
        draws = E.exact_draws(self._problem(x, context, 1.0, features), num_samples, seed)
        closed = self.posterior.kl_divergence(features, self.prior)
        kl, kl_dims = bounds.kl_terms(closed, draws.log_q, draws.log_p_z)
        return Terms(draws.z, draws.log_px_z, draws.log_p_z, draws.log_q, kl, kl_dims,
                     features)

    def elbo(self, x, num_samples: int = 1, bits_per_dim: bool = False, seed=None,
             context=None) -> tf.Tensor:
        """Per-example ELBO in nats (``bits_per_dim=True``: ``-ELBO / (D log 2)``).

        ``seed`` (a stateless seed, shape-[2] int tensor) fixes the draws of ``z``.
        """
        elbo = self.terms(x, num_samples, context, seed).elbo
        return _bits_per_dim(elbo, self.num_dims) if bits_per_dim else elbo

    def log_likelihood(self, x, num_samples: int = 1000, chunk_size: int = 100,
                       bits_per_dim: bool = False, seed=None, context=None) -> tf.Tensor:
        """Importance-weighted estimate of ``log p(x)`` per example (nats).

        ``log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)``, ``z_k ~ q(z|x)``, computed
        ``chunk_size`` samples at a time with a running log-sum-exp, so memory
        is that of ``chunk_size`` samples whatever ``K`` (5000 is fine).
        ``seed`` (stateless) fixes the draws.
        """
        num_samples = _validation.positive_int_arg(num_samples, "num_samples")
        chunk_size = _validation.positive_int_arg(chunk_size, "chunk_size")
        x, context = self._checked(x, context)
        num_chunks = -(-num_samples // chunk_size)
        seeds = ([None] * num_chunks if seed is None
                 else tfp.random.split_seed(seed, n=num_chunks))
        total = None
        done = 0
        for chunk_seed in seeds:
            k = min(chunk_size, num_samples - done)
            lse = self._chunk_logsumexp(x, context, k, chunk_seed)
            total = lse if total is None else tf.reduce_logsumexp(tf.stack([total, lse]), 0)
            done += k
        log_px = total - math.log(num_samples)
        return _bits_per_dim(log_px, self.num_dims) if bits_per_dim else log_px

    @tf.function(reduce_retracing=True)
    def _chunk_logsumexp(self, x, context, k, seed=None):
        return tf.reduce_logsumexp(self._terms(x, context, k, seed).log_weights, axis=0)

    def diagnostics(self, x: TensorLike, num_samples: int = 16,
                    threshold: float = ACTIVE_THRESHOLD, context: TensorLike | None = None
                    ) -> dict:
        """Active units, KL per latent and mutual information I(x; z) under q
        (see :mod:`tfp_genmodels.vae.diagnostics`); one pass of the encoder."""
        terms = self.terms(x, num_samples, context)
        return collapse_diagnostics(self.posterior, terms, num_samples=num_samples,
                                    threshold=threshold)

    # -- generation ------------------------------------------------------------------
    def sample(self, n: int, mean: bool = False, seed=None, context=None) -> tf.Tensor:
        """``z ~ p(z)``, then ``x ~ p(x|z)`` (or the decoder's mean with ``mean=True``).

        A conditional VAE takes ``context`` ``[C]`` (for every sample) or ``[n, C]``.
        """
        n = _validation.positive_int_arg(n, "n")
        if context is not None and self.context_shape is not None:
            context = self._checked_context(context)
            if context.shape.rank == 1:
                context = tf.broadcast_to(context, [n, *self.context_shape])
        dist = self.decode(self.prior.sample(n, seed=seed), context)
        return distribution_mean(dist) if mean else dist.sample(seed=seed)

    def reconstruct(self, x, seed=None, context=None) -> tf.Tensor:
        """The decoder's mean at the posterior mean of ``z`` (discrete latents: its
        mode; ``seed``: for the Monte Carlo mean of a flow posterior)."""
        x, context = self._checked(x, context)
        z = self.posterior.point(self._features(x, context), seed=seed)
        return distribution_mean(self.decode(z, context))

    def interpolate(self, x1, x2, steps: int = 8, context=None) -> tf.Tensor:
        """Decoder means along the straight line between the posterior means of two
        examples (continuous latents; a conditional VAE takes one ``context`` ``[C]``)."""
        if self.posterior.is_discrete:
            raise ValueError("`interpolate` needs continuous latents; a discrete code has no "
                             "straight line between two examples (decode chosen codes instead).")
        steps = _validation.positive_int_arg(steps, "steps")
        pair_context = None if context is None else tf.stack([context, context])
        x, pair_context = self._checked(tf.stack([x1, x2]), pair_context)
        z = self.posterior.mean(self._features(x, pair_context))
        t = tf.cast(tf.linspace(0.0, 1.0, steps)[:, None], self.vae_dtype)
        path_context = None if context is None else tf.broadcast_to(
            tf.cast(context, self.vae_dtype), [steps, *self.context_shape])
        return distribution_mean(self.decode((1.0 - t) * z[0] + t * z[1], path_context))
