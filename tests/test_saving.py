"""Keras round trip: ``model.save("m.keras")`` and ``tf_keras.models.load_model``."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import data, flows, vae

DIGITS = data.load_digits()
MOONS = data.toy_sample("moons", 256, seed=0).astype(np.float32)
SEED = tf.constant([3, 4])


def _reload(model, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    return keras.models.load_model(path)  # registered classes: no custom_objects


def _assert_same_variables(a, b):
    assert len(a.variables) == len(b.variables)
    for u, v in zip(a.variables, b.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v), err_msg=u.name)


@pytest.mark.parametrize("name", [*sorted(recipes.RECIPES), "realnvp_conditional"])
def test_flow_round_trip_restores_log_prob_and_optimizer(name, tmp_path):
    if name == "realnvp_conditional":
        model = recipes.tiny("realnvp", context_shape=(2,))
        context = np.eye(2, dtype=np.float32)[np.arange(256) % 2]
        x, fit_data, kwargs = MOONS[:32], (MOONS, context), {"context": context[:32]}
    else:  # images with two scales: the factor-out's variables are saved too
        model = recipes.tiny(name, **({"num_scales": 2} if recipes.is_image(name) else {}))
        fit_data = recipes.training_data(name, 128)
        x = DIGITS.test.x[:32] if recipes.is_image(name) else MOONS[:32]
        kwargs = {}
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(fit_data, batch_size=64, epochs=1, verbose=0)
    perturb_variables(model.flow, 0.05, seed=0)  # every variable away from its initial value
    loaded = _reload(model, tmp_path)
    assert type(loaded) is type(model)
    _assert_same_variables(model, loaded)
    np.testing.assert_array_equal(loaded.log_prob(x, seed=SEED, **kwargs),
                                  model.log_prob(x, seed=SEED, **kwargs))
    # the optimizer state came back too: training continues where it stopped
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    for u, v in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    loaded.fit(fit_data, batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("posterior,prior", [("diagonal", "normal"), ("planar", "flow"),
                                             ("full", "vamp")])
def test_vae_round_trip_restores_elbo(posterior, prior, tmp_path):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                                keras.layers.Flatten(), keras.layers.Dense(16, "relu")])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, "relu")])
    model = vae.VAE(2, encoder, decoder, likelihood="categorical", pixel_levels=17,
                    posterior=posterior, prior=prior, num_components=3)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(DIGITS.train.x[:128], batch_size=64, epochs=1, verbose=0)
    loaded = _reload(model, tmp_path)
    assert isinstance(loaded, vae.VAE) and loaded.get_config() == model.get_config()
    _assert_same_variables(model, loaded)
    x = DIGITS.test.x[:16]
    np.testing.assert_array_equal(loaded.elbo(x, seed=SEED), model.elbo(x, seed=SEED))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_a_model_without_a_config_says_how_to_save_it(tmp_path):
    chain = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,)).flow
    model = flows.FlowModel(event_shape=(2,), bijectors=[chain])
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(str(tmp_path / "m.keras"))


def test_loading_into_a_different_architecture_fails_loudly(tmp_path):
    small = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    small.save(str(tmp_path / "small.keras"))
    big = flows.RealNVP(event_shape=(2,), num_layers=4, hidden_units=(8,))
    with pytest.raises(ValueError, match="the file holds .* variables"):
        big.load_weights(str(tmp_path / "small.keras"))


# -- saved by name, not by position (issue 21, part 4) -----------------------------------
DATA_DIR = __import__("pathlib").Path(__file__).parent / "data"


class _ReorderedRealNVP(flows.RealNVP):
    """A RealNVP whose ``variables`` list two same-shaped couplings in the other order
    (as a change of construction order between versions, or a subclass, would)."""

    @property
    def variables(self):
        variables = list(super().variables)
        first = [i for i, v in enumerate(variables) if "_bijectors.0." in _path(self, v)]
        third = [i for i, v in enumerate(variables) if "_bijectors.2." in _path(self, v)]
        order = list(range(len(variables)))
        for i, j in zip(first, third):
            order[i], order[j] = j, i
        return [variables[i] for i in order]


def _path(model, variable):
    from tfp_genmodels import _saving

    variables = list(flows.RealNVP.variables.fget(model))
    return _saving.variable_paths(model, variables)[
        [id(v) for v in variables].index(id(variable))]


def test_weights_load_by_name_whatever_the_variable_order():
    source = flows.RealNVP(event_shape=(2,), num_layers=3, hidden_units=(8,))
    perturb_variables(source.flow, scale=0.3, seed=5)
    store = {}
    source.save_own_variables(store)
    assert all(not key.isdigit() for key in store)        # keyed by path
    target = _ReorderedRealNVP(event_shape=(2,), num_layers=3, hidden_units=(8,))
    assert [v.shape for v in target.variables] == [v.shape for v in source.variables]
    target.load_own_variables(store)
    # By position the two couplings' weights would have been swapped: another density.
    np.testing.assert_allclose(target.log_prob(MOONS[:16]), source.log_prob(MOONS[:16]),
                               rtol=1e-6)


def test_a_checkpoint_that_does_not_match_is_refused_with_the_differences():
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    store = {}
    model.save_own_variables(store)
    kernel = next(k for k in store if k.endswith("hidden.0.kernel"))
    renamed = {("flow.renamed" + k[len("flow"):] if k == kernel else k): v
               for k, v in store.items()}
    with pytest.raises(ValueError, match=r"(?s)nothing was loaded.*missing from the file: "
                                         + kernel.replace(".", r"\.")
                                         + r".*in the file, not in the model: flow\.renamed"):
        model.load_own_variables(renamed)
    reshaped = {**store, kernel: np.zeros([3, 3], np.float32)}
    with pytest.raises(ValueError, match=r"shape differs: " + kernel.replace(".", r"\.")):
        model.load_own_variables(reshaped)


@pytest.mark.parametrize("name, score", [
    ("realnvp", lambda m: m.log_prob(MOONS[:8])),
    ("glow", lambda m: m.log_prob(DIGITS.train.x[:8], seed=tf.constant([1, 2]))),
    ("vae", lambda m: m.elbo(MOONS[:8], seed=tf.constant([1, 2]))),
])
def test_files_written_by_the_previous_release_still_load(name, score):
    """``tests/data/*_0.1.keras``: written by main at 983001e (weights keyed by position);
    ``tests/data/make_release_files.py`` wrote them with the scores they gave."""
    model = keras.models.load_model(str(DATA_DIR / f"{name}_0.1.keras"))
    expected = np.load(DATA_DIR / f"{name}_0.1_{'elbo' if name == 'vae' else 'logprob'}.npy")
    np.testing.assert_allclose(score(model), expected, rtol=1e-5, atol=1e-5)


_BINARY = (MOONS[:8, :1] > 0).astype("float32") * np.ones([1, 6], "float32")


@pytest.mark.parametrize("name, score", [
    ("ffjord", lambda m: m.log_prob(MOONS[:8])),
    ("vae_discrete", lambda m: m.elbo(_BINARY, seed=tf.constant([1, 2]))),
    ("vae_planar", lambda m: m.elbo(MOONS[:8], seed=tf.constant([1, 2]))),
])
def test_files_written_before_the_parts_became_objects_still_load(name, score):
    """``tests/data/*_3b1d36e.keras``: written by main at 3b1d36e, whose configs hold the
    part options as the VAE's keyword arguments (``num_classes``, ``temperature``,
    ``likelihood_scale``, ``num_flow_steps``, ``num_components``) and ``num_blocks``;
    they load with the same scores and without a deprecation warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        model = keras.models.load_model(str(DATA_DIR / f"{name}_3b1d36e.keras"))
    kind = "logprob" if name == "ffjord" else "elbo"
    expected = np.load(DATA_DIR / f"{name}_3b1d36e_{kind}.npy")
    np.testing.assert_allclose(score(model), expected, rtol=1e-5, atol=1e-5)
    if name == "vae_discrete":
        assert model.estimator.temperature == 0.5 and model.posterior.num_classes == 3
    if name == "vae_planar":
        assert model.posterior.num_layers == 2 and model.prior.num_components == 3
        assert model.likelihood.fixed_scale == 0.5
