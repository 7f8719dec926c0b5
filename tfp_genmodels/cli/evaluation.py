"""Per-example scores and what a report shows of them: the mean, the median, the worst.

A test likelihood is a mean over examples, and one example can decide it: a
short-trained Glow scored one Fashion-MNIST test image at 1.3e8 bits/dim
(median 4.0), which made the test mean 19,905 bits/dim. So a report keeps the
mean as its headline (it is the likelihood) and shows beside it the median,
the few worst examples (index and bits/dim), and a warning when the worst
0.1 % of the examples move the mean by more than :data:`DOMINATED_SHIFT`.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

#: Examples listed as the worst of a split.
NUM_WORST = 5
#: The mean is "dominated" when dropping the worst 0.1 % (at least one) of the
#: examples changes it by more than this fraction (of max(|trimmed mean|, 1 nat)).
DOMINATED_SHIFT = 0.05


def flow_scores(model: Any, x: np.ndarray, batch_size: int, seed: int = 0,
                verbose: int = 1, label: str = "") -> np.ndarray:
    """Per-example negative log-likelihood (nats) of ``x`` under a flow, batch by batch
    in one traced function, with a progress bar (``verbose``) for long evaluations.
    Dequantisation noise has a fixed stateless seed, so a score is reproducible."""
    import tensorflow as tf

    from tfp_genmodels._keras import keras

    seed_tensor = tf.constant([seed, 7919], tf.int32)
    spec = tf.TensorSpec([None, *model.event_shape], model.flow_dtype)
    score = tf.function(lambda batch: -model.log_prob(batch, seed=seed_tensor),
                        input_signature=[spec])
    progress = keras.utils.Progbar(len(x), verbose=1 if verbose else 0,
                                   unit_name="example") if len(x) else None
    if verbose and label:
        print(f"evaluating {label} ({len(x)} examples)", file=sys.stderr, flush=True)
    out = []
    for start in range(0, len(x), batch_size):
        out.append(score(tf.convert_to_tensor(x[start:start + batch_size],
                                              model.flow_dtype)).numpy())
        progress.add(len(out[-1]))
    return np.concatenate(out) if out else np.zeros([0])


def summarize(nll: np.ndarray, num_dims: int) -> dict:
    """The report of one split from per-example NLLs (nats, in the split's order): means
    in nats and bits/dim, the median, the :data:`NUM_WORST` worst examples (their
    indices in the split) and whether a few dominate the mean."""
    nll = np.asarray(nll, np.float64)
    to_bits = 1.0 / (num_dims * math.log(2.0))
    order = np.argsort(-nll)
    num_trim = max(1, len(nll) // 1000)
    mean = float(nll.mean())
    trimmed = float(nll[order[num_trim:]].mean()) if len(nll) > num_trim else mean
    dominated = abs(mean - trimmed) > DOMINATED_SHIFT * max(abs(trimmed), 1.0)
    return {"nll": mean, "bits_per_dim": mean * to_bits,
            "median_bits_per_dim": float(np.median(nll)) * to_bits,
            "worst": [{"index": int(i), "bits_per_dim": float(nll[i]) * to_bits}
                      for i in order[:NUM_WORST]],
            "num_examples": int(len(nll)),
            "trimmed_bits_per_dim": trimmed * to_bits, "num_trimmed": int(num_trim),
            "dominated_by_few": bool(dominated)}


def describe(split: str, summary: dict) -> str:
    """The lines a report prints for one split (a warning line when a few dominate)."""
    worst = ", ".join(f"#{w['index']}: {w['bits_per_dim']:,.2f}" for w in summary["worst"])
    lines = [f"{split}: mean {summary['bits_per_dim']:,.4f} bits/dim "
             f"({summary['nll']:,.4f} nats), median {summary['median_bits_per_dim']:.4f}, "
             f"worst {worst} ({summary['num_examples']} examples)"]
    if summary["dominated_by_few"]:
        lines.append(
            f"warning: the {split} mean is dominated by a few examples: without the worst "
            f"{summary['num_trimmed']} it is {summary['trimmed_bits_per_dim']:,.4f} bits/dim. "
            "The mean is the likelihood, so it stays the headline; look at those examples "
            "(their indices are above) before comparing models by it.")
    return "\n".join(lines)


def subset(x: np.ndarray, limit: int | None) -> np.ndarray:
    """The first ``limit`` examples (all with ``None``): ``--eval-limit``'s quick look."""
    return x if limit is None else x[:limit]
