"""The MNIST family: MNIST (Keras' download or a local ``mnist.npz``) and Fashion-MNIST
(IDX files from a directory, Keras' cache or Debian's ``dataset-fashion-mnist``
package, before a download). Offline, a loader fails with an error that says
what to do.
"""

from __future__ import annotations

import os

import numpy as np

from tfp_genmodels import _idx
from tfp_genmodels.data.images import ImageData, image_data

MNIST_LEVELS = 256


def load_mnist(path: str | None = None, num_validation: int = 5000) -> ImageData:
    """MNIST as ``uint8`` values ``0..255`` in ``[N, 28, 28, 1]`` float32 arrays.

    The last ``num_validation`` training images form the validation split.

    Args:
      path: a local ``mnist.npz`` (keys ``x_train, y_train, x_test, y_test``,
        as Keras stores it); ``None`` downloads through
        ``tf_keras.datasets.mnist.load_data``.
      num_validation: size of the validation split.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      ConnectionError: no ``path`` and the download failed (offline).
    """
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"`path` must be an existing mnist.npz; got {path!r}.")
        with np.load(path) as f:
            (x_train, y_train), (x_test, y_test) = ((f["x_train"], f["y_train"]),
                                                    (f["x_test"], f["y_test"]))
    else:
        x_train, y_train, x_test, y_test = _keras_download(
            "mnist", "Could not download MNIST",
            "This machine may be offline: download mnist.npz elsewhere and pass "
            "load_mnist(path='.../mnist.npz'), or use load_digits(), which ships with "
            "scikit-learn.")
    return image_data(x_train, y_train, x_test, y_test, num_validation, MNIST_LEVELS)


FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: Where Debian's and Ubuntu's ``dataset-fashion-mnist`` package puts the files.
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


def _keras_cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets", "fashion-mnist")


def _read_fashion_mnist(directory: str):
    files = {stem: _idx.find(directory, stem) for stem in FASHION_MNIST_FILES}
    missing = [stem for stem, found in files.items() if found is None]
    if missing:
        return None, missing
    x_train, y_train, x_test, y_test = (_idx.read_idx(files[s]) for s in FASHION_MNIST_FILES)
    for name, x, y in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise ValueError(f"{directory}: the {name} files must hold [N, 28, 28] images and "
                             f"N labels; got images {x.shape} and labels {y.shape}.")
    return (x_train, y_train, x_test, y_test), []


def load_fashion_mnist(path: str | None = None, num_validation: int = 10000) -> ImageData:
    """Fashion-MNIST (Xiao et al., 2017) like :func:`load_mnist`: ``[N, 28, 28, 1]``
    float32 arrays holding ``0..255``, integer labels (``FASHION_MNIST_CLASSES``).

    The 60,000 training images are split into train and validation (the last
    ``num_validation``); test is the 10,000 test images. The four IDX files
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; gzipped or
    not) are read, in this order, from ``path``, Keras' cache
    (``~/.keras/datasets/fashion-mnist``) and Debian's package
    (``/usr/share/datasets/fashion-mnist``, ``apt install dataset-fashion-mnist``);
    only then is the Keras download tried.

    Args:
      path: a directory holding the four files (then nothing else is tried).
      num_validation: images of the training set kept for validation.

    Raises:
      FileNotFoundError: ``path`` lacks some of the files (they are named).
      ConnectionError: no copy was found and the download failed (offline);
        the message names the three ways to provide the data.

    References:
      Xiao, Rasul & Vollgraf. Fashion-MNIST: a Novel Image Dataset for
      Benchmarking Machine Learning Algorithms. 2017. arXiv:1708.07747.
    """
    if path is not None:
        arrays, missing = _read_fashion_mnist(path)
        if arrays is None:
            raise FileNotFoundError(f"`path` {path!r} must be a directory holding the four "
                                    f"Fashion-MNIST IDX files; missing: {missing}.")
    else:
        arrays = None
        for directory in (_keras_cache_dir(), FASHION_MNIST_DEBIAN_DIR):
            arrays, _ = _read_fashion_mnist(directory)
            if arrays is not None:
                break
        if arrays is None:
            arrays = _download_fashion_mnist()
    x_train, y_train, x_test, y_test = arrays
    return image_data(x_train, y_train, x_test, y_test, num_validation, MNIST_LEVELS)


def _download_fashion_mnist():
    return _keras_download(
        "fashion_mnist", "Could not find Fashion-MNIST locally nor download it",
        "Provide the four IDX files (train-images-idx3-ubyte.gz, ...) in one of three ways: "
        f"`apt install dataset-fashion-mnist` (Debian/Ubuntu: {FASHION_MNIST_DEBIAN_DIR}); "
        f"copy them to {_keras_cache_dir()}; or pass load_fashion_mnist(path='DIR') (CLI: "
        "--data-path DIR).")


def _keras_download(dataset: str, failure: str, advice: str):
    """``tf_keras.datasets.<dataset>.load_data()`` as four arrays, or a
    ``ConnectionError`` that starts with ``failure`` and ends with ``advice``."""
    from tfp_genmodels._keras import keras
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, dataset).load_data()
    except Exception as err:  # urllib raises several types; all mean "no download"
        raise ConnectionError(f"{failure} through tf_keras.datasets.{dataset}.load_data "
                              f"({type(err).__name__}: {err}). {advice}") from err
    return x_train, y_train, x_test, y_test
