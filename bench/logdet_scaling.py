"""Forward + log-det cost per example as the dimension D grows.

Compares our closed-form log-dets (AffineCoupling: a sum of log-scales;
InvertibleLinear: a sum of LU diagonal logs) against the generic route,
``tf.linalg.slogdet`` of the autodiff Jacobian (``batch_jacobian``) of the
same map. Ours should grow about linearly in D (the coupling's network has a
fixed width; the linear map is O(D^2) per example for the matrix-vector
product but O(D) for the log-det), the dense route about cubically.

Usage: python bench/logdet_scaling.py [--dims 16 32 ... 1024] [--batch 32]
Prints a Markdown table (microseconds per example, median of repeats).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tfp_genmodels import bijectors as B  # noqa: E402


def median_time(fn, x, repeats: int) -> float:
    fn(x)  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(x)
        tf.nest.map_structure(lambda t: t.numpy(), out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def closed_form(bijector):
    @tf.function
    def run(x):
        return bijector.forward(x), bijector.forward_log_det_jacobian(x, event_ndims=1)
    return run


def autodiff(bijector):
    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = bijector.forward(x)
        jac = tape.batch_jacobian(y, x)
        return y, tf.linalg.slogdet(jac)[1]
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+",
                        default=[16, 32, 64, 128, 256, 512, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    print(f"batch {args.batch}, float32, CPU threads: "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}; "
          "microseconds per example, median of repeats\n")
    print("| D | affine coupling | affine autodiff+slogdet | ratio | "
          "invertible linear | linear autodiff+slogdet | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for d in args.dims:
        x = tf.random.normal([args.batch, d])
        coupling = B.AffineCoupling([d], hidden_units=(128, 128))
        linear = B.InvertibleLinear([d], seed=0)
        repeats = args.repeats if d <= 256 else max(3, args.repeats // 2)
        row = [d]
        for bij in (coupling, linear):
            ours = median_time(closed_form(bij), x, repeats) / args.batch * 1e6
            dense = median_time(autodiff(bij), x, repeats) / args.batch * 1e6
            row += [f"{ours:.1f}", f"{dense:.1f}", f"{dense / ours:.0f}x"]
        print("| " + " | ".join(str(c) for c in row) + " |", flush=True)


if __name__ == "__main__":
    main()
