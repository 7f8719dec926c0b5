"""SavedModel export for TF Serving: signatures, TensorFlow-only loading, atomic layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import data, export, flows, vae

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = data.load_digits()
MOONS = data.toy_sample("moons", 64, seed=0).astype(np.float32)
SEED = tf.constant(export.SEED)


def _digits_vae(posterior, prior="normal", likelihood="categorical", code_size=3, **kwargs):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                                keras.layers.Flatten(), keras.layers.Dense(32, "relu")])
    decoder = keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(32, "relu")])
    if likelihood == "categorical":
        kwargs["pixel_levels"] = 17
    model = vae.VAE(3, encoder, decoder, likelihood=likelihood, posterior=posterior,
                    prior=prior, **kwargs)
    x = DIGITS.train.x[:256] / (16.0 if likelihood == "bernoulli" else 1.0)
    if likelihood == "bernoulli":
        x = (x > 0.5).astype(np.float32)
    return model, x[:16]  # fresh weights are random: no training needed to compare


def _models():
    """name -> (model, {signature: {input: array}}, {signature: {output: expected}})."""
    cases = {}
    realnvp = flows.RealNVP(event_shape=(2,), num_layers=4, hidden_units=(16,))
    perturb_variables(realnvp.flow, 0.1, seed=1)
    cases["realnvp"] = (realnvp, {"log_prob": {"x": MOONS}, "bits_per_dim": {"x": MOONS}},
                        {"log_prob": {"log_prob": realnvp.log_prob(MOONS)},
                         "bits_per_dim": {"bits_per_dim": realnvp.bits_per_dim(MOONS)}})
    double = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(16,), dtype="float64")
    perturb_variables(double.flow, 0.1, seed=1)
    moons64 = MOONS.astype(np.float64)  # a float64 flow serves float64 signatures
    cases["realnvp_float64"] = (double, {"log_prob": {"x": moons64}},
                                {"log_prob": {"log_prob": double.log_prob(moons64)}})
    cond = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(16,), context_shape=(3,))
    perturb_variables(cond.flow, 0.1, seed=2)
    context = np.eye(3, dtype=np.float32)[np.arange(64) % 3]
    cases["conditional"] = (cond, {"log_prob": {"x": MOONS, "context": context},
                                   "sample": {"context": context[:5]}},
                            {"log_prob": {"log_prob": cond.log_prob(MOONS, context)}})
    glow = flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=2, hidden_units=(16,),
                      pixel_levels=17, pixel_format="integer")
    glow.log_prob(DIGITS.train.x[:256])  # ActNorm's data-dependent initialisation
    perturb_variables(glow.flow, 0.02, seed=3)
    x = DIGITS.test.x[:16]
    cases["glow"] = (glow, {"serving_default": {"x": x}, "bits_per_dim": {"x": x},
                            "sample": {"num_samples": np.int32(6)}},
                     {"serving_default": {"log_prob": glow.log_prob(x, seed=SEED)},
                      "bits_per_dim": {"bits_per_dim": glow.bits_per_dim(x, seed=SEED)}})
    for name, posterior, prior, likelihood in (("vae_full", "full", "normal", "bernoulli"),
                                               ("vae_planar", "planar", "mixture",
                                                "categorical")):
        model, x = _digits_vae(posterior, prior, likelihood)
        z = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
        q = model.encode(x)
        expected = {"elbo": {"elbo": model.elbo(x, seed=SEED)},
                    "log_likelihood": {"log_likelihood": model.log_likelihood(
                        x, num_samples=100, seed=SEED)},
                    "reconstruct": {"reconstruction": model.reconstruct(x, seed=SEED)},
                    "decode": {"mean": vae.likelihoods.distribution_mean(model.decode(z))}}
        if posterior == "full":
            expected["encode"] = {"mean": q.mean(), "stddev": q.stddev(),
                                  "scale_tril": q.scale.to_dense()}
        cases[name] = (model, {"elbo": {"x": x}, "log_likelihood": {"x": x},
                               "reconstruct": {"x": x}, "decode": {"z": z},
                               "encode": {"x": x}, "sample": {"num_samples": np.int32(7)}},
                       expected)
    # Discrete latents: 3 categorical variables of 4 classes (one-hot codes of 12).
    model, x = _digits_vae("categorical", "uniform", code_size=12, num_classes=4)
    z = np.eye(4, dtype=np.float32)[np.arange(15).reshape(5, 3) % 4].reshape(5, 12)
    cases["vae_categorical"] = (
        model, {"elbo": {"x": x}, "log_likelihood": {"x": x}, "reconstruct": {"x": x},
                "decode": {"z": z}, "encode": {"x": x}, "sample": {"num_samples": np.int32(7)}},
        {"elbo": {"elbo": model.elbo(x, seed=SEED)},
         "log_likelihood": {"log_likelihood": model.log_likelihood(x, num_samples=100,
                                                                   seed=SEED)},
         "reconstruct": {"reconstruction": model.reconstruct(x)},
         "encode": {"probs": tf.nn.softmax(model.posterior.logits(model.features(x)))},
         "decode": {"mean": vae.likelihoods.distribution_mean(model.decode(z))}})
    return cases


def _serve(root):
    """Exports every case, then runs every signature in one TensorFlow-only process."""
    cases = _models()
    calls, keys = [], []
    for name, (model, inputs, _) in cases.items():
        path = export.save_for_serving(model, str(root / name), version=1)
        for signature, arrays in inputs.items():
            files = {}
            for k, v in arrays.items():
                files[k] = str(root / f"{name}_{signature}_{k}.npy")
                np.save(files[k], v)
            calls.append({"export": path, "signature": signature, "inputs": files})
            keys.append((name, signature))
    manifest, out = root / "manifest.json", root / "out.json"
    manifest.write_text(json.dumps(calls))
    subprocess.run([sys.executable, os.path.join(HERE, "serving_client.py"), str(manifest),
                    str(out)], check=True, timeout=300, cwd=str(root))
    report = json.loads(out.read_text())
    outputs = {key: {k: np.load(p) for k, p in report["results"][str(i)].items()}
               for i, key in enumerate(keys)}
    return cases, outputs, report


def test_exports_run_with_tensorflow_alone_and_match_the_model(tmp_path):
    # One test, because building the exports and starting the serving process
    # dominates its time (pytest-xdist would repeat a shared fixture per worker).
    cases, outputs, report = _serve(tmp_path)
    _check_loaded_without_tfp_keras_or_this_package(report, tmp_path)
    _check_served_numbers_equal_the_in_process_model(cases, outputs)
    _check_served_samples_come_from_the_model(cases, outputs)
    _check_served_pixel_flow_rejects_out_of_range_pixels(tmp_path)
    _check_saved_model_cli_lists_the_signatures(tmp_path)


def _check_loaded_without_tfp_keras_or_this_package(report, root):
    assert report["leaked_modules"] == []
    flow = ["bits_per_dim", "log_prob", "sample", "serving_default"]
    vae_sigs = ["decode", "elbo", "encode", "log_likelihood", "reconstruct", "sample",
                "serving_default"]
    for name in ("realnvp", "realnvp_float64", "conditional", "glow"):
        assert report["signatures"][str(root / name / "1")] == flow
    for name in ("vae_full", "vae_planar", "vae_categorical"):
        assert report["signatures"][str(root / name / "1")] == vae_sigs


def _check_served_numbers_equal_the_in_process_model(cases, outputs):
    for name, (_, _, expected) in cases.items():
        for signature, values in expected.items():
            for key, value in values.items():
                np.testing.assert_allclose(outputs[(name, signature)][key], np.asarray(value),
                                           rtol=1e-5, atol=1e-5,
                                           err_msg=f"{name}.{signature}:{key}")


def _check_served_samples_come_from_the_model(cases, outputs):
    assert outputs[("conditional", "sample")]["samples"].shape == (5, 2)
    glow_samples = outputs[("glow", "sample")]["samples"]
    assert glow_samples.shape == (6, 8, 8, 1)
    # integer pixels in range, as the in-process model's samples are
    assert np.all(glow_samples == np.round(glow_samples))
    assert glow_samples.min() >= 0 and glow_samples.max() <= 16
    full = outputs[("vae_full", "sample")]["samples"]
    assert full.shape == (7, 8, 8, 1) and set(np.unique(full)) <= {0.0, 1.0}
    categorical = outputs[("vae_categorical", "sample")]["samples"]
    assert categorical.shape == (7, 8, 8, 1) and categorical.max() <= 16
    assert outputs[("vae_categorical", "encode")]["probs"].shape == (16, 3, 4)
    planar = outputs[("vae_planar", "sample")]["samples"]
    assert planar.shape == (7, 8, 8, 1) and planar.max() <= 16
    # a flow posterior's served moments match a Monte Carlo estimate in process
    model, inputs, _ = cases["vae_planar"]
    z, _ = model.posterior.sample_and_log_prob(model.features(inputs["encode"]["x"]), 4000,
                                               seed=tf.constant([5, 6]))
    served_mean = outputs[("vae_planar", "encode")]["mean"]
    np.testing.assert_allclose(served_mean, np.mean(z, axis=0),
                               atol=4 * np.std(z, axis=0).max() / np.sqrt(64))


def _check_served_pixel_flow_rejects_out_of_range_pixels(root):
    loaded = tf.saved_model.load(str(root / "glow" / "1"))
    bad = DIGITS.test.x[:2] * 2.0  # integer pixels up to 32 > 16
    with pytest.raises(tf.errors.InvalidArgumentError, match="integer pixels in"):
        loaded.signatures["log_prob"](x=tf.constant(bad))


def _check_saved_model_cli_lists_the_signatures(root):
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    assert cli is not None, "saved_model_cli (installed with tensorflow) is missing"
    shown = subprocess.run([cli, "show", "--dir", str(root / "glow" / "1"), "--all"],
                           capture_output=True, text=True, timeout=120, check=True).stdout
    for signature in ("log_prob", "bits_per_dim", "sample", "serving_default"):
        assert f"signature_def['{signature}']" in shown
    assert "shape: (-1, 8, 8, 1)" in shown  # unknown batch dimension


def test_versions_are_atomic_and_never_overwritten_silently(tmp_path):
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    base = tmp_path / "models" / "moons"
    first = export.save_for_serving(model, str(base), version=1)
    assert first == str(base / "1") and os.path.isfile(base / "1" / "saved_model.pb")
    stamp = os.path.getmtime(base / "1" / "saved_model.pb")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.save_for_serving(model, str(base), version=1)
    assert os.path.getmtime(base / "1" / "saved_model.pb") == stamp
    export.save_for_serving(model, str(base), version=2)
    perturb_variables(model.flow, 0.5, seed=0)
    export.save_for_serving(model, str(base), version=1, overwrite=True)
    assert sorted(os.listdir(base)) == ["1", "2"]  # no temporary directories left
    lp1 = tf.saved_model.load(str(base / "1")).signatures["log_prob"](x=tf.constant(MOONS))
    np.testing.assert_allclose(lp1["log_prob"], model.log_prob(MOONS), rtol=1e-5, atol=1e-5)


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        export.save_for_serving(model, str(tmp_path / "m"), version=3)
    assert os.listdir(tmp_path / "m") == []  # the base directory, with no version or temp


def test_bad_arguments(tmp_path):
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="`version` must be an int >= 0; got -1"):
        export.save_for_serving(model, str(tmp_path), version=-1)
    with pytest.raises(ValueError, match="`version` must be an int >= 0; got '1'"):
        export.save_for_serving(model, str(tmp_path), version="1")
    with pytest.raises(TypeError, match="`model` must be a tfp_genmodels FlowModel or VAE"):
        export.save_for_serving(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path / "x"))
    with pytest.raises(TypeError, match="`path`"):
        export.save_for_serving(model, 3)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_serves_its_log_prob(name, tmp_path):
    """Each registry recipe exports; its served log_prob is the model's (fixed noise)."""
    model = recipes.tiny(name)
    x = recipes.training_data(name, 16)
    model.log_prob(x)  # ActNorm's data-dependent initialisation
    perturb_variables(model.flow, 0.02, seed=5)
    path = export.save_for_serving(model, str(tmp_path / "m"))
    served = tf.saved_model.load(path).signatures["log_prob"]
    np.testing.assert_allclose(served(x=tf.constant(x))["log_prob"],
                               model.log_prob(x, seed=SEED), rtol=1e-5, atol=1e-4)
