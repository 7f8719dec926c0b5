"""Metrics and figures of a trained VAE (used by the CLI and the examples)."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfp_genmodels import _io, plots
from tfp_genmodels.bijectors.dequantize import bits_per_dim
from tfp_genmodels.vae.likelihoods import distribution_mean


def bound_metrics(model, x: np.ndarray, batch_size: int = 500, iwae_samples: int = 0,
                  per_example: bool = False) -> dict:
    """Mean ELBO (and IWAE NLL with ``iwae_samples > 0``) in nats and bits/dim;
    ``per_example=True`` adds ``"per_example"``: the arrays ``elbo`` (and
    ``log_likelihood``), one value per example."""
    to_bits = lambda log_p: float(bits_per_dim(log_p, model.num_dims))  # noqa: E731
    elbo = np.concatenate([model.elbo(x[i:i + batch_size]).numpy()
                           for i in range(0, len(x), batch_size)])
    out = {"elbo": float(elbo.mean()), "neg_elbo_bits_per_dim": to_bits(elbo.mean())}
    if iwae_samples:
        ll = np.concatenate([model.log_likelihood(x[i:i + batch_size],
                                                  num_samples=iwae_samples).numpy()
                             for i in range(0, len(x), batch_size)])
        out.update({"iwae_nll": float(-ll.mean()), "iwae_bits_per_dim": to_bits(ll.mean()),
                    "iwae_samples": int(iwae_samples)})
    if per_example:
        out["per_example"] = {"elbo": elbo, **({"log_likelihood": ll} if iwae_samples else {})}
    return out


def traversal(model, num_dims: int = 8, num_steps: int = 9, radius: float = 3.0) -> np.ndarray:
    """Decoder means as each latent ``z_i`` sweeps ``[-radius, radius]``, others 0
    (``[dims * num_steps, ...]``). Discrete latents: ``z_i`` takes each of its
    classes in turn, the others class 0 (``num_steps`` is then the number of classes)."""
    dims = min(num_dims, model.latent_dim)
    if model.posterior.is_discrete:
        num_steps = traversal_steps(model, num_steps)
        values = np.zeros([dims, num_steps, model.latent_dim], np.int32)
        for i in range(dims):
            values[i, :, i] = np.arange(num_steps)
        z = model.posterior.to_code(tf.constant(values.reshape(-1, model.latent_dim)))
    else:
        values = np.linspace(-radius, radius, num_steps, dtype=np.float32)
        z = np.zeros([dims, num_steps, model.latent_dim], np.float32)
        for i in range(dims):
            z[i, :, i] = values
        z = tf.constant(z.reshape(-1, model.latent_dim))
    return np.asarray(distribution_mean(model.decode(z)))


def traversal_steps(model, num_steps: int = 9) -> int:
    """Columns of the traversal: ``num_steps``, or a discrete latent's class count."""
    if model.posterior.is_discrete:
        return model.posterior.num_classes or 2
    return num_steps


def write_figures(model, x: np.ndarray, labels: np.ndarray | None, out: str,
                  vmax: float | None, title: str) -> None:
    """reconstructions.png, samples.png, traversal.png, and latent.png when L = 2."""
    if len(model.event_shape) != 3:
        return
    _io.save_figure(os.path.join(out, "reconstructions.png"), plots.reconstruction_figure(
        x[:16], np.asarray(model.reconstruct(x[:16])), vmax=vmax,
        title=f"{title}: originals / reconstructions"))
    _io.save_figure(os.path.join(out, "samples.png"), plots.image_grid_figure(
        np.asarray(model.sample(64, mean=True)), vmax=vmax,
        title=f"{title}: samples (decoder means)"))
    sweep = ("over its classes" if model.posterior.is_discrete else "in [-3, 3]")
    _io.save_figure(os.path.join(out, "traversal.png"), plots.traversal_figure(
        traversal(model), traversal_steps(model), vmax=vmax,
        title=f"{title}: latent traversal, z_i {sweep}"))
    if model.latent_dim == 2 and labels is not None and not model.posterior.is_discrete:
        z = np.asarray(model.posterior.mean(model.features(x)))
        _io.save_figure(os.path.join(out, "latent.png"), plots.latent_scatter_figure(
            z, labels, title=f"{title}: posterior means"))
