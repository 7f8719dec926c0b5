"""flows.FFJORD and bijectors.ContinuousFlow beyond the registry's shared suites
(issue 13): the trace estimators, the NFE count, the penalties, the context,
the solvers and the failure modes. The registry (tests/recipes.py) already runs
the CNF through the log-det, round-trip, grid-integral, gradient, cache,
saving, export, every-call, float64 and mirrored suites."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tests.bijector_checks import perturb_variables
from tfp_genmodels import bijectors as B
from tfp_genmodels import data, flows

tfb = tfp.bijectors
X = data.toy_sample("moons", 256, seed=0).astype(np.float32)


def _cnf(**kwargs):
    model = flows.FFJORD((2,), hidden_units=(8,), **kwargs)
    for net in model.dynamics:
        perturb_variables(net, scale=0.3, seed=1)
    return model


def test_rank0_log_det_is_refused_where_tfp_answers_it():
    model = _cnf()
    ffjord = model.flow.bijectors[0].ffjord
    x = tf.constant(X[:4])
    # TFP's FFJORD returns one "log-det" per coordinate of a coordinate-mixing map.
    assert ffjord.forward_log_det_jacobian(x, event_ndims=0).shape == (4, 2)
    with pytest.raises(ValueError, match="event_ndims"):
        model.flow.bijectors[0].forward_log_det_jacobian(x, event_ndims=0)
    with pytest.raises(TypeError, match="tfp.bijectors.FFJORD"):
        B.ContinuousFlow(tfb.Identity())


def test_exact_trace_of_one_unbatched_point_equals_the_batched_one():
    # TFP's exact trace reads the 2 coordinates of an unbatched point as a batch.
    model = _cnf()
    batched = model.log_prob(X[:3])
    single = [model.log_prob(X[i]) for i in range(3)]
    np.testing.assert_allclose(np.stack(single), batched, rtol=1e-4)


def test_hutchinson_scores_are_reproducible_and_unbiased():
    exact, hutch = _cnf(), _cnf(trace="hutchinson")
    hutch.set_weights(exact.get_weights())
    x = X[:8]
    np.testing.assert_array_equal(hutch.log_prob(x), hutch.log_prob(x))  # fixed seed
    # Training draws fresh noise for every example and call: 200 copies of the
    # batch in one call give 200 estimates each, whose mean is the exact value.
    draws = hutch._training_terms(tf.constant(np.tile(x, [200, 1])), None)[0]
    draws = np.reshape(draws, [200, len(x)])
    assert np.std(draws[:, 0]) > 1e-3
    again = np.reshape(hutch._training_terms(tf.constant(np.tile(x, [200, 1])), None)[0],
                       [200, len(x)])
    assert not np.allclose(again, draws)
    np.testing.assert_allclose(draws.mean(0), exact.log_prob(x),
                               atol=4 * draws.std(0).max() / np.sqrt(200) + 1e-3)


def test_function_evaluations_are_counted_and_logged():
    loose, tight = _cnf(atol=1e-3, rtol=1e-3), _cnf(atol=1e-8, rtol=1e-8)
    tight.set_weights(loose.get_weights())
    tight.log_prob(X[:16])
    loose.log_prob(X[:16])
    assert 0 < int(loose.num_function_evaluations) < int(tight.num_function_evaluations)
    blocks = _cnf(num_layers=2, atol=1e-3, rtol=1e-3)
    blocks.log_prob(X[:16])
    assert int(blocks.num_function_evaluations) > int(loose.num_function_evaluations)
    loose.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = loose.fit(X, epochs=1, batch_size=128, verbose=0)
    assert history.history["nfe"][0] > 0
    assert loose.evaluate(X, verbose=0, return_dict=True)["nfe"] > 0


@pytest.mark.parametrize("penalty", ["kinetic_energy", "jacobian_norm"])
def test_penalties_enter_the_training_loss_only(penalty):
    plain, regularised = _cnf(), _cnf(**{penalty: 0.5})
    regularised.set_weights(plain.get_weights())
    x = tf.constant(X[:16])
    log_prob, none = plain._training_terms(x, None)
    assert none is None
    with tf.GradientTape() as tape:
        reg_log_prob, cost = regularised._training_terms(x, None)
        mean_cost = tf.reduce_mean(cost)
    np.testing.assert_allclose(reg_log_prob, log_prob, rtol=1e-4)
    assert cost.shape == (16,) and np.all(cost > 0)
    grads = dict(zip([v.name for v in regularised.trainable_variables],
                     tape.gradient(mean_cost, regularised.trainable_variables)))
    # The output bias moves f but not df/dz: the Jacobian norm does not depend on it.
    assert all(g is not None for name, g in grads.items()
               if not (penalty == "jacobian_norm" and "output/bias" in name)), grads
    np.testing.assert_array_equal(regularised.log_prob(x), plain.log_prob(x))


def test_a_conditional_cnf_uses_its_context():
    model = flows.FFJORD((2,), hidden_units=(8,), context_shape=(3,), atol=1e-4, rtol=1e-4)
    for net in model.dynamics:
        perturb_variables(net, scale=0.3, seed=2)
    c = np.eye(3, dtype=np.float32)[np.arange(16) % 3]
    a, b = model.log_prob(X[:16], c), model.log_prob(X[:16], np.roll(c, 1, axis=0))
    assert not np.allclose(a, b)
    assert model.sample(4, context=c[0], seed=1).shape == (4, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    context = np.eye(3, dtype=np.float32)[np.arange(256) % 3]
    assert np.isfinite(model.fit((X, context), epochs=1, batch_size=128,
                                 verbose=0).history["loss"][0])
    with pytest.raises(ValueError, match="`context`"):
        model.log_prob(X[:4])


def test_bdf_solver_round_trips():
    model = _cnf(solver="bdf", atol=1e-6, rtol=1e-6)
    round_trip = tf.function(lambda x: model.flow.forward(model.flow.inverse(x)))
    np.testing.assert_allclose(round_trip(tf.constant(X[:4])), X[:4], atol=1e-3)


def test_too_few_solver_steps_raise_instead_of_returning_a_partial_solution():
    model = _cnf(max_num_steps=5, atol=1e-9, rtol=1e-9)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_num_steps exceeded"):
        model.log_prob(X[:4])


@pytest.mark.parametrize("kwargs, message", [
    ({"trace": "stochastic"}, "`trace` must be one of"),
    ({"solver": "rk4"}, "`solver` must be one of"),
    ({"atol": 0.0}, "`atol`"),
    ({"kinetic_energy": -1.0}, "`kinetic_energy`"),
    ({"event_shape": (4, 4, 1)}, "event_shape"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        flows.FFJORD(**{"event_shape": (2,), **kwargs})


def test_exported_hutchinson_scores_equal_the_models(tmp_path):
    from tfp_genmodels import export

    model = _cnf(trace="hutchinson")
    path = export.save_for_serving(model, str(tmp_path / "cnf"))
    served = tf.saved_model.load(path).signatures["log_prob"]
    x = tf.constant(X[:8])
    first, second = (served(x=x)["log_prob"] for _ in range(2))
    np.testing.assert_array_equal(first, second)  # the fixed seed, in the graph too
    np.testing.assert_allclose(first, model.log_prob(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_a_continuous_flow_from_a_linear_vector_field_is_exact(dtype):
    """``ContinuousFlow(f)`` for ``f(t, z) = A z``: the map is ``z -> expm(A) z`` and its
    log-det ``tr(A)``, exactly, whatever the trace estimator's noise; both directions
    agree and round-trip (the bijector takes any vector field, not only FFJORD's MLP)."""
    a = tf.constant([[-0.5, 0.3, 0.0], [0.1, 0.2, -0.4], [0.0, 0.6, -0.1]], dtype)
    # The solver's tolerances are per step; the global error stays below 1e4 x tol here.
    tol, close = (1e-6, 1e-4) if dtype == tf.float32 else (1e-10, 1e-6)
    x = tf.constant(np.random.default_rng(3).normal(size=(5, 3)), dtype)
    expected_y = tf.linalg.matvec(tf.linalg.expm(a), x)
    for trace in ("exact", "hutchinson"):
        flow = B.ContinuousFlow(lambda t, z: tf.linalg.matvec(a, z), trace=trace, atol=tol,
                                rtol=tol, dtype=dtype)
        y = flow.forward(x)
        np.testing.assert_allclose(y, expected_y, rtol=close, atol=close)
        np.testing.assert_allclose(flow.inverse(y), x, rtol=close, atol=close)
        if trace == "exact":
            np.testing.assert_allclose(flow.forward_log_det_jacobian(x, event_ndims=1),
                                       np.full(5, float(tf.linalg.trace(a))), atol=close)
            np.testing.assert_allclose(flow.inverse_log_det_jacobian(y, event_ndims=1),
                                       np.full(5, -float(tf.linalg.trace(a))), atol=close)
    with pytest.raises(ValueError, match="event_ndims"):
        flow.forward_log_det_jacobian(x, event_ndims=0)
    with pytest.raises(TypeError, match="vector_field"):
        B.ContinuousFlow("not a field")
