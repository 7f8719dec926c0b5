"""Fashion-MNIST: the IDX reader and the loader's search order, on IDX files
these tests write themselves; the real files when Debian's package is there."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from tfp_genmodels import _idx, data


def _write_idx(path, array, compress=True):
    codes = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C}
    array = np.asarray(array)
    stored = array.astype(">i4") if array.dtype.kind == "i" and array.itemsize > 1 else array
    header = bytes([0, 0, codes[stored.dtype], stored.ndim]) + np.asarray(
        stored.shape, ">u4").tobytes()
    raw = header + stored.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(raw)


def _fake_dataset(directory, n_train=30, n_test=10, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8)}
    for stem, array in arrays.items():
        _write_idx(os.path.join(directory, stem + (".gz" if compress else "")), array,
                   compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_loader_reads_idx_files_from_path(tmp_path, compress):
    arrays = _fake_dataset(str(tmp_path), compress=compress)
    d = data.load_fashion_mnist(path=str(tmp_path), num_validation=10)
    assert d.train.x.shape == (20, 28, 28, 1) and d.validation.x.shape == (10, 28, 28, 1)
    assert d.test.x.shape == (10, 28, 28, 1) and d.levels == 256
    assert d.train.x.dtype == np.float32 and d.train.y.dtype == np.int64
    np.testing.assert_array_equal(d.train.x[..., 0], arrays["train-images-idx3-ubyte"][:20])
    np.testing.assert_array_equal(d.validation.y, arrays["train-labels-idx1-ubyte"][20:])
    np.testing.assert_array_equal(d.test.x[..., 0], arrays["t10k-images-idx3-ubyte"])


def test_idx_reader_handles_wider_types_and_refuses_other_files(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    _write_idx(str(tmp_path / "a.gz"), values)
    np.testing.assert_array_equal(_idx.read_idx(str(tmp_path / "a.gz")), values)
    (tmp_path / "b").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="is not an IDX file"):
        _idx.read_idx(str(tmp_path / "b"))
    _write_idx(str(tmp_path / "c"), np.zeros((4, 2), np.uint8), compress=False)
    (tmp_path / "c").write_bytes((tmp_path / "c").read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"shape \(4, 2\).*needs 20 bytes; the file has 17"):
        _idx.read_idx(str(tmp_path / "c"))


def test_missing_files_in_path_are_named(tmp_path):
    _fake_dataset(str(tmp_path))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match=r"missing: \['t10k-labels-idx1-ubyte'\]"):
        data.load_fashion_mnist(path=str(tmp_path))
    with pytest.raises(ValueError, match=r"`num_validation` must be an int in \[1, 29\]"):
        data.load_fashion_mnist(path=str(_fake_dataset_dir(tmp_path)), num_validation=30)


def _fake_dataset_dir(tmp_path):
    directory = tmp_path / "complete"
    _fake_dataset(str(directory))
    return directory


def test_search_order_keras_cache_then_debian_then_download(tmp_path, monkeypatch):
    home, debian = tmp_path / "home", tmp_path / "debian"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(data.mnist, "FASHION_MNIST_DEBIAN_DIR", str(debian))

    def offline():
        raise OSError("no network")

    import tf_keras as keras
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(ConnectionError) as info:
        data.load_fashion_mnist()
    message = str(info.value)
    for way in ("apt install dataset-fashion-mnist", str(home / ".keras" / "datasets"),
                "path="):
        assert way in message, message
    _fake_dataset(str(debian), n_train=12, seed=1)
    assert len(data.load_fashion_mnist(num_validation=2).train.x) == 10    # Debian's copy
    _fake_dataset(str(home / ".keras" / "datasets" / "fashion-mnist"), n_train=14, seed=2)
    assert len(data.load_fashion_mnist(num_validation=2).train.x) == 12    # Keras' cache first


@pytest.mark.skipif(not os.path.isdir(data.FASHION_MNIST_DEBIAN_DIR),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_the_real_files_from_debians_package():
    d = data.load_fashion_mnist(path=data.FASHION_MNIST_DEBIAN_DIR)
    assert (len(d.train.x), len(d.validation.x), len(d.test.x)) == (50000, 10000, 10000)
    assert d.train.x.min() == 0 and d.train.x.max() == 255
    assert set(np.unique(d.test.y)) == set(range(10))
    # The published first training labels: ankle boot, T-shirt, T-shirt, dress, ...
    np.testing.assert_array_equal(d.train.y[:6], [9, 0, 0, 3, 0, 2])
    assert np.bincount(d.test.y).tolist() == [1000] * 10
