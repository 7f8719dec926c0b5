"""A run directory: its data, the model it trains, and how the model is saved and loaded.

``train`` writes ``config.json`` (the data side of the run: which data,
whether images were flattened, the pixel levels, the recipe) and
``model.keras``, the model in Keras' own format: its Keras config
(``get_config``) and every weight. ``sample`` and ``export`` load
``model.keras`` with ``tf_keras.models.load_model``, so a run needs no
builder of its own to be read back. Runs written by version 0.1.0
(``weights/``, a TensorFlow checkpoint) are still read: the model is rebuilt
from ``config.json`` and the checkpoint restored into it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NamedTuple

import numpy as np

from tfp_genmodels import _io, _registry, data
from tfp_genmodels.cli.errors import CLIError
from tfp_genmodels.cli.parser import upgrade_keys

MODEL_FILE = "model.keras"
LEGACY_WEIGHTS = "weights"  # 0.1.0: a TF checkpoint, rebuilt from config.json
#: 28x28 images in 256 levels: a VAE models them as binarised pixels (Bernoulli).
BINARISED_DATASETS = ("mnist", "fashion_mnist")


class Dataset(NamedTuple):
    """The arrays of a run, with the pixel levels and image shape of image data."""

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


def _vae_options(args: argparse.Namespace, image: bool) -> dict[str, Any]:
    if (args.posterior == "categorical") != (args.num_classes is not None):
        raise CLIError("--posterior categorical needs --num-classes K (num_classes: the "
                       "classes of each latent), and --num-classes is for it alone.")
    return {"likelihood": ("gaussian" if not image else
                           "bernoulli" if args.data in BINARISED_DATASETS else "categorical"),
            "latent_dim": args.latent_dim, "posterior": args.posterior,
            "prior": args.prior, "beta": args.beta,
            "kl_warmup_steps": args.kl_warmup_steps, "free_bits": args.free_bits,
            "objective": args.objective, "num_samples": args.num_samples,
            "num_classes": args.num_classes, "estimator": args.estimator,
            "temperature": args.temperature}


def _cnf_options(args: argparse.Namespace, image: bool) -> dict[str, Any]:
    return {"num_layers": args.num_layers or 1, "trace": args.trace,
            "atol": args.tolerance, "rtol": args.tolerance,
            "kinetic_energy": args.kinetic_energy, "jacobian_norm": args.jacobian_norm}


def _flow_options(args: argparse.Namespace, image: bool) -> dict[str, Any]:
    return {"num_layers": args.num_layers, "num_scales": args.num_scales}


#: A model's options in a run's config, by ``--model`` (flow recipes by default).
MODEL_OPTIONS: dict[str, Any] = {"vae": _vae_options, "ffjord": _cnf_options}


def run_config(args: argparse.Namespace, dataset: Dataset) -> dict[str, Any]:
    """The JSON-serialisable description of a run that :func:`build_model` builds."""
    image = dataset.image_shape is not None
    if args.model in _registry.IMAGE_ONLY_RECIPES and not image:
        raise CLIError(f"--model {args.model} needs image data; got --data {args.data}.")
    multiscale = image and args.model in _registry.MULTISCALE_RECIPES
    flat = args.model != "vae" and not multiscale
    event_shape = ([int(np.prod(dataset.train.shape[1:]))] if flat
                   else list(dataset.train.shape[1:]))
    common = {"model": args.model, "data": args.data, "seed": args.seed,
              "pixel_levels": dataset.pixel_levels, "hidden_units": list(args.hidden_units),
              "event_shape": event_shape, "flatten": image and flat}
    return {**common, **MODEL_OPTIONS.get(args.model, _flow_options)(args, image)}


def _build_vae(config: dict[str, Any]) -> Any:
    """A VAE with the standard MLP encoder / decoder."""
    from tfp_genmodels import vae
    from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder

    levels = config["pixel_levels"]
    likelihood = config["likelihood"]
    scale = 1.0 if levels is None or likelihood == "bernoulli" else 1.0 / (levels - 1)
    hidden = tuple(config["hidden_units"])
    latent, classes = config["latent_dim"], config.get("num_classes")
    posterior, estimator = config["posterior"], config.get("estimator")
    code_size = latent * classes if posterior == "categorical" else latent
    if posterior == "categorical":
        posterior = vae.CategoricalPosterior(num_classes=classes, name="posterior")
    if estimator in ("gumbel_softmax", "straight_through"):
        estimator = vae.GumbelSoftmax(config.get("temperature", 1.0),
                                      hard=estimator == "straight_through", name="estimator")
    return vae.VAE(latent, mlp_encoder(config["event_shape"], hidden, scale),
                   mlp_decoder(code_size, hidden[::-1]), likelihood=likelihood,
                   pixel_levels=levels if likelihood == "categorical" else None,
                   posterior=posterior, prior=config["prior"], estimator=estimator,
                   beta=config["beta"], kl_warmup_steps=config["kl_warmup_steps"],
                   free_bits=config["free_bits"], objective=config["objective"],
                   num_samples=config["num_samples"])


def _build_flow(config: dict[str, Any]) -> Any:
    """A flow recipe of :data:`tfp_genmodels.flows.RECIPES`."""
    from tfp_genmodels import flows

    kwargs: dict[str, Any] = {"event_shape": tuple(config["event_shape"]),
                              "hidden_units": tuple(config["hidden_units"])}
    if config["pixel_levels"] is not None:
        kwargs.update(pixel_levels=config["pixel_levels"], pixel_format="integer")
    if config.get("num_layers") is not None:
        kwargs["num_layers"] = config["num_layers"]
    if len(kwargs["event_shape"]) == 3:
        kwargs["num_scales"] = config["num_scales"]
    if config["model"] == "glow":
        kwargs["seed"] = config["seed"]
    if config["model"] == "ffjord":
        kwargs.update({k: config[k] for k in ("trace", "atol", "rtol", "kinetic_energy",
                                              "jacobian_norm")})
    return flows.RECIPES[config["model"]](**kwargs)


#: The CLI's models: ``--model`` -> the builder of a run's config.
BUILDERS: dict[str, Any] = {**{name: _build_flow for name in _registry.FLOW_RECIPES},
                            "vae": _build_vae}


def build_model(config: dict[str, Any]) -> Any:
    """A new (untrained) model from a :func:`run_config` (or an upgraded 0.1.0
    ``config.json``, :func:`~tfp_genmodels.cli.parser.upgrade_keys`)."""
    return BUILDERS[config["model"]](config)


def save_model(model: Any, run: str) -> None:
    """Writes ``run/model.keras`` atomically (a reader sees the old file or the new)."""
    with _io.atomic_path(os.path.join(run, MODEL_FILE), suffix=".keras") as tmp:
        model.save(tmp)


def _missing_weights(run: str) -> CLIError:
    interrupted = os.path.isdir(os.path.join(run, "backup"))
    return CLIError(f"--run {run} has no trained weights yet: " + (
        "its training was interrupted. Continue it with the same `tfp-genmodels train` "
        f"command plus --resume (options in {os.path.join(run, 'train_args.json')})."
        if interrupted else "its training has not finished (or failed); train it first."))


def load_run(run: str) -> tuple[Any, dict[str, Any]]:
    """The trained model of a run directory and its ``config.json``."""
    from tfp_genmodels import saving

    config_path = os.path.join(run, "config.json")
    if not os.path.isfile(config_path):
        raise CLIError(f"--run must be a directory written by `tfp-genmodels train`; "
                       f"{config_path} does not exist.")
    config = upgrade_keys(_io.read_json(config_path))
    model_path = os.path.join(run, MODEL_FILE)
    if os.path.isfile(model_path):
        return saving.load_model(model_path), config
    if os.path.isdir(os.path.join(run, LEGACY_WEIGHTS)):
        model = build_model(config)
        model.load_weights(os.path.join(run, LEGACY_WEIGHTS, "model")).expect_partial()
        return model, config
    raise _missing_weights(run)


def image_shape(config: dict[str, Any]) -> list[int]:
    """The ``[H, W, C]`` of one image of the run (flattened runs: a square, one channel)."""
    if not config["flatten"]:
        return config["event_shape"]
    side = int(round(np.sqrt(config["event_shape"][0])))
    return [side, side, 1]


def as_model_input(x: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """Images as the model takes them: flat vectors for a vector flow."""
    return x.reshape(len(x), -1) if config["flatten"] else x
