"""The VAE: a Keras model whose loss is the negative (beta-weighted) ELBO.

With encoder ``q(z|x)``, decoder ``p(x|z)`` and prior ``p(z)``::

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

The KL is in closed form when the posterior and prior have one
(``Posterior.kl_divergence``: a Gaussian posterior and the standard normal
prior, as ``tfp.layers``' ``KLDivergenceRegularizer`` with
``use_exact_kl=True``; a discrete posterior and its categorical prior), and
otherwise the Monte Carlo estimate ``log q(z|x) - log p(z)`` at the same
samples (the regulariser's ``use_exact_kl=False`` form). It is computed once
per step inside ``train_step``, never also added through ``layer.losses``, so
it cannot be counted twice (tensorflow/probability#1215): an encoder with a
``KLDivergenceRegularizer`` (TFP's tutorial) lends the VAE its prior and its
weight as ``beta`` instead (:mod:`tfp_genmodels.vae.heads`).

Training objective (``loss``): ``reconstruction + beta_t * KL_term``, where
``beta_t`` is ``beta`` annealed linearly from 0 over ``kl_warmup_steps``,
and ``KL_term`` applies free bits (Kingma et al., 2016): per latent
dimension, ``sum_i max(lambda, E_batch KL_i)`` (on the total, with floor
``lambda * L``, when per-dimension KLs are not defined). With
``objective="iwae"`` the loss is the negative importance-weighted bound
with ``num_samples`` samples (Burda et al., 2016)::

    log p(x) >= E[log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)]

which tightens as ``K`` grows. Discrete latents (``posterior="categorical"``
or ``"bernoulli"``) train with a gradient estimator
(:mod:`tfp_genmodels.vae.estimators`); every bound the model reports
(``elbo``, ``log_likelihood``, ``evaluate``, the export) uses the discrete
model. Logged: ``loss``, ``reconstruction`` (``E_q[-log p(x|z)]``), ``kl``
(the true KL, before beta, warm-up or free bits) and ``elbo``.

A conditional VAE (``context_shape=(C,)``) feeds ``[x, c]`` to the encoder and
``[z, c]`` to the decoder (both two-input Keras networks).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _keras, _saving, _training, _validation
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import OBJECTIVES
from tfp_genmodels._validation import TensorLike
from tfp_genmodels.bijectors.dequantize import bits_per_dim as _bits_per_dim
from tfp_genmodels.vae import heads
from tfp_genmodels.vae.diagnostics import ACTIVE_THRESHOLD, collapse_diagnostics
from tfp_genmodels.vae.estimators import make_estimator
from tfp_genmodels.vae.likelihoods import (
    DistributionLayerLikelihood,
    Likelihood,
    distribution_mean,
    make_likelihood,
)
from tfp_genmodels.vae.parts import make_posterior
from tfp_genmodels.vae.posteriors import DistributionLayerPosterior, Posterior
from tfp_genmodels.vae.priors import (
    DistributionPrior,
    Prior,
    StandardNormalPrior,
    is_standard_normal,
    make_prior,
)

tfd = tfp.distributions


class Terms(NamedTuple):
    """A batch's per-example pieces of the bounds, with ``S`` samples ``z_s ~ q(z|x)``.

    Attributes:
      z: the codes ``[S, B, code_size]``.
      log_px_z: ``log p(x|z_s)`` ``[S, B]``.
      log_p_z: ``log p(z_s)`` ``[S, B]``.
      log_q: ``log q(z_s|x)`` ``[S, B]``.
      kl: ``KL(q(z|x) || p(z))`` ``[B]`` (closed form, else the Monte Carlo mean).
      kl_per_latent: ``[B, L]`` when the KL factorises in closed form, else ``None``.
      features: the encoder's output (a distribution for a ``tfp.layers`` encoder).
    """

    z: tf.Tensor
    log_px_z: tf.Tensor
    log_p_z: tf.Tensor
    log_q: tf.Tensor
    kl: tf.Tensor
    kl_per_latent: tf.Tensor | None
    features: Any

    @property
    def elbo(self) -> tf.Tensor:
        """``E_q[log p(x|z)] - KL`` per example ``[B]``."""
        return tf.reduce_mean(self.log_px_z, axis=0) - self.kl

    @property
    def log_weights(self) -> tf.Tensor:
        """``log p(x|z_s) + log p(z_s) - log q(z_s|x)`` ``[S, B]`` (IWAE)."""
        return self.log_px_z + self.log_p_z - self.log_q


@contextlib.contextmanager
def _without_head_lambda_warnings(*nets) -> Iterator[None]:
    """Runs the block without Keras' "lambda ... safe_mode=False" warnings about the
    trailing ``tfp.layers`` distribution layers of ``nets``: their lambdas are not what
    a ``.keras`` file holds (``heads.portable_config`` writes a ``DistributionHead`` in
    their place), so those warnings would be wrong. Every other warning (a user's own
    ``Lambda`` layer) is kept."""
    markers = [f"{type(layer).__name__}.new(" for layer in map(heads.distribution_layer, nets)
               if layer is not None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if not any(marker in str(warning.message) for marker in markers):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def _serialized_part(part) -> Any:
    """A name stays a name; an instance becomes its Keras config."""
    if isinstance(part, str) or part is None:
        return part
    try:
        return keras.saving.serialize_keras_object(part)
    except Exception as error:  # Keras raises several types here
        raise TypeError(f"{part!r} cannot be saved in a Keras config; give it a get_config "
                        "and register it with keras.saving.register_keras_serializable.") from error


@_saving.register
class VAE(_saving.SavesAllVariables, _training.CheckedModel, keras.Model):
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
        :class:`~tfp_genmodels.vae.likelihoods.Likelihood` or a callable
        ``decoder output -> tfd.Distribution`` over ``x``.
      posterior: ``"diagonal"`` (default), ``"full"``, ``"iaf"``, ``"planar"``,
        ``"categorical"``, ``"bernoulli"`` or a
        :class:`~tfp_genmodels.vae.posteriors.Posterior`.
      prior: ``"normal"`` (default for continuous latents), ``"mixture"``,
        ``"vamp"``, ``"flow"``, ``"uniform"`` (default for discrete latents),
        ``"learned"`` or a :class:`~tfp_genmodels.vae.priors.Prior`.
      beta: weight of the KL term (beta-VAE); default 1, or the encoder's
        ``KLDivergenceRegularizer`` weight.
      kl_warmup_steps: anneal beta linearly from 0 over this many steps.
      free_bits: ``lambda`` nats per latent dimension.
      objective: ``"elbo"`` or ``"iwae"``.
      num_samples: samples of ``z`` per example in training (``K`` for IWAE).
      event_shape: shape of one ``x`` (default: the encoder's input shape).
      pixel_levels: ``K`` levels for the categorical likelihood (the name the
        flows use for it; ``num_levels`` is its deprecated name).
      likelihood_scale: ``"learned"`` or a fixed float (Gaussian likelihood).
      num_flow_steps: steps of an IAF / planar posterior.
      num_components: mixture components / VampPrior pseudo-inputs.
      num_classes: ``K`` classes of each categorical latent.
      estimator: the discrete latents' gradient estimator: ``"reinforce"``
        (default with ``objective="elbo"``), ``"gumbel_softmax"``,
        ``"straight_through"``, ``"vimco"`` (default with ``"iwae"``) or
        ``"disarm"`` (Bernoulli).
      temperature: the relaxed estimators' initial temperature ``tau_0``.
      temperature_decay: ``r`` in ``tau_t = max(min_temperature, tau_0 exp(-r t))``.
      min_temperature: the annealed temperature's floor.
      context_shape: ``(C,)`` for a conditional VAE.
      name: the Keras model name.
      **kwargs: Keras model arguments.

    Saving: ``model.save("vae.keras")`` and ``tf_keras.models.load_model``
    restore the model with its encoder, decoder, parts, weights and optimizer
    state (a callable ``likelihood`` or a part of your own must be
    Keras-serialisable, e.g. registered with ``register_keras_serializable``).
    For TF Serving see :func:`tfp_genmodels.export.save_for_serving`.
    """

    def __init__(self, latent_dim: int, encoder: keras.layers.Layer,
                 decoder: keras.layers.Layer, likelihood: str | Callable | Likelihood | None = None,
                 posterior: str | Posterior | None = None, prior: str | Prior | None = None,
                 beta: float | None = None, kl_warmup_steps: int = 0, free_bits: float = 0.0,
                 objective: str = "elbo", num_samples: int = 1,
                 event_shape: Sequence[int] | None = None, pixel_levels: int | None = None,
                 likelihood_scale: str | float = "learned", num_flow_steps: int = 4,
                 num_components: int = 10, num_classes: int | None = None,
                 estimator: str | None = None, temperature: float = 1.0,
                 temperature_decay: float = 5e-3, min_temperature: float = 0.1,
                 context_shape: Sequence[int] | None = None, name: str | None = "vae",
                 **kwargs: Any):
        pixel_levels = _args.renamed_arg(kwargs, "num_levels", "pixel_levels", pixel_levels,
                                         "VAE")
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
            self.event_shape = self._event_shape(event_shape, encoder)
            self.num_dims = int(np.prod(self.event_shape))
            self.kl_warmup_steps = _validation.nonnegative_int_arg(
                kl_warmup_steps, "kl_warmup_steps")
            self.free_bits = _validation.nonnegative_float_arg(free_bits, "free_bits")
            if objective not in OBJECTIVES:
                raise ValueError(f"`objective` must be one of {OBJECTIVES}; got {objective!r}.")
            self.objective = objective
            self.num_samples = _validation.positive_int_arg(num_samples, "num_samples")

            # q(z|x): the encoder's own distribution layer, or a head on its features.
            self._event_shapes: dict[str, tuple[int, ...]] = {}
            encoder_head = heads.distribution_layer(encoder)
            regularizer = heads.kl_regularizer(encoder_head) if encoder_head is not None else None
            if encoder_head is not None:
                if posterior is not None:
                    raise ValueError(f"the encoder ends in a {type(encoder_head).__name__} layer, "
                                     "which is q(z|x) itself; leave `posterior` unset (or drop "
                                     "the encoder's distribution layer).")
                self.posterior = DistributionLayerPosterior(self.latent_dim, name="posterior")
            else:
                if num_classes is not None and posterior not in ("categorical", "bernoulli"):
                    raise ValueError("`num_classes` is for posterior='categorical'; got "
                                     f"posterior={posterior!r}.")
                if posterior == "categorical" and num_classes is None:
                    raise ValueError("posterior='categorical' needs `num_classes` (K classes "
                                     "for each of the `latent_dim` latents).")
                self.posterior = make_posterior("diagonal" if posterior is None else posterior,
                                                self.latent_dim, num_flow_steps=num_flow_steps,
                                                num_classes=num_classes or 2)
            # p(x|z): the decoder's own distribution layer, or a head on its features. (Made
            # before the prior: the saved variables' order is that of earlier versions.)
            if heads.distribution_layer(decoder) is not None:
                if likelihood is not None:
                    raise ValueError(f"the decoder ends in a "
                                     f"{type(heads.distribution_layer(decoder)).__name__} layer, "
                                     "which is p(x|z) itself; leave `likelihood` unset.")
                self.likelihood = DistributionLayerLikelihood(self.event_shape, name="likelihood")
            else:
                self.likelihood = make_likelihood(
                    "bernoulli" if likelihood is None else likelihood, self.event_shape,
                    pixel_levels=pixel_levels, scale=likelihood_scale)
            # p(z), beta: the regulariser's, if the encoder has one; else the arguments.
            prior_arg = prior
            if regularizer is not None:
                reg_prior, weight = heads.regularizer_prior_and_weight(regularizer)
                if prior is not None or (beta is not None and beta != weight):
                    raise ValueError("the encoder's KLDivergenceRegularizer already sets the prior "
                                     f"and beta (weight={weight}); leave `prior` and `beta` unset, "
                                     "or drop the regularizer and pass them to the VAE.")
                beta = weight
                prior = (StandardNormalPrior(self.latent_dim, name="prior")
                         if is_standard_normal(reg_prior, self.latent_dim)
                         else DistributionPrior(reg_prior, name="prior"))
            if prior is None:
                prior = "uniform" if self.posterior.is_discrete else "normal"
            self.beta = _validation.nonnegative_float_arg(1.0 if beta is None else beta, "beta")
            if prior == "vamp" and self.context_shape is not None:
                raise ValueError("the VampPrior has no context (its pseudo-inputs are x alone); "
                                 "a conditional VAE needs another `prior`.")
            self.prior = make_prior(prior, self.latent_dim, self.posterior,
                                    num_components=num_components, event_shape=self.event_shape,
                                    encode_base=self._encode_base)
            context_dim = 0 if self.context_shape is None else self.context_shape[0]
            self.estimator = make_estimator(estimator, self.posterior, objective, self.num_samples,
                                            input_dim=self.num_dims + context_dim,
                                            temperature=temperature,
                                            temperature_decay=temperature_decay,
                                            min_temperature=min_temperature)
            self._config = {"latent_dim": latent_dim, "likelihood": likelihood,
                            "posterior": posterior, "prior": prior_arg, "beta": self.beta,
                            "kl_warmup_steps": kl_warmup_steps, "free_bits": free_bits,
                            "objective": objective, "num_samples": num_samples,
                            "event_shape": self.event_shape, "pixel_levels": pixel_levels,
                            "likelihood_scale": likelihood_scale,
                            "num_flow_steps": num_flow_steps, "num_components": num_components,
                            "num_classes": num_classes, "estimator": estimator,
                            "temperature": temperature, "temperature_decay": temperature_decay,
                            "min_temperature": min_temperature,
                            "context_shape": self.context_shape}
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
            layer = heads.distribution_layer(network)
            if layer is not None:
                self._event_shapes[layer.name] = tuple(dist.event_shape)
        if self.estimator is not None:
            self.estimator.build(None)
            if self.estimator.relaxed and self.posterior.kl_divergence(
                    terms.features, self.prior) is None:
                raise ValueError("the relaxed estimators need a closed-form KL: a "
                                 "categorical / Bernoulli prior ('uniform' or 'learned').")

    @staticmethod
    def _event_shape(event_shape, encoder) -> tuple[int, ...]:
        if event_shape is not None:
            return _validation.event_shape_arg(event_shape)
        shape = getattr(encoder, "input_shape", None)
        if isinstance(shape, list) and shape:
            shape = shape[0]  # a conditional encoder's [x, c]
        if shape is None or None in tuple(shape)[1:]:
            raise ValueError("`event_shape` is required when the encoder has no known input "
                             f"shape (give it an Input layer); got encoder input shape {shape}.")
        return tuple(int(d) for d in tuple(shape)[1:])

    # -- the model's pieces ---------------------------------------------------------
    def _checked(self, x, context, finite: bool = True):
        x = self.likelihood.check_support(_validation.checked_input(
            x, self.event_shape, "x", finite, dtype=self.vae_dtype), "x", finite)
        if _validation.require_context(context, self.context_shape, "this VAE"):
            context = _validation.assert_context_batch(
                x, len(self.event_shape), self._checked_context(context))
        return x, context

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

    def _kl(self, features, log_q, log_p_z, closed=None):
        """``(KL [B], per latent or None)``: ``closed`` (the posterior's closed form,
        computed here when not given), else the Monte Carlo mean of ``log q - log p``."""
        if closed is None:
            closed = self.posterior.kl_divergence(features, self.prior)
        if closed is not None:
            return closed
        return tf.reduce_mean(log_q - log_p_z, axis=0), None

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
        z, log_q = self.posterior.sample_and_log_prob(features, num_samples, seed=seed)
        log_px = self.log_px_z(x, z, context)
        log_pz = self.prior.log_prob(z)
        kl, kl_dims = self._kl(features, log_q, log_pz)
        return Terms(z, log_px, log_pz, log_q, kl, kl_dims, features)

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

    # -- Keras -------------------------------------------------------------------------
    def call(self, inputs, training=None) -> tf.Tensor:
        x, context, _ = _training.unpack_context(inputs)
        return self.elbo(x, context=context)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def current_beta(self) -> tf.Tensor:
        """``beta_t``: ``beta`` times the warm-up factor ``min(1, step / warmup)``."""
        if not self.kl_warmup_steps:
            return tf.constant(self.beta, self.vae_dtype)
        step = tf.cast(self.optimizer.iterations, self.vae_dtype)
        return self.beta * tf.minimum(1.0, step / float(self.kl_warmup_steps))

    def _loss_and_metrics(self, x, context, beta, sample_weight=None, finite: bool = True,
                          training: bool = False):
        """The batch loss and logged values; ``sample_weight`` weights examples
        (``sum(w * value) / sum(w)``). Training with discrete latents goes through the
        estimator; evaluation always uses exact discrete draws."""
        x, context = self._checked(x, context, finite)
        mean = lambda v: _training.weighted_mean(v, sample_weight)  # noqa: E731
        surrogate = aux_loss = 0.0
        if training and self.estimator is not None:
            features = self._features(x, context)
            # The closed-form KL once per step: the estimator only needs to know it exists.
            closed = self.posterior.kl_divergence(features, self.prior)
            est = self.estimator.terms(self, x, context, features, self.num_samples, beta,
                                       exact_kl=closed is not None)
            log_px, log_pz, log_q = est.log_px_z, est.log_p_z, est.log_q
            kl, kl_dims = self._kl(features, log_q, log_pz, closed)
            surrogate, aux_loss = mean(est.surrogate), est.aux_loss
        else:
            t = self._terms(x, context, self.num_samples)
            log_px, log_pz, log_q, kl, kl_dims = t.log_px_z, t.log_p_z, t.log_q, t.kl, \
                t.kl_per_latent
        reconstruction = -tf.reduce_mean(log_px, axis=0)          # [B]
        if self.objective == "iwae":
            log_w = log_px + beta * (log_pz - log_q)
            loss = -mean(tfp.math.reduce_logmeanexp(log_w, axis=0))
        else:
            kl_term = mean(kl)
            if self.free_bits > 0.0:
                if kl_dims is not None:
                    kl_term = tf.reduce_sum(tf.maximum(self.free_bits, mean(kl_dims)))
                else:
                    kl_term = tf.maximum(self.free_bits * self.latent_dim, kl_term)
            loss = mean(reconstruction) + beta * kl_term
        values = {"loss": loss, "reconstruction": mean(reconstruction),
                  "kl": mean(kl), "elbo": -mean(reconstruction + kl)}
        return loss - surrogate + aux_loss, values

    def _update(self, values, size):
        # Each batch mean counts by its size (its total weight), so an epoch's figure is
        # the mean over examples even when the last batch is smaller (or replicas'
        # shares differ).
        for key, value in values.items():
            self.trackers[key].update_state(value, sample_weight=size)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        x, context, sample_weight = _training.unpack_context(data)
        with tf.GradientTape() as tape:
            # Non-finite data is left to the non-finite policy (raise or skip).
            loss, values = self._loss_and_metrics(x, context, self.current_beta(),
                                                  sample_weight, finite=False, training=True)
        applied = _training.checked_gradient_step(self, tape, loss)
        return self._update(*_training.only_if(
            applied, values, _training.batch_weight(x, sample_weight)))

    def test_step(self, data) -> dict[str, tf.Tensor]:
        x, context, sample_weight = _training.unpack_context(data)
        _, values = self._loss_and_metrics(x, context, tf.constant(self.beta, self.vae_dtype),
                                           sample_weight)
        return self._update(values, _training.batch_weight(x, sample_weight))

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs) -> keras.callbacks.History:
        """``keras.Model.fit``; a bare-array ``validation_data`` is accepted, and the
        VampPrior's pseudo-inputs start from the first training examples. A
        conditional VAE trains on ``fit((x, c))`` (or ``fit(x, c)``, or batches
        ``(x, c)`` of a ``tf.data.Dataset``).

        ``sample_weight`` weights the examples' bounds (``sum(w * ELBO) / sum(w)``);
        non-finite losses follow ``compile(on_nonfinite=...)``.
        """
        if (getattr(self.prior, "pseudo_inputs", None) is not None
                and isinstance(x, np.ndarray) and not bool(self._pseudo_inputs_set.numpy())):
            k = self.prior.num_components
            rows = np.resize(np.arange(len(x)), k)
            self.prior.pseudo_inputs.assign(
                np.asarray(x[rows], self.prior.pseudo_inputs.dtype.as_numpy_dtype))
            self._pseudo_inputs_set.assign(True)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def save(self, filepath, *args, **kwargs) -> None:
        """``keras.Model.save``, without Keras' misleading ``safe_mode`` warnings about the
        ``tfp.layers`` heads (see :meth:`get_config`); a ``Lambda`` layer of your own still
        warns, and needs ``load_model(..., safe_mode=False)``."""
        with _without_head_lambda_warnings(self.encoder, self.decoder):
            return super().save(filepath, *args, **kwargs)

    def get_config(self) -> dict:
        if isinstance(self.prior, DistributionPrior):
            raise TypeError("the encoder's KLDivergenceRegularizer has a prior other than "
                            "N(0, I), and a tfd.Distribution has no Keras config; pass the "
                            "prior as a tfp_genmodels.vae.Prior (`prior=`) instead.")
        config = dict(self._config)
        for key in ("likelihood", "posterior", "prior"):
            config[key] = _serialized_part(config[key])
        networks = {}
        for key in ("encoder", "decoder"):
            net = getattr(self, key)
            with _without_head_lambda_warnings(net):
                serialized = keras.saving.serialize_keras_object(net)
            networks[key] = heads.portable_config(net, serialized, self._event_shapes)
        return {**config, **networks, "name": self.name, "dtype": self.vae_dtype.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> VAE:
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        for key in ("likelihood", "posterior", "prior"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects)
        return cls(**config)

