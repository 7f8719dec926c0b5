"""Fashion-MNIST (28x28, 256 levels): our Glow and multi-scale RealNVP against tfb.Glow, and a VAE.

Same data, optimiser, batch and number of steps for every row, and the same
training loop (one ``tf.function`` step: ``-mean log p`` -> gradient -> Adam)
with a static batch shape, which ``tfb.Glow`` needs. Architectures are equal
where the models share a knob: ``--levels`` scales, ``--steps-per-level``
flow steps per scale and ``--channels`` hidden channels in every coupling
network.

* **Glow (ours)**: ``flows.Glow``; coupling networks 3x3 conv -> 1x1 conv ->
  zero 3x3 conv (``hidden_units=(C, C)``), the same shape as TFP's.
* **RealNVP multi-scale (ours)**: ``flows.RealNVP`` on images, ``num_scales =
  --levels``, ``num_layers = --steps-per-level // 2`` (checkerboard and channel
  couplings at each scale, so the count of couplings per scale is about the
  same as Glow's steps).
* **tfb.Glow**: ``num_glow_blocks = --levels``, ``num_steps_per_block =
  --steps-per-level``, ``GlowDefaultNetwork(num_hidden=C)`` (3x3 -> 1x1 ->
  zero 3x3) and ``GlowDefaultExitNetwork``. TFP's Glow takes continuous input,
  so it gets our pixel end (uniform dequantisation, ``x / 256``, the 0.05-logit)
  in front: all flows see the same transformed data, and their log-densities
  refer to the same dequantised pixels.
* **VAE**: ``vae.VAE`` with MLP encoder and decoder (``--vae-hidden``), latent
  ``--vae-latent``, a Gaussian likelihood with a learned scale per pixel on
  dequantised pixels ``(k + u) / 256``; test bits/dim from the IWAE bound with
  ``--iwae-samples`` samples (a looser bound than the flows' exact densities).

Test bits/dim: every one of the 10,000 test images, dequantised with a fixed
seed, ``-log p(k + u) / (784 log 2)`` (the papers' figure: a bound on the
discrete model's bits/dim). Step time: the median over the timed training
steps (after ``--warmup`` steps), examples/s = batch / step time. Peak memory:
each row trains in its own process; on a GPU the TensorFlow allocator's peak,
otherwise the process's peak resident memory (the TensorFlow runtime
included, about 0.5-0.7 GiB of it).

Budgets: the default fits about 30 minutes on a 2-core CPU; ``--full`` is the
setting for a GPU (2 levels x 16 steps, 200 channels, batch 64, 20,000 steps),
the architecture of Kirichenko, Izmailov & Wilson (2020), whose Glow reached
3.14 test bits/dim after much longer training.

Usage: python bench/fashion_mnist.py [--full] [--steps N] [--data-path DIR]
Prints Markdown tables (bits/dim: lower is better; ratio: ours / tfb.Glow).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("Glow", "RealNVP multi-scale", "tfb.Glow", "VAE (Gaussian, IWAE)")
CPU_BUDGET = dict(levels=2, steps_per_level=4, channels=64, batch_size=64, steps=4000,
                  vae_hidden=512, vae_latent=32, iwae_samples=100)
FULL_BUDGET = dict(levels=2, steps_per_level=16, channels=200, batch_size=64, steps=20000,
                   vae_hidden=1024, vae_latent=64, iwae_samples=1000)
EVAL_BATCH = 500  # divides the 10,000 test images (tfb.Glow needs a static batch)


def _build(name: str, args):
    """``(log_prob, variables)``: a function of a static-shape batch in [0, 1]."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tfp_genmodels import flows
    from tfp_genmodels.flows.pixels import PixelPreprocessing

    tfb, tfd = tfp.bijectors, tfp.distributions
    shape = (28, 28, 1)
    hidden = (args.channels, args.channels)
    if name == "Glow":
        model = flows.Glow(shape, num_scales=args.levels, num_layers=args.steps_per_level,
                           hidden_units=hidden)
        return model.log_prob, model
    if name == "RealNVP multi-scale":
        model = flows.RealNVP(shape, num_scales=args.levels,
                              num_layers=max(1, args.steps_per_level // 2),
                              hidden_units=hidden)
        return model.log_prob, model
    if name == "tfb.Glow":
        pixels = PixelPreprocessing(256, "unit")
        glow = tfb.Glow(output_shape=shape, num_glow_blocks=args.levels,
                        num_steps_per_block=args.steps_per_level,
                        coupling_bijector_fn=functools.partial(tfb.GlowDefaultNetwork,
                                                               num_hidden=args.channels),
                        exit_bijector_fn=tfb.GlowDefaultExitNetwork)
        z_shape = glow.inverse_event_shape(shape)
        dist = tfd.TransformedDistribution(
            tfd.Sample(tfd.Normal(0.0, 1.0), z_shape),
            tfb.Chain(pixels.bijectors() + [glow]))

        def log_prob(x, seed=None):
            return dist.log_prob(pixels.dequantize(tf.convert_to_tensor(x), seed))

        return log_prob, dist
    raise ValueError(name)


def _vae(args):
    from tfp_genmodels import vae
    from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder

    hidden = (args.vae_hidden, args.vae_hidden)
    model = vae.VAE(args.vae_latent, mlp_encoder((28, 28, 1), hidden),
                    mlp_decoder(args.vae_latent, hidden), likelihood="gaussian")
    return model


def run_one(name: str, args) -> dict:
    """Trains and scores one row in this process; returns its figures."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from tfp_genmodels import data
    from tfp_genmodels.bijectors import uniform_dequantize

    keras.utils.set_random_seed(args.seed)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    fashion = data.load_fashion_mnist(path=args.data_path)
    x_train = (fashion.train.x / 255.0).astype(np.float32)
    x_test = (fashion.test.x / 255.0).astype(np.float32)
    batch = args.batch_size
    train = (tf.data.Dataset.from_tensor_slices(x_train).shuffle(len(x_train), seed=args.seed)
             .repeat().batch(batch, drop_remainder=True).prefetch(2))
    num_dims = 28 * 28
    is_vae = name.startswith("VAE")
    if is_vae:
        model = _vae(args)
        variables_of = model
        optimizer = keras.optimizers.Adam(args.learning_rate)

        def to_unit(x, seed=None):  # dequantised pixels (k + u) / 256
            return uniform_dequantize(tf.round(x * 255.0), seed=seed) / 256.0

        def loss_fn(x):
            return -tf.reduce_mean(model.elbo(to_unit(x)))
    else:
        log_prob, variables_of = _build(name, args)
        optimizer = keras.optimizers.Adam(args.learning_rate)

        def loss_fn(x):
            return -tf.reduce_mean(log_prob(x))

    first = next(iter(train))
    loss_fn(first)  # builds lazily created layers; data-dependent ActNorm init on data
    variables = variables_of.trainable_variables
    num_params = int(sum(np.prod(v.shape) for v in variables))

    @tf.function(jit_compile=args.xla)
    def step(x):
        with tf.GradientTape() as tape:
            loss = loss_fn(x)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    times, losses = [], []
    it = iter(train)
    start = time.perf_counter()
    for i in range(args.steps):
        x = next(it)
        t0 = time.perf_counter()
        loss = float(step(x))
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        if not math.isfinite(loss):
            break
        if (i + 1) % max(1, args.steps // 10) == 0:
            print(f"    {name}: step {i + 1}, loss {statistics.mean(losses[-50:]):.1f}",
                  file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - start
    step_time = statistics.median(times[args.warmup:] or times)

    # Test bits/dim over all 10,000 test images, fixed dequantisation seed.
    nats = []
    if is_vae:
        for i in range(0, len(x_test), EVAL_BATCH):
            x = to_unit(tf.constant(x_test[i:i + EVAL_BATCH]), seed=tf.constant([1, i]))
            nats.append(model.log_likelihood(x, num_samples=args.iwae_samples,
                                             chunk_size=min(100, args.iwae_samples),
                                             seed=tf.constant([2, i])).numpy()
                        - num_dims * math.log(256.0))
    else:
        score = tf.function(lambda x, s: log_prob(x, seed=s))
        for i in range(0, len(x_test), EVAL_BATCH):
            nats.append(score(tf.constant(x_test[i:i + EVAL_BATCH]),
                              tf.constant([1, i])).numpy())
    nats = np.concatenate(nats)
    if gpu:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    bpd = -nats / (num_dims * math.log(2.0))
    worst = np.argsort(-bpd)[:3]
    return {"name": name, "bits_per_dim": float(-nats.mean() / (num_dims * math.log(2.0))),
            "median_bpd": float(np.median(bpd)),
            "worst": [[int(i), float(bpd[i])] for i in worst],
            "bits_per_dim_se": float(nats.std() / math.sqrt(len(nats))
                                     / (num_dims * math.log(2.0))),
            "final_train_bpd": float(statistics.mean(losses[-50:]) / (num_dims * math.log(2)))
            if not is_vae else float("nan"),
            "step_ms": 1000 * step_time, "examples_per_s": batch / step_time,
            "peak_mib": float(peak), "params": num_params, "train_s": train_seconds,
            "steps_done": len(losses), "device": "GPU" if gpu else "CPU"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the GPU budget")
    for key, value in CPU_BUDGET.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=None,
                            help=f"CPU default {value}, --full {FULL_BUDGET[key]}")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=20, help="untimed first steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--xla", action="store_true", help="jit_compile the step")
    parser.add_argument("--data-path", default=None, help="directory of the IDX files")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    budget = FULL_BUDGET if args.full else CPU_BUDGET
    for key, value in budget.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args)))
        return

    print(f"Fashion-MNIST, 50,000 training images, batch {args.batch_size}, "
          f"{args.steps} steps ({args.steps * args.batch_size / 50000:.1f} epochs), Adam "
          f"{args.learning_rate:g}, seed {args.seed}; flows: {args.levels} levels x "
          f"{args.steps_per_level} steps, {args.channels} channels; test: all 10,000 "
          f"images.\n", flush=True)
    rows = []
    for name in args.models:
        # `--one` runs that model alone (a `--models` list among the arguments is ignored).
        cmd = [sys.executable, os.path.abspath(__file__), "--one", name, *sys.argv[1:]]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  done: {rows[-1]}", file=sys.stderr, flush=True)
    tfp_row = next((r for r in rows if r["name"] == "tfb.Glow"), None)
    print("| model | parameters | test bits/dim | median | worst 3 (index: bits/dim) | "
          "train bits/dim (last 50 steps) | ms / step | examples / s | step time / tfb.Glow | "
          "peak memory (MiB) |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['step_ms'] / tfp_row['step_ms']:.2f}" if tfp_row else "n/a"
        train_bpd = "-" if math.isnan(r["final_train_bpd"]) else f"{r['final_train_bpd']:.3f}"
        worst = ", ".join(f"#{i}: {v:,.2f}" for i, v in r["worst"])
        print(f"| {r['name']} | {r['params']:,} | {r['bits_per_dim']:.3f} ± "
              f"{r['bits_per_dim_se']:.3f} | {r['median_bpd']:.3f} | {worst} | {train_bpd} | "
              f"{r['step_ms']:.1f} | "
              f"{r['examples_per_s']:.0f} | {ratio} | {r['peak_mib']:.0f} |")
    print(f"\nDevice: {rows[0]['device']}. ± is the standard error over the test images.")


if __name__ == "__main__":
    main()
