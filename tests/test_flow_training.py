"""FlowModel as a Keras model: tf.data, callbacks, jit_compile, evaluate, the no-op guard."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tfp_genmodels import data, flows

tfb = tfp.bijectors
X = data.toy_sample("8gaussians", 1024, seed=0)
X_VAL = data.toy_sample("8gaussians", 256, seed=1)


def _model():
    return flows.RealNVP(event_shape=(2,), num_layers=4, hidden_units=(16,))


def test_tf_data_jit_compile_and_evaluate_agree_with_log_prob():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    train = tf.data.Dataset.from_tensor_slices(X).shuffle(1024, seed=0).batch(128)
    val = tf.data.Dataset.from_tensor_slices(X_VAL).batch(128)
    history = model.fit(train, validation_data=val, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # evaluate's loss is the mean NLL over the data (equal batches: mean of means).
    results = model.evaluate(val, return_dict=True, verbose=0)
    nll = -float(np.mean(model.log_prob(X_VAL)))
    np.testing.assert_allclose(results["loss"], nll, rtol=1e-5)
    np.testing.assert_allclose(results["bits_per_dim"], nll / (2 * np.log(2)), rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"][-1], nll, rtol=1e-5)


def test_callbacks_early_stopping_checkpoint_and_tensorboard(tmp_path):
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    ckpt = str(tmp_path / "best.weights")
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0),
        keras.callbacks.ModelCheckpoint(ckpt, monitor="val_loss", save_weights_only=True,
                                        save_best_only=True),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
    ]
    history = model.fit(X, validation_data=X_VAL, batch_size=128, epochs=20,
                        callbacks=callbacks, verbose=0)
    # min_delta = 10 nats is never met, so training stops after patience + 1 epochs.
    assert len(history.history["loss"]) == 2
    clone = _model()
    clone.load_weights(ckpt)
    best = int(np.argmin(history.history["val_loss"]))
    np.testing.assert_allclose(-np.mean(clone.log_prob(X_VAL)),
                               history.history["val_loss"][best], rtol=1e-5)
    events = [f for _, _, files in os.walk(tmp_path / "tb") for f in files]
    assert any(f.startswith("events.out.tfevents") for f in events)


def test_a_flow_whose_variables_keras_cannot_see_refuses_to_train():
    # TFP's template creates its variables inside a tf.compat.v1 template that
    # Keras does not track: fit would silently train nothing. Ours refuses.
    template = tfb.real_nvp_default_template(hidden_layers=[8])
    model = flows.FlowModel(event_shape=(2,), bijectors=[
        tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=template)])
    model.log_prob(X[:4])
    assert not model.trainable_variables
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="no trainable variables that Keras tracks"):
        model.fit(X, epochs=1, verbose=0)


def test_a_variable_without_gradient_is_reported():
    unused = tf.Variable(1.0, name="unused_scale")
    model = flows.FlowModel(event_shape=(2,), bijectors=[tfb.Shift([0.0, 0.0])])
    model.extra = unused  # tracked by Keras, but not in the density
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="unused_scale"):
        model.fit(X, epochs=1, verbose=0)


def test_evaluate_reports_the_mean_over_examples_when_the_last_batch_is_short():
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    model.compile(keras.optimizers.Adam(1e-3))
    x = data.toy_sample("moons", 300, seed=0)  # batches of 128, 128 and 44
    result = model.evaluate(x, batch_size=128, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], -np.mean(model.log_prob(x)), rtol=1e-6)
