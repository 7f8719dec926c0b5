"""Latency of exported SavedModels against the in-process model.

For each model: export with :func:`tfp_genmodels.export.save_for_serving`,
load it with ``tf.saved_model.load`` (as a server would) and time each
signature against the same computation in process inside a ``tf.function``
(the fair comparison: both are traced graphs). Also reports the export's
size on disk and the time to write it.

Models: RealNVP on 2-D points (8 couplings of 128x128), Glow on 8x8 digits
(2 levels x 4 steps, 64 channels), and a VAE on the digits (latent 8,
256x256 MLPs, diagonal posterior). Batch ``--batch`` (default 256); each
figure is the median over ``--repeats`` of the mean of ``--calls`` calls,
in milliseconds per call.

Usage: python bench/serving.py [--batch 256] [--repeats 7] [--calls 20]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_genmodels import data, export, flows, vae  # noqa: E402
from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder  # noqa: E402


def _time(fn, repeats: int, calls: int) -> float:
    fn()  # trace / warm up
    means = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = fn()
        tf.nest.map_structure(lambda t: t.numpy(), out)
        means.append((time.perf_counter() - start) / calls)
    return 1e3 * statistics.median(means)


def _size_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path)
               for f in fs) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    digits = data.load_digits()
    xd = digits.train.x[:args.batch].astype(np.float32)
    moons = data.toy_sample("moons", args.batch, seed=0).astype(np.float32)
    seed = tf.constant(export.SEED)

    realnvp = flows.RealNVP(event_shape=(2,), num_layers=8, hidden_units=(128, 128))
    glow = flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=4, hidden_units=(64, 64),
                      pixel_levels=17, pixel_format="integer")
    glow.log_prob(xd)  # ActNorm's data-dependent initialisation
    model_vae = vae.VAE(8, mlp_encoder((8, 8, 1), (256, 256), 1 / 16), mlp_decoder(8),
                        likelihood="categorical", pixel_levels=17)
    cases = [
        ("RealNVP 2-D", realnvp, "log_prob", {"x": moons},
         tf.function(lambda: realnvp.log_prob(moons, seed=seed))),
        ("RealNVP 2-D", realnvp, "sample", {"num_samples": tf.constant(args.batch)},
         tf.function(lambda: realnvp.sample(args.batch))),
        ("Glow 8x8", glow, "log_prob", {"x": xd},
         tf.function(lambda: glow.log_prob(xd, seed=seed))),
        ("Glow 8x8", glow, "sample", {"num_samples": tf.constant(args.batch)},
         tf.function(lambda: glow.sample(args.batch))),
        ("VAE digits", model_vae, "elbo", {"x": xd},
         tf.function(lambda: model_vae.elbo(xd, seed=seed))),
        ("VAE digits", model_vae, "encode", {"x": xd},
         tf.function(lambda: model_vae.encode(xd).mean())),
        ("VAE digits", model_vae, "log_likelihood", {"x": xd},
         tf.function(lambda: model_vae.log_likelihood(xd, num_samples=100, seed=seed))),
    ]
    rows, exported = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, signature, inputs, in_process in cases:
            if name not in exported:
                start = time.perf_counter()
                path = export.save_for_serving(model, os.path.join(tmp, name.replace(" ", "_")),
                                               version=1)
                seconds = time.perf_counter() - start
                exported[name] = (tf.saved_model.load(path), seconds, _size_mb(path))
            loaded, seconds, size = exported[name]
            fn = loaded.signatures[signature]
            tensors = {k: tf.constant(v) for k, v in inputs.items()}
            served = _time(lambda: fn(**tensors), args.repeats, args.calls)
            local = _time(in_process, args.repeats, args.calls)
            rows.append((name, signature, served, local, seconds, size))
    print(f"Batch {args.batch}, ms per call (median of {args.repeats} x {args.calls} calls).\n")
    print("| model | signature | SavedModel ms | in-process ms | ratio | export s | MiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, signature, served, local, seconds, size in rows:
        print(f"| {name} | {signature} | {served:.2f} | {local:.2f} | {served / local:.2f} | "
              f"{seconds:.1f} | {size:.1f} |")


if __name__ == "__main__":
    main()
