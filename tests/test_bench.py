"""The Fashion-MNIST benchmark runs end to end (tiny settings, IDX files written
here), so the script that the published table comes from cannot rot unseen."""

from __future__ import annotations

import argparse
import importlib.util
import math
import os

import pytest

from tests.test_fashion_mnist import _fake_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench_module():
    spec = importlib.util.spec_from_file_location(
        "fashion_mnist_bench", os.path.join(ROOT, "bench", "fashion_mnist.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("idx"))
    _fake_dataset(directory, n_train=10016, n_test=12)  # 10,000 go to validation
    return directory


@pytest.mark.parametrize("name", ["Glow", "RealNVP multi-scale", "tfb.Glow",
                                  "VAE (Gaussian, IWAE)"])
def test_fashion_mnist_bench_row(name, idx_dir):
    bench = _bench_module()
    args = argparse.Namespace(levels=2, steps_per_level=2, channels=4, batch_size=8, steps=3,
                              warmup=1, learning_rate=1e-3, seed=0, xla=False,
                              data_path=idx_dir, vae_hidden=8, vae_latent=2, iwae_samples=3)
    row = bench.run_one(name, args)
    assert row["steps_done"] == 3 and row["params"] > 0
    # A bound on -log2 P(k) / D of discrete pixels: finite and positive.
    assert math.isfinite(row["bits_per_dim"]) and row["bits_per_dim"] > 0
    assert row["step_ms"] > 0 and row["peak_mib"] > 0


@pytest.mark.parametrize("row", [0, -1])   # linear REINFORCE; categorical Gumbel-softmax
def test_discrete_vae_bench_row(row, idx_dir):
    import numpy as np

    from tfp_genmodels import data

    spec = importlib.util.spec_from_file_location(
        "vae_discrete_bench", os.path.join(ROOT, "bench", "vae_discrete.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    fm = data.load_fashion_mnist(idx_dir)
    images = argparse.Namespace(train=(fm.train.x.reshape(-1, bench.D) / 255.0)
                                .astype(np.float32))
    test = (fm.test.x.reshape(-1, bench.D) > 127).astype(np.float32)
    result = bench.run(bench.ROWS[row], images, 3, test, np.random.default_rng(0))
    assert result["name"] == bench.ROWS[row][0]
    for key in ("train_elbo", "test_bound"):
        assert math.isfinite(result[key]) and result[key] < 0
    assert result["grad_var"] > 0 and result["s_per_1000"] > 0


def test_coupling_bounds_bench_reports_the_spread():
    spec = importlib.util.spec_from_file_location(
        "coupling_bounds_bench", os.path.join(ROOT, "bench", "coupling_bounds.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench._run_toy({"log_scale_clamp": 1.0, "shift_clamp": None}, 0, "banana", 20)
    test = row["test"]
    assert math.isfinite(row["kl_gap"]) and math.isfinite(test["mean"])
    assert test["worst"][0][1] >= test["median"] and len(test["worst"]) == 3
