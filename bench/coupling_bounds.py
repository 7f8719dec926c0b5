"""Coupling bounds: the log-scale and shift clamps, by held-out likelihood and worst example.

One process per run (a fresh TensorFlow each time), and for every run: the
held-out mean, the median and the worst examples, so that one example that
dominates a mean is seen.

    # Fashion-MNIST (Debian's dataset-fashion-mnist), the CLI's Glow defaults, 1 epoch:
    python bench/coupling_bounds.py fashion_mnist --bounds 3,none 3,5 1,none 1,5 --seeds 0
    # 2-D densities, RealNVP of 8 couplings of 2x128, 3000 steps of 512:
    python bench/coupling_bounds.py toy --densities banana ringmix funnel --seeds 0 1

A bound is ``LOG_SCALE,SHIFT`` (``none``: unbounded). Toy rows report the
KL gap where the density is known in closed form (``data.toy_log_prob``),
else the held-out NLL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def _bounds(text: str) -> dict:
    log_scale, shift = text.split(",")
    return {"log_scale_clamp": float(log_scale),
            "shift_clamp": None if shift == "none" else float(shift)}


def spread(values: np.ndarray, top: int = 3) -> dict:
    """Mean, median and the ``top`` worst (largest) values with their indices."""
    order = np.argsort(-values)[:top]
    return {"mean": float(np.mean(values)), "median": float(np.median(values)),
            "worst": [[int(i), float(values[i])] for i in order]}


def _run_fashion_mnist(bounds: dict, seed: int, epochs: int) -> dict:
    import tensorflow as tf
    import tf_keras as keras

    from tfp_genmodels import data, flows

    keras.utils.set_random_seed(seed)
    images = data.load_fashion_mnist()
    model = flows.Glow(event_shape=(28, 28, 1), hidden_units=(128, 128), pixel_format="integer",
                       **bounds)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    history = model.fit(images.train.x, epochs=epochs, batch_size=256, verbose=0)
    seconds = time.perf_counter() - start
    score = tf.function(lambda x: model.bits_per_dim(x, seed=tf.constant([seed, 1])))
    out = {"train_seconds": seconds, "train_loss_last": float(history.history["loss"][-1])}
    for split in ("validation", "test"):
        x = getattr(images, split).x
        bpd = np.concatenate([score(x[i:i + 500]).numpy() for i in range(0, len(x), 500)])
        out[split] = spread(bpd)
    return out


def _run_toy(bounds: dict, seed: int, density: str, steps: int) -> dict:
    import tf_keras as keras

    from tfp_genmodels import data, flows

    keras.utils.set_random_seed(seed)
    x = data.toy_sample(density, 512 * 20, seed=seed)
    test = data.toy_sample(density, 20000, seed=seed + 100)
    model = flows.RealNVP(event_shape=(2,), num_layers=8, hidden_units=(128, 128), **bounds)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    model.fit(x, epochs=max(1, steps // 20), batch_size=512, verbose=0)
    seconds = time.perf_counter() - start
    nll = -model.log_prob(test).numpy()
    out = {"train_seconds": seconds, "test": spread(nll)}
    if density in data.KNOWN_DENSITIES:
        out["kl_gap"] = float(np.mean(nll + data.toy_log_prob(density, test)))
    return out


def _child(spec: dict) -> None:
    if spec["data"] == "fashion_mnist":
        result = _run_fashion_mnist(spec["bounds"], spec["seed"], spec["epochs"])
    else:
        result = _run_toy(spec["bounds"], spec["seed"], spec["data"], spec["steps"])
    print("RESULT " + json.dumps({**spec, **result}), flush=True)


def _run(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "_child", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"run {spec} failed:\n{proc.stderr[-3000:]}")


def _label(bounds: dict) -> str:
    shift = bounds["shift_clamp"]
    return f"{bounds['log_scale_clamp']:g} / {'none' if shift is None else f'{shift:g}'}"


def _worst(entry: dict) -> str:
    return ", ".join(f"#{i}: {v:,.2f}" for i, v in entry["worst"])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        _child(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", choices=("fashion_mnist", "toy"))
    parser.add_argument("--bounds", nargs="+", default=["3,none", "3,5", "1,none", "1,5"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--densities", nargs="+", default=["banana", "ringmix", "funnel"])
    args = parser.parse_args()
    datasets = ["fashion_mnist"] if args.data == "fashion_mnist" else args.densities
    # Interleaved: seed, then data, then bounds, so that machine load falls on all alike.
    specs = [{"data": d, "bounds": _bounds(b), "seed": s, "epochs": args.epochs,
              "steps": args.steps} for s in args.seeds for d in datasets for b in args.bounds]
    results = []
    for spec in specs:
        try:
            results.append(_run(spec))
        except RuntimeError as error:  # one failed run does not lose the others
            print(f"# failed: {error}", file=sys.stderr, flush=True)
            continue
        print("# " + json.dumps(results[-1]), file=sys.stderr, flush=True)
    if args.data == "fashion_mnist":
        print("| log-scale / shift bound | seed | validation bits/dim | test mean | "
              "test median | worst test images (index: bits/dim) |")
        print("|---|---|---|---|---|---|")
        for r in results:
            print(f"| {_label(r['bounds'])} | {r['seed']} | {r['validation']['mean']:.3f} | "
                  f"{r['test']['mean']:,.3f} | {r['test']['median']:.3f} | {_worst(r['test'])} |")
    else:
        print("| density | log-scale / shift bound | seed | KL gap (nats) | test NLL mean | "
              "median | worst 3 |")
        print("|---|---|---|---|---|---|---|")
        for r in results:
            gap = f"{r['kl_gap']:.3f}" if "kl_gap" in r else "-"
            print(f"| {r['data']} | {_label(r['bounds'])} | {r['seed']} | {gap} | "
                  f"{r['test']['mean']:.3f} | {r['test']['median']:.3f} | {_worst(r['test'])} |")


if __name__ == "__main__":
    main()
