"""The VAE's bounds from per-sample log densities: ELBO, IWAE, KL and the training loss.

With ``S`` samples ``z_s ~ q(z|x)``::

    ELBO(x) = (1/S) sum_s log p(x|z_s) - KL(q(z|x) || p(z))
    IWAE_S(x) = log (1/S) sum_s p(x|z_s) p(z_s) / q(z_s|x)        (Burda et al., 2016)

with the KL in closed form where the posterior and prior have one, else its
Monte Carlo estimate ``(1/S) sum_s log q(z_s|x) - log p(z_s)``. The training
loss weights the KL by ``beta`` (Higgins et al., 2017) with free bits
(Kingma et al., 2016): ``sum_i max(lambda, E_batch KL_i)`` per latent
dimension (on the total, floor ``lambda * L``, when per-dimension KLs are
not defined).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp


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


def kl_terms(closed: tuple[tf.Tensor, tf.Tensor | None] | None, log_q: tf.Tensor | None,
             log_p_z: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor | None]:
    """``(KL [B], per latent [B, L] or None)``: the closed form when there is one
    (``Posterior.kl_divergence``), else the Monte Carlo mean of ``log q - log p``."""
    if closed is not None:
        return closed
    if log_q is None or log_p_z is None:
        raise ValueError("the KL has no closed form here and the estimator returned no "
                         "log q(z|x) / log p(z) to estimate it with.")
    return tf.reduce_mean(log_q - log_p_z, axis=0), None


def training_loss(objective: str, log_px_z: tf.Tensor, log_p_z: tf.Tensor | None,
                  log_q: tf.Tensor | None, kl: tf.Tensor, kl_per_latent: tf.Tensor | None,
                  beta, free_bits: float, latent_dim: int,
                  mean: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
    """The batch loss: ``-IWAE`` with ``beta`` on ``log p(z) - log q``, or
    ``reconstruction + beta * KL_term`` with free bits (module docstring); ``mean``
    averages over the batch (weighted by the examples' weights)."""
    if objective == "iwae":
        log_w = log_px_z + beta * (log_p_z - log_q)
        return -mean(tfp.math.reduce_logmeanexp(log_w, axis=0))
    kl_term = mean(kl)
    if free_bits > 0.0:
        if kl_per_latent is not None:
            kl_term = tf.reduce_sum(tf.maximum(free_bits, mean(kl_per_latent)))
        else:
            kl_term = tf.maximum(free_bits * latent_dim, kl_term)
    return mean(-tf.reduce_mean(log_px_z, axis=0)) + beta * kl_term


__all__ = ["Terms", "kl_terms", "training_loss"]
