"""Reports show the outlier: the mean with the median and the worst examples, a warning
when a few examples dominate the mean, progress and a subset for long evaluations; and
the coupling bounds that keep one unusual image from blowing up (issue 21, part 1)."""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from tests.test_cli import TINY
from tfp_genmodels import bijectors as B
from tfp_genmodels import cli, flows
from tfp_genmodels.bijectors.elementwise import AffineMap
from tfp_genmodels.cli import evaluation
from tfp_genmodels.flows import multiscale


def test_one_example_that_dominates_the_mean_is_shown_and_warned_about():
    nll = np.full(10000, 2200.0)      # ~4 bits/dim at 784 dimensions
    nll[4203] = 1e11                  # the Fashion-MNIST test image of issue 21
    summary = evaluation.summarize(nll, 784)
    assert summary["dominated_by_few"]
    assert summary["worst"][0]["index"] == 4203
    np.testing.assert_allclose(summary["median_bits_per_dim"], 2200 / (784 * np.log(2)))
    np.testing.assert_allclose(summary["trimmed_bits_per_dim"], 2200 / (784 * np.log(2)))
    text = evaluation.describe("test", summary)
    assert "#4203" in text and "warning: the test mean is dominated by a few examples" in text


def test_a_heavy_but_ordinary_tail_is_not_flagged():
    nll = np.random.default_rng(0).gumbel(2.0, 0.5, size=5000)
    summary = evaluation.summarize(nll, 2)
    assert not summary["dominated_by_few"]
    assert "warning" not in evaluation.describe("test", summary)
    assert [w["index"] for w in summary["worst"]] == list(np.argsort(-nll)[:5])


def test_train_and_evaluate_report_the_spread_of_a_subset(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "realnvp", "--data", "moons", "--num-train", "512",
                     "--batch-size", "128", "--eval-limit", "40", "--out", out, *TINY]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    for split in ("train", "validation", "test"):
        report = metrics[split]
        assert report["num_examples"] == 40
        assert len(report["worst"]) == 5 and np.isfinite(report["median_bits_per_dim"])
        assert report["worst"][0]["bits_per_dim"] >= report["median_bits_per_dim"]
    printed = capsys.readouterr().out
    assert "test: mean" in printed and "median" in printed and "worst #" in printed

    assert cli.main(["evaluate", "--run", out, "--eval-limit", "25", "--verbose", "0"]) == 0
    with open(os.path.join(out, "evaluation-test.json")) as f:
        report = json.load(f)
    assert report["num_examples"] == 25 and report["eval_limit"] == 25
    # The same examples and seed: the first 25 score as they did after training.
    model, _ = cli.load_run(out)
    test = cli.load_dataset("moons", 512, 0, None).test[:25]
    nll = evaluation.flow_scores(model, test, 500, seed=0, verbose=0)
    np.testing.assert_allclose(report["nll"], nll.mean(), rtol=1e-5)


# -- the coupling bounds ---------------------------------------------------------------
def test_a_bounded_coupling_grows_data_to_base_by_at_most_e_s_and_t():
    """``|z| <= (|y| + T) e^S`` per layer, whatever the conditioner says."""
    def loud(x, context=None):  # a conditioner whose every output is 1e4
        return 1e4 * tf.ones([tf.shape(x)[0], 4])

    for shift_clamp, log_scale_clamp in ((5.0, 1.0), (2.0, 3.0)):
        coupling = B.CouplingBijector([4], AffineMap(log_scale_clamp, shift_clamp),
                                      mask="half", conditioner=loud)
        y = tf.constant([[100.0, -100.0, 3.0, -3.0]])
        z = coupling.inverse(y)
        bound = (np.abs(y.numpy()) + shift_clamp) * np.exp(log_scale_clamp)
        assert np.all(np.abs(z.numpy()) <= bound + 1e-3)
        np.testing.assert_allclose(coupling.inverse_log_det_jacobian(y, event_ndims=1),
                                   -2 * log_scale_clamp, rtol=1e-5)
    # Unbounded (0.1.x): the same conditioner moves the point by 1e4.
    free = B.CouplingBijector([4], AffineMap(3.0, None), mask="half", conditioner=loud)
    assert np.max(np.abs(free.inverse(tf.constant([[0.0, 0.0, 3.0, -3.0]])))) > 100


def test_coupling_recipes_bound_their_couplings_and_old_files_keep_theirs():
    glow = flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=1, hidden_units=(4,))
    image_nvp = flows.RealNVP(event_shape=(8, 8, 1), num_layers=1, hidden_units=(4,))
    vector_nvp = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(4,))

    def maps(model):
        found = []

        def walk(b):
            for child in getattr(b, "bijectors", []) or [getattr(b, "inner", None)]:
                if child is not None:
                    walk(child)
            if isinstance(b, B.AffineCoupling):
                found.append(b.transform)
        walk(model.flow)
        return found

    for model in (glow, image_nvp):
        assert maps(model) and all(
            m.shift_clamp == multiscale.SHIFT_CLAMP and m.log_scale_clamp
            == multiscale.LOG_SCALE_CLAMP for m in maps(model))
        assert model.get_config()["shift_clamp"] == multiscale.SHIFT_CLAMP
    assert all(m.shift_clamp == multiscale.SHIFT_CLAMP and m.log_scale_clamp
               == multiscale.LOG_SCALE_CLAMP for m in maps(vector_nvp))
    old_vector = flows.RealNVP.from_config({k: v for k, v in vector_nvp.get_config().items()
                                            if k not in ("shift_clamp", "log_scale_clamp")})
    assert all(m.shift_clamp is None and m.log_scale_clamp == 3.0 for m in maps(old_vector))
    # A config without the bounds (written by 0.1.x) rebuilds the unbounded couplings.
    config = {k: v for k, v in glow.get_config().items()
              if k not in ("shift_clamp", "log_scale_clamp")}
    old = flows.Glow.from_config(config)
    assert all(m.shift_clamp is None and m.log_scale_clamp == 3.0 for m in maps(old))
