"""The tfp-genmodels command: train writes a complete run; sample rebuilds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfp_genmodels import cli, data

TINY = ["--epochs", "2", "--num-layers", "2", "--hidden-units", "8", "--verbose", "0"]


def test_train_then_sample_2d(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "realnvp", "--data", "8gaussians",
                     "--num-train", "512", "--batch-size", "128", "--out", out, *TINY]) == 0
    assert {"config.json", "metrics.json", "density.png", "samples.png", "model.keras"} <= set(
        os.listdir(out))
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    for split in ("train", "validation", "test"):
        assert np.isfinite(metrics[split]["nll"])
        np.testing.assert_allclose(metrics[split]["bits_per_dim"],
                                   metrics[split]["nll"] / (2 * np.log(2)), rtol=1e-5)
    np.testing.assert_allclose(metrics["kl_gap"],
                               metrics["test"]["nll"] - metrics["true_entropy"])
    assert len(metrics["history"]["loss"]) == 2
    assert "test NLL" in capsys.readouterr().out

    assert cli.main(["sample", "--run", out, "-n", "37", "--seed", "1"]) == 0
    samples = np.load(os.path.join(out, "samples.npy"))
    assert samples.shape == (37, 2) and np.all(np.isfinite(samples))
    # The rebuilt model is the trained one: its test NLL matches metrics.json.
    model, config = cli.load_run(out)
    test = cli.load_dataset("8gaussians", 512, 0, None).test
    np.testing.assert_allclose(-np.mean(model.log_prob(test)), metrics["test"]["nll"],
                               rtol=1e-5)
    assert not [f for f in os.listdir(out) if f.startswith(".")], "temporary files left"


def test_train_glow_on_digits_and_sample_at_temperature(tmp_path):
    out = str(tmp_path / "digits")
    assert cli.main(["train", "--model", "glow", "--data", "digits", "--num-scales", "2",
                     "--batch-size", "128", "--out", out, *TINY]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert 0 < metrics["test"]["bits_per_dim"] < np.log2(17) + 1
    assert cli.main(["sample", "--run", out, "-n", "5", "--temperature", "0.5"]) == 0
    samples = np.load(os.path.join(out, "samples.npy"))
    assert samples.shape == (5, 8, 8, 1)
    np.testing.assert_array_equal(samples, np.clip(np.round(samples), 0, 16))


def test_old_option_name_and_old_run_layout_still_work(tmp_path):
    """0.1.0 spelled --num-scales as --num-levels and wrote a run as config.json plus
    a TensorFlow checkpoint in weights/; both still work."""
    from tfp_genmodels.cli import runs

    out = str(tmp_path / "glow")
    with pytest.warns(DeprecationWarning, match="--num-levels is deprecated; call it "
                                                "--num-scales"):
        assert cli.main(["train", "--model", "glow", "--data", "digits", "--num-levels", "1",
                         "--batch-size", "128", "--out", out, *TINY]) == 0
    model, config = cli.load_run(out)
    assert model.num_scales == 1 and config["num_scales"] == 1
    x = data.load_digits().test.x[:16]
    expected = model.log_prob(x, seed=[1, 2]).numpy()
    # The same run as 0.1.0 wrote it: old config keys, a checkpoint, no model.keras.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    old_config = dict(config, num_levels=config.pop("num_scales"))
    (legacy / "config.json").write_text(json.dumps(old_config))
    model.save_weights(str(legacy / "weights" / "model"))
    loaded, _ = cli.load_run(str(legacy))
    np.testing.assert_allclose(loaded.log_prob(x, seed=[1, 2]), expected, rtol=1e-6)
    assert not os.path.exists(legacy / runs.MODEL_FILE)


def test_vector_flow_on_digits_flattens_and_reshapes(tmp_path):
    out = str(tmp_path / "maf")
    assert cli.main(["train", "--model", "maf", "--data", "digits", "--batch-size", "256",
                     "--out", out, *TINY]) == 0
    assert cli.main(["sample", "--run", out, "-n", "4"]) == 0
    assert np.load(os.path.join(out, "samples.npy")).shape == (4, 8, 8, 1)


def test_train_sample_and_export_a_continuous_flow(tmp_path, capsys):
    out, served = str(tmp_path / "run"), str(tmp_path / "served")
    assert cli.main(["train", "--model", "ffjord", "--data", "moons", "--num-train", "256",
                     "--batch-size", "128", "--epochs", "2", "--hidden-units", "8",
                     "--trace", "hutchinson", "--tolerance", "1e-4", "--kinetic-energy",
                     "0.01", "--verbose", "0", "--out", out]) == 0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert np.isfinite(metrics["test"]["nll"]) and metrics["history"]["nfe"][-1] > 0
    model, config = cli.load_run(out)
    assert (model.trace, model.atol, model.kinetic_energy) == ("hutchinson", 1e-4, 0.01)
    assert cli.main(["sample", "--run", out, "-n", "5"]) == 0
    assert np.load(os.path.join(out, "samples.npy")).shape == (5, 2)
    assert cli.main(["export", "--run", out, "--out", served]) == 0
    assert os.path.isdir(os.path.join(served, "1"))


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "nope", "--out", "x"], "invalid choice: 'nope'"),
    (["train", "--epochs", "0", "--out", "x"], "expected a positive integer, got '0'"),
    (["train", "--hidden-units", "a,b", "--out", "x"], "comma-separated positive integers"),
    (["train", "--hidden-units", "64,,64", "--out", "x"], "got '64,,64'"),
    (["train", "--model", "vae", "--beta", "-1", "--out", "x"], "expected a number >= 0, got '-1'"),
    (["train", "--learning-rate", "nan", "--out", "x"], "expected a positive number, got 'nan'"),
    (["train", "--data", "moons"], "the following arguments are required: --out"),
    (["sample", "--run", "/nonexistent/run"], "config.json does not exist"),
    (["train", "--model", "glow", "--data", "moons", "--out", "x"], "needs image data"),
    (["train", "--model", "ffjord", "--trace", "nope", "--out", "x"], "invalid choice: 'nope'"),
])
def test_bad_options_give_one_line_errors(argv, message, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_cnf_depth_is_num_layers_and_the_old_name_warns():
    """0.1 called a CNF's depth --num-blocks (num_blocks in config.json); 0.2 calls every
    recipe's depth --num-layers, and the old spellings still work."""
    from tfp_genmodels.cli import parser, runs

    with pytest.warns(DeprecationWarning, match="--num-blocks is deprecated; call it "
                                                "--num-layers"):
        args = parser.parse_args(["train", "--model", "ffjord", "--num-blocks", "2",
                                  "--out", "x"])
    assert args.num_layers == 2
    dataset = runs.Dataset(*[np.zeros((4, 2), np.float32)] * 3, None, None, None)
    assert runs.run_config(args, dataset)["num_layers"] == 2
    old = {"num_blocks": 3, "num_layers": None, "trace": "exact"}
    assert parser.upgrade_keys(old) == {"num_layers": 3, "trace": "exact"}


def test_help_documents_every_option():
    help_text = subprocess.run([sys.executable, "-m", "tfp_genmodels.cli", "train", "--help"],
                               capture_output=True, text=True, check=True).stdout
    parser = cli.make_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        for option in action.option_strings:
            assert option in help_text
        assert action.help, f"{action.option_strings} has no help"


def test_atomic_writes_keep_the_old_file_when_writing_fails(tmp_path):
    from tfp_genmodels import _io

    path = str(tmp_path / "metrics.json")
    _io.write_json(path, {"nll": 1.0})
    with pytest.raises(ValueError):
        _io.write_json(path, {"nll": float("nan")})  # NaN is refused mid-write
    with open(path) as f:
        assert json.load(f) == {"nll": 1.0}
    weights = str(tmp_path / "weights")
    _io.replace_directory(weights, lambda d: open(os.path.join(d, "a"), "w").close())

    def crash(d):
        open(os.path.join(d, "b"), "w").close()
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        _io.replace_directory(weights, crash)
    assert os.listdir(weights) == ["a"]
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "weights"]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask


def test_train_and_sample_a_vae(tmp_path, capsys):
    out = str(tmp_path / "vae")
    assert cli.main(["train", "--model", "vae", "--data", "digits", "--latent-dim", "2",
                     "--epochs", "2", "--hidden-units", "16", "--iwae-samples", "20",
                     "--verbose", "0", "--out", out]) == 0
    assert "active units:" in capsys.readouterr().out  # the diagnostics table
    for name in ("metrics.json", "reconstructions.png", "samples.png", "traversal.png",
                 "latent.png"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    test = metrics["test"]
    assert test["iwae_nll"] <= -test["elbo"] + 0.5  # IWAE NLL <= -ELBO, up to MC noise
    assert {"active_units", "mutual_information"} <= set(metrics["diagnostics"])
    assert cli.main(["sample", "--run", out, "-n", "6"]) == 0
    assert np.load(os.path.join(out, "samples.npy")).shape == (6, 8, 8, 1)


@pytest.mark.parametrize("posterior, extra", [
    ("categorical", ["--num-classes", "4", "--estimator", "gumbel_softmax",
                     "--temperature", "0.7"]),
    ("bernoulli", ["--estimator", "disarm"]),
])
def test_train_sample_and_export_a_discrete_vae(tmp_path, capsys, posterior, extra):
    out = str(tmp_path / "vae")
    assert cli.main(["train", "--model", "vae", "--data", "digits", "--latent-dim", "3",
                     "--posterior", posterior, *extra, "--epochs", "2", "--hidden-units",
                     "16", "--iwae-samples", "20", "--verbose", "0", "--out", out]) == 0
    assert "active units:" in capsys.readouterr().out
    for name in ("metrics.json", "reconstructions.png", "samples.png", "traversal.png"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["test"]["iwae_nll"] <= -metrics["test"]["elbo"] + 0.5
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["posterior"] == posterior and config["estimator"] == extra[-1 - (
        2 if posterior == "categorical" else 0)]
    assert cli.main(["sample", "--run", out, "-n", "5"]) == 0
    assert np.load(os.path.join(out, "samples.npy")).shape == (5, 8, 8, 1)
    assert cli.main(["export", "--run", out, "--out", str(tmp_path / "served")]) == 0


def test_categorical_vae_without_num_classes_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train", "--model", "vae", "--data", "digits", "--posterior",
                     "categorical", "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    assert "num_classes" in capsys.readouterr().err


def test_multiworker_without_tf_config_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = str(tmp_path / "run")
    assert cli.main(["train", "--strategy", "multiworker", "--out", out, *TINY]) == 2
    assert "--strategy multiworker needs the TF_CONFIG environment variable" in (
        capsys.readouterr().err)
    assert not os.path.exists(out)  # nothing written


def test_finished_run_is_replaced_only_with_overwrite(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--model", "nice", "--data", "moons", "--num-train", "256",
            "--batch-size", "128", "--out", out, *TINY]
    assert cli.main(args) == 0
    with open(os.path.join(out, "metrics.json"), "rb") as f:
        before = f.read()
    capsys.readouterr()
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "holds a finished run" in err and "--overwrite" in err and err.count("\n") == 1
    with open(os.path.join(out, "metrics.json"), "rb") as f:
        assert f.read() == before
    assert cli.main(args + ["--overwrite", "--seed", "1"]) == 0
    with open(os.path.join(out, "metrics.json"), "rb") as f:
        assert f.read() != before


def test_offline_mnist_names_the_mnist_path_option(tmp_path, monkeypatch, capsys):
    def offline(path=None, **kwargs):
        raise ConnectionError("Could not download MNIST through tf_keras.datasets.mnist."
                              "load_data (URLError: no network). This machine may be offline")

    monkeypatch.setattr(data, "load_mnist", offline)
    assert cli.main(["train", "--data", "mnist", "--model", "vae",
                     "--out", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err
    assert "--mnist-path" in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_out_fails_before_tensorflow_starts(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    code = ("import sys\nfrom tfp_genmodels import cli\n"
            f"rc = cli.main(['train', '--out', {str(blocker / 'run')!r}])\n"
            "print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["2", "False"], result
    assert "--out" in result.stderr and "not writable" in result.stderr


def test_sample_on_a_run_without_weights_says_how_to_resume(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    assert cli.main(["sample", "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert "no trained weights yet" in err and "--resume" in err and err.count("\n") == 1


def test_fashion_mnist_from_a_data_path_for_a_flow_and_a_vae(tmp_path):
    from tests.test_fashion_mnist import _fake_dataset

    idx = str(tmp_path / "idx")
    _fake_dataset(idx, n_train=10016, n_test=16)  # the CLI keeps 10,000 for validation
    for model, extra in (("maf", ["--num-layers", "1"]), ("vae", ["--latent-dim", "2",
                                                                  "--iwae-samples", "4"])):
        out = str(tmp_path / model)
        assert cli.main(["train", "--model", model, "--data", "fashion_mnist", "--data-path",
                         idx, "--epochs", "1", "--batch-size", "16", "--hidden-units", "8",
                         "--verbose", "0", "--eval-limit", "64", *extra, "--out", out]) == 0
        with open(os.path.join(out, "metrics.json")) as f:
            metrics = json.load(f)
        assert np.isfinite(metrics["test"]["nll"])
        if model == "maf":  # a flow also draws a row of samples per temperature
            assert os.path.isfile(os.path.join(out, "temperatures.png"))
        assert cli.main(["sample", "--run", out, "-n", "3"]) == 0
        assert np.load(os.path.join(out, "samples.npy")).shape == (3, 28, 28, 1)
        assert os.path.isfile(os.path.join(out, "samples.png"))
