"""Checks on every call path, not only the first trace (issue: no silent wrong
answers, parts 3 and 4): event shapes, pixel ranges and finiteness inside
``fit``/``evaluate``/``predict``/``tf.data``/exported signatures; non-finite
losses never reach the weights; argument types; sample weights; Keras 3."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests import recipes
from tfp_genmodels import data, export, flows, vae
from tfp_genmodels.callbacks import NonFiniteLossError

X = data.toy_sample("moons", 256, seed=0).astype(np.float32)
WRONG_SHAPE = ValueError  # also from inside fit's graph: the message of an eager call

VECTOR_FLOWS = {name: functools.partial(recipes.tiny, name) for name in recipes.VECTOR_RECIPES}


def _compiled(model, lr=1e-3, **kwargs):
    model.compile(optimizer=keras.optimizers.Adam(lr), **kwargs)
    return model


def _small_vae(event=(2,), latent=2):
    enc = keras.Sequential([keras.Input(event), keras.layers.Dense(8, "tanh")])
    dec = keras.Sequential([keras.Input((latent,)), keras.layers.Dense(8, "tanh")])
    return vae.VAE(latent, enc, dec, likelihood="gaussian")


@pytest.mark.parametrize("name", sorted(VECTOR_FLOWS))
def test_wrong_column_count_after_a_good_call_is_refused_everywhere(name):
    """Issue repro: after a good fit, 3 columns were silently cut to 2."""
    model = _compiled(VECTOR_FLOWS[name]())
    model.fit(X, batch_size=64, epochs=1, verbose=0)
    model.evaluate(X, batch_size=64, verbose=0)
    for bad in (np.ones([64, 3], np.float32), np.ones([64, 1], np.float32)):
        with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape \(2,\)"):
            model.fit(bad, batch_size=32, epochs=1, verbose=0)
        with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape \(2,\)"):
            model.evaluate(bad, batch_size=32, verbose=0)
        with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape \(2,\)"):
            model.predict(bad, batch_size=32, verbose=0)
        dataset = tf.data.Dataset.from_tensor_slices(bad).batch(16)
        with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape"):
            model.evaluate(dataset, verbose=0)


def test_relaxed_shape_graph_checks_the_event_shape_at_run_time():
    """What Keras and serving do: a graph traced with unknown shapes."""
    model = VECTOR_FLOWS["realnvp"]()
    fn = tf.function(model.log_prob, input_signature=[tf.TensorSpec([None, None])])
    assert fn(X[:4]).shape == [4]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\(2,\); got shape.*\[4 3\]"):
        fn(np.ones([4, 3], np.float32))


def test_vae_checks_event_shape_after_a_good_call():
    model = _compiled(_small_vae())
    model.fit(X, batch_size=64, epochs=1, verbose=0)
    with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape \(2,\)"):
        model.fit(np.ones([64, 3], np.float32), batch_size=32, epochs=1, verbose=0)
    with pytest.raises(WRONG_SHAPE, match=r"`x` must have trailing \(event\) shape \(2,\)"):
        model.evaluate(tf.data.Dataset.from_tensor_slices(np.ones([8, 3], "f4")).batch(4),
                       verbose=0)


def test_exported_signature_refuses_a_wrong_shape(tmp_path):
    model = VECTOR_FLOWS["realnvp"]()
    export.save_for_serving(model, str(tmp_path / "m"))
    served = tf.saved_model.load(str(tmp_path / "m")).signatures["log_prob"]
    np.testing.assert_allclose(served(x=tf.constant(X[:2]))["log_prob"],
                               model.log_prob(X[:2], seed=export.SEED), rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"trailing \(event\) shape"):
        served(x=tf.ones([2, 3]))


def test_pixel_range_is_checked_for_tf_data_too():
    """Issue repro: integer pixels 0..16 through tf.data trained at 7 bits/dim."""
    model = _compiled(flows.Glow(event_shape=(8, 8, 1), num_scales=1, num_layers=1,
                                 hidden_units=(8,)))
    pixels = data.load_digits().train.x[:64]  # integers 0..16
    with pytest.raises(ValueError, match="unit pixels in"):
        model.fit(pixels, epochs=1, verbose=0)  # the NumPy path (already refused)
    dataset = tf.data.Dataset.from_tensor_slices(pixels).batch(32)
    with pytest.raises(ValueError,
                       match=r"must hold unit pixels in \[0, 1\].*Use pixel_format=.integer"):
        model.fit(dataset, epochs=1, verbose=0)
    # XLA drops the assertion; out-of-range pixels become NaN and training stops.
    model.compile(optimizer="adam", jit_compile=True)
    with pytest.raises(NonFiniteLossError, match="pixels out of range"):
        model.fit(dataset, epochs=1, verbose=0)


def _with_nan_row(row=70):
    x = X.copy()
    x[row, 1] = np.nan
    return x


@pytest.mark.parametrize("make, jit", [(VECTOR_FLOWS["realnvp"], False), (_small_vae, False),
                                       (VECTOR_FLOWS["realnvp"], True)],
                         ids=["flow", "vae", "flow_xla"])
def test_non_finite_batch_raises_and_weights_stay_finite(make, jit):
    """Also under XLA, which drops assertions: the update is gated by a tf.cond."""
    model = _compiled(make(), jit_compile=jit)
    with pytest.raises(NonFiniteLossError, match=r"at step 3 \(epoch 1, batch 3\).*not applied"):
        model.fit(_with_nan_row(70), batch_size=32, epochs=1, shuffle=False, verbose=0)
    # Two good steps ran, the third was refused before it touched anything.
    assert int(model.optimizer.iterations.numpy()) == 2
    for v in model.trainable_variables + model.optimizer.variables():
        assert np.all(np.isfinite(v.numpy())), f"{v.name} holds NaN/inf"


@pytest.mark.parametrize("make", [VECTOR_FLOWS["realnvp"], _small_vae], ids=["flow", "vae"])
def test_non_finite_batch_is_skipped_with_a_warning(make):
    model = _compiled(make(), on_nonfinite="skip")
    with pytest.warns(RuntimeWarning, match=r"epoch 1: skipped 1 batch"):
        history = model.fit(_with_nan_row(70), batch_size=32, epochs=1, shuffle=False,
                            verbose=0)
    assert model.skipped_count() == 1
    assert int(model.optimizer.iterations.numpy()) == 7  # 8 batches, one skipped
    for v in model.variables:
        assert np.all(np.isfinite(v.numpy())), f"{v.name} holds NaN/inf"
    assert len(history.history["loss"]) == 1


def test_non_finite_policy_is_checked():
    with pytest.raises(ValueError, match=r"`on_nonfinite` must be one of.*'ignore'"):
        _compiled(VECTOR_FLOWS["realnvp"](), on_nonfinite="ignore")


def test_arguments_of_the_wrong_kind_name_the_argument():
    model = _compiled(VECTOR_FLOWS["realnvp"]())
    with pytest.raises(TypeError, match=r"`n` must be a positive int; got 2.5"):
        model.sample(2.5)
    with pytest.raises(ValueError, match=r"`n` must be a positive int; got -1"):
        model.sample(-1)
    with pytest.raises(ValueError, match=r"`x` is empty"):
        model.fit([], verbose=0)
    with pytest.raises(TypeError, match=r"`x` must be an array.*got the string 'moons'"):
        model.fit("moons", verbose=0)
    with pytest.raises(TypeError, match=r"`x` must be a numeric array or tensor; got the "
                                        r"string 'hello'"):
        model.log_prob("hello")
    with pytest.raises(TypeError, match=r"`x` must hold numbers; got dtype <U"):
        model.fit(np.array([["a", "b"]]), verbose=0)
    with pytest.raises(TypeError, match=r"`x` must be a numeric array or tensor"):
        _small_vae().elbo("hello")


class _FrameLike:
    """What matters of a pandas DataFrame here: ``__array__`` and an ambiguous truth value."""

    def __init__(self, values):
        self.values = values

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __bool__(self):
        raise ValueError("The truth value of a DataFrame is ambiguous.")


def test_validation_data_may_be_a_dataframe():
    model = _compiled(VECTOR_FLOWS["realnvp"]())
    history = model.fit(X, validation_data=_FrameLike(X[:64]), epochs=1, verbose=0)
    assert np.isfinite(history.history["val_loss"][0])


def test_compile_refuses_loss_and_metrics():
    model = VECTOR_FLOWS["realnvp"]()
    with pytest.raises(ValueError, match=r"`loss` is not used by RealNVP"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"`metrics` is not supported by RealNVP"):
        model.compile(optimizer="adam", metrics=["mae"])
    with pytest.raises(ValueError, match=r"`loss` is not used by VAE"):
        _small_vae().compile(optimizer="adam", loss="mse")


def test_flow_sample_weight_weights_the_nll():
    model = _compiled(VECTOR_FLOWS["realnvp"]())
    w = np.r_[np.ones(128), np.zeros(128)].astype(np.float32)
    weighted = model.evaluate(X, sample_weight=w, batch_size=64, verbose=0, return_dict=True)
    subset = model.evaluate(X[:128], batch_size=64, verbose=0, return_dict=True)
    np.testing.assert_allclose(weighted["loss"], subset["loss"], rtol=1e-5)
    # One SGD step on weighted data equals one step on the weighted-in rows.
    a, b = VECTOR_FLOWS["realnvp"](), VECTOR_FLOWS["realnvp"]()
    for model_ in (a, b):
        keras.utils.set_random_seed(0)
        model_.compile(optimizer=keras.optimizers.SGD(0.1))
    perturb = [np.random.default_rng(i).normal(size=v.shape) * 0.1
               for i, v in enumerate(a.trainable_variables)]
    for model_ in (a, b):
        for v, p in zip(model_.trainable_variables, perturb):
            v.assign(p.astype(np.float32))
    a.fit(X, sample_weight=w, batch_size=256, epochs=1, shuffle=False, verbose=0)
    b.fit(X[:128], batch_size=128, epochs=1, shuffle=False, verbose=0)
    for va, vb in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), atol=1e-6)


def test_vae_sample_weight_weights_the_bound():
    model = _compiled(_small_vae())  # diagonal posterior, normal prior: analytic KL
    w = np.r_[np.ones(128), np.zeros(128)].astype(np.float32)
    weighted = model.evaluate(X, sample_weight=w, batch_size=64, verbose=0, return_dict=True)
    subset = model.evaluate(X[:128], batch_size=64, verbose=0, return_dict=True)
    np.testing.assert_allclose(weighted["kl"], subset["kl"], rtol=1e-5)
    full = model.evaluate(X, batch_size=64, verbose=0, return_dict=True)
    assert abs(full["kl"] - subset["kl"]) > 1e-6  # the weights did something


def test_keras3_objects_are_refused_with_both_ways_out():
    import keras as keras3  # Keras 3 (TensorFlow >= 2.16's tf.keras)

    model = VECTOR_FLOWS["realnvp"]()
    with pytest.raises(TypeError, match=r"`optimizer` is a Keras 3 object.*tf_keras.*"
                                        r"TF_USE_LEGACY_KERAS=1"):
        model.compile(optimizer=keras3.optimizers.Adam())
    enc3 = keras3.Sequential([keras3.Input((2,)), keras3.layers.Dense(8)])
    dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8)])
    with pytest.raises(TypeError, match=r"`encoder` is a Keras 3 object"):
        vae.VAE(2, enc3, dec, likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(TypeError, match=r"`callbacks\[0\]` is a Keras 3 object"):
        model.fit(X, epochs=1, verbose=0, callbacks=[keras3.callbacks.History()])
    from tfp_genmodels import bijectors
    with pytest.raises(TypeError, match=r"`conditioner` is a Keras 3 object"):
        bijectors.AffineCoupling([2], conditioner=keras3.layers.Dense(2))


def test_non_finite_policy_survives_a_keras_round_trip(tmp_path):
    model = _compiled(VECTOR_FLOWS["realnvp"](), on_nonfinite="skip")
    model.fit(X, epochs=1, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert loaded.on_nonfinite == "skip"
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_skip_policy_is_refused_under_a_strategy_and_raise_works_there():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])  # one replica, still a strategy
    with strategy.scope():
        model = VECTOR_FLOWS["realnvp"]()
        with pytest.raises(ValueError, match=r"`on_nonfinite='skip'` works without"):
            model.compile(optimizer=keras.optimizers.Adam(1e-3), on_nonfinite="skip")
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(X, batch_size=64, epochs=1, verbose=0)
    with pytest.raises(NonFiniteLossError, match=r"at step 7 \(epoch 1, batch 3\)"):
        model.fit(_with_nan_row(70), batch_size=32, epochs=1, shuffle=False, verbose=0)
    for v in model.trainable_variables:
        assert np.all(np.isfinite(v.numpy()))


def test_both_run_time_shape_checks_read_as_the_eager_error():
    """The Assert and tf.ensure_shape run in parallel; either may fail first. Each is
    recognised by our own registered message (or op name), not by parsing TensorFlow's
    text: the Assert's report gives the shape received, ensure_shape's is quoted."""
    from tfp_genmodels import _training, _validation

    model = VECTOR_FLOWS["realnvp"]()
    fn = tf.function(model.log_prob, input_signature=[tf.TensorSpec([None, None])])
    for _ in range(3):
        with pytest.raises(ValueError, match=r"^`x` must have trailing \(event\) shape "
                                             r"\(2,\); got shape .*4.?3"):
            with _training.input_errors_as_value_errors():
                fn(np.ones([4, 3], np.float32))
    _validation.assert_event_shape(tf.zeros([1, 2]), (2,), "context")  # registers the check
    message = ("Shape of tensor IteratorGetNext [32,3] is not compatible with expected shape "
               "[?,2].\n\t [[{{node check_context_event_shape_2}}]]")
    with pytest.raises(ValueError, match=r"^`context` must have trailing \(event\) shape "
                                         r"\(2,\); got shape \(TensorFlow: .*\[32,3\]"):
        with _training.input_errors_as_value_errors():
            raise tf.errors.InvalidArgumentError(None, None, message)
    # An error that is none of our checks passes through as it is.
    with pytest.raises(tf.errors.InvalidArgumentError, match="something else"):
        with _training.input_errors_as_value_errors():
            raise tf.errors.InvalidArgumentError(None, None, "something else failed")
