"""The VAE's Keras side: its loss, ``train_step`` / ``test_step`` and ``fit``.

The loss is the negative (``beta``-weighted, warmed-up, free-bits) ELBO or
IWAE bound of :mod:`~tfp_genmodels.vae.bounds`; a training step draws ``z``
through the model's :class:`~tfp_genmodels.vae.estimators.Estimator` and adds
its surrogate (value 0, the encoder's gradient) and auxiliary loss; evaluation
uses exact draws. Logged: ``loss``, ``reconstruction`` (``E_q[-log p(x|z)]``),
``kl`` (the true KL, before beta, warm-up or free bits) and ``elbo``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_genmodels import _training
from tfp_genmodels._keras import keras
from tfp_genmodels.vae import bounds


class VAESteps:
    """Mixin (before ``keras.Model``) for :class:`~tfp_genmodels.vae.VAE`: the Keras steps."""

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
        (``sum(w * value) / sum(w)``). Training draws through the estimator;
        evaluation always uses exact draws."""
        x, context = self._checked(x, context, finite)
        mean = lambda v: _training.weighted_mean(v, sample_weight)  # noqa: E731
        surrogate = aux_loss = 0.0
        if training:
            # The closed-form KL once per step: the estimator needs to know it exists.
            features = self._features(x, context)
            closed = self.posterior.kl_divergence(features, self.prior)
            est = self.estimator.terms(
                self._problem(x, context, beta, features, closed is not None), self.num_samples)
            surrogate, aux_loss = mean(est.surrogate), est.aux_loss
        else:
            t = self._terms(x, context, self.num_samples)
            est, closed = t, (t.kl, t.kl_per_latent)
        kl, kl_dims = bounds.kl_terms(closed, est.log_q, est.log_p_z)
        loss = bounds.training_loss(self.objective, est.log_px_z, est.log_p_z, est.log_q, kl,
                                    kl_dims, beta, self.free_bits, self.latent_dim, mean)
        reconstruction = -tf.reduce_mean(est.log_px_z, axis=0)          # [B]
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
