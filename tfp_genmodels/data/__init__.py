"""Datasets: the 2-D toy densities, scikit-learn's 8x8 digits, the MNIST family.

* :mod:`~tfp_genmodels.data.toy`: ``toy_sample``, ``toy_log_prob`` (exact, for
  ``KNOWN_DENSITIES``) and ``toy_entropy``, so a model's KL gap can be measured.
* :mod:`~tfp_genmodels.data.digits`: :func:`load_digits`, 17 grey levels
  ``0..16`` as ``[N, 8, 8, 1]`` float32 integers with a fixed
  train/validation/test split (shipped with scikit-learn, no download).
* :mod:`~tfp_genmodels.data.mnist`: :func:`load_mnist` (``tf_keras.datasets``
  or a local ``mnist.npz``; a clear ``ConnectionError`` offline) and
  :func:`load_fashion_mnist` (IDX files from a directory, Keras' cache or
  Debian's ``dataset-fashion-mnist``, before a download).
* :mod:`~tfp_genmodels.data.images`: :class:`ImageData` and binarisation.

Importing this package does not import TensorFlow.
"""

from tfp_genmodels.data.digits import DIGITS_LEVELS, DIGITS_SPLIT, load_digits
from tfp_genmodels.data.images import ImageData, Split, dynamic_binarization, fixed_binarization
from tfp_genmodels.data.mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DEBIAN_DIR,
    FASHION_MNIST_FILES,
    MNIST_LEVELS,
    load_fashion_mnist,
    load_mnist,
)
from tfp_genmodels.data.toy import (
    KNOWN_DENSITIES,
    TOY_DENSITIES,
    toy_entropy,
    toy_log_prob,
    toy_sample,
)

__all__ = ["DIGITS_LEVELS", "DIGITS_SPLIT", "FASHION_MNIST_CLASSES", "FASHION_MNIST_DEBIAN_DIR",
           "FASHION_MNIST_FILES", "ImageData", "KNOWN_DENSITIES", "MNIST_LEVELS", "Split",
           "TOY_DENSITIES", "dynamic_binarization", "fixed_binarization", "load_digits",
           "load_fashion_mnist", "load_mnist", "toy_entropy", "toy_log_prob", "toy_sample"]
