"""One parametrized test suite over every flow recipe (vector events)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import check_bijector, perturb_variables
from tfp_genmodels import data, flows

RECIPES = {name: recipes.RECIPES[name] for name in recipes.VECTOR_RECIPES}
X = data.toy_sample("moons", 512, seed=0)


def _perturbed(name, **kw):
    model = RECIPES[name](**kw)
    perturb_variables(model.flow, scale=0.1, seed=1)
    return model


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_constructible_with_event_shape_only(name):
    cls = type(RECIPES[name]())
    model = cls(event_shape=(3,))
    assert model.log_prob(np.zeros([2, 3])).shape == (2,)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_log_prob_sample_and_round_trip(name):
    model = _perturbed(name)
    lp = model.log_prob(X[:7])
    assert lp.shape == (7,) and np.all(np.isfinite(lp))
    samples = model.sample(9, seed=3)
    assert samples.shape == (9, 2) and np.all(np.isfinite(samples))
    z = model.flow.inverse(tf.identity(samples))
    np.testing.assert_allclose(model.flow.forward(tf.identity(z)), samples, atol=1e-4)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_variable_is_tracked_and_gets_a_gradient(name):
    model = _perturbed(name)
    tracked = {id(v) for v in model.trainable_variables}
    assert tracked and tracked == {id(v) for v in model.flow.trainable_variables} | (
        {id(model.log_scale)} if name == "nice" else set())
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(X[:64]))
    grads = tape.gradient(loss, model.trainable_variables)
    for v, g in zip(model.trainable_variables, grads):
        assert g is not None, f"{v.name} gets no gradient"
        assert np.any(np.asarray(tf.convert_to_tensor(g)) != 0), f"{v.name}: zero gradient"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_flow_log_det_matches_autodiff(name):
    # The smallest configuration (a mixing layer between two couplings), in
    # float32 and in float64 (the model's `dtype`).
    def make(dtype):
        model = recipes.tiny(name, dtype=dtype.name)
        perturb_variables(model.flow, scale=0.1, seed=1)
        return model.flow

    check_bijector(make, X[:6].astype(np.float64), 1, jit=False,
                   **recipes.CHECK_OPTIONS.get(name, {}))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_density_integrates_to_one(name):
    model = _perturbed(name)
    grid = np.linspace(-7, 7, 281, dtype=np.float32)
    xx, yy = np.meshgrid(grid, grid)
    dens = np.exp(model.log_prob(np.stack([xx.ravel(), yy.ravel()], -1))).reshape(xx.shape)
    total = np.trapezoid(np.trapezoid(dens, grid, axis=1), grid)
    assert abs(total - 1.0) < 0.02, total


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_fit_lowers_loss_and_weights_round_trip(name, tmp_path):
    model = RECIPES[name]()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(X, validation_data=X[:128], batch_size=128, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert {"loss", "bits_per_dim", "val_loss", "val_bits_per_dim"} <= set(history.history)
    np.testing.assert_allclose(history.history["bits_per_dim"][-1],
                               history.history["loss"][-1] / (2 * np.log(2)), rtol=1e-5)
    path = str(tmp_path / "weights")
    model.save_weights(path)
    clone = RECIPES[name]()
    clone.load_weights(path)
    np.testing.assert_array_equal(clone.log_prob(X[:16]), model.log_prob(X[:16]))
    assert type(model)(**model.get_config()).get_config() == model.get_config()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_unknown_batch_under_tf_function(name):
    model = _perturbed(name)
    fn = tf.function(model.log_prob, input_signature=[tf.TensorSpec([None, 2])])
    np.testing.assert_allclose(fn(X[:5]), model.log_prob(X[:5]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fn(X[:3]), model.log_prob(X[:3]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["realnvp", "maf", "iaf", "spline", "nice"])
def test_conditional_flow(name):
    labels = (X[:, 0] > 0).astype(np.int64)
    context = np.eye(2, dtype=np.float32)[labels]
    model = RECIPES[name](context_shape=(2,))
    perturb_variables(model.flow, scale=0.1, seed=2)
    lp_a = model.log_prob(X[:8], context=context[:8])
    lp_b = model.log_prob(X[:8], context=context[:8, ::-1])
    assert not np.allclose(lp_a, lp_b), "context must change the density"
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit((X, context), batch_size=128, epochs=1, verbose=0)
    assert model.sample(5, context=[1.0, 0.0]).shape == (5, 2)
    assert model.sample(5, context=context[:5]).shape == (5, 2)
    with pytest.raises(ValueError, match=r"`context` of shape \[..., 2\] is required"):
        model.log_prob(X[:2])


def test_bad_inputs_name_the_argument():
    model = RECIPES["realnvp"]()
    with pytest.raises(ValueError, match=r"`x` must have trailing \(event\) shape \(2,\)"):
        model.log_prob(np.zeros([3, 5]))
    with pytest.raises(ValueError, match=r"`permutation` must be one of"):
        flows.RealNVP(event_shape=(2,), permutation="shuffle")
    with pytest.raises(ValueError, match=r"`num_layers` must be a positive int; got 0"):
        flows.RealNVP(event_shape=(2,), num_layers=0)



COUPLING_RECIPES = {"realnvp": flows.RealNVP, "nice": flows.NICE,
                    "spline": flows.NeuralSplineFlow}


@pytest.mark.parametrize("recipe", sorted(COUPLING_RECIPES))
@pytest.mark.parametrize("permutation", ["reverse", "none", "linear"])
@pytest.mark.parametrize("dim, context", [(2, None), (3, None), (4, None), (5, (2,))])
def test_every_coordinate_is_transformed_by_some_coupling(recipe, permutation, dim, context):
    """Regression: with permutation="reverse" the alternating flip undid the
    reversal, so on even D half the coordinates passed through every coupling
    (RealNVP's KL gap on 2-D data stayed at 1.1 nats). A coordinate that no
    coupling transforms shows up as a unit row of the Jacobian of x -> z."""
    model = COUPLING_RECIPES[recipe](event_shape=(dim,), num_layers=4, hidden_units=(8,),
                                     permutation=permutation, context_shape=context)
    perturb_variables(model.flow, scale=0.3, seed=4)
    if recipe == "nice":
        model.log_scale.assign(tf.zeros_like(model.log_scale))  # keep unit rows visible
    x = tf.constant(np.random.default_rng(0).normal(size=(8, dim)), tf.float32)
    kwargs = {} if context is None else model._bijector_kwargs(
        tf.constant(np.random.default_rng(1).normal(size=(8, *context)), tf.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = model.flow.inverse(x, **kwargs)
    jacobian = tape.batch_jacobian(z, x).numpy()  # [batch, z_j, x_k]
    nonzero = (np.abs(jacobian) > 1e-6).sum(axis=-1).min(axis=0)
    assert np.all(nonzero >= 2), (
        f"z coordinates {np.flatnonzero(nonzero < 2).tolist()} pass some x coordinate "
        f"through unchanged (nonzeros per row: {nonzero.tolist()})")


@pytest.mark.parametrize("clamp", [0.5, None])
def test_maf_log_scale_is_bounded_by_log_scale_clamp(clamp):
    """Each MAF layer scales by at most exp(clamp) per coordinate (an unbounded
    log-scale let one bench/toy2d.py run diverge); ``None`` is TFP's unbounded MAF."""
    model = flows.MAF(event_shape=(3,), num_layers=1, hidden_units=(8,), log_scale_clamp=clamp)
    perturb_variables(model.flow, scale=20.0, seed=2)
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 3)) * 10, tf.float32)
    ildj = np.abs(model.flow.inverse_log_det_jacobian(x, event_ndims=1).numpy())
    if clamp is None:
        assert ildj.max() > 3 * 0.5  # the same weights exceed the bound without it
    else:
        assert ildj.max() <= 3 * clamp + 1e-5


@pytest.mark.parametrize("make, key, old_value", [
    (lambda: flows.MAF(event_shape=(2,), hidden_units=(8,)), "log_scale_clamp", None),
    (lambda: flows.NeuralSplineFlow(event_shape=(2,), hidden_units=(8,)), "affine", False),
], ids=["maf", "spline"])
def test_configs_saved_before_a_new_default_keep_their_model(make, key, old_value):
    """A 0.1.0 config lacks the new argument: it loads as the model it described."""
    model = make()
    config = model.get_config()
    assert config[key] != old_value  # the new default differs
    del config[key]
    old = type(model).from_config(config)
    assert getattr(old, key) == old_value


def test_registry_covers_every_library_recipe():
    """A recipe added to flows.RECIPES must get a line in tests/recipes.py."""
    covered = {type(build()) for build in recipes.RECIPES.values()}
    assert set(flows.RECIPES.values()) <= covered, set(flows.RECIPES.values()) - covered
