"""Test bits/dim of every recipe on scikit-learn's 8x8 digits (17 levels).

Pixels are dequantised inside each model, so the figures are bits/dim of the
discrete images (the uniform model: log2(17) = 4.087). Vector recipes see
flattened 64-dimensional images; Glow and RealNVP (multi-scale) see 8x8x1.
Fixed split (1257 / 180 / 360), same epochs and batch for all; the weights of
the epoch with the best validation bits/dim are restored before testing.

Usage: python bench/digits.py [--epochs 100]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, flows  # noqa: E402

PIX = dict(pixel_levels=data.DIGITS_LEVELS, pixel_format="integer")
RECIPES = {
    "NICE (64-d)": (lambda: flows.NICE(event_shape=(64,), num_layers=4,
                                       hidden_units=(256, 256), **PIX), True),
    "RealNVP (64-d)": (lambda: flows.RealNVP(event_shape=(64,), num_layers=8,
                                             hidden_units=(256, 256), **PIX), True),
    "NeuralSplineFlow (64-d)": (lambda: flows.NeuralSplineFlow(
        event_shape=(64,), num_layers=4, hidden_units=(256, 256), **PIX), True),
    "MAF (64-d)": (lambda: flows.MAF(event_shape=(64,), num_layers=5,
                                     hidden_units=(256, 256), **PIX), True),
    "RealNVP multi-scale (8x8x1)": (lambda: flows.RealNVP(
        event_shape=(8, 8, 1), num_layers=3, hidden_units=(64, 64), **PIX), False),
    "Glow (8x8x1)": (lambda: flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=6,
                                        hidden_units=(64, 64), **PIX), False),
}


def run(name: str, epochs: int, batch: int) -> tuple[float, float, int]:
    keras.utils.set_random_seed(0)
    make, flat = RECIPES[name]
    digits = data.load_digits()
    prep = (lambda x: x.reshape(len(x), -1)) if flat else (lambda x: x)
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    stop = keras.callbacks.EarlyStopping(monitor="val_bits_per_dim", patience=epochs,
                                         restore_best_weights=True)
    start = time.perf_counter()
    model.fit(prep(digits.train.x), validation_data=prep(digits.validation.x),
              batch_size=batch, epochs=epochs, callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - start
    # Average 4 dequantisation draws for a steadier test estimate.
    bpd = np.mean([model.evaluate(prep(digits.test.x), batch_size=360, verbose=0,
                                  return_dict=True)["bits_per_dim"] for _ in range(4)])
    params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    return float(bpd), seconds, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    args = parser.parse_args()
    print(f"{args.epochs} epochs, batch {args.batch_size}, Adam 1e-3, best-validation "
          f"weights. Uniform model: {np.log2(17):.3f} bits/dim.\n")
    print("| recipe | parameters | test bits/dim | train seconds |")
    print("|---|---:|---:|---:|")
    for name in args.recipes:
        bpd, seconds, params = run(name, args.epochs, args.batch_size)
        print(f"| {name} | {params:,} | {bpd:.4f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
