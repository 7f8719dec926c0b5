"""Crash-safe training: kill -9 then --resume; a non-finite loss never overwrites good weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfp_genmodels import callbacks, cli, data, flows

TRAIN = ["train", "--model", "realnvp", "--data", "moons", "--epochs", "8", "--num-train",
         "8000", "--batch-size", "256", "--num-layers", "4", "--hidden-units", "32,32",
         "--learning-rate", "1e-3", "--verbose", "0"]


def _cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return [sys.executable, "-m", "tfp_genmodels.cli", *args], env


def _metrics(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_kill_9_mid_run_then_resume_finishes_like_an_uninterrupted_run(tmp_path):
    out, reference = str(tmp_path / "killed"), str(tmp_path / "reference")
    cmd, env = _cli(*TRAIN, "--out", out)
    ref_cmd, _ = _cli(*TRAIN, "--out", reference)
    ref = subprocess.Popen(ref_cmd, env=env, stdout=subprocess.DEVNULL)
    victim = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    backup = os.path.join(out, "backup")
    deadline = time.monotonic() + 240
    while callbacks.latest_backup(backup) is None:  # the first epoch's backup
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no backup appeared"
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    # Nothing half-written: only the files written before training, and the backup.
    assert sorted(f for f in os.listdir(out) if not f.startswith(".")) == [
        "backup", "config.json", "train_args.json"]
    # The finished epochs' logs are kept with the backup (rewritten after each epoch).
    assert os.path.isfile(os.path.join(out, "backup", "history.json"))
    # Without --resume the interrupted run is neither lost nor silently restarted.
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    if not any(name.startswith("nvidia") for name in os.listdir("/dev")):
        # TensorFlow's CUDA start-up error line is no error without a GPU: not shown.
        assert "cuInit" not in refused.stderr, refused.stderr
    changed = subprocess.run(_cli(*TRAIN, "--out", out, "--resume", "--seed", "3")[0],
                             env=env, capture_output=True, text=True, timeout=120)
    assert changed.returncode == 2 and "seed (0 before, 3 now)" in changed.stderr

    resumed = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert ref.wait(timeout=300) == 0
    metrics, expected = _metrics(out), _metrics(reference)
    assert 1 <= metrics["resumed_from_epoch"] < 8
    assert metrics["epochs_run"] == 8 - metrics["resumed_from_epoch"]
    # The history holds every epoch, those before the interruption too (issue 21: it
    # used to hold only the resumed process's epochs).
    assert len(metrics["history"]["loss"]) == 8
    assert not os.path.exists(os.path.join(out, "backup"))  # removed once training finished
    # The resumed run picked up the trained weights: its first epoch scores like the
    # uninterrupted run's same epoch, far below that run's first epoch...
    first = metrics["resumed_from_epoch"]
    history, reference_history = metrics["history"]["loss"], expected["history"]["loss"]
    assert abs(history[first] - reference_history[first]) < 0.05
    assert history[first] < reference_history[0] - 0.1
    np.testing.assert_allclose(history[:first], reference_history[:first], atol=0.05)
    # ...and ends where it does (the data order after resuming differs: noise).
    assert abs(metrics["test"]["nll"] - expected["test"]["nll"]) < 0.05
    # And the run directory is complete: the weights rebuild the reported model.
    model, _ = cli.load_run(out)
    test = cli.load_dataset("moons", 8000, 0, None).test
    np.testing.assert_allclose(-np.mean(model.log_prob(test)), metrics["test"]["nll"],
                               rtol=1e-5)


class _Poison(keras.callbacks.Callback):
    """Sets one weight to NaN when the second epoch starts (a divergence stand-in)."""

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if epoch == 1:
            v = self.model.trainable_variables[0]
            v.assign(tf.fill(v.shape, np.nan))


def test_guard_stops_at_the_first_non_finite_step_and_keeps_the_backup(tmp_path):
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    model.compile(keras.optimizers.Adam(1e-3))
    x = data.toy_sample("moons", 256, seed=0)
    backup = str(tmp_path / "backup")
    guard = callbacks.NonFiniteLossGuard(backup)
    with pytest.raises(callbacks.NonFiniteLossError,
                       match=r"at step 5 \(epoch 2, batch 1\).*Last good checkpoint: .*ckpt"):
        model.fit(x, batch_size=64, epochs=3, verbose=0,
                  callbacks=[guard, keras.callbacks.BackupAndRestore(backup), _Poison()])
    # The backup still holds the finite weights of epoch 1.
    reader = tf.train.load_checkpoint(callbacks.latest_backup(backup))
    values = [reader.get_tensor(k) for k, dtype in reader.get_variable_to_dtype_map().items()
              if dtype.is_floating]
    assert values and all(np.all(np.isfinite(v)) for v in values)


def test_cli_divergence_writes_nothing_over_the_good_run(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--model", "realnvp", "--data", "moons", "--num-train", "512",
            "--batch-size", "128", "--epochs", "3", "--num-layers", "2", "--hidden-units", "8",
            "--verbose", "0", "--out", out]
    assert cli.main(args) == 0
    before = {}
    for root, _, files in os.walk(out):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                before[os.path.join(root, name)] = f.read()

    class Recorder(_Poison, callbacks.EpochRecorder):
        pass

    monkeypatch.setattr(callbacks, "EpochRecorder", Recorder)
    capsys.readouterr()
    assert cli.main(args + ["--overwrite"]) == 1  # a finished run is replaced only if asked
    err = capsys.readouterr().err
    assert "at step 5 (epoch 2, batch 1)" in err and "Last good checkpoint" in err
    assert "No weights were written" in err
    for path, content in before.items():
        if os.path.basename(path) in ("config.json", "train_args.json"):
            continue  # rewritten (same content) when the second run starts
        with open(path, "rb") as f:
            assert f.read() == content, f"{path} changed"


def test_ctrl_c_during_train_prints_one_line_with_resume(tmp_path):
    out = str(tmp_path / "run")
    # Far more epochs than can finish while we wait: on a loaded machine 200 epochs
    # (20 s alone) once ended before the interrupt arrived, and the run exited 0.
    argv, env = _cli(*TRAIN, "--epochs", "100000", "--out", out)
    # Ctrl-C as at a terminal: SIGINT's default disposition in the child, whatever the
    # test runner's (a runner started in the background ignores SIGINT, and its
    # children inherit that).
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and callbacks.latest_backup(os.path.join(out, "backup")) is None:
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.startswith("tfp-genmodels")]
    assert len(lines) == 1 and "--resume" in lines[0], err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not os.path.exists(os.path.join(out, "model.keras"))
    assert cli.main(["sample", "--run", out]) == 2  # says: no weights yet, --resume
