"""KL gap to the true 2-D density for every vector recipe, at a fixed budget.

For the toy densities with a closed-form density (8 Gaussians, checkerboard)
the test NLL of a model q minus the true entropy H(p) is
``E_p[log p - log q] = KL(p || q) >= 0``: the distance to the truth in nats,
with a limit of 0. Every recipe gets the same data, steps, batch and
learning-rate schedule (fixed budget); the test set is 20,000 fresh points.

Usage: python bench/toy2d.py [--epochs 40] [--num-train 40000] [--recipes ...]
Prints a Markdown table (KL gap in nats; lower is better).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, flows  # noqa: E402

RECIPES = {
    "NICE": lambda: flows.NICE(event_shape=(2,), num_layers=6, hidden_units=(64, 64)),
    "RealNVP": lambda: flows.RealNVP(event_shape=(2,), num_layers=8, hidden_units=(64, 64)),
    "NeuralSplineFlow": lambda: flows.NeuralSplineFlow(event_shape=(2,), num_layers=4,
                                                       hidden_units=(64, 64), num_bins=8),
    "MAF": lambda: flows.MAF(event_shape=(2,), num_layers=8, hidden_units=(64, 64)),
    "IAF": lambda: flows.IAF(event_shape=(2,), num_layers=8, hidden_units=(64, 64)),
}
DENSITIES = ("8gaussians", "checkerboard")


def kl_gap(recipe: str, density: str, epochs: int, num_train: int, batch: int) -> tuple:
    keras.utils.set_random_seed(0)
    x_train = data.toy_sample(density, num_train, seed=0)
    x_test = data.toy_sample(density, 20000, seed=1)
    steps = epochs * (num_train // batch)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
    model = RECIPES[recipe]()
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    start = time.perf_counter()
    model.fit(x_train, batch_size=batch, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    nll = model.evaluate(x_test, batch_size=2000, verbose=0, return_dict=True)["loss"]
    return nll - data.toy_entropy(density), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--num-train", type=int, default=40000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    args = parser.parse_args()
    print(f"Budget: {args.epochs} epochs x {args.num_train // args.batch_size} steps, "
          f"batch {args.batch_size}, Adam 2e-3 with cosine decay; test: 20,000 points.\n")
    print("| recipe | " + " | ".join(f"{d} KL gap (nats)" for d in DENSITIES)
          + " | train seconds |")
    print("|---|" + "---:|" * (len(DENSITIES) + 1))
    for recipe in args.recipes:
        cells, total = [], 0.0
        for density in DENSITIES:
            gap, seconds = kl_gap(recipe, density, args.epochs, args.num_train,
                                  args.batch_size)
            cells.append(f"{gap:.4f}")
            total += seconds
        print(f"| {recipe} | " + " | ".join(cells) + f" | {total:.0f} |", flush=True)


if __name__ == "__main__":
    main()
