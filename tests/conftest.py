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


#: Modules of end-to-end tests (the CLI, examples, documentation pages, export with
#: TensorFlow alone, distribution, crash safety, benchmarks, continuous flows' solves):
#: marked ``slow`` and left out of ``make test-fast``. ``make test`` runs them all.
SLOW_MODULES = ("test_cli", "test_examples", "test_docs", "test_distribute",
                "test_crash_safety", "test_export", "test_bench", "test_fashion_mnist",
                "test_continuous", "test_saving", "test_image_flows")


def pytest_collection_modifyitems(config, items):
    """Marks the tests of :data:`SLOW_MODULES`, and every test of the continuous flow
    (an adaptive ODE solve per call), ``slow``."""
    for item in items:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if module in SLOW_MODULES or "ffjord" in item.nodeid:
            item.add_marker(pytest.mark.slow)
