"""Training-step time: our RealNVP, MAF and Glow against TFP's built-ins.

Same architecture, dimension, batch and optimiser for both sides:

* RealNVP, D = 64: 6 affine couplings over halves with a reversal
  permutation between them; each conditioner Dense(256)-Dense(256)-Dense.
  Ours: ``flows.RealNVP(permutation="reverse")``; TFP: ``tfb.RealNVP`` with a
  Keras ``shift_and_log_scale_fn`` of the same layers.
* MAF, D = 64: 5 MADE layers of (256, 256) with reversals (ours wraps
  ``tfb.MaskedAutoregressiveFlow``; the difference measures our overhead).
* Glow, 16x16x3: 2 levels x 4 steps, conditioners with 64 hidden channels.
  TFP: ``tfb.Glow`` with ``GlowDefaultNetwork(num_hidden=64)`` (conv 3x3, conv
  1x1, zero conv 3x3) and ``GlowDefaultExitNetwork``; ours: the same 3x3 / 1x1
  / zero-3x3 network. Continuous input (no dequantisation), as TFP's Glow has
  none.

A step is ``-mean log_prob`` -> gradient -> Adam update, in one
``tf.function`` (with and without ``jit_compile``). The two sides run in the
same process, interleaved (ours, TFP's, ours, ...), and each figure is the
median over repeats of the mean time of ``--steps`` steps.

Usage: python bench/speed.py [--repeats 7] [--steps 10]
Prints a Markdown table (ms per step; ratio = ours / TFP's, < 1 is faster).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _tfp_baselines  # noqa: E402  (bench/ is the script's directory)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfp_genmodels import flows  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions


def tfp_realnvp(dim: int, layers: int):
    base = tfd.MultivariateNormalDiag(tf.zeros(dim))
    return tfd.TransformedDistribution(base, tfb.Chain(
        _tfp_baselines.realnvp(dim, layers, log_scale_bound=None)))


def tfp_maf(dim: int, layers: int):
    base = tfd.MultivariateNormalDiag(tf.zeros(dim))
    return tfd.TransformedDistribution(base, tfb.Chain(_tfp_baselines.maf(dim, layers)))


def tfp_glow(shape, levels: int, steps: int, hidden: int):
    glow = tfb.Glow(output_shape=shape, num_glow_blocks=levels, num_steps_per_block=steps,
                    coupling_bijector_fn=functools.partial(tfb.GlowDefaultNetwork,
                                                           num_hidden=hidden),
                    exit_bijector_fn=tfb.GlowDefaultExitNetwork)
    z_shape = glow.inverse_event_shape(shape)
    base = tfd.Sample(tfd.Normal(0.0, 1.0), z_shape)
    return tfd.TransformedDistribution(base, glow)


def train_step(log_prob, variables, jit: bool):
    optimizer = keras.optimizers.Adam(1e-4)

    @tf.function(jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(log_prob(x))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    return step


def timed(step, x, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(x)
    loss.numpy()
    return (time.perf_counter() - start) / steps * 1000.0


def compare(name, ours, theirs, x, jit, repeats, steps):
    runs = {}
    for side, (log_prob, variables) in (("ours", ours), ("tfp", theirs)):
        log_prob(x)  # build and initialise
        assert variables(), f"{name} {side}: no trainable variables"
        try:
            step = train_step(log_prob, variables(), jit)
            step(x).numpy()  # trace + compile
            runs[side] = (step, [])
        except Exception as err:  # noqa: BLE001 - report, e.g. an XLA failure
            runs[side] = (None, f"fails: {type(err).__name__}")
    for _ in range(repeats):  # interleaved
        for side in ("ours", "tfp"):
            step, times = runs[side]
            if step is not None:
                times.append(timed(step, x, steps))
    cells = []
    for side in ("ours", "tfp"):
        step, times = runs[side]
        cells.append(statistics.median(times) if step is not None else times)
    if all(isinstance(c, float) for c in cells):
        ratio = f"{cells[0] / cells[1]:.2f}"
    else:
        ratio = "n/a"
    fmt = lambda c: f"{c:.1f}" if isinstance(c, float) else c  # noqa: E731
    print(f"| {name} | {'on' if jit else 'off'} | {fmt(cells[0])} | {fmt(cells[1])} | "
          f"{ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    print(f"Batch {args.batch_size} (Glow: 32); ms per training step, median of "
          f"{args.repeats} interleaved repeats of {args.steps} steps.\n")
    print("| model | XLA | ours (ms) | TFP (ms) | ratio |")
    print("|---|---|---:|---:|---:|")
    x_vec = tf.constant(rng.normal(size=(args.batch_size, 64)), tf.float32)
    x_img = tf.constant(rng.normal(size=(32, 16, 16, 3)), tf.float32)
    for jit in (False, True):
        ours = flows.RealNVP(event_shape=(64,), num_layers=6, hidden_units=(256, 256),
                             permutation="reverse")
        theirs = tfp_realnvp(64, 6)
        compare("RealNVP 64-d", (ours.log_prob, lambda: ours.trainable_variables),
                (theirs.log_prob, lambda: theirs.trainable_variables), x_vec, jit,
                args.repeats, args.steps)
        ours = flows.MAF(event_shape=(64,), num_layers=5, hidden_units=(256, 256))
        theirs = tfp_maf(64, 5)
        compare("MAF 64-d", (ours.log_prob, lambda: ours.trainable_variables),
                (theirs.log_prob, lambda: theirs.trainable_variables), x_vec, jit,
                args.repeats, args.steps)
        ours = flows.Glow(event_shape=(16, 16, 3), num_scales=2, num_layers=4,
                          hidden_units=(64, 64), pixel_levels=None)
        theirs = tfp_glow((16, 16, 3), 2, 4, 64)
        compare("Glow 16x16x3", (ours.log_prob, lambda: ours.trainable_variables),
                (theirs.log_prob, lambda: theirs.trainable_variables), x_img, jit,
                args.repeats, args.steps)


if __name__ == "__main__":
    main()
