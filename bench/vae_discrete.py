"""Discrete-latent VAEs on dynamically binarised Fashion-MNIST: the estimators side by side.

The setting of the DisARM paper's reference code (Dong, Mnih & Tucker, 2020):
200 Bernoulli latents; the "linear" networks (one dense layer each way: the
posterior's logits and the likelihood's logits are affine in x and z) and the
"nonlinear" ones (two hidden layers of 200, LeakyReLU, each way); Adam 1e-4,
batch 50, a fresh binarisation of every batch (pixel ~ Bernoulli(intensity)).
Every estimator gets the same number of optimizer steps. Then categorical
latents (20 variables x 10 classes, nonlinear networks): Gumbel-softmax
against REINFORCE.

Columns: the training ELBO (nats, on 10,000 training images, exact KL), the
100-sample importance-weighted test bound (``log_likelihood``, nats, on the
test images), the variance of the encoder's gradient (mean over parameters of
the variance across 100 draws on one fixed batch), and seconds per 1000 steps.
Higher bounds are better; the VIMCO and leave-one-out rows use 2 samples per
example, DisARM its antithetic pair (two decoder passes), the others one. The
relaxed estimators run twice: at a constant temperature 1 and with the
default annealing (``tau_t = max(0.1, exp(-5e-3 t))``).

Usage: python bench/vae_discrete.py [--steps 10000] [--test-examples 10000]
       [--path DIR] [--only NAME ...]
Fashion-MNIST: ``apt-get install dataset-fashion-mnist`` (or ``--path``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, vae  # noqa: E402

D = 784
GUMBEL = {"estimator": "gumbel_softmax"}
STRAIGHT = {"estimator": "straight_through"}
#: The relaxed estimators at a constant temperature 1 (else: the default annealing,
#: tau_t = max(0.1, exp(-5e-3 t))).
CONSTANT_TAU = {"temperature": 1.0, "temperature_decay": 0.0}
#: (name, network kind, posterior, VAE keyword arguments).
ROWS = [
    ("REINFORCE (NVIL)", "linear", "bernoulli", {"estimator": "reinforce"}),
    ("REINFORCE (leave-one-out, 2 samples)", "linear", "bernoulli",
     {"estimator": "reinforce", "num_samples": 2}),
    ("VIMCO (2 samples)", "linear", "bernoulli",
     {"estimator": "vimco", "objective": "iwae", "num_samples": 2}),
    ("DisARM", "linear", "bernoulli", {"estimator": "disarm"}),
    ("Gumbel-softmax (tau = 1)", "linear", "bernoulli", CONSTANT_TAU | GUMBEL),
    ("Gumbel-softmax, annealed", "linear", "bernoulli", GUMBEL),
    ("straight-through (tau = 1)", "linear", "bernoulli", CONSTANT_TAU | STRAIGHT),
    ("straight-through, annealed", "linear", "bernoulli", STRAIGHT),
    ("REINFORCE (NVIL)", "nonlinear", "bernoulli", {"estimator": "reinforce"}),
    ("REINFORCE (leave-one-out, 2 samples)", "nonlinear", "bernoulli",
     {"estimator": "reinforce", "num_samples": 2}),
    ("VIMCO (2 samples)", "nonlinear", "bernoulli",
     {"estimator": "vimco", "objective": "iwae", "num_samples": 2}),
    ("DisARM", "nonlinear", "bernoulli", {"estimator": "disarm"}),
    ("Gumbel-softmax (tau = 1)", "nonlinear", "bernoulli", CONSTANT_TAU | GUMBEL),
    ("Gumbel-softmax, annealed", "nonlinear", "bernoulli", GUMBEL),
    ("straight-through (tau = 1)", "nonlinear", "bernoulli", CONSTANT_TAU | STRAIGHT),
    ("straight-through, annealed", "nonlinear", "bernoulli", STRAIGHT),
    ("REINFORCE (NVIL)", "nonlinear", "categorical 20x10", {"estimator": "reinforce"}),
    ("Gumbel-softmax (tau = 1)", "nonlinear", "categorical 20x10", CONSTANT_TAU | GUMBEL),
    ("Gumbel-softmax, annealed", "nonlinear", "categorical 20x10", GUMBEL),
]


def networks(kind: str, code_size: int):
    """The DisARM reference code's encoder / decoder bodies (the VAE adds the heads)."""
    hidden = [] if kind == "linear" else [200, 200]
    enc = [keras.Input((D,))] + [keras.layers.Dense(u, keras.layers.LeakyReLU(0.3))
                                 for u in hidden]
    dec = [keras.Input((code_size,))] + [keras.layers.Dense(u, keras.layers.LeakyReLU(0.3))
                                         for u in hidden]
    return keras.Sequential(enc), keras.Sequential(dec)


def binarised(images: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """Batches with every pixel drawn afresh ~ Bernoulli(intensity), forever."""
    ds = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).repeat()
    return ds.batch(batch_size, drop_remainder=True).map(
        lambda p: tf.cast(tf.random.uniform(tf.shape(p)) < p, tf.float32))


def encoder_gradient_variance(model, x, draws: int = 100) -> float:
    """Mean over the encoder's parameters of the gradient's variance across draws."""
    variables = model.encoder.trainable_variables + model.posterior.trainable_variables
    saved = [v.numpy() for v in model.variables]

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            loss, _ = model._loss_and_metrics(x, None, tf.constant(model.beta), training=True)
        return tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(loss, variables)], 0)

    grads = np.stack([grad().numpy() for _ in range(draws)])
    for v, value in zip(model.variables, saved):   # NVIL's running means moved
        v.assign(value)
    return float(np.mean(np.var(grads, axis=0)))


def run(row, images, steps: int, test: np.ndarray, rng) -> dict:
    name, kind, posterior, kwargs = row
    keras.utils.set_random_seed(0)
    categorical = posterior.startswith("categorical")
    latent, code = (20, 200) if categorical else (200, 200)
    encoder, decoder = networks(kind, code)
    kwargs = dict(kwargs)
    if "temperature" in kwargs:  # a relaxed estimator with its own temperature schedule
        kwargs["estimator"] = vae.GumbelSoftmax(
            kwargs.pop("temperature"), kwargs.pop("temperature_decay"),
            hard=kwargs["estimator"] == "straight_through")
    model = vae.VAE(latent, encoder, decoder, likelihood="bernoulli", event_shape=(D,),
                    posterior=(vae.CategoricalPosterior(num_classes=10) if categorical
                               else posterior), **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    train = binarised(images.train, 50, seed=0)
    start = time.perf_counter()
    model.fit(train, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    fixed = (rng.uniform(size=images.train[:50].shape) < images.train[:50]).astype(np.float32)
    train_x = (rng.uniform(size=images.train[:10000].shape) < images.train[:10000]).astype(
        np.float32)
    elbo = np.mean(np.concatenate([model.elbo(train_x[i:i + 1000]).numpy()
                                   for i in range(0, len(train_x), 1000)]))
    bound = np.mean(np.concatenate([
        model.log_likelihood(test[i:i + 500], num_samples=100).numpy()
        for i in range(0, len(test), 500)]))
    return {"name": name, "network": kind, "latents": posterior, "train_elbo": elbo,
            "test_bound": bound, "grad_var": encoder_gradient_variance(model, fixed),
            "s_per_1000": 1000 * seconds / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--test-examples", type=int, default=10000)
    parser.add_argument("--path", default=None, help="Fashion-MNIST IDX directory")
    parser.add_argument("--only", nargs="*", default=None,
                        help="networks or estimators to run (e.g. linear DisARM)")
    args = parser.parse_args()
    fm = data.load_fashion_mnist(args.path)
    images = type("Images", (), {})()
    images.train = (fm.train.x.reshape(-1, D) / 255.0).astype(np.float32)
    rng = np.random.default_rng(0)
    test_p = (fm.test.x.reshape(-1, D)[:args.test_examples] / 255.0).astype(np.float32)
    test = (rng.uniform(size=test_p.shape) < test_p).astype(np.float32)
    print(f"Fashion-MNIST, dynamically binarised; {args.steps} steps of batch 50, Adam 1e-4; "
          f"test bound on {len(test)} images, 100 samples\n")
    print("| network | latents | estimator | train ELBO | test bound (K=100) | "
          "encoder grad. variance | s / 1000 steps |")
    print("|---|---|---|---:|---:|---:|---:|")
    for row in ROWS:
        if args.only and not any(o in (row[0], row[1]) or o in row[0] for o in args.only):
            continue
        r = run(row, images, args.steps, test, rng)
        print(f"| {r['network']} | {r['latents']} | {r['name']} | {r['train_elbo']:.2f} | "
              f"{r['test_bound']:.2f} | {r['grad_var']:.3g} | {r['s_per_1000']:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
