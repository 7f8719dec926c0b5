"""Datasets: the 2-D toy densities, scikit-learn's 8x8 digits, MNIST.

Toy densities.

``toy_sample(name, n, seed)`` draws ``n`` points (float32, ``[n, 2]``) with a
NumPy generator seeded by ``seed`` (every draw comes from it);
``toy_log_prob(name, x)`` gives the exact log density for the densities
whose density is known in closed form (``KNOWN_DENSITIES``), so the KL gap
``E_p[log p - log q]`` of a model ``q`` can be measured, and
``toy_entropy(name)`` its differential entropy (nats). Besides the 8
Gaussians and the checkerboard:

* ``banana``: ``x1 ~ N(0, s1^2)``, ``x2 | x1 ~ N(b x1^2 - c, s2^2)``, so
  ``log p = log N(x1; 0, s1^2) + log N(x2; b x1^2 - c, s2^2)``;
* ``ringmix``: radius ``r ~ sum_k w_k N(R_k, s^2)`` (folded at 0), angle
  uniform; in the plane ``p(x) = p_r(|x|) / (2 pi |x|)``;
* ``funnel`` (Neal's, mild): ``x1 ~ N(0, 1)``, ``x2 | x1 ~ N(0, exp(a x1)^2)``;
  its entropy is ``log(2 pi e)``;
* ``gaussmix``: three axis-aligned Gaussians with unequal weights and shapes.

References: the toy set of FFJORD (Grathwohl et al., 2019, arXiv:1810.01367)
and neural spline flows (Durkan et al., 2019).

Images. :func:`load_digits` gives scikit-learn's 1797 8x8 digits (shipped
with scikit-learn, no download), 17 grey levels ``0..16``, as ``[N, 8, 8, 1]``
float32 integers with a fixed train/validation/test split.
:func:`load_mnist` goes through ``tf_keras.datasets.mnist`` (a download, or
a local ``mnist.npz`` through ``path=``) and fails with a clear
``ConnectionError`` when offline. :func:`load_fashion_mnist` reads the four
IDX files of Fashion-MNIST from a directory, Keras' cache or Debian's
``dataset-fashion-mnist`` package before it tries a download.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from tfp_genmodels import _args, _idx

if TYPE_CHECKING:  # TensorFlow is imported inside the functions that need it
    import tensorflow as tf

TOY_DENSITIES = ("moons", "8gaussians", "checkerboard", "rings", "pinwheel", "2spirals",
                 "circles", "swissroll", "banana", "ringmix", "funnel", "gaussmix")
#: Densities with a closed-form log density (``toy_log_prob``), so a model's KL gap
#: ``E_p[log p - log q]`` is measurable.
KNOWN_DENSITIES = ("8gaussians", "checkerboard", "banana", "ringmix", "funnel", "gaussmix")
_KNOWN_DENSITY = KNOWN_DENSITIES
# banana: x1 ~ N(0, s1^2), x2 | x1 ~ N(b x1^2 - c, s2^2) (a shear of a Gaussian).
_BANANA = dict(s1=1.2, s2=0.35, b=0.5, c=1.0)
# ringmix: radius ~ N(R_k, s^2) (k with weight w_k), angle uniform.
_RINGS = dict(radii=(1.0, 2.5), weights=(0.4, 0.6), s=0.12)
# funnel (Neal's, mild): v ~ N(0, 1), x2 | v ~ N(0, exp(a v)^2).
_FUNNEL_A = 0.9
# gaussmix: three axis-aligned Gaussians with unequal weights and shapes.
_GMIX = dict(weights=np.array([0.5, 0.3, 0.2]),
             means=np.array([[-1.5, -1.0], [1.5, 0.0], [0.0, 1.8]]),
             stds=np.array([[0.5, 0.3], [0.3, 0.7], [0.4, 0.4]]))
_EIGHT_SCALE, _EIGHT_STD = 2.0, 0.5  # centres on a circle of radius 2, std 0.5


def _check_name(name: str) -> None:
    if name not in TOY_DENSITIES:
        raise ValueError(f"`name` must be one of {TOY_DENSITIES}; got {name!r}.")


def _eight_centres() -> np.ndarray:
    angles = np.arange(8) * (2 * np.pi / 8)
    return _EIGHT_SCALE * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def toy_sample(name: str, n: int, seed: int | None = 0) -> np.ndarray:
    """Draws ``n`` points of the toy density ``name``; same ``seed``, same points."""
    _check_name(name)
    n = _args.positive_int_arg(n, "n")
    rng = np.random.default_rng(seed)
    if name == "moons":
        t = rng.uniform(0, np.pi, n)
        upper = rng.random(n) < 0.5
        x = np.stack([np.where(upper, np.cos(t), 1 - np.cos(t)),
                      np.where(upper, np.sin(t), 0.5 - np.sin(t))], -1)
        x = (x - [0.5, 0.25]) * 2.0 + 0.1 * rng.standard_normal((n, 2))
    elif name == "8gaussians":
        x = _eight_centres()[rng.integers(0, 8, n)] + _EIGHT_STD * rng.standard_normal((n, 2))
    elif name == "checkerboard":
        # Uniform on the 8 dark unit squares of a 4x4 board on [-2, 2]^2.
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2 - 2
        x = np.stack([x1, x2 + (np.floor(x1) % 2)], -1)
    elif name == "rings":
        radius = rng.integers(1, 5, n) * 0.75
        theta = rng.uniform(0, 2 * np.pi, n)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        x += 0.08 * rng.standard_normal((n, 2))
    elif name == "pinwheel":
        k, rate = 5, 0.25
        angles = np.linspace(0, 2 * np.pi, k, endpoint=False)
        feats = rng.standard_normal((n, 2)) * [0.3, 0.05] + [1.0, 0.0]
        labels = rng.integers(0, k, n)
        rot = angles[labels] + rate * np.exp(feats[:, 0])
        c, s = np.cos(rot), np.sin(rot)
        x = 2.0 * np.stack([c * feats[:, 0] - s * feats[:, 1],
                            s * feats[:, 0] + c * feats[:, 1]], -1)
    elif name == "2spirals":
        t = np.sqrt(rng.uniform(0, 1, n)) * 540 * (2 * np.pi) / 360
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        x = sign[:, None] * np.stack([-np.cos(t) * t, np.sin(t) * t], -1) / 3.0
        x += 0.1 * rng.standard_normal((n, 2))
    elif name == "circles":
        outer = rng.random(n) < 0.5
        theta = rng.uniform(0, 2 * np.pi, n)
        radius = np.where(outer, 3.0, 1.5)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        x += 0.08 * rng.standard_normal((n, 2))
    elif name == "banana":
        x1 = _BANANA["s1"] * rng.standard_normal(n)
        x2 = _BANANA["b"] * x1 ** 2 - _BANANA["c"] + _BANANA["s2"] * rng.standard_normal(n)
        x = np.stack([x1, x2], -1)
    elif name == "ringmix":
        k = rng.choice(len(_RINGS["radii"]), n, p=_RINGS["weights"])
        radius = np.asarray(_RINGS["radii"])[k] + _RINGS["s"] * rng.standard_normal(n)
        radius = np.abs(radius)  # mass below 0 is < 1e-16 (R/s >= 8)
        theta = rng.uniform(0, 2 * np.pi, n)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
    elif name == "funnel":
        v = rng.standard_normal(n)
        x = np.stack([v, np.exp(_FUNNEL_A * v) * rng.standard_normal(n)], -1)
    elif name == "gaussmix":
        k = rng.choice(3, n, p=_GMIX["weights"])
        x = _GMIX["means"][k] + _GMIX["stds"][k] * rng.standard_normal((n, 2))
    else:  # swissroll
        t = 1.5 * np.pi * (1 + 2 * rng.uniform(0, 1, n))
        x = np.stack([t * np.cos(t), t * np.sin(t)], -1) / 5.0
        x += 0.1 * rng.standard_normal((n, 2))
    return x.astype(np.float32)


def toy_log_prob(name: str, x: np.ndarray) -> np.ndarray:
    """Exact log density (nats) of the toy density ``name`` at ``x`` (``[..., 2]``)."""
    _check_name(name)
    if name not in _KNOWN_DENSITY:
        raise ValueError(f"`name`: a closed-form density exists only for {_KNOWN_DENSITY}; "
                         f"got {name!r}.")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (2,):
        raise ValueError(f"`x` must have shape [..., 2]; got {x.shape}.")
    if name == "8gaussians":
        sq = np.sum((x[..., None, :] - _eight_centres()) ** 2, axis=-1)
        comp = -sq / (2 * _EIGHT_STD ** 2) - math.log(2 * math.pi * _EIGHT_STD ** 2)
        top = comp.max(axis=-1, keepdims=True)
        return (top[..., 0] + np.log(np.mean(np.exp(comp - top), axis=-1)))
    if name != "checkerboard":
        return _smooth_log_prob(name, x)
    x1, x2 = x[..., 0], x[..., 1]
    inside = (np.abs(x1) <= 2) & (np.abs(x2) <= 2)
    dark = (np.floor(x1) + np.floor(x2)) % 2 == 0
    return np.where(inside & dark, -math.log(8.0), -np.inf)


def _normal_log_pdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)


def _logsumexp(a, axis=-1):
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)))[..., 0]


def _smooth_log_prob(name: str, x: np.ndarray) -> np.ndarray:
    """Closed-form log densities of banana, ringmix, funnel and gaussmix."""
    x1, x2 = x[..., 0], x[..., 1]
    if name == "banana":
        b = _BANANA
        return (_normal_log_pdf(x1, 0.0, b["s1"])
                + _normal_log_pdf(x2, b["b"] * x1 ** 2 - b["c"], b["s2"]))
    if name == "ringmix":
        # Polar change of variables: p(x) = p(r) / (2 pi r), p(r) a mixture over rings.
        r = np.sqrt(x1 ** 2 + x2 ** 2)
        comps = np.stack([math.log(w) + _normal_log_pdf(r, radius, _RINGS["s"])
                          for radius, w in zip(_RINGS["radii"], _RINGS["weights"])], -1)
        # |radius| folds the normal at 0: add the mirrored mass (negligible, exact).
        comps_mirror = np.stack([math.log(w) + _normal_log_pdf(-r, radius, _RINGS["s"])
                                 for radius, w in zip(_RINGS["radii"], _RINGS["weights"])], -1)
        log_pr = _logsumexp(np.concatenate([comps, comps_mirror], -1))
        return log_pr - np.log(2 * math.pi * r)
    if name == "funnel":
        return _normal_log_pdf(x1, 0.0, 1.0) + _normal_log_pdf(x2, 0.0, np.exp(_FUNNEL_A * x1))
    g = _GMIX  # gaussmix
    comps = np.log(g["weights"]) + np.sum(
        _normal_log_pdf(x[..., None, :], g["means"], g["stds"]), axis=-1)
    return _logsumexp(comps)


def toy_entropy(name: str, num_samples: int = 200_000, seed: int = 123) -> float:
    """Differential entropy (nats): exact for the checkerboard, Monte Carlo otherwise."""
    if name == "checkerboard":
        return math.log(8.0)
    return float(-np.mean(toy_log_prob(name, toy_sample(name, num_samples, seed))))


# -- images ------------------------------------------------------------------------
DIGITS_LEVELS = 17     # scikit-learn's digits: grey levels 0..16
MNIST_LEVELS = 256
DIGITS_SPLIT = (1257, 180, 360)  # train / validation / test (fixed permutation, seed 0)


class Split(NamedTuple):
    """Images ``x`` (``[N, H, W, 1]``) and integer labels ``y``."""
    x: np.ndarray
    y: np.ndarray


class ImageData(NamedTuple):
    """An image dataset: train / validation / test splits, event shape and pixel levels."""

    train: Split
    validation: Split
    test: Split
    levels: int

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def load_digits() -> ImageData:
    """scikit-learn's 8x8 digits, values ``0..16`` (17 levels), fixed split.

    The split is a fixed permutation (NumPy seed 0) into
    1257 / 180 / 360 train / validation / test images; every call returns the
    same arrays. Images are ``float32`` ``[N, 8, 8, 1]`` holding integers;
    use ``pixel_levels=17, pixel_format="integer"`` in a flow.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as err:  # pragma: no cover - scikit-learn is in the extras
        raise ImportError("load_digits needs scikit-learn: pip install "
                          "'tfp_genmodels[examples]'") from err
    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_train, n_val, _ = DIGITS_SPLIT
    cut = [n_train, n_train + n_val]
    parts = [Split(xp, yp) for xp, yp in zip(np.split(x, cut), np.split(y, cut))]
    return ImageData(*parts, levels=DIGITS_LEVELS)


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
    return _image_data(x_train, y_train, x_test, y_test, num_validation, MNIST_LEVELS)


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
    return _image_data(x_train, y_train, x_test, y_test, num_validation, MNIST_LEVELS)


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


def _image_data(x_train, y_train, x_test, y_test, num_validation: int, levels: int
                ) -> ImageData:
    """``[N, H, W, 1]`` float32 images and int64 labels; the last ``num_validation``
    training images form the validation split."""
    num_validation = _args.int_arg(num_validation, "num_validation", minimum=1,
                                   maximum=len(x_train) - 1)
    x_train = x_train.astype(np.float32)[..., None]
    x_test = x_test.astype(np.float32)[..., None]
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    k = len(x_train) - num_validation
    return ImageData(Split(x_train[:k], y_train[:k]), Split(x_train[k:], y_train[k:]),
                     Split(x_test, y_test), levels=levels)


def dynamic_binarization(x, seed: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` that redraws binary pixels ``b ~ Bernoulli(x / 255)`` every epoch.

    Dynamic binarisation (as in Burda et al., 2016): each pass over MNIST sees
    fresh binary images, which reduces overfitting of binary-data models.
    ``x`` holds values ``0..255``.
    """
    import tensorflow as tf

    probs = np.asarray(x, np.float32) / 255.0
    # A random op with a fixed seed inside map() replays the same draws on every
    # new iterator (every epoch); a per-example seed from Dataset.random with
    # rerandomize_each_iteration gives fresh, still reproducible, draws.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(probs), seeds))

    def binarize(p, s):
        u = tf.random.stateless_uniform(tf.shape(p), seed=tf.stack([s, s // 7 + 1]))
        return tf.cast(u < p, tf.float32)

    return ds.map(binarize)


def fixed_binarization(x, seed: int = 0) -> np.ndarray:
    """One fixed Bernoulli draw of ``x / 255`` (for reproducible validation / test sets)."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=np.shape(x)) < np.asarray(x, np.float32) / 255.0).astype(np.float32)
