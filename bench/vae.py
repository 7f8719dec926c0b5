"""VAE posteriors and priors on the 8x8 digits: test -ELBO, IWAE NLL, active units.

Same encoder / decoder (MLP 256-256, ELU), latent dimension 8, categorical
likelihood over the 17 grey levels, Adam 1e-3, batch 64, same epochs for
every row; weights of the best validation ELBO are restored. The IWAE NLL
uses K = 1000 importance samples (``--iwae-samples``). Rows vary the posterior
(with the normal prior) and then the prior (with the diagonal posterior).
MNIST rows are added with ``--mnist-path`` (binarised, Bernoulli likelihood).

Usage: python bench/vae.py [--epochs 150] [--iwae-samples 1000]
Prints a Markdown table (nats per image; lower is better).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, vae  # noqa: E402
from tfp_genmodels.vae import report  # noqa: E402
from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder  # noqa: E402

CONFIGS = [("diagonal", "normal"), ("full", "normal"), ("iaf", "normal"),
           ("planar", "normal"), ("diagonal", "mixture"), ("diagonal", "vamp"),
           ("diagonal", "flow")]


def run(posterior: str, prior: str, splits, likelihood: str, levels, scale: float,
        epochs: int, iwae_samples: int):
    keras.utils.set_random_seed(0)
    train, val, test = splits
    shape = train.shape[1:]
    model = vae.VAE(8, mlp_encoder(shape, (256, 256), input_scale=scale),
                    mlp_decoder(8, (256, 256)), likelihood=likelihood, pixel_levels=levels,
                    posterior=posterior, prior=prior)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    stop = keras.callbacks.EarlyStopping(monitor="val_elbo", mode="max", patience=epochs,
                                         restore_best_weights=True)
    start = time.perf_counter()
    model.fit(train, validation_data=val, batch_size=64, epochs=epochs, callbacks=[stop],
              verbose=0)
    seconds = time.perf_counter() - start
    m = report.bound_metrics(model, test, iwae_samples=iwae_samples)
    diag = model.diagnostics(test[:500], num_samples=4)
    return -m["elbo"], m["iwae_nll"], diag["active_units"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--iwae-samples", type=int, default=1000)
    parser.add_argument("--mnist-path", default=None)
    args = parser.parse_args()
    digits = data.load_digits()
    datasets = [("digits", (digits.train.x, digits.validation.x, digits.test.x),
                 "categorical", 17, 1 / 16)]
    if args.mnist_path:
        mnist = data.load_mnist(path=args.mnist_path)
        splits = tuple(data.fixed_binarization(s.x, seed=i) for i, s in enumerate(mnist[:3]))
        datasets.append(("binarised MNIST", splits, "bernoulli", None, 1.0))
    print(f"{args.epochs} epochs, batch 64, latent 8, best-validation weights; IWAE with "
          f"K = {args.iwae_samples}.\n")
    print("| data | posterior | prior | test -ELBO | test IWAE NLL | gap | active units "
          "| train s |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, splits, likelihood, levels, scale in datasets:
        for posterior, prior in CONFIGS:
            neg_elbo, nll, active, seconds = run(posterior, prior, splits, likelihood, levels,
                                                 scale, args.epochs, args.iwae_samples)
            print(f"| {name} | {posterior} | {prior} | {neg_elbo:.3f} | {nll:.3f} | "
                  f"{neg_elbo - nll:.3f} | {active}/8 | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
