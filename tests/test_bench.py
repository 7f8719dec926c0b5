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
