"""Toy densities: seeded, reproducible, and exact where the density is known."""

from __future__ import annotations

import numpy as np
import pytest

from tfp_genmodels import data


@pytest.mark.parametrize("name", data.TOY_DENSITIES)
def test_seed_controls_every_draw(name):
    a, b = data.toy_sample(name, 500, seed=4), data.toy_sample(name, 500, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, data.toy_sample(name, 500, seed=5))
    assert a.shape == (500, 2) and a.dtype == np.float32 and np.all(np.isfinite(a))


@pytest.mark.parametrize("name", [d for d in data.KNOWN_DENSITIES if d != "funnel"])
def test_known_densities_integrate_to_one_and_match_samples(name):
    # Midpoint rule: cell centres never sit on the checkerboard's edges.
    h = 0.01
    grid = np.arange(-7 + h / 2, 7, h)
    xx, yy = np.meshgrid(grid, grid)
    dens = np.exp(data.toy_log_prob(name, np.stack([xx, yy], -1)))
    assert abs(dens.sum() * h * h - 1.0) < 5e-3
    # Samples come from the density: every sample has positive density, and the
    # Monte Carlo entropy agrees with a grid estimate.
    samples = data.toy_sample(name, 20000, seed=1)
    assert np.all(np.isfinite(data.toy_log_prob(name, samples)))
    safe = np.where(dens > 0, dens, 1.0)
    grid_entropy = -np.sum(dens * np.log(safe)) * h * h
    assert abs(data.toy_entropy(name) - grid_entropy) < 0.02


def test_funnel_entropy_is_the_closed_form():
    # H = H(v) + E_v[H(x2 | v)] = log(2 pi e) + a E[v] = log(2 pi e); a grid cannot
    # resolve the funnel's neck, the Monte Carlo estimate can.
    assert abs(data.toy_entropy("funnel") - np.log(2 * np.pi * np.e)) < 0.02
    samples = data.toy_sample("funnel", 50000, seed=3)
    np.testing.assert_allclose(np.std(samples[:, 0]), 1.0, atol=0.02)


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match=r"`name` must be one of .* got 'spiral'"):
        data.toy_sample("spiral", 10)
    with pytest.raises(ValueError, match=r"closed-form density exists only for"):
        data.toy_log_prob("moons", np.zeros([1, 2]))
    with pytest.raises(ValueError, match=r"`n` must be a positive int; got 0"):
        data.toy_sample("moons", 0)


def test_digits_fixed_split_and_levels():
    a, b = data.load_digits(), data.load_digits()
    assert a.levels == 17 and a.event_shape == (8, 8, 1)
    assert [len(s.x) for s in (a.train, a.validation, a.test)] == list(data.DIGITS_SPLIT)
    for s_a, s_b in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(s_a.x, s_b.x)
        np.testing.assert_array_equal(s_a.y, s_b.y)
    x = np.concatenate([a.train.x, a.validation.x, a.test.x])
    assert x.dtype == np.float32 and x.min() == 0 and x.max() == 16
    np.testing.assert_array_equal(x, np.round(x))
    # The three splits partition the data set: no image is counted twice.
    from sklearn.datasets import load_digits
    assert len(x) == len(load_digits().images)
    assert set(np.unique(a.test.y)) == set(range(10))


def test_mnist_offline_error_and_local_path(tmp_path, monkeypatch):
    import tf_keras as keras

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(ConnectionError, match=r"offline.*load_mnist\(path="):
        data.load_mnist()
    with pytest.raises(FileNotFoundError, match="`path` must be an existing mnist.npz"):
        data.load_mnist(path=str(tmp_path / "missing.npz"))
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 30), x_test=rng.integers(0, 256, (7, 28, 28),
                                                                 dtype=np.uint8),
             y_test=rng.integers(0, 10, 7))
    mnist = data.load_mnist(path=str(path), num_validation=10)
    assert [len(s.x) for s in mnist[:3]] == [20, 10, 7]
    assert mnist.event_shape == (28, 28, 1) and mnist.levels == 256


def test_binarizations():
    x = np.full([400, 2, 2, 1], 0.25 * 255, np.float32)
    fixed = data.fixed_binarization(x, seed=1)
    np.testing.assert_array_equal(fixed, data.fixed_binarization(x, seed=1))
    assert set(np.unique(fixed)) == {0.0, 1.0} and abs(fixed.mean() - 0.25) < 0.05
    ds = data.dynamic_binarization(x[:64]).batch(64)
    first, second = next(iter(ds)).numpy(), next(iter(ds)).numpy()
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert not np.array_equal(first, second), "every pass must redraw the pixels"
