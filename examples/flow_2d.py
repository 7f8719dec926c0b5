"""Fit the 8-Gaussians density with flows.NeuralSplineFlow and measure the KL gap.

The 8-Gaussians density is known in closed form, so the test NLL minus its
entropy is the KL divergence KL(p || q) to the true density (nats, >= 0 up
to Monte Carlo noise). Writes the learned density next to the true one.

Run: python examples/flow_2d.py [--epochs 40] [--out runs/examples/flow_2d.png]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfp_genmodels import _io, data, flows, plots  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--out", default="runs/examples/flow_2d.png")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    x_train = data.toy_sample("8gaussians", args.num_train, seed=0)
    x_test = data.toy_sample("8gaussians", 5000, seed=1)
    model = flows.NeuralSplineFlow(event_shape=(2,), num_layers=4, hidden_units=(64, 64))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(x_train, validation_data=x_test, batch_size=256, epochs=args.epochs, verbose=2)

    nll = -float(np.mean(model.log_prob(x_test)))
    entropy = data.toy_entropy("8gaussians")
    print(f"test NLL {nll:.4f} nats; true entropy {entropy:.4f} nats; "
          f"KL gap {nll - entropy:.4f} nats")

    bounds = (-4, 4, -4, 4)
    fig = Figure(figsize=(8, 4))
    for i, (title, log_prob) in enumerate([
            ("true density", lambda p: data.toy_log_prob("8gaussians", p)),
            ("NeuralSplineFlow", lambda p: model.log_prob(p).numpy())]):
        xs, ys, dens = plots.density_grid(log_prob, bounds, 200)
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(dens, origin="lower", extent=bounds, cmap="magma")
        ax.set_title(title)
        ax.axis("off")
    _io.save_figure(args.out, fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
