"""Posterior-collapse diagnostics.

* **Active units** (Burda et al., 2016): latent ``i`` is active when
  ``A_i = Var_x(E_q[z_i | x]) > 0.01``: the posterior mean moves with the data.
  A collapsed dimension has ``q(z_i|x) = p(z_i)`` for every ``x``: ``A_i = 0``.
* **KL per latent**: ``E_x KL(q(z_i|x) || p(z_i))`` when the KL factorises in
  closed form (a diagonal posterior and the standard-normal prior; discrete
  latents and their categorical prior): zero on collapsed latents.
* **Mutual information** under ``q``: with the aggregate posterior
  ``q(z) = (1/N) sum_n q(z | x_n)`` over the batch,
  ``I(x; z) = E_x E_{q(z|x)}[log q(z|x) - log q(z)]``, where
  ``log q(z) = logsumexp_m log q(z | x_m) - log N`` (Hoffman & Johnson, 2016;
  He et al., 2019). It is at most ``log N`` and 0 under collapse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels.vae.posteriors import Posterior

tfd = tfp.distributions

ACTIVE_THRESHOLD = 0.01
POSTERIOR_MEAN_SAMPLES = 64  # samples per example for the posterior means of flow posteriors


def collapse_diagnostics(posterior: Posterior, terms: Any, num_samples: int = 16,
                         threshold: float = ACTIVE_THRESHOLD) -> dict:
    """Active units, per-latent activity and KL, and the mutual information.

    :meth:`tfp_genmodels.vae.VAE.diagnostics` calls this with the
    :class:`~tfp_genmodels.vae.model.Terms` of a batch (a few hundred examples;
    the MI is O(N^2)). For a discrete latent the activity is the variance
    over ``x`` of its one-hot code's mean (the class probabilities), summed
    over the classes: 0 exactly when ``q(z_l|x)`` does not move with ``x``.

    Args:
      posterior: the VAE's ``q(z|x)``.
      terms: the VAE's ``Terms`` for the batch (features, KL, per-latent KL).
      num_samples: Monte Carlo samples of ``z`` per example for the MI.
      threshold: a latent is active when the variance over ``x`` of its
        posterior mean exceeds this (Burda et al., 2016); the report keeps it.
    """
    features = terms.features
    means = np.asarray(posterior.mean(features, num_samples=POSTERIOR_MEAN_SAMPLES))
    activity = np.var(means, axis=0)
    if activity.size != posterior.latent_dim:  # a one-hot code per latent
        activity = activity.reshape(posterior.latent_dim, -1).sum(axis=-1)
    kl_per_dim = (None if terms.kl_per_latent is None
                  else np.asarray(tf.reduce_mean(terms.kl_per_latent, axis=0)))
    return {
        "active_units": int(np.sum(activity > threshold)),
        "threshold": float(threshold),
        "latent_dim": posterior.latent_dim,
        "activity": activity.tolist(),
        "kl_per_dim": None if kl_per_dim is None else kl_per_dim.tolist(),
        "kl": float(tf.reduce_mean(terms.kl)),
        "mutual_information": mutual_information(posterior, features, num_samples),
    }


def mutual_information(posterior: Posterior, features, num_samples: int = 16) -> float:
    """``I(x; z)`` under ``q`` with the batch's aggregate posterior (module docstring)."""
    z, log_q = posterior.sample_and_log_prob(features, num_samples)  # [S, N, code]
    n = int(log_q.shape[1])
    # log q(z_sn | x_m) for every m: [S, N, M].
    # Broadcast explicitly: a flow posterior's inverse needs z and its per-example
    # parameters (or IAF context) at the full [S, N, M] shape.
    s = tf.shape(z)[0]
    z_cross = tf.broadcast_to(z[:, :, None, :], [s, n, n, posterior.code_size])
    log_q_cross = posterior.log_prob(features, z_cross)
    log_agg = tfp.math.reduce_logmeanexp(log_q_cross, axis=-1)
    return float(tf.reduce_mean(log_q - log_agg))


def format_table(report: dict) -> str:
    """The diagnostics as a Markdown table (one row per latent dimension); a row
    is marked active with the report's own ``threshold``."""
    lines = [f"active units: {report['active_units']} / {report['latent_dim']}; "
             f"KL {report['kl']:.3f} nats; mutual information "
             f"{report['mutual_information']:.3f} nats", "",
             "| latent | activity Var_x E_q[z_i] | active | KL_i (nats) |",
             "|---:|---:|---|---:|"]
    kls = report["kl_per_dim"] or [None] * report["latent_dim"]
    for i, (a, k) in enumerate(zip(report["activity"], kls)):
        active = a > report.get("threshold", ACTIVE_THRESHOLD)
        lines.append(f"| {i} | {a:.4f} | {'yes' if active else 'no'} | "
                     + ("-" if k is None else f"{k:.3f}") + " |")
    return "\n".join(lines)
