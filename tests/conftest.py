import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same Python, NumPy and TensorFlow seeds.

    Keras initialisers draw from the global generator; without this, weights
    (and so float32 round-off) would depend on which tests ran before.
    """
    import tf_keras
    tf_keras.utils.set_random_seed(1234)
    yield
