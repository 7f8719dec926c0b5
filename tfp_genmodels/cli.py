"""The ``tfp-genmodels`` command: train a flow on a built-in data set, then sample it.

::

    tfp-genmodels train --model realnvp --data moons --epochs 50 --out runs/moons
    tfp-genmodels sample --run runs/moons -n 1000

``train`` writes ``config.json`` (everything needed to rebuild the model),
``weights/``, ``metrics.json`` (train / validation / test NLL in nats and
bits/dim, plus the KL gap where the true density is known) and figures
(``density.png`` and ``samples.png`` for 2-D data, a sample grid for
images). ``sample`` rebuilds the model from a run and writes
``samples.npy`` and ``samples.png``. Every file is written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import NamedTuple, Sequence

import numpy as np

from tfp_genmodels import _io, data

MODELS = ("nice", "realnvp", "spline", "maf", "iaf", "glow")
IMAGE_ONLY_MODELS = ("glow",)
DATASETS = data.TOY_DENSITIES + ("digits", "mnist")


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class Dataset(NamedTuple):
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    pixel_levels: int | None
    image_shape: tuple[int, ...] | None


def load_dataset(name: str, num_train: int, seed: int, mnist_path: str | None) -> Dataset:
    """Toy data: ``num_train`` / ``num_train // 4`` / ``num_train // 4`` draws with seeds
    ``seed``, ``seed + 1``, ``seed + 2``. Images: the fixed splits of the data module."""
    if name in data.TOY_DENSITIES:
        n_eval = max(num_train // 4, 1)
        return Dataset(data.toy_sample(name, num_train, seed=seed),
                       data.toy_sample(name, n_eval, seed=seed + 1),
                       data.toy_sample(name, n_eval, seed=seed + 2), None, None)
    images = data.load_digits() if name == "digits" else data.load_mnist(path=mnist_path)
    return Dataset(images.train.x, images.validation.x, images.test.x, images.levels,
                   images.event_shape)


def model_config(args: argparse.Namespace, dataset: Dataset) -> dict:
    """The JSON-serialisable description that :func:`build_model` turns into a model."""
    image = dataset.image_shape is not None
    if args.model in IMAGE_ONLY_MODELS and not image:
        raise CLIError(f"--model {args.model} needs image data (digits, mnist); got "
                       f"--data {args.data}.")
    multiscale = image and args.model in ("realnvp", "glow")
    event_shape = (list(dataset.image_shape) if multiscale else
                   [int(np.prod(dataset.train.shape[1:]))])
    return {"model": args.model, "event_shape": event_shape, "flatten": image and not multiscale,
            "pixel_levels": dataset.pixel_levels, "num_layers": args.num_layers,
            "num_levels": args.num_levels, "hidden_units": list(args.hidden_units),
            "data": args.data, "seed": args.seed}


def build_model(config: dict):
    """A flow from a :func:`model_config` dictionary."""
    from tfp_genmodels import flows

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
    from tfp_genmodels import plots

    label = f"{config['model']} on {config['data']}" + (
        f", T = {temperature:g}" if temperature != 1.0 else "")
    if config["event_shape"] == [2]:
        bounds = _bounds(train_x)
        _io.save_figure(os.path.join(out, "density.png"), plots.density_figure(
            lambda p: model.predict_log_prob(p), title=label, bounds=bounds))
        _io.save_figure(os.path.join(out, "samples.png"), plots.scatter_figure(
            samples, reference=train_x[:2000], title=label, bounds=bounds))
    elif config["pixel_levels"] is not None:
        images = samples.reshape(len(samples), *_image_shape(config))
        _io.save_figure(os.path.join(out, "samples.png"), plots.image_grid_figure(
            images[:64], title=label, vmax=config["pixel_levels"] - 1))


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
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    model = build_model(config)
    model.load_weights(os.path.join(run, "weights", "model")).expect_partial()
    return model, config


def _evaluate(model, x: np.ndarray, batch_size: int) -> dict:
    result = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    return {"nll": float(result["loss"]), "bits_per_dim": float(result["bits_per_dim"])}


def train(args: argparse.Namespace) -> dict:
    """Trains, evaluates, and writes the run directory; returns the metrics."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(args.seed)
    dataset = load_dataset(args.data, args.num_train, args.seed, args.mnist_path)
    config = model_config(args, dataset)
    model = build_model(config)
    model.predict_log_prob = tf.function(model.log_prob)  # batched grid evaluation
    train_x, val_x, test_x = (_as_model_input(x, config) for x in dataset[:3])
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  jit_compile=args.jit_compile)
    os.makedirs(args.out, exist_ok=True)
    _io.write_json(os.path.join(args.out, "config.json"), config)
    start = time.perf_counter()
    history = model.fit(train_x, validation_data=val_x, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    if not np.all(np.isfinite(history.history["loss"])):
        raise CLIError("training diverged: the loss became non-finite; lower "
                       "--learning-rate. No weights were written.")
    _io.replace_directory(os.path.join(args.out, "weights"),
                          lambda d: model.save_weights(os.path.join(d, "model")))
    metrics = {"model": args.model, "data": args.data, "epochs": args.epochs,
               "train_seconds": round(seconds, 2),
               "num_parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
               "train": _evaluate(model, train_x, args.batch_size),
               "validation": _evaluate(model, val_x, args.batch_size),
               "test": _evaluate(model, test_x, args.batch_size),
               "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}
    if args.data in ("8gaussians", "checkerboard"):
        entropy = data.toy_entropy(args.data)
        metrics["true_entropy"] = entropy
        metrics["kl_gap"] = metrics["test"]["nll"] - entropy
    samples = np.asarray(model.sample(1000 if config["event_shape"] == [2] else 64,
                                      seed=args.seed))
    _figures(model, config, train_x, samples, args.out)
    _io.write_json(os.path.join(args.out, "metrics.json"), metrics)
    return metrics


def sample(args: argparse.Namespace) -> np.ndarray:
    import tensorflow as tf

    model, config = _load(args.run)
    model.predict_log_prob = tf.function(model.log_prob)
    samples = np.asarray(model.sample(args.num_samples, temperature=args.temperature,
                                      seed=args.seed))
    if config["flatten"]:
        samples = samples.reshape(len(samples), *_image_shape(config))
    out = args.out or args.run
    _io.save_npy(os.path.join(out, "samples.npy"), samples)
    if config["event_shape"] == [2]:
        from tfp_genmodels import plots
        _io.save_figure(os.path.join(out, "samples.png"), plots.scatter_figure(
            samples, title=f"{config['model']} samples", bounds=_bounds(samples)))
    else:
        _figures(model, config, None, samples, out, temperature=args.temperature)
    return samples


# -- argument parsing ------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Bad options: one line on stderr, exit status 2 (no usage dump, no traceback)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _units(text: str) -> tuple[int, ...]:
    try:
        units = tuple(int(u) for u in text.split(",") if u.strip())
    except ValueError:
        units = ()
    if not units or any(u <= 0 for u in units):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128,128; got {text!r}")
    return units


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfp-genmodels",
                     description="Train normalizing flows on built-in data; sample them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a flow; write config.json, weights/, "
                                   "metrics.json and figures to --out.")
    t.add_argument("--model", choices=MODELS, default="realnvp",
                   help="flow recipe (glow needs image data) [%(default)s]")
    t.add_argument("--data", choices=DATASETS, default="moons",
                   help="a 2-D toy density, the 8x8 digits (17 levels) or MNIST "
                        "[%(default)s]")
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
    t.add_argument("--jit-compile", action="store_true", help="compile steps with XLA")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="Keras verbosity: 1 progress bar, 2 one line per epoch "
                        "[%(default)s]")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "train":
            metrics = train(args)
            test = metrics["test"]
            print(f"test NLL {test['nll']:.4f} nats, {test['bits_per_dim']:.4f} bits/dim; "
                  f"wrote {args.out}")
        else:
            samples = sample(args)
            print(f"wrote {len(samples)} samples to {args.out or args.run}")
    except (CLIError, ValueError, TypeError, ConnectionError, FileNotFoundError) as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
