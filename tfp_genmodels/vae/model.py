"""The VAE: a Keras model whose loss is the negative (beta-weighted) ELBO.

With encoder ``q(z|x)``, decoder ``p(x|z)`` and prior ``p(z)``::

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

The KL is analytic (``tfd.kl_divergence``, as ``tfp.layers``'
``KLDivergenceRegularizer`` does with ``use_exact_kl=True``) when the
posterior is Gaussian and the prior standard normal, and otherwise the
Monte Carlo estimate ``log q(z|x) - log p(z)`` at the same reparameterised
samples (the regulariser's ``use_exact_kl=False`` form). It is computed
once per step inside ``train_step``, never also added through
``layer.losses``, so it cannot be counted twice (tensorflow/probability#1215).

Training objective (``loss``): ``reconstruction + beta_t * KL_term``, where
``beta_t`` is ``beta`` annealed linearly from 0 over ``kl_warmup_steps``,
and ``KL_term`` applies free bits (Kingma et al., 2016): per latent
dimension, ``sum_i max(lambda, E_batch KL_i)`` (on the total, with floor
``lambda * L``, when per-dimension KLs are not defined). With
``objective="iwae"`` the loss is the negative importance-weighted bound
with ``num_samples`` samples (Burda et al., 2016)::

    log p(x) >= E[log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)]

which tightens as ``K`` grows. Logged: ``loss``, ``reconstruction``
(``E_q[-log p(x|z)]``), ``kl`` (the true KL, before beta, warm-up or free
bits) and ``elbo``.
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
from tfp_genmodels.vae.diagnostics import ACTIVE_THRESHOLD, collapse_diagnostics
from tfp_genmodels.vae.likelihoods import Likelihood, distribution_mean
from tfp_genmodels.vae.posteriors import Posterior
from tfp_genmodels.vae.priors import Prior

tfd = tfp.distributions



@_saving.register
class VAE(_saving.SavesAllVariables, _training.CheckedModel, keras.Model):
    """Variational autoencoder with ``tfp.layers`` posterior heads (module docstring).

    Args:
      latent_dim: ``L``.
      encoder: Keras network ``x -> features`` (the VAE adds the posterior head).
      decoder: Keras network ``z -> features`` (the VAE adds the likelihood head,
        unless ``likelihood`` is a callable).
      likelihood: ``"bernoulli"``, ``"gaussian"``, ``"categorical"`` or a callable
        ``decoder output -> tfd.Distribution`` over ``x``.
      posterior: ``"diagonal"``, ``"full"``, ``"iaf"`` or ``"planar"``.
      prior: ``"normal"``, ``"mixture"``, ``"vamp"`` or ``"flow"``.
      beta: weight of the KL term (beta-VAE).
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

    Saving: ``model.save("vae.keras")`` and ``tf_keras.models.load_model``
    restore the model with its encoder, decoder, weights and optimizer
    state (a callable ``likelihood`` must then be a Keras-serialisable
    function, e.g. registered with ``register_keras_serializable``). For
    TF Serving see :func:`tfp_genmodels.export.save_for_serving`.
    """

    def __init__(self, latent_dim: int, encoder: keras.layers.Layer,
                 decoder: keras.layers.Layer, likelihood: str | Callable = "bernoulli",
                 posterior: str = "diagonal", prior: str = "normal", beta: float = 1.0,
                 kl_warmup_steps: int = 0, free_bits: float = 0.0, objective: str = "elbo",
                 num_samples: int = 1, event_shape: Sequence[int] | None = None,
                 pixel_levels: int | None = None, likelihood_scale: str | float = "learned",
                 num_flow_steps: int = 4, num_components: int = 10,
                 name: str | None = "vae", **kwargs: Any):
        pixel_levels = _args.renamed_arg(kwargs, "num_levels", "pixel_levels", pixel_levels,
                                         "VAE")
        super().__init__(name=name, **kwargs)
        self.latent_dim = _validation.positive_int_arg(latent_dim, "latent_dim")
        for arg, net in (("encoder", encoder), ("decoder", decoder)):
            _keras.refuse_keras3(net, arg)
            if not callable(net):
                raise TypeError(f"`{arg}` must be a Keras network (callable); got "
                                f"{type(net).__name__}.")
        _keras.refuse_keras3(likelihood, "likelihood")
        self.encoder, self.decoder = encoder, decoder
        self.event_shape = self._event_shape(event_shape, encoder)
        self.num_dims = int(np.prod(self.event_shape))
        self.beta = _validation.nonnegative_float_arg(beta, "beta")
        self.kl_warmup_steps = _validation.nonnegative_int_arg(
            kl_warmup_steps, "kl_warmup_steps")
        self.free_bits = _validation.nonnegative_float_arg(free_bits, "free_bits")
        if objective not in OBJECTIVES:
            raise ValueError(f"`objective` must be one of {OBJECTIVES}; got {objective!r}.")
        self.objective = objective
        self.num_samples = _validation.positive_int_arg(num_samples, "num_samples")
        self.posterior = Posterior(posterior, self.latent_dim, num_flow_steps=num_flow_steps,
                                   name="posterior")
        self.likelihood = Likelihood(likelihood, self.event_shape, pixel_levels=pixel_levels,
                                     scale=likelihood_scale, name="likelihood")
        self.prior = Prior(prior, self.latent_dim, num_components=num_components,
                           event_shape=self.event_shape, encode_base=self._encode_base,
                           name="prior")
        self._config = {"latent_dim": latent_dim, "likelihood": likelihood,
                        "posterior": posterior, "prior": prior, "beta": beta,
                        "kl_warmup_steps": kl_warmup_steps, "free_bits": free_bits,
                        "objective": objective, "num_samples": num_samples,
                        "event_shape": self.event_shape, "pixel_levels": pixel_levels,
                        "likelihood_scale": likelihood_scale,
                        "num_flow_steps": num_flow_steps, "num_components": num_components}
        self.trackers = {k: keras.metrics.Mean(name=k)
                         for k in ("loss", "reconstruction", "kl", "elbo")}
        self._pseudo_inputs_set = tf.Variable(False, trainable=False, name="pseudo_inputs_set")
        self._create_skip_counter()
        # Build every layer now (variables exist before fit, save and load).
        self.elbo(tf.zeros([1, *self.event_shape]))
        self.built = True

    @staticmethod
    def _event_shape(event_shape, encoder) -> tuple[int, ...]:
        if event_shape is not None:
            return _validation.event_shape_arg(event_shape)
        shape = getattr(encoder, "input_shape", None)
        if shape is None or isinstance(shape, list) or None in tuple(shape)[1:]:
            raise ValueError("`event_shape` is required when the encoder has no known input "
                             f"shape (give it an Input layer); got encoder input shape {shape}.")
        return tuple(int(d) for d in tuple(shape)[1:])

    # -- the model's pieces ---------------------------------------------------------
    def _features(self, x, finite: bool = True):
        return self.encoder(_validation.checked_input(x, self.event_shape, "x", finite))

    def _encode_base(self, x):
        return self.posterior.base(self.encoder(tf.cast(x, tf.float32)))

    def encode(self, x) -> tfd.Distribution:
        """``q(z|x)``: batch ``[B]``, event ``[L]``."""
        return self.posterior(self._features(x))

    def decode(self, z) -> tfd.Distribution:
        """``p(x|z)`` for ``z`` of shape ``[..., L]``: batch ``[...]``, event = the data's."""
        z = _validation.checked_input(z, (self.latent_dim,), "z", finite=False)
        lead = tf.shape(z)[:-1]
        dist = self.likelihood(self.decoder(tf.reshape(z, [-1, self.latent_dim])))
        if z.shape.rank == 2:
            return dist
        return tfd.BatchReshape(dist, lead)

    def _log_px(self, x, z):
        """``log p(x|z_s)`` for ``z`` ``[S, B, L]`` and ``x`` ``[B, ...]``: ``[S, B]``."""
        x = tf.cast(x, tf.float32)
        s, b = tf.shape(z)[0], tf.shape(z)[1]
        dist = self.likelihood(self.decoder(tf.reshape(z, [-1, self.latent_dim])))
        x_tiled = tf.reshape(tf.broadcast_to(x, tf.concat([[s], tf.shape(x)], 0)),
                             tf.concat([[-1], self.event_shape], 0))
        return tf.reshape(dist.log_prob(x_tiled), [s, b])

    # -- bounds ---------------------------------------------------------------------
    def _terms(self, x, num_samples: int, seed=None, finite: bool = True):
        """Per-example pieces with ``S`` samples: log p(x|z), log p(z), log q(z|x) [S, B],
        the true KL [B] and per-dimension KLs [B, L] (or None)."""
        features = self._features(x, finite)
        z, log_q = self.posterior.sample_and_log_prob(features, num_samples, seed=seed)
        log_px = self._log_px(x, z)
        log_pz = self.prior.log_prob(z)
        kl_dims = None
        if self.posterior.is_gaussian and self.prior.is_standard_normal:
            q = self.posterior.base(features)
            if self.posterior.kind == "diagonal":
                kl_dims = tfd.kl_divergence(q.distribution,
                                            tfd.Normal(tf.zeros([]), tf.ones([])))
                kl = tf.reduce_sum(kl_dims, axis=-1)
            else:
                kl = tfd.kl_divergence(q, self.prior.distribution())
        else:
            kl = tf.reduce_mean(log_q - log_pz, axis=0)
        return log_px, log_pz, log_q, kl, kl_dims

    def elbo(self, x, num_samples: int = 1, bits_per_dim: bool = False,
             seed=None) -> tf.Tensor:
        """Per-example ELBO in nats (``bits_per_dim=True``: ``-ELBO / (D log 2)``).

        ``seed`` (a stateless seed, shape-[2] int tensor) fixes the draws of ``z``.
        """
        log_px, _, _, kl, _ = self._terms(x, num_samples, seed)
        elbo = tf.reduce_mean(log_px, axis=0) - kl
        return _bits_per_dim(elbo, self.num_dims) if bits_per_dim else elbo

    def log_likelihood(self, x, num_samples: int = 1000, chunk_size: int = 100,
                       bits_per_dim: bool = False, seed=None) -> tf.Tensor:
        """Importance-weighted estimate of ``log p(x)`` per example (nats).

        ``log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)``, ``z_k ~ q(z|x)``, computed
        ``chunk_size`` samples at a time with a running log-sum-exp, so memory
        is that of ``chunk_size`` samples whatever ``K`` (5000 is fine).
        ``seed`` (stateless) fixes the draws.
        """
        num_samples = _validation.positive_int_arg(num_samples, "num_samples")
        chunk_size = _validation.positive_int_arg(chunk_size, "chunk_size")
        x = _validation.checked_input(x, self.event_shape, "x")
        num_chunks = -(-num_samples // chunk_size)
        seeds = ([None] * num_chunks if seed is None
                 else tfp.random.split_seed(seed, n=num_chunks))
        total = None
        done = 0
        for chunk_seed in seeds:
            k = min(chunk_size, num_samples - done)
            lse = self._chunk_logsumexp(x, k, chunk_seed)
            total = lse if total is None else tf.reduce_logsumexp(tf.stack([total, lse]), 0)
            done += k
        log_px = total - math.log(num_samples)
        return _bits_per_dim(log_px, self.num_dims) if bits_per_dim else log_px

    @tf.function(reduce_retracing=True)
    def _chunk_logsumexp(self, x, k, seed=None):
        log_px, log_pz, log_q, _, _ = self._terms(x, k, seed)
        return tf.reduce_logsumexp(log_px + log_pz - log_q, axis=0)

    def diagnostics(self, x: TensorLike, num_samples: int = 16,
                    threshold: float = ACTIVE_THRESHOLD) -> dict:
        """Active units, KL per dimension and mutual information I(x; z) under q
        (see :mod:`tfp_genmodels.vae.diagnostics`)."""
        x = tf.convert_to_tensor(x, tf.float32)
        kl = tf.reduce_mean(self._terms(x, num_samples)[3])
        return collapse_diagnostics(self.posterior, self.prior, self._features(x), kl,
                                    num_samples=num_samples, threshold=threshold)

    # -- generation ------------------------------------------------------------------
    def sample(self, n: int, mean: bool = False, seed=None) -> tf.Tensor:
        """``z ~ p(z)``, then ``x ~ p(x|z)`` (or the decoder's mean with ``mean=True``)."""
        n = _validation.positive_int_arg(n, "n")
        dist = self.decode(self.prior.sample(n, seed=seed))
        return distribution_mean(dist) if mean else dist.sample(seed=seed)

    def reconstruct(self, x, seed=None) -> tf.Tensor:
        """The decoder's mean at the posterior mean of ``z`` (``seed``: for the Monte
        Carlo mean of a flow posterior)."""
        return distribution_mean(self.decode(self.posterior.mean(self._features(x),
                                                                 seed=seed)))

    def interpolate(self, x1, x2, steps: int = 8) -> tf.Tensor:
        """Decoder means along the straight line between the posterior means of two examples."""
        steps = _validation.positive_int_arg(steps, "steps")
        z = self.posterior.mean(self._features(tf.stack([x1, x2])))
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        return distribution_mean(self.decode((1.0 - t) * z[0] + t * z[1]))

    # -- Keras -------------------------------------------------------------------------
    def call(self, inputs, training=None) -> tf.Tensor:
        return self.elbo(inputs)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def current_beta(self) -> tf.Tensor:
        """``beta_t``: ``beta`` times the warm-up factor ``min(1, step / warmup)``."""
        if not self.kl_warmup_steps:
            return tf.constant(self.beta)
        step = tf.cast(self.optimizer.iterations, tf.float32)
        return self.beta * tf.minimum(1.0, step / float(self.kl_warmup_steps))

    def _loss_and_metrics(self, x, beta, sample_weight=None, finite: bool = True):
        """The batch loss and logged values; ``sample_weight`` weights examples
        (``sum(w * value) / sum(w)``)."""
        log_px, log_pz, log_q, kl, kl_dims = self._terms(x, self.num_samples, finite=finite)
        mean = lambda v: _training.weighted_mean(v, sample_weight)  # noqa: E731
        reconstruction = -tf.reduce_mean(log_px, axis=0)          # [B]
        if self.objective == "iwae":
            log_w = log_px + beta * (log_pz - log_q)
            bound = tfp.math.reduce_logmeanexp(log_w, axis=0)
            loss = -mean(bound)
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
        return loss, values

    def _update(self, values, size):
        # Each batch mean counts by its size (its total weight), so an epoch's figure is
        # the mean over examples even when the last batch is smaller (or replicas'
        # shares differ).
        for key, value in values.items():
            self.trackers[key].update_state(value, sample_weight=size)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            # Non-finite data is left to the non-finite policy (raise or skip).
            loss, values = self._loss_and_metrics(x, self.current_beta(), sample_weight,
                                                  finite=False)
        applied = _training.checked_gradient_step(self, tape, loss)
        return self._update(*_training.only_if(
            applied, values, _training.batch_weight(x, sample_weight)))

    def test_step(self, data) -> dict[str, tf.Tensor]:
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        _, values = self._loss_and_metrics(x, tf.constant(self.beta), sample_weight)
        return self._update(values, _training.batch_weight(x, sample_weight))

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs) -> keras.callbacks.History:
        """``keras.Model.fit``; a bare-array ``validation_data`` is accepted, and the
        VampPrior's pseudo-inputs start from the first training examples.

        ``sample_weight`` weights the examples' bounds (``sum(w * ELBO) / sum(w)``);
        non-finite losses follow ``compile(on_nonfinite=...)``.
        """
        if (self.prior.kind == "vamp" and isinstance(x, np.ndarray)
                and not bool(self._pseudo_inputs_set.numpy())):
            k = self.prior.num_components
            rows = np.resize(np.arange(len(x)), k)
            self.prior.pseudo_inputs.assign(np.asarray(x[rows], np.float32))
            self._pseudo_inputs_set.assign(True)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def get_config(self) -> dict:
        config = dict(self._config)
        if callable(config["likelihood"]):
            try:
                config["likelihood"] = keras.saving.serialize_keras_object(
                    config["likelihood"])
            except Exception as error:  # Keras raises several types here
                raise TypeError(f"`likelihood` {config['likelihood']!r} cannot be saved in a "
                                "Keras config; register it with "
                                "keras.saving.register_keras_serializable.") from error
        return {**config, "name": self.name,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> VAE:
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        if isinstance(config["likelihood"], dict):
            config["likelihood"] = keras.saving.deserialize_keras_object(
                config["likelihood"], custom_objects=custom_objects)
        return cls(**config)
