"""tf.distribute: MirroredStrategy on two CPUs; MultiWorkerMirroredStrategy, two processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests import recipes

HERE = os.path.dirname(os.path.abspath(__file__))


def test_mirrored_training_matches_single_device_training(tmp_path):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, os.path.join(HERE, "distributed_script.py"), str(out)],
                   check=True, timeout=400, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    results = json.loads(out.read_text())

    # Every flow recipe, SGD, the same global batches: the replicas' gradients must
    # average, not add (and ActNorm's data-dependent init must see the global batch).
    assert set(results["flow_single"]) == set(recipes.RECIPES)
    for name in recipes.VECTOR_RECIPES:
        single, multi = results["flow_single"][name], results["flow_mirrored"][name]
        assert (single["replicas"], multi["replicas"]) == (1, 2)
        np.testing.assert_allclose(multi["loss"], single["loss"], rtol=1e-5, err_msg=name)
        for a, b in zip(single["variables"], multi["variables"]):
            np.testing.assert_allclose(b, a, atol=1e-5, err_msg=name)
    # Image flows dequantise with fresh uniform noise, drawn per replica: the same up
    # to that noise (measured: 4e-4 relative). Summed gradients (twice the step)
    # would move the second epoch's loss by about its drop, 3-18 %.
    for name in recipes.IMAGE_RECIPES:
        single, multi = results["flow_single"][name], results["flow_mirrored"][name]
        assert multi["replicas"] == 2
        np.testing.assert_allclose(multi["loss"], single["loss"], rtol=2e-3, err_msg=name)
        assert single["loss"][1] < 0.98 * single["loss"][0], name  # the step matters

    # VAE: the draws of z differ, so agreement is within noise. Seeds 1-3 of this
    # setup give test ELBOs in [-106.4, -103.0] on one device and [-106.0, -104.5]
    # mirrored: 5 nats is ~2.5 standard deviations of the difference.
    single, multi = results["vae_single"], results["vae_mirrored"]
    assert multi["replicas"] == 2
    assert abs(multi["test_elbo"] - single["test_elbo"]) < 5.0
    # the reported loss is the global mean -ELBO, not a sum over replicas
    assert abs(multi["test_loss"] + multi["test_elbo"]) < 3.0


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_cli_multiworker_two_processes_matches_one_process(tmp_path):
    args = ["train", "--model", "realnvp", "--data", "moons", "--epochs", "4",
            "--num-train", "4000", "--batch-size", "200", "--num-layers", "2",
            "--hidden-units", "16,16", "--learning-rate", "3e-3", "--verbose", "0"]
    base = [sys.executable, "-m", "tfp_genmodels.cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    single = subprocess.Popen(base + args + ["--out", str(tmp_path / "single")], env=env,
                              stdout=subprocess.DEVNULL)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            base + args + ["--strategy", "multiworker", "--out", str(tmp_path / "multi")],
            env=dict(env, TF_CONFIG=json.dumps(config)), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-2000:]
        assert single.wait(timeout=300) == 0
    finally:
        for proc in [single, *procs]:
            if proc.poll() is None:
                proc.kill()
    with open(tmp_path / "multi" / "metrics.json") as f:
        multi = json.load(f)
    with open(tmp_path / "single" / "metrics.json") as f:
        one = json.load(f)
    assert multi["replicas"] == 2 and multi["strategy"] == "multiworker"
    assert len(multi["history"]["loss"]) == 4
    # Only the chief wrote the run directory (worker 1 wrote to scratch space).
    assert sorted(os.listdir(tmp_path)) == ["multi", "single"]
    # Same seed, so the same shuffled global batches, split between the workers: the
    # same training up to the order of floating-point sums (measured: identical).
    np.testing.assert_allclose(multi["history"]["loss"], one["history"]["loss"], rtol=1e-4)
    assert abs(multi["test"]["nll"] - one["test"]["nll"]) < 1e-3
