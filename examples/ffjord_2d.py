"""Fit a continuous normalizing flow (flows.FFJORD) to two rings; report its cost.

The two-rings density is known in closed form, so the test NLL minus its
entropy is the KL divergence to the truth (nats). A CNF's cost is the number
of evaluations of its dynamics the ODE solver needs (NFE); with
``--kinetic-energy`` / ``--jacobian-norm`` (Finlay et al., 2020) training
also penalises curved, hard-to-solve trajectories. Writes the learned density
next to samples and the paths of a few points from the base to the data.

Run: python examples/ffjord_2d.py [--epochs 20] [--hidden 64] [--kinetic-energy 0.01]
     [--out runs/examples/ffjord_2d.png]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfp_genmodels import _io, data, flows, plots  # noqa: E402


def trajectories(model: flows.FFJORD, z: np.ndarray, steps: int = 20) -> np.ndarray:
    """``[steps + 1, N, 2]``: base points moved along the dynamics (explicit Euler
    on the model's own network, for the picture only)."""
    net, path = model.dynamics[0], [z.astype(np.float32)]
    dt = 1.0 / steps
    for i in range(steps):
        path.append(path[-1] + dt * net(tf.constant(i * dt), tf.constant(path[-1])).numpy())
    return np.stack(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=10000)
    parser.add_argument("--kinetic-energy", type=float, default=0.0)
    parser.add_argument("--jacobian-norm", type=float, default=0.0)
    parser.add_argument("--hidden", type=int, default=64, help="width of 2 hidden layers")
    parser.add_argument("--out", default="runs/examples/ffjord_2d.png")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    x_train = data.toy_sample("ringmix", args.num_train, seed=0)
    x_test = data.toy_sample("ringmix", 2000, seed=1)
    model = flows.FFJORD(event_shape=(2,), hidden_units=(args.hidden, args.hidden),
                         kinetic_energy=args.kinetic_energy, jacobian_norm=args.jacobian_norm)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x_train, batch_size=500, epochs=args.epochs, verbose=2).history

    nll = -float(np.mean(model.log_prob(x_test)))
    test_nfe = int(model.num_function_evaluations)
    entropy = data.toy_entropy("ringmix")
    print(f"test NLL {nll:.4f} nats; true entropy {entropy:.4f} nats; "
          f"KL gap {nll - entropy:.4f} nats")
    print(f"NFE per solve: first epoch {history['nfe'][0]:.0f}, last epoch "
          f"{history['nfe'][-1]:.0f}, test {test_nfe}")

    bounds = (-4, 4, -4, 4)
    fig = Figure(figsize=(12, 4))
    xs, ys, dens = plots.density_grid(lambda p: model.log_prob(p).numpy(), bounds, 120)
    ax = fig.add_subplot(1, 3, 1)
    ax.imshow(dens, origin="lower", extent=bounds, cmap="magma")
    ax.set_title("FFJORD density")
    samples = model.sample(2000, seed=tf.constant([1, 2])).numpy()
    ax = fig.add_subplot(1, 3, 2)
    ax.scatter(samples[:, 0], samples[:, 1], s=1)
    ax.set(xlim=bounds[:2], ylim=bounds[2:], title="samples")
    path = trajectories(model, np.random.default_rng(0).standard_normal((60, 2)))
    ax = fig.add_subplot(1, 3, 3)
    ax.plot(path[:, :, 0], path[:, :, 1], lw=0.7)
    ax.set(xlim=bounds[:2], ylim=bounds[2:], title="base -> data paths")
    _io.save_figure(args.out, fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
