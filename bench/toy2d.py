"""KL gap to the true 2-D density: our recipes against TFP's built-ins, side by side.

For a density ``p`` with a closed-form log density, the test NLL of a model
``q`` minus the entropy ``H(p)`` is ``E_p[log p - log q] = KL(p || q) >= 0``:
the distance to the truth in nats, with a limit of 0. Six densities
(``data.KNOWN_DENSITIES``: 8 Gaussians, checkerboard, banana, two rings,
Neal's funnel, an unequal Gaussian mixture). Every model gets the same
training points, steps, batch and optimiser (Adam with cosine decay) and is
scored on 20,000 fresh points; each figure is the mean +- sd over seeds.
Pairs at equal architecture (conditioners of the same widths and depth):

* ``RealNVP`` (ours, reversals) vs ``tfb.RealNVP`` (reversals, tanh-bounded
  log-scale, the same bound): ``--layers`` couplings;
* ``NeuralSplineFlow`` vs ``tfb.RealNVP`` with a ``tfb.RationalQuadraticSpline``
  ``bijector_fn`` (8 bins on [-5, 5]): ``--layers // 2`` couplings (ours
  follows each spline with a conditional affine map: 25 conditioner outputs
  per element instead of 23);
* ``MAF`` vs ``tfb.MaskedAutoregressiveFlow``: ``--layers // 2`` MADEs;
* ``NICE`` (no TFP counterpart): ``--layers`` couplings.
* ``FFJORD`` (a continuous flow on ``tfb.FFJORD``; TFP ships no trainable
  model to pair it with): one CNF block whose dynamics MLP has the same two
  hidden layers, exact trace, solver tolerance 1e-5; ``FFJORD + RNODE`` adds
  Finlay et al.'s kinetic-energy and Jacobian-norm penalties (0.01 each;
  ``FFJORD + RNODE 0.1``: 0.1 each);
  ``FFJORD 3x wide`` has three hidden layers of twice the width, about
  RealNVP's parameter count.

Cost: training seconds per step, and for the CNFs the solver's function
evaluations (NFE) per forward solve, mean over the last epoch (training) and
on the test set.

Stability: the largest increase of the training loss from one epoch to the
next (an epoch = ``--steps // 10`` steps), mean over seeds.

Usage: python bench/toy2d.py [--steps 3000] [--seeds 3] [--layers 8] [--hidden 128]
Prints Markdown tables (KL gap in nats; lower is better).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _tfp_baselines as tfp_flows  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, flows  # noqa: E402


def _models(layers: int, hidden: tuple) -> dict:
    ours = dict(event_shape=(2,), hidden_units=hidden)
    explicit = lambda bijectors: flows.FlowModel((2,), bijectors=bijectors)  # noqa: E731
    return {
        "RealNVP": lambda: flows.RealNVP(num_layers=layers, **ours),
        "tfb.RealNVP": lambda: explicit(tfp_flows.realnvp(2, layers, hidden)),
        "NeuralSplineFlow": lambda: flows.NeuralSplineFlow(num_layers=layers // 2, **ours),
        "tfb.RealNVP + RQ spline": lambda: explicit(tfp_flows.spline(2, layers // 2, hidden)),
        "MAF": lambda: flows.MAF(num_layers=layers // 2, **ours),
        "tfb.MaskedAutoregressiveFlow": lambda: explicit(tfp_flows.maf(2, layers // 2, hidden)),
        "NICE": lambda: flows.NICE(num_layers=layers, **ours),
        "FFJORD": lambda: flows.FFJORD(trace="exact", **ours),
        "FFJORD + RNODE": lambda: flows.FFJORD(trace="exact", kinetic_energy=0.01,
                                               jacobian_norm=0.01, **ours),
        "FFJORD + RNODE 0.1": lambda: flows.FFJORD(trace="exact", kinetic_energy=0.1,
                                                   jacobian_norm=0.1, **ours),
        # Three layers of twice the width: about RealNVP's parameter count (34k vs 35k
        # at --hidden 64; the two-layer FFJORD has 4.6k).
        "FFJORD 3x wide": lambda: flows.FFJORD(
            event_shape=(2,), hidden_units=(2 * hidden[0],) * 3, trace="exact"),
    }


def run(make, density: str, seed: int, steps: int, batch: int, lr: float) -> tuple:
    """KL gap, largest epoch-to-epoch loss increase, seconds per step, NFE (train, test),
    and the held-out NLL's median and worst point (nats)."""
    keras.utils.set_random_seed(seed)
    x_train = data.toy_sample(density, steps * batch // 10, seed=seed)  # 10 epochs
    x_test = data.toy_sample(density, 20000, seed=1000 + seed)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps)
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(schedule), on_nonfinite="skip")
    start = time.perf_counter()
    history = model.fit(x_train, batch_size=batch, epochs=10, verbose=0).history
    seconds = (time.perf_counter() - start) / steps
    test = model.evaluate(x_test, batch_size=4000, verbose=0, return_dict=True)
    nfe = (history["nfe"][-1], test["nfe"]) if "nfe" in test else (None, None)
    nll = -np.concatenate([model.log_prob(x_test[i:i + 4000]).numpy()
                           for i in range(0, len(x_test), 4000)])
    return (test["loss"] - data.toy_entropy(density), float(np.max(np.diff(history["loss"]))),
            seconds, *nfe, float(np.median(nll)), float(np.max(nll)))


def _cell(values) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128, help="width of 2 hidden layers")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--densities", nargs="+", default=list(data.KNOWN_DENSITIES))
    args = parser.parse_args()
    models = _models(args.layers, (args.hidden, args.hidden))
    names = args.models or list(models)
    print(f"Budget: {args.steps} steps (10 epochs), batch {args.batch_size}, Adam "
          f"{args.learning_rate:g} with cosine decay; {args.layers} couplings of 2x{args.hidden}"
          f" (splines, MADEs: {args.layers // 2}); test: 20,000 points; "
          f"{args.seeds} seeds.\n")
    results = {}
    for name in names:
        for density in args.densities:
            runs = [run(models[name], density, seed, args.steps, args.batch_size,
                        args.learning_rate) for seed in range(args.seeds)]
            results[name, density] = runs
            print(f"  {name} / {density}: " + ", ".join(f"{r[0]:.3f}" for r in runs),
                  file=sys.stderr, flush=True)
    print("KL gap (nats), mean ± sd over seeds:\n")
    print("| model | " + " | ".join(args.densities) + " | mean |")
    print("|---|" + "---:|" * (len(args.densities) + 1))
    for name in names:
        gaps = [statistics.mean(r[0] for r in results[name, d]) for d in args.densities]
        print(f"| {name} | " + " | ".join(_cell([r[0] for r in results[name, d]])
                                         for d in args.densities)
              + f" | {statistics.mean(gaps):.3f} |")
    print("\nCost, mean over densities and seeds (NFE: function evaluations per forward "
          "solve, last training epoch / test set):\n")
    print("| model | ms per training step | ratio to the first row | NFE train | NFE test |")
    print("|---|---:|---:|---:|---:|")
    cost = {name: statistics.mean(r[2] for d in args.densities for r in results[name, d])
            for name in names}
    for name in names:
        runs = [r for d in args.densities for r in results[name, d]]
        nfe = [("—" if runs[0][i] is None else f"{statistics.mean(r[i] for r in runs):.0f}")
               for i in (3, 4)]
        print(f"| {name} | {1000 * cost[name]:.1f} | {cost[name] / cost[names[0]]:.2f} | "
              + " | ".join(nfe) + " |")
    print("\nHeld-out NLL per point (nats), median / worst, mean over seeds (a mean can "
          "hide one point):\n")
    print("| model | " + " | ".join(args.densities) + " |")
    print("|---|" + "---:|" * len(args.densities))
    for name in names:
        print(f"| {name} | " + " | ".join(
            f"{statistics.mean(r[5] for r in results[name, d]):.2f} / "
            f"{statistics.mean(r[6] for r in results[name, d]):.2f}"
            for d in args.densities) + " |")
    print("\nLargest epoch-to-epoch increase of the training loss (nats), mean over seeds:\n")
    print("| model | " + " | ".join(args.densities) + " |")
    print("|---|" + "---:|" * len(args.densities))
    for name in names:
        print(f"| {name} | " + " | ".join(
            f"{statistics.mean(r[1] for r in results[name, d]):.3f}"
            for d in args.densities) + " |")


if __name__ == "__main__":
    main()
