"""The argument parser: options, their types and their one-line errors.

No TensorFlow here: ``--help`` and a mistyped option answer at once. The
choices come from the library's registries (:mod:`tfp_genmodels._registry`).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from tfp_genmodels import _registry, data
from tfp_genmodels._distribute import STRATEGIES
from tfp_genmodels.cli.errors import CLIError

MODELS: tuple[str, ...] = (*_registry.FLOW_RECIPES, "vae")
IMAGE_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist")
DATASETS: tuple[str, ...] = data.TOY_DENSITIES + IMAGE_DATASETS

#: 0.1's option names (as ``train_args.json`` and ``config.json`` keys) -> their
#: names now: 0.1.0 called the scales "levels", and 0.1 a CNF's depth "blocks".
RENAMED_KEYS: dict[str, str] = {"num_levels": "num_scales", "num_blocks": "num_layers"}
#: The same renames as command-line options (``--num-levels`` -> ``--num-scales``).
RENAMED_OPTIONS: dict[str, str] = {f"--{old.replace('_', '-')}": f"--{new.replace('_', '-')}"
                                   for old, new in RENAMED_KEYS.items()}


def upgrade_keys(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (a saved run's config or training arguments) with 0.1.0's key names
    replaced by today's (:data:`RENAMED_KEYS`)."""
    upgraded: dict[str, Any] = {}
    for key, value in options.items():
        new = RENAMED_KEYS.get(key, key)
        if value is not None or upgraded.get(new) is None:
            upgraded[new] = value
    return upgraded


class _Parser(argparse.ArgumentParser):
    """Bad options: one line on stderr, exit status 2 (no usage dump, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _integer(minimum: int, what: str) -> Callable[[str], int]:
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


positive_int = _integer(1, "a positive integer")
nonnegative_int = _integer(0, "an integer >= 0")


def _number(minimum: float, strict: bool, what: str) -> Callable[[str], float]:
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


positive_float = _number(0.0, True, "a positive number")
nonnegative_float = _number(0.0, False, "a number >= 0")


def units(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated positive integers (``128,128``)."""
    try:  # every part must be a number: "64,,64" is a typo, not 64,64
        values = tuple(int(u) for u in text.split(","))
    except ValueError:
        values = ()
    if not values or any(u <= 0 for u in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128,128; got {text!r}")
    return values


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train a flow or a VAE; write config.json, model.keras, "
                                   "metrics.json and figures to --out.")
    t.add_argument("--model", choices=MODELS, default="realnvp",
                   help="a flow recipe (glow needs image data) or vae [%(default)s]")
    t.add_argument("--data", choices=DATASETS, default="moons",
                   help="a 2-D toy density, the 8x8 digits (17 levels), MNIST or "
                        "Fashion-MNIST [%(default)s]")
    t.add_argument("--epochs", type=positive_int, default=50, help="[%(default)s]")
    t.add_argument("--batch-size", type=positive_int, default=256, help="[%(default)s]")
    t.add_argument("--learning-rate", type=positive_float, default=1e-3,
                   help="Adam's step size [%(default)s]")
    t.add_argument("--num-layers", "--num-blocks", dest="num_layers", type=positive_int,
                   default=None,
                   help="the recipe's num_layers: couplings / MADE layers (image flows: "
                        "flow steps per scale; ffjord: CNF blocks) [recipe default]")
    t.add_argument("--num-scales", "--num-levels", dest="num_scales", type=positive_int,
                   default=None,
                   help="image flows' num_scales (Glow's levels); --num-levels is its "
                        "deprecated name [as many as fit, <= 3]")
    t.add_argument("--hidden-units", type=units, default=(128, 128),
                   help="conditioner widths, comma-separated [128,128]")
    t.add_argument("--num-train", type=positive_int, default=20000,
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
    c = t.add_argument_group("continuous-flow options (--model ffjord)")
    c.add_argument("--trace", choices=_registry.CNF_TRACES, default=None,
                   help="exact trace or Hutchinson's estimate [exact up to 16 dimensions]")
    c.add_argument("--tolerance", type=positive_float, default=1e-5,
                   help="the ODE solver's atol and rtol [%(default)s]")
    c.add_argument("--kinetic-energy", type=nonnegative_float, default=0.0,
                   help="weight of the kinetic-energy penalty [%(default)s]")
    c.add_argument("--jacobian-norm", type=nonnegative_float, default=0.0,
                   help="weight of the Jacobian Frobenius-norm penalty [%(default)s]")
    v = t.add_argument_group("VAE options (--model vae)")
    v.add_argument("--latent-dim", type=positive_int, default=8, help="[%(default)s]")
    v.add_argument("--posterior", choices=_registry.POSTERIORS, default="diagonal",
                   help="q(z|x) [%(default)s]")
    v.add_argument("--prior", choices=_registry.PRIORS, default=None,
                   help="p(z) [normal; uniform for discrete latents]")
    v.add_argument("--num-classes", type=_integer(2, "an integer >= 2"), default=None,
                   help="classes of each latent with --posterior categorical")
    v.add_argument("--estimator", choices=_registry.ESTIMATORS, default=None,
                   help="gradient estimator for discrete latents "
                        "[reinforce; vimco with --objective iwae]")
    v.add_argument("--temperature", type=positive_float, default=1.0,
                   help="initial temperature of the relaxed estimators [%(default)s]")
    v.add_argument("--beta", type=nonnegative_float, default=1.0,
                   help="weight of the KL term [%(default)s]")
    v.add_argument("--kl-warmup-steps", type=nonnegative_int, default=0,
                   help="anneal beta from 0 over this many steps [%(default)s]")
    v.add_argument("--free-bits", type=nonnegative_float, default=0.0,
                   help="KL floor in nats per latent dimension [%(default)s]")
    v.add_argument("--objective", choices=_registry.OBJECTIVES, default="elbo",
                   help="training objective [%(default)s]")
    v.add_argument("--num-samples", type=positive_int, default=1,
                   help="z samples per example in training (K for iwae) [%(default)s]")
    v.add_argument("--iwae-samples", type=positive_int, default=1000,
                   help="importance samples for the test log-likelihood [%(default)s]")
    t.add_argument("--eval-limit", type=positive_int, default=None,
                   help="score only the first N examples of each split after training (a "
                        "quick look; the report says how many) [all]")
    t.add_argument("--out", required=True, help="run directory to write")


def make_parser() -> argparse.ArgumentParser:
    """The ``tfp-genmodels`` parser with its ``train``, ``sample``, ``evaluate`` and
    ``export`` commands."""
    parser = _Parser(prog="tfp-genmodels",
                     description="Train normalizing flows and VAEs on built-in data; "
                                 "sample them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train_parser(sub)
    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Load a trained model from --run; write "
                                   "samples.npy and samples.png.")
    s.add_argument("--run", required=True, help="a directory written by `train`")
    s.add_argument("-n", "--num-samples", type=positive_int, default=1000,
                   help="[%(default)s]")
    s.add_argument("--temperature", type=positive_float, default=1.0,
                   help="scale of the base distribution (Glow's T) [%(default)s]")
    s.add_argument("--seed", type=int, default=0, help="[%(default)s]")
    s.add_argument("--out", default=None, help="where to write [the run directory]")
    v = sub.add_parser("evaluate", help="score a trained run's data split, example by example",
                       description="Load the model of --run and its data; print the mean "
                                   "NLL and bits/dim with the median and the worst examples; "
                                   "write evaluation-<split>.json in the run.")
    v.add_argument("--run", required=True, help="a directory written by `train`")
    v.add_argument("--split", choices=("train", "validation", "test"), default="test",
                   help="[%(default)s]")
    v.add_argument("--eval-limit", type=positive_int, default=None,
                   help="score only the first N examples [all]")
    v.add_argument("--batch-size", type=positive_int, default=500, help="[%(default)s]")
    v.add_argument("--seed", type=int, default=0,
                   help="seed of the dequantisation noise / the VAE's draws [%(default)s]")
    v.add_argument("--iwae-samples", type=positive_int, default=1000,
                   help="VAE: importance samples of the log-likelihood [%(default)s]")
    v.add_argument("--verbose", type=int, choices=(0, 1), default=1,
                   help="1: a progress bar [%(default)s]")
    e = sub.add_parser("export", help="write a trained run as a SavedModel for TF Serving",
                       description="Load a trained model from --run and write a SavedModel "
                                   "with explicit signatures to --out/<version>/.")
    e.add_argument("--run", required=True, help="a directory written by `train`")
    e.add_argument("--out", required=True, help="the model's base directory (TF Serving's "
                                                "--model_base_path)")
    e.add_argument("--version", type=nonnegative_int, default=1, help="[%(default)s]")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an existing version directory")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parses ``argv``; a deprecated option name warns (``DeprecationWarning``)."""
    for old, new in RENAMED_OPTIONS.items():
        if any(a == old or a.startswith(old + "=") for a in argv):
            warnings.warn(f"tfp-genmodels: {old} is deprecated; call it {new}.",
                          DeprecationWarning, stacklevel=2)
    return make_parser().parse_args(argv)


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
