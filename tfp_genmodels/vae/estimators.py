r"""Gradient estimators for discrete latents (the VAE's ``estimator=``).

With ``z`` discrete the ELBO's reconstruction term ``E_q[f(z)]``,
``f(z) = log p(x|z)``, has no pathwise gradient for the encoder's
parameters ``phi``. The estimators (math in ``docs/math.md``):

* ``"reinforce"`` (:class:`Reinforce`): the score function
  ``grad_phi E_q[f] = E_q[(f(z) - b) grad_phi log q(z|x)]``, unbiased for any
  ``b`` that does not depend on ``z``, because ``E_q[grad_phi log q] = 0``.
  With one sample ``b = c + b_psi(x)`` (NVIL, Mnih & Gregor 2014): a running
  mean ``c`` of ``f`` and an input-dependent baseline network ``b_psi``
  trained to minimise ``E[(f - c - b_psi(x))^2]`` (NVIL's variance
  normalisation is left out: it rescales the gradient, so the estimate would
  no longer be one of the ELBO's gradient). With ``S > 1``
  samples each ``z_s`` uses the leave-one-out mean of the others,
  ``b_s = (1/(S-1)) sum_{j != s} f(z_j)`` (independent of ``z_s``).
* ``"gumbel_softmax"`` (:class:`GumbelSoftmax`): the decoder sees the Concrete
  relaxation at temperature ``tau`` (biased, low variance, pathwise);
  ``tau_t = max(min_temperature, temperature * exp(-temperature_decay * t))``
  (Jang et al., 2017).
* ``"straight_through"``: the hard one-hot draw in the forward pass, the
  relaxed gradient in the backward pass (Gumbel straight-through).
* ``"vimco"`` (:class:`VIMCO`, ``objective="iwae"``): the multi-sample bound
  ``L = log (1/S) sum_s w_s``; the score of ``z_s`` gets the signal
  ``L - L_{-s}``, where ``L_{-s}`` replaces ``log w_s`` by the mean of the
  others' (Mnih & Rezende, 2016).
* ``"disarm"`` (:class:`DisARM`, Bernoulli latents): an antithetic pair
  ``b = 1[u < sigma(a)]``, ``b~ = 1[1 - u < sigma(a)]`` and
  ``g_a = 1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigma(|a|)``
  (Dong, Mnih & Tucker, 2020).

Every estimator only changes gradients: its surrogate term has value 0, so
the logged loss is the bound itself. The decoder (and a learned prior) always
gets pathwise gradients, and the KL to a categorical / Bernoulli prior is
exact, so its gradient is exact too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import ESTIMATORS

#: NVIL's decay of the running mean of the learning signal.
NVIL_DECAY = 0.9
#: Hidden units of NVIL's baseline network ``b_psi(x)``.
BASELINE_UNITS = 100


class EstimatorTerms(NamedTuple):
    """One training step's pieces from an estimator (``S'`` samples of ``z``).

    Attributes:
      log_px_z: ``log p(x|z_s)`` ``[S', B]`` with pathwise gradients to the decoder.
      log_p_z: ``log p(z_s)`` ``[S', B]`` or ``None`` (relaxed estimators).
      log_q: ``log q(z_s|x)`` ``[S', B]`` or ``None`` (relaxed estimators).
      surrogate: ``[B]``, value 0; its gradient is the encoder's estimated
        gradient of the bound (added to the objective).
      aux_loss: a scalar added to the loss (the baseline network's regression).
    """

    log_px_z: tf.Tensor
    log_p_z: tf.Tensor | None
    log_q: tf.Tensor | None
    surrogate: tf.Tensor
    aux_loss: tf.Tensor


def score_term(signal: tf.Tensor, log_q: tf.Tensor) -> tf.Tensor:
    """``mean_s signal_s * (log q_s - stop(log q_s))``: value 0, gradient
    ``mean_s signal_s grad log q_s`` (the signal is held constant)."""
    return tf.reduce_mean(tf.stop_gradient(signal) * (log_q - tf.stop_gradient(log_q)), axis=0)


class Estimator(keras.layers.Layer):
    """The interface: ``terms(model, x, context, features, num_samples, beta, exact_kl)``;
    ``exact_kl`` says whether the VAE has the KL in closed form (else the learning
    signal carries ``log p(z) - log q(z|x)``)."""

    relaxed = False

    def terms(self, model, x, context, features, num_samples: int, beta,
              exact_kl: bool) -> EstimatorTerms:
        raise NotImplementedError

    def _hard_draws(self, model, x, context, features, num_samples, beta, exact_kl):
        """Discrete draws and the per-sample learning signal ``f`` (held constant):
        ``log p(x|z)``, plus ``beta (log p(z) - log q(z|x))`` when the KL has no closed form."""
        z, log_q = model.posterior.sample_and_log_prob(features, num_samples)
        z = tf.stop_gradient(z)
        log_px = model.log_px_z(x, z, context)
        log_pz = model.prior.log_prob(z)
        f = log_px
        if not exact_kl:
            f = log_px + beta * (log_pz - log_q)
        return log_px, log_pz, log_q, tf.stop_gradient(f)

    def get_config(self) -> dict:
        return super().get_config()


class Reinforce(Estimator):
    """The score-function estimator with NVIL's baselines (module docstring).

    Args:
      input_dim: size of the baseline network's input (``x`` flattened, and the context).
      num_samples: ``S``; with ``S > 1`` the leave-one-out baseline replaces NVIL's.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, input_dim: int, num_samples: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_samples = int(num_samples)
        if self.num_samples > 1:
            return
        self.baseline = keras.Sequential([keras.Input((int(input_dim),)),
                                          keras.layers.Dense(BASELINE_UNITS, "tanh"),
                                          keras.layers.Dense(1)], name="nvil_baseline")
        # MEAN: under a tf.distribute strategy the replicas' updates are averaged.
        self.signal_mean = self.add_weight(name="signal_mean", shape=[], initializer="zeros",
                                           trainable=False,
                                           aggregation=tf.VariableAggregation.MEAN)

    def terms(self, model, x, context, features, num_samples, beta,
              exact_kl) -> EstimatorTerms:
        log_px, log_pz, log_q, f = self._hard_draws(model, x, context, features,
                                                    num_samples, beta, exact_kl)
        if num_samples > 1:
            others = (tf.reduce_sum(f, axis=0) - f) / (num_samples - 1.0)
            return EstimatorTerms(log_px, log_pz, log_q, score_term(f - others, log_q),
                                  tf.zeros([], log_px.dtype))
        inputs = tf.reshape(tf.cast(x, log_px.dtype), [tf.shape(x)[0], -1])
        if context is not None:
            inputs = tf.concat([inputs, context], -1)
        b = self.baseline(tf.stop_gradient(inputs))[:, 0]                       # [B]
        centred = f - self.signal_mean                                          # [S=1, B]
        aux = tf.reduce_mean(tf.square(centred - b))
        self.signal_mean.assign(NVIL_DECAY * self.signal_mean
                                + (1.0 - NVIL_DECAY) * tf.reduce_mean(f))
        return EstimatorTerms(log_px, log_pz, log_q, score_term(centred - b, log_q), aux)


class VIMCO(Estimator):
    """VIMCO's leave-one-out signals for the multi-sample bound (module docstring)."""

    def terms(self, model, x, context, features, num_samples, beta,
              exact_kl) -> EstimatorTerms:
        log_px, log_pz, log_q, _ = self._hard_draws(model, x, context, features,
                                                    num_samples, beta, exact_kl)
        log_w = tf.stop_gradient(log_px + beta * (log_pz - log_q))             # [S, B]
        bound = tfp.math.reduce_logmeanexp(log_w, axis=0)                        # [B]
        s = tf.shape(log_w)[0]
        others = (tf.reduce_sum(log_w, axis=0) - log_w) / (num_samples - 1.0)  # [S, B]
        # L_{-s}: log w_s replaced by the others' mean, sample by sample.
        eye = tf.eye(s, dtype=log_w.dtype)[:, :, None]                          # [S, S, 1]
        replaced = log_w[None] * (1.0 - eye) + others[:, None] * eye            # [S(s), S, B]
        loo = tfp.math.reduce_logmeanexp(replaced, axis=1)                      # [S, B]
        return EstimatorTerms(log_px, log_pz, log_q,
                              num_samples * score_term(bound - loo, log_q),
                              tf.zeros([], log_px.dtype))


class GumbelSoftmax(Estimator):
    """The Concrete relaxation (``hard=True``: straight-through), module docstring.

    Args:
      temperature: ``tau_0``.
      temperature_decay: ``r`` in ``tau_t = max(min_temperature, tau_0 exp(-r t))``.
      min_temperature: the floor of the annealed temperature.
      hard: straight-through (hard forward, relaxed backward).
      **kwargs: Keras layer arguments.
    """

    relaxed = True

    def __init__(self, temperature: float = 1.0, temperature_decay: float = 5e-3,
                 min_temperature: float = 0.1, hard: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.temperature = _args.positive_float_arg(temperature, "temperature")
        self.temperature_decay = _args.nonnegative_float_arg(temperature_decay,
                                                             "temperature_decay")
        self.min_temperature = _args.positive_float_arg(min_temperature, "min_temperature")
        self.hard = bool(hard)

    def current_temperature(self, step) -> tf.Tensor:
        """``tau_t`` at optimizer step ``t``."""
        decayed = self.temperature * tf.exp(-self.temperature_decay * tf.cast(step, self.dtype))
        return tf.maximum(tf.constant(min(self.min_temperature, self.temperature), self.dtype),
                          decayed)

    def terms(self, model, x, context, features, num_samples, beta,
              exact_kl) -> EstimatorTerms:
        tau = self.current_temperature(model.optimizer.iterations)
        z = model.posterior.relaxed_sample(features, num_samples, tau, hard=self.hard)
        return EstimatorTerms(model.log_px_z(x, z, context), None, None,
                              tf.zeros(tf.shape(z)[1:2], z.dtype), tf.zeros([], z.dtype))


class DisARM(Estimator):
    """DisARM for Bernoulli latents (module docstring)."""

    def terms(self, model, x, context, features, num_samples, beta,
              exact_kl) -> EstimatorTerms:
        posterior = model.posterior
        b, b_tilde = posterior.antithetic_pair(features, num_samples)            # [S, B, L]
        log_px = model.log_px_z(x, tf.concat([b, b_tilde], 0), context)         # [2S, B]
        f = tf.stop_gradient(log_px)
        log_pz = log_q = None
        if not exact_kl:
            log_pz = model.prior.log_prob(tf.concat([b, b_tilde], 0))
            log_q = posterior.log_prob(features, tf.concat([b, b_tilde], 0))
            f = f + beta * tf.stop_gradient(log_pz - log_q)
        f_b, f_tilde = f[:num_samples], f[num_samples:]
        logits = posterior.logits(features)                                      # [B, L]
        sign = 1.0 - 2.0 * b_tilde
        g = (0.5 * (f_b - f_tilde)[..., None] * sign * tf.cast(tf.not_equal(b, b_tilde),
                                                               b.dtype)
             * tf.sigmoid(tf.abs(logits)))                                      # [S, B, L]
        surrogate = tf.reduce_sum(tf.reduce_mean(g, axis=0)
                                  * (logits - tf.stop_gradient(logits)), axis=-1)
        return EstimatorTerms(log_px, log_pz, log_q, surrogate, tf.zeros([], log_px.dtype))


def make_estimator(name: str | None, posterior, objective: str, num_samples: int,
                   input_dim: int, temperature: float = 1.0, temperature_decay: float = 5e-3,
                   min_temperature: float = 0.1) -> Estimator | None:
    """The estimator for the VAE's ``estimator=``, checked against the posterior and
    objective; ``None`` for a continuous posterior (reparameterised gradients)."""
    if not posterior.is_discrete:
        if name is not None:
            raise ValueError(f"`estimator`={name!r} is for discrete latents; a "
                             f"{type(posterior).__name__} is reparameterised (leave "
                             "`estimator` unset).")
        return None
    if name is None:
        name = "vimco" if objective == "iwae" else "reinforce"
    if name not in ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {ESTIMATORS}; got {name!r}.")
    if (name == "vimco") != (objective == "iwae"):
        raise ValueError(f"`estimator`={name!r} does not fit `objective`={objective!r}: "
                         "VIMCO is the estimator of the IWAE bound (objective='iwae'); "
                         "the others train the ELBO (objective='elbo').")
    if name == "vimco" and num_samples < 2:
        raise ValueError(f"VIMCO needs `num_samples` >= 2; got {num_samples}.")
    if name == "disarm" and posterior.num_classes is not None:
        raise ValueError("`estimator`='disarm' is for Bernoulli latents "
                         "(posterior='bernoulli'); use 'reinforce' or a relaxed estimator "
                         "for categorical ones.")
    if name == "reinforce":
        return Reinforce(input_dim, num_samples, name="estimator")
    if name == "vimco":
        return VIMCO(name="estimator")
    if name == "disarm":
        return DisARM(name="estimator")
    return GumbelSoftmax(temperature, temperature_decay, min_temperature,
                         hard=name == "straight_through", name="estimator")


__all__ = ["DisARM", "ESTIMATORS", "Estimator", "EstimatorTerms", "GumbelSoftmax",
           "Reinforce", "VIMCO", "make_estimator"]
