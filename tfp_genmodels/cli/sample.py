"""``tfp-genmodels sample``: draw from a trained run; write ``samples.npy`` and figures."""

from __future__ import annotations

import argparse
import os

import numpy as np

from tfp_genmodels import _io
from tfp_genmodels.cli import reports, runs


def sample(args: argparse.Namespace) -> np.ndarray:
    """Draws ``args.num_samples`` from ``args.run``'s model (images in their own shape)."""
    model, config = runs.load_run(args.run)
    out = args.out or args.run
    if config["model"] == "vae":
        samples = np.asarray(model.sample(args.num_samples, seed=args.seed))
        _io.save_npy(os.path.join(out, "samples.npy"), samples)
        if len(model.event_shape) == 3:
            from tfp_genmodels import plots
            _io.save_figure(os.path.join(out, "samples.png"), plots.image_grid_figure(
                np.asarray(model.sample(min(args.num_samples, 64), mean=True,
                                        seed=args.seed)),
                title="VAE samples (decoder means)"))
        return samples
    samples = np.asarray(model.sample(args.num_samples, temperature=args.temperature,
                                      seed=args.seed))
    if config["flatten"]:
        samples = samples.reshape(len(samples), *runs.image_shape(config))
    _io.save_npy(os.path.join(out, "samples.npy"), samples)
    reports.flow_figures(model, config, None, samples, out, temperature=args.temperature)
    return samples
