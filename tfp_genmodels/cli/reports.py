"""What a run reports: metrics (NLL, bits/dim, KL gap, VAE bounds) and figures."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from tfp_genmodels import _io, data
from tfp_genmodels.cli import evaluation
from tfp_genmodels.cli.runs import image_shape

#: Rows of an image flow's ``temperatures.png``: the base distribution's temperatures.
GRID_TEMPERATURES = (0.5, 0.7, 0.85, 1.0)
#: Toy densities whose entropy is known, so the KL gap to the truth is reported.
KNOWN_ENTROPY = ("8gaussians", "checkerboard")


def bounds(x: np.ndarray) -> tuple[float, float, float, float]:
    """A plot box around 2-D points: the 0.5-99.5 percentiles plus 15 %."""
    lo, hi = np.percentile(x, [0.5, 99.5], axis=0)
    pad = 0.15 * (hi - lo)
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def flow_figures(model: Any, config: dict[str, Any], train_x: np.ndarray | None,
                 samples: np.ndarray, out: str, temperature: float = 1.0) -> None:
    """2-D: ``density.png`` and ``samples.png``; images: ``samples.png`` and
    ``temperatures.png`` (a row of samples per :data:`GRID_TEMPERATURES`)."""
    import tensorflow as tf

    from tfp_genmodels import plots

    label = f"{config['model']} on {config['data']}" + (
        f", T = {temperature:g}" if temperature != 1.0 else "")
    if config["event_shape"] == [2]:
        box = bounds(samples if train_x is None else train_x)
        if train_x is not None:
            _io.save_figure(os.path.join(out, "density.png"), plots.density_figure(
                tf.function(model.log_prob), title=label, bounds=box))
        _io.save_figure(os.path.join(out, "samples.png"), plots.scatter_figure(
            samples, reference=None if train_x is None else train_x[:2000], title=label,
            bounds=box))
    elif config["pixel_levels"] is not None:
        shape = image_shape(config)
        images = samples.reshape(len(samples), *shape)
        vmax = config["pixel_levels"] - 1
        _io.save_figure(os.path.join(out, "samples.png"), plots.image_grid_figure(
            images[:64], title=label, vmax=vmax))
        # Glow's reduced-temperature sampling: one row per temperature.
        grid = np.concatenate([np.asarray(model.sample(8, temperature=t, seed=i)).reshape(
            8, *shape) for i, t in enumerate(GRID_TEMPERATURES)])
        _io.save_figure(os.path.join(out, "temperatures.png"), plots.image_grid_figure(
            grid, title=f"{config['model']} on {config['data']}: rows T = "
            + ", ".join(f"{t:g}" for t in GRID_TEMPERATURES), vmax=vmax,
            row_labels=[f"T={t:g}" for t in GRID_TEMPERATURES]))


def flow_results(model: Any, config: dict[str, Any], args: argparse.Namespace,
                 train_x: np.ndarray, val_x: np.ndarray, test_x: np.ndarray,
                 out: str) -> dict[str, Any]:
    """Per split: the mean NLL and bits/dim with the median and the worst examples
    (:mod:`~tfp_genmodels.cli.evaluation`; the first ``--eval-limit`` examples only
    when it is given); the KL gap where the truth is known; the figures."""
    limit = getattr(args, "eval_limit", None)
    results: dict[str, Any] = {}
    for split, x in (("train", train_x), ("validation", val_x), ("test", test_x)):
        results[split] = flow_split_result(model, split, evaluation.subset(x, limit),
                                           args.batch_size, args.seed, args.verbose == 1)
    if args.data in KNOWN_ENTROPY:
        entropy = data.toy_entropy(args.data)
        results["true_entropy"] = entropy
        results["kl_gap"] = results["test"]["nll"] - entropy
    samples = np.asarray(model.sample(1000 if config["event_shape"] == [2] else 64,
                                      seed=args.seed))
    flow_figures(model, config, train_x, samples, out)
    return results


def flow_split_result(model: Any, split: str, x: np.ndarray, batch_size: int, seed: int,
                      verbose: bool) -> dict[str, Any]:
    """One split's per-example report of a flow (:func:`evaluation.summarize`), printed."""
    nll = evaluation.flow_scores(model, x, batch_size, seed, verbose=verbose, label=split)
    result = evaluation.summarize(nll, model.num_dims)
    print(evaluation.describe(split, result), flush=True)
    return result


def vae_split_results(model: Any, bound_splits: dict[str, np.ndarray],
                      likelihood_splits: dict[str, np.ndarray], iwae_samples: int
                      ) -> dict[str, Any]:
    """The ELBO of ``bound_splits``; the ELBO and IWAE NLL of ``likelihood_splits``, whose
    ``nll``/``bits_per_dim`` come with the median and the worst examples (printed)."""
    from tfp_genmodels.vae import report

    results: dict[str, Any] = {split: report.bound_metrics(model, x)
                               for split, x in bound_splits.items()}
    for split, x in likelihood_splits.items():
        metrics = report.bound_metrics(model, x, iwae_samples=iwae_samples,
                                       per_example=True)
        per_example = metrics.pop("per_example")
        nll = -per_example.get("log_likelihood", per_example["elbo"])
        results[split] = {**metrics, **evaluation.summarize(nll, model.num_dims)}
        print(evaluation.describe(split, results[split]), flush=True)
    return results


def vae_results(model: Any, config: dict[str, Any], args: argparse.Namespace,
                train_x: np.ndarray, val_x: np.ndarray, test_x: np.ndarray, out: str,
                test_labels: np.ndarray | None) -> dict[str, Any]:
    """The bounds per split (IWAE NLL on test), collapse diagnostics and the figures."""
    from tfp_genmodels.vae import report
    from tfp_genmodels.vae.diagnostics import format_table

    limit = getattr(args, "eval_limit", None)
    train_x, val_x, test_x = (evaluation.subset(x, limit) for x in (train_x, val_x, test_x))
    test_labels = None if test_labels is None else evaluation.subset(test_labels, limit)
    results = vae_split_results(model, {"train": train_x, "validation": val_x},
                                {"test": test_x}, args.iwae_samples)
    diag = model.diagnostics(test_x[:500])
    print(format_table(diag))
    results["diagnostics"] = diag
    levels = config["pixel_levels"]
    vmax = None if levels is None else (1.0 if config["likelihood"] == "bernoulli"
                                        else levels - 1)
    report.write_figures(model, test_x, test_labels, out, vmax,
                         f"VAE on {config['data']}")
    return results
