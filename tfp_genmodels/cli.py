"""The ``tfp-genmodels`` command: train a flow or a VAE on built-in data, then sample it.

::

    tfp-genmodels train --model realnvp --data moons --epochs 50 --out runs/moons
    tfp-genmodels sample --run runs/moons -n 1000
    tfp-genmodels export --run runs/moons --out serving/moons --version 1

``train`` writes ``config.json`` (everything needed to rebuild the model),
``weights/``, ``metrics.json`` (train / validation / test NLL in nats and
bits/dim, plus the KL gap where the true density is known) and figures
(``density.png`` and ``samples.png`` for 2-D data; for images a sample
grid and ``temperatures.png``, a row of samples per base temperature). A
VAE run (``--model vae``) writes the test ELBO and the importance-weighted
NLL, the collapse diagnostics (also printed as a table), reconstructions,
samples, a latent traversal, and a latent scatter when ``--latent-dim 2``.
``sample`` rebuilds the model from a run and writes ``samples.npy`` and
``samples.png``; ``export`` writes a SavedModel for TF Serving
(:func:`tfp_genmodels.export.save_for_serving`). Every file is written
atomically.

Crash safety: ``train`` keeps a ``BackupAndRestore`` backup in
``--out/backup`` at every epoch end; after a crash (or ``kill -9``) the same
command with ``--resume`` continues from it, and a non-finite loss stops
training with the step and the last good checkpoint, writing no weights.
``--strategy mirrored`` trains on every local GPU, ``--strategy multiworker``
on the cluster in ``TF_CONFIG`` (only the chief writes ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import NamedTuple, Sequence

import numpy as np

from tfp_genmodels import _io, data
from tfp_genmodels._distribute import STRATEGIES, make_strategy

MODELS = ("nice", "realnvp", "spline", "maf", "iaf", "glow", "vae")
FLOW_MODELS = MODELS[:-1]
IMAGE_ONLY_MODELS = ("glow",)
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")
GRID_TEMPERATURES = (0.5, 0.7, 0.85, 1.0)  # rows of an image flow's temperatures.png
# 28x28 images in 256 levels: a VAE models them as binarised pixels (Bernoulli).
BINARISED_DATASETS = ("mnist", "fashion_mnist")
DATASETS = data.TOY_DENSITIES + IMAGE_DATASETS


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class TrainingFailed(Exception):
    """Training could not finish (a non-finite loss): one line, exit status 1."""


# Options that do not change what is trained (may differ on --resume).
_RUN_ONLY_OPTIONS = ("command", "out", "resume", "verbose", "overwrite")


class Dataset(NamedTuple):
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    pixel_levels: int | None
    image_shape: tuple[int, ...] | None
    test_labels: np.ndarray | None = None


def load_dataset(name: str, num_train: int, seed: int, mnist_path: str | None,
                 data_path: str | None = None) -> Dataset:
    """Toy data: ``num_train`` / ``num_train // 4`` / ``num_train // 4`` draws with seeds
    ``seed``, ``seed + 1``, ``seed + 2``. Images: the fixed splits of the data module
    (``data_path``: a directory with Fashion-MNIST's IDX files)."""
    if name in data.TOY_DENSITIES:
        n_eval = max(num_train // 4, 1)
        return Dataset(data.toy_sample(name, num_train, seed=seed),
                       data.toy_sample(name, n_eval, seed=seed + 1),
                       data.toy_sample(name, n_eval, seed=seed + 2), None, None)
    try:
        if name == "fashion_mnist":
            images = data.load_fashion_mnist(path=data_path)
        elif name == "digits":
            images = data.load_digits()
        else:
            images = data.load_mnist(path=mnist_path)
    except ConnectionError as error:
        if name == "fashion_mnist":  # its message already names the three ways
            raise CLIError(f"--data fashion_mnist: {error}") from error
        raise CLIError(f"--data {name}: the download failed ({str(error).split('. ')[0]}); "
                       "this machine may be offline. Download mnist.npz elsewhere and pass "
                       "--mnist-path /path/to/mnist.npz.") from error
    return Dataset(images.train.x, images.validation.x, images.test.x, images.levels,
                   images.event_shape, images.test.y)


def model_config(args: argparse.Namespace, dataset: Dataset) -> dict:
    """The JSON-serialisable description that :func:`build_model` turns into a model."""
    image = dataset.image_shape is not None
    if args.model in IMAGE_ONLY_MODELS and not image:
        raise CLIError(f"--model {args.model} needs image data {IMAGE_DATASETS}; got "
                       f"--data {args.data}.")
    if args.model == "vae":
        return {"model": "vae", "event_shape": list(dataset.train.shape[1:]),
                "flatten": False, "pixel_levels": dataset.pixel_levels,
                "likelihood": ("gaussian" if not image else
                               "bernoulli" if args.data in BINARISED_DATASETS
                               else "categorical"),
                "latent_dim": args.latent_dim, "posterior": args.posterior,
                "prior": args.prior, "beta": args.beta,
                "kl_warmup_steps": args.kl_warmup_steps, "free_bits": args.free_bits,
                "objective": args.objective, "num_samples": args.num_samples,
                "hidden_units": list(args.hidden_units), "data": args.data,
                "seed": args.seed}
    multiscale = image and args.model in ("realnvp", "glow")
    event_shape = (list(dataset.image_shape) if multiscale else
                   [int(np.prod(dataset.train.shape[1:]))])
    return {"model": args.model, "event_shape": event_shape, "flatten": image and not multiscale,
            "pixel_levels": dataset.pixel_levels, "num_layers": args.num_layers,
            "num_levels": args.num_levels, "hidden_units": list(args.hidden_units),
            "data": args.data, "seed": args.seed}


def build_vae(config: dict):
    """A VAE with the standard MLP encoder / decoder from a :func:`model_config`."""
    from tfp_genmodels import vae
    from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder

    levels = config["pixel_levels"]
    likelihood = config["likelihood"]
    scale = 1.0 if levels is None or likelihood == "bernoulli" else 1.0 / (levels - 1)
    hidden = tuple(config["hidden_units"])
    return vae.VAE(config["latent_dim"], mlp_encoder(config["event_shape"], hidden, scale),
                   mlp_decoder(config["latent_dim"], hidden[::-1]), likelihood=likelihood,
                   num_levels=levels if likelihood == "categorical" else None,
                   posterior=config["posterior"], prior=config["prior"],
                   beta=config["beta"], kl_warmup_steps=config["kl_warmup_steps"],
                   free_bits=config["free_bits"], objective=config["objective"],
                   num_samples=config["num_samples"])


def build_model(config: dict):
    """A flow from a :func:`model_config` dictionary."""
    from tfp_genmodels import flows

    if config["model"] == "vae":
        return build_vae(config)
    kwargs = {"event_shape": tuple(config["event_shape"]),
              "hidden_units": tuple(config["hidden_units"])}
    if config["pixel_levels"] is not None:
        kwargs.update(pixel_levels=config["pixel_levels"], pixel_format="integer")
    name, layers, levels = config["model"], config["num_layers"], config["num_levels"]
    if name == "glow":
        kwargs.update(num_levels=levels, seed=config["seed"])
        if layers is not None:
            kwargs["num_steps"] = layers
        return flows.Glow(**kwargs)
    cls = {"nice": flows.NICE, "realnvp": flows.RealNVP, "spline": flows.NeuralSplineFlow,
           "maf": flows.MAF, "iaf": flows.IAF}[name]
    if layers is not None:
        kwargs["num_layers"] = layers
    if len(kwargs["event_shape"]) == 3:
        kwargs["num_scales"] = levels
    return cls(**kwargs)


def _as_model_input(x: np.ndarray, config: dict) -> np.ndarray:
    return x.reshape(len(x), -1) if config["flatten"] else x


def _figures(model, config: dict, train_x: np.ndarray | None, samples: np.ndarray, out: str,
             temperature: float = 1.0) -> None:
    import tensorflow as tf

    from tfp_genmodels import plots

    label = f"{config['model']} on {config['data']}" + (
        f", T = {temperature:g}" if temperature != 1.0 else "")
    if config["event_shape"] == [2]:
        bounds = _bounds(train_x)
        _io.save_figure(os.path.join(out, "density.png"), plots.density_figure(
            tf.function(model.log_prob), title=label, bounds=bounds))
        _io.save_figure(os.path.join(out, "samples.png"), plots.scatter_figure(
            samples, reference=train_x[:2000], title=label, bounds=bounds))
    elif config["pixel_levels"] is not None:
        images = samples.reshape(len(samples), *_image_shape(config))
        vmax = config["pixel_levels"] - 1
        _io.save_figure(os.path.join(out, "samples.png"), plots.image_grid_figure(
            images[:64], title=label, vmax=vmax))
        # Glow's reduced-temperature sampling: one row per temperature.
        grid = np.concatenate([np.asarray(model.sample(8, temperature=t, seed=i)).reshape(
            8, *_image_shape(config)) for i, t in enumerate(GRID_TEMPERATURES)])
        _io.save_figure(os.path.join(out, "temperatures.png"), plots.image_grid_figure(
            grid, title=f"{config['model']} on {config['data']}: rows T = "
            + ", ".join(f"{t:g}" for t in GRID_TEMPERATURES), vmax=vmax,
            row_labels=[f"T={t:g}" for t in GRID_TEMPERATURES]))


def _image_shape(config):
    if not config["flatten"]:
        return config["event_shape"]
    side = int(round(np.sqrt(config["event_shape"][0])))
    return [side, side, 1]


def _bounds(x: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = np.percentile(x, [0.5, 99.5], axis=0)
    pad = 0.15 * (hi - lo)
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def _load(run: str):
    import json

    config_path = os.path.join(run, "config.json")
    if not os.path.isfile(config_path):
        raise CLIError(f"--run must be a directory written by `tfp-genmodels train`; "
                       f"{config_path} does not exist.")
    if not os.path.isdir(os.path.join(run, "weights")):
        interrupted = os.path.isdir(os.path.join(run, "backup"))
        raise CLIError(f"--run {run} has no trained weights yet: " + (
            "its training was interrupted. Continue it with the same `tfp-genmodels train` "
            f"command plus --resume (options in {os.path.join(run, 'train_args.json')})."
            if interrupted else "its training has not finished (or failed); train it first."))
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    model = build_model(config)
    model.load_weights(os.path.join(run, "weights", "model")).expect_partial()
    return model, config


def _evaluate(model, x: np.ndarray, batch_size: int) -> dict:
    result = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    return {"nll": float(result["loss"]), "bits_per_dim": float(result["bits_per_dim"])}


def _training_arguments(args: argparse.Namespace) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())
            if k not in _RUN_ONLY_OPTIONS}


def _check_resume(args: argparse.Namespace, backup_dir: str) -> None:
    """A backup means an interrupted run: continue it only when asked, with the same options."""
    from tfp_genmodels.callbacks import latest_backup

    args_path = os.path.join(args.out, "train_args.json")
    backup = latest_backup(backup_dir)
    if not args.resume:
        if backup is not None:
            raise CLIError(f"{args.out} holds an interrupted run (backup {backup}); pass "
                           f"--resume to continue it, or remove {backup_dir} to start over.")
        return
    if backup is None or not os.path.isfile(args_path):
        raise CLIError(f"--resume: {args.out} holds no interrupted run to continue "
                       f"(no {backup_dir}).")
    with open(args_path, encoding="utf-8") as f:
        before = json.load(f)
    now = _training_arguments(args)
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        raise CLIError("--resume needs the interrupted run's options; these differ: "
                       + ", ".join(f"{k} ({before.get(k)!r} before, {now.get(k)!r} now)"
                                   for k in changed) + ".")


def _splits(args: argparse.Namespace, dataset: Dataset, config: dict):
    """The arrays (or dataset) to fit on, and the train / validation / test arrays."""
    train_x, val_x, test_x = (_as_model_input(x, config) for x in dataset[:3])
    if config["model"] == "vae" and config["likelihood"] == "bernoulli":
        # Binary MNIST: dynamic binarisation for training, fixed draws to evaluate.
        fit_x = data.dynamic_binarization(train_x, seed=args.seed).shuffle(
            10000, seed=args.seed).batch(args.batch_size)
        return (fit_x, data.fixed_binarization(train_x[:10000], seed=args.seed + 3),
                data.fixed_binarization(val_x, seed=args.seed + 1),
                data.fixed_binarization(test_x, seed=args.seed + 2))
    return train_x, train_x, val_x, test_x


def _fit(model, args: argparse.Namespace, fit_x, val_x, backup_dir: str):
    """``fit`` with a ``BackupAndRestore`` backup and the non-finite-loss guard.

    Returns the history and the epochs run in this process.
    """
    import tensorflow as tf
    from tfp_genmodels._keras import keras

    from tfp_genmodels.callbacks import EpochRecorder, NonFiniteLossError, NonFiniteLossGuard

    epochs = EpochRecorder()
    callbacks = [NonFiniteLossGuard(backup_dir), keras.callbacks.BackupAndRestore(backup_dir),
                 epochs]
    try:
        history = model.fit(fit_x, validation_data=val_x, epochs=args.epochs,
                            batch_size=(None if isinstance(fit_x, tf.data.Dataset)
                                        else args.batch_size),
                            callbacks=callbacks, verbose=args.verbose)
    except NonFiniteLossError as error:
        raise TrainingFailed(f"{error} Lower --learning-rate; --resume continues from "
                             "that checkpoint. No weights were written.") from error
    return history, epochs.epochs


def _flow_results(model, config, args, train_x, val_x, test_x, out) -> dict:
    results = {split: _evaluate(model, x, args.batch_size) for split, x in
               (("train", train_x), ("validation", val_x), ("test", test_x))}
    if args.data in ("8gaussians", "checkerboard"):
        entropy = data.toy_entropy(args.data)
        results["true_entropy"] = entropy
        results["kl_gap"] = results["test"]["nll"] - entropy
    samples = np.asarray(model.sample(1000 if config["event_shape"] == [2] else 64,
                                      seed=args.seed))
    _figures(model, config, train_x, samples, out)
    return results


def train(args: argparse.Namespace) -> dict:
    """Trains, evaluates, and writes the run directory; returns the metrics."""
    from tfp_genmodels._keras import keras

    if not args.resume and not args.overwrite and os.path.isfile(
            os.path.join(args.out, "metrics.json")):
        raise CLIError(f"--out {args.out} holds a finished run (metrics.json); pass "
                       "--overwrite to replace it, or choose another --out.")
    strategy = make_strategy(args.strategy)
    backup_dir = os.path.join(args.out, "backup")
    _check_resume(args, backup_dir)
    chief = strategy.extended.should_checkpoint  # false on non-chief workers only
    # Non-chief workers compute what the chief does (evaluation is collective)
    # but write to a scratch directory.
    out = args.out if chief else tempfile.mkdtemp(prefix="tfp-genmodels-worker-")
    try:
        keras.utils.set_random_seed(args.seed)
        dataset = load_dataset(args.data, args.num_train, args.seed, args.mnist_path,
                               args.data_path)
        config = model_config(args, dataset)
        with strategy.scope():
            model = build_model(config)
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                          jit_compile=args.jit_compile)
        fit_x, train_x, val_x, test_x = _splits(args, dataset, config)
        os.makedirs(out, exist_ok=True)
        _io.write_json(os.path.join(out, "config.json"), config)
        _io.write_json(os.path.join(out, "train_args.json"), _training_arguments(args))
        start = time.perf_counter()
        history, epochs = _fit(model, args, fit_x, val_x, backup_dir)
        seconds = time.perf_counter() - start
        if chief and os.path.isdir(backup_dir) and not os.listdir(backup_dir):
            os.rmdir(backup_dir)  # BackupAndRestore empties it when training completes
        _io.replace_directory(os.path.join(out, "weights"),
                              lambda d: model.save_weights(os.path.join(d, "model")))
        metrics = {"model": args.model, "data": args.data, "epochs": args.epochs,
                   "epochs_run": len(epochs),
                   "resumed_from_epoch": epochs[0] if epochs else args.epochs,
                   "strategy": args.strategy, "replicas": strategy.num_replicas_in_sync,
                   "train_seconds": round(seconds, 2),
                   "num_parameters": int(sum(np.prod(v.shape)
                                             for v in model.trainable_variables)),
                   "history": {k: [float(v) for v in vs]
                               for k, vs in history.history.items()}}
        if config["model"] == "vae":
            metrics.update(_vae_results(model, config, args, train_x, val_x, test_x, out,
                                        dataset.test_labels))
        else:
            metrics.update(_flow_results(model, config, args, train_x, val_x, test_x, out))
        _io.write_json(os.path.join(out, "metrics.json"), metrics)
        return metrics
    finally:
        if not chief:
            shutil.rmtree(out, ignore_errors=True)


def _vae_results(model, config, args, train_x, val_x, test_x, out, test_labels) -> dict:
    from tfp_genmodels.vae import report
    from tfp_genmodels.vae.diagnostics import format_table

    results = {"train": report.bound_metrics(model, train_x),
               "validation": report.bound_metrics(model, val_x),
               "test": report.bound_metrics(model, test_x, iwae_samples=args.iwae_samples)}
    results["test"]["nll"] = results["test"].get("iwae_nll", -results["test"]["elbo"])
    results["test"]["bits_per_dim"] = results["test"].get(
        "iwae_bits_per_dim", results["test"]["neg_elbo_bits_per_dim"])
    diag = model.diagnostics(test_x[:500])
    print(format_table(diag))
    results["diagnostics"] = diag
    levels = config["pixel_levels"]
    vmax = None if levels is None else (1.0 if config["likelihood"] == "bernoulli"
                                        else levels - 1)
    report.write_figures(model, test_x, test_labels, out, vmax,
                         f"VAE on {config['data']}")
    return results


def sample(args: argparse.Namespace) -> np.ndarray:
    model, config = _load(args.run)
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
        samples = samples.reshape(len(samples), *_image_shape(config))
    _io.save_npy(os.path.join(out, "samples.npy"), samples)
    if config["event_shape"] == [2]:
        from tfp_genmodels import plots
        _io.save_figure(os.path.join(out, "samples.png"), plots.scatter_figure(
            samples, title=f"{config['model']} samples", bounds=_bounds(samples)))
    else:
        _figures(model, config, None, samples, out, temperature=args.temperature)
    return samples


def export(args: argparse.Namespace) -> str:
    from tfp_genmodels import export as export_module

    model, _ = _load(args.run)
    return export_module.save_for_serving(model, args.out, version=args.version,
                                          overwrite=args.overwrite)


# -- argument parsing ------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Bad options: one line on stderr, exit status 2 (no usage dump, no traceback)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _integer(minimum: int, what: str):
    """An argparse type: an integer ``>= minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


_positive_int = _integer(1, "a positive integer")
_nonnegative_int = _integer(0, "an integer >= 0")


def _number(minimum: float, strict: bool, what: str):
    """An argparse type: a finite float above (``strict``) or at ``minimum``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


_positive_float = _number(0.0, True, "a positive number")
_nonnegative_float = _number(0.0, False, "a number >= 0")


def _units(text: str) -> tuple[int, ...]:
    try:  # every part must be a number: "64,,64" is a typo, not 64,64
        units = tuple(int(u) for u in text.split(","))
    except ValueError:
        units = ()
    if not units or any(u <= 0 for u in units):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128,128; got {text!r}")
    return units


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfp-genmodels",
                     description="Train normalizing flows and VAEs on built-in data; "
                                 "sample them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a flow; write config.json, weights/, "
                                   "metrics.json and figures to --out.")
    t.add_argument("--model", choices=MODELS, default="realnvp",
                   help="a flow recipe (glow needs image data) or vae [%(default)s]")
    t.add_argument("--data", choices=DATASETS, default="moons",
                   help="a 2-D toy density, the 8x8 digits (17 levels), MNIST or "
                        "Fashion-MNIST [%(default)s]")
    t.add_argument("--epochs", type=_positive_int, default=50, help="[%(default)s]")
    t.add_argument("--batch-size", type=_positive_int, default=256, help="[%(default)s]")
    t.add_argument("--learning-rate", type=_positive_float, default=1e-3,
                   help="Adam's step size [%(default)s]")
    t.add_argument("--num-layers", type=_positive_int, default=None,
                   help="couplings / MADE layers (Glow: steps per level; image RealNVP: "
                        "couplings per half-scale) [recipe default]")
    t.add_argument("--num-levels", type=_positive_int, default=None,
                   help="image flows: Glow levels / RealNVP scales [as many as fit, <= 3]")
    t.add_argument("--hidden-units", type=_units, default=(128, 128),
                   help="conditioner widths, comma-separated [128,128]")
    t.add_argument("--num-train", type=_positive_int, default=20000,
                   help="toy data: training points (validation and test: a quarter "
                        "each) [%(default)s]")
    t.add_argument("--seed", type=int, default=0, help="seeds data, weights and samples "
                                                         "[%(default)s]")
    t.add_argument("--mnist-path", default=None,
                   help="a local mnist.npz instead of the Keras download")
    t.add_argument("--data-path", default=None,
                   help="--data fashion_mnist: a directory with its four IDX files [Keras' "
                        "cache, then /usr/share/datasets/fashion-mnist, then the download]")
    t.add_argument("--jit-compile", action="store_true", help="compile steps with XLA")
    t.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="tf.distribute strategy: one device, every local GPU (mirrored), or "
                        "the cluster in TF_CONFIG (multiworker) [%(default)s]")
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out from its last backup (same "
                        "options as the interrupted command)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace a finished run in --out (refused otherwise)")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="Keras verbosity: 1 progress bar, 2 one line per epoch "
                        "[%(default)s]")
    v = t.add_argument_group("VAE options (--model vae)")
    v.add_argument("--latent-dim", type=_positive_int, default=8, help="[%(default)s]")
    v.add_argument("--posterior", choices=("diagonal", "full", "iaf", "planar"),
                   default="diagonal", help="q(z|x) [%(default)s]")
    v.add_argument("--prior", choices=("normal", "mixture", "vamp", "flow"),
                   default="normal", help="p(z) [%(default)s]")
    v.add_argument("--beta", type=_nonnegative_float, default=1.0,
                   help="weight of the KL term [%(default)s]")
    v.add_argument("--kl-warmup-steps", type=int, default=0,
                   help="anneal beta from 0 over this many steps [%(default)s]")
    v.add_argument("--free-bits", type=_nonnegative_float, default=0.0,
                   help="KL floor in nats per latent dimension [%(default)s]")
    v.add_argument("--objective", choices=("elbo", "iwae"), default="elbo",
                   help="training objective [%(default)s]")
    v.add_argument("--num-samples", type=_positive_int, default=1,
                   help="z samples per example in training (K for iwae) [%(default)s]")
    v.add_argument("--iwae-samples", type=_positive_int, default=1000,
                   help="importance samples for the test log-likelihood [%(default)s]")
    t.add_argument("--out", required=True, help="run directory to write")
    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Rebuild a trained model from --run; write "
                                   "samples.npy and samples.png.")
    s.add_argument("--run", required=True, help="a directory written by `train`")
    s.add_argument("-n", "--num-samples", type=_positive_int, default=1000,
                   help="[%(default)s]")
    s.add_argument("--temperature", type=_positive_float, default=1.0,
                   help="scale of the base distribution (Glow's T) [%(default)s]")
    s.add_argument("--seed", type=int, default=0, help="[%(default)s]")
    s.add_argument("--out", default=None, help="where to write [the run directory]")
    e = sub.add_parser("export", help="write a trained run as a SavedModel for TF Serving",
                       description="Rebuild a trained model from --run and write a SavedModel "
                                   "with explicit signatures to --out/<version>/.")
    e.add_argument("--run", required=True, help="a directory written by `train`")
    e.add_argument("--out", required=True, help="the model's base directory (TF Serving's "
                                                "--model_base_path)")
    e.add_argument("--version", type=_nonnegative_int, default=1, help="[%(default)s]")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an existing version directory")
    return parser


def check_writable(path: str, option: str) -> None:
    """Raises ``CLIError`` unless ``path`` can be created or written (checked before
    TensorFlow starts, so a typo costs no start-up and no training)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"{option} {path} exists and is not a directory.")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {path} is not writable ({existing} does not allow "
                       "writing); choose another directory.")


def _interrupted_message(args: argparse.Namespace) -> str:
    if args.command == "train":
        return ("interrupted; the last completed epoch is kept in "
                f"{os.path.join(args.out, 'backup')}: run the same command with --resume to "
                "continue.")
    return "interrupted; nothing was written."


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        out = getattr(args, "out", None)
        if out is not None:
            check_writable(out, "--out")
        return _run(args)
    except KeyboardInterrupt:
        print(f"tfp-genmodels: {_interrupted_message(args)}", file=sys.stderr)
        return 130
    except CLIError as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "train":
            metrics = train(args)
            test = metrics["test"]
            print(f"test NLL {test['nll']:.4f} nats, {test['bits_per_dim']:.4f} bits/dim; "
                  f"wrote {args.out}")
        elif args.command == "export":
            print(f"wrote {export(args)}")
        else:
            samples = sample(args)
            print(f"wrote {len(samples)} samples to {args.out or args.run}")
    except TrainingFailed as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 1
    except (CLIError, ValueError, TypeError, ConnectionError, FileNotFoundError,
            FileExistsError) as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
