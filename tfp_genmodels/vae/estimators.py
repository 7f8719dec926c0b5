r"""Gradient estimators: how the VAE's bound gets its encoder gradient (``estimator=``).

Every training step goes through one :class:`Estimator`. It receives a
:class:`Problem` (the posterior and its features, and the callables
``log p(x|z)`` and ``log p(z)``), draws ``z`` and returns
:class:`EstimatorTerms`: the per-sample log densities, a surrogate whose
gradient is the encoder's, and an auxiliary loss. The default for continuous
latents is :class:`Reparameterized` (pathwise gradients, ``z = g(eps; x)``;
Kingma & Welling, 2014); evaluation always uses its exact draws.

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

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving
from tfp_genmodels._keras import keras

#: NVIL's decay of the running mean of the learning signal.
NVIL_DECAY = 0.9
#: Hidden units of NVIL's baseline network ``b_psi(x)``.
BASELINE_UNITS = 100


class Problem(NamedTuple):
    """What an estimator needs for one batch (no model: callables and tensors).

    Attributes:
      posterior: the :class:`~tfp_genmodels.vae.posteriors.Posterior` ``q(z|x)``.
      features: the encoder's output for the batch (what ``posterior`` reads).
      log_likelihood: ``z [S, B, code] -> log p(x|z) [S, B]``.
      log_prior: ``z [S, B, code] -> log p(z) [S, B]``.
      beta: the KL weight of this step.
      exact_kl: whether ``KL(q || p)`` has a closed form (else the learning
        signal carries ``beta (log p(z) - log q(z|x))``).
      inputs: ``x`` (and the context) flattened, ``[B, D]``: a baseline's input.
      step: the optimizer's step (annealed temperatures).
    """

    posterior: Any
    features: Any
    log_likelihood: Callable[[tf.Tensor], tf.Tensor]
    log_prior: Callable[[tf.Tensor], tf.Tensor]
    beta: Any = 1.0
    exact_kl: bool = True
    inputs: tf.Tensor | None = None
    step: Any = 0


class EstimatorTerms(NamedTuple):
    """One step's pieces from an estimator (``S'`` samples of ``z``).

    Attributes:
      z: the codes the decoder saw ``[S', B, code]``.
      log_px_z: ``log p(x|z_s)`` ``[S', B]`` with pathwise gradients to the decoder.
      log_p_z: ``log p(z_s)`` ``[S', B]`` or ``None`` (relaxed estimators).
      log_q: ``log q(z_s|x)`` ``[S', B]`` or ``None`` (relaxed estimators).
      surrogate: ``[B]``, value 0; its gradient is the encoder's estimated
        gradient of the bound (added to the objective).
      aux_loss: a scalar added to the loss (a baseline network's regression).
    """

    z: tf.Tensor
    log_px_z: tf.Tensor
    log_p_z: tf.Tensor | None
    log_q: tf.Tensor | None
    surrogate: tf.Tensor
    aux_loss: tf.Tensor


def score_term(signal: tf.Tensor, log_q: tf.Tensor) -> tf.Tensor:
    """``mean_s signal_s * (log q_s - stop(log q_s))``: value 0, gradient
    ``mean_s signal_s grad log q_s`` (the signal is held constant)."""
    return tf.reduce_mean(tf.stop_gradient(signal) * (log_q - tf.stop_gradient(log_q)), axis=0)


def exact_draws(problem: Problem, num_samples: int, seed=None) -> EstimatorTerms:
    """``S`` draws ``z ~ q(z|x)`` (reparameterised where ``q`` is; exact discrete draws
    otherwise) and their log densities; no surrogate."""
    z, log_q = problem.posterior.sample_and_log_prob(problem.features, num_samples, seed=seed)
    log_px = problem.log_likelihood(z)
    zero = tf.zeros([], log_px.dtype)
    return EstimatorTerms(z, log_px, problem.log_prior(z), log_q,
                          tf.zeros(tf.shape(log_px)[1:2], log_px.dtype), zero)


class Estimator(keras.layers.Layer):
    """The interface; subclass it for an estimator of your own.

    A subclass implements :meth:`terms` and may override :meth:`check` (which
    posteriors and objectives it serves) and :meth:`bind` (what it needs to know
    about the model before its first step). It is a Keras layer: its own
    variables (a baseline network) are trained with the model and saved with it.

    Args:
      num_samples: ``S`` samples of ``z`` per example; ``None`` takes the VAE's.
      **kwargs: Keras layer arguments.
    """

    #: Relaxed estimators feed the decoder a relaxed code and need a closed-form KL.
    relaxed = False

    def __init__(self, num_samples: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_samples = (None if num_samples is None
                            else _args.positive_int_arg(num_samples, "num_samples"))

    def check(self, posterior, objective: str, num_samples: int) -> None:
        """Raises ``ValueError`` when this estimator does not fit the VAE's posterior,
        objective or sample count. The default: discrete latents, the ELBO."""
        if not posterior.is_discrete:
            raise ValueError(f"`estimator`={type(self).__name__} is for discrete latents; a "
                             f"{type(posterior).__name__} is reparameterised (leave "
                             "`estimator` unset).")
        if objective != "elbo":
            raise ValueError(f"`estimator`={type(self).__name__} trains the ELBO "
                             f"(objective='elbo'); got objective={objective!r}. VIMCO is "
                             "the estimator of the IWAE bound.")

    def bind(self, num_samples: int, input_dim: int) -> Estimator:
        """Learns the VAE's sample count and input size (``x`` and context flattened)."""
        if self.num_samples is None:
            self.num_samples = num_samples
        return self

    def terms(self, problem: Problem, num_samples: int) -> EstimatorTerms:
        """The step's :class:`EstimatorTerms` for ``num_samples`` draws per example."""
        raise NotImplementedError(f"{type(self).__name__} must implement terms(problem, "
                                  "num_samples) -> EstimatorTerms.")

    def get_config(self) -> dict:
        return {**super().get_config(), "num_samples": self.num_samples}


@_saving.register
class Reparameterized(Estimator):
    """Pathwise gradients through ``z = g(eps; x)`` (the default for continuous latents).

    The reparameterisation trick (Kingma & Welling, 2014; Rezende et al., 2014):
    ``grad E_q[f(z)] = E_eps[grad f(g(eps; x))]``; the surrogate is zero.
    """

    def check(self, posterior, objective, num_samples) -> None:
        if posterior.is_discrete:
            raise ValueError(f"a {type(posterior).__name__} has no pathwise gradient; pick "
                             "an estimator for discrete latents ('reinforce', "
                             "'gumbel_softmax', 'straight_through', 'vimco', 'disarm').")

    def terms(self, problem, num_samples) -> EstimatorTerms:
        return exact_draws(problem, num_samples)


def _hard_draws(problem: Problem, num_samples: int):
    """Discrete draws and the per-sample learning signal ``f`` (held constant):
    ``log p(x|z)``, plus ``beta (log p(z) - log q(z|x))`` when the KL has no closed form."""
    z, log_q = problem.posterior.sample_and_log_prob(problem.features, num_samples)
    z = tf.stop_gradient(z)
    log_px = problem.log_likelihood(z)
    log_pz = problem.log_prior(z)
    f = log_px
    if not problem.exact_kl:
        f = log_px + problem.beta * (log_pz - log_q)
    return z, log_px, log_pz, log_q, tf.stop_gradient(f)


@_saving.register
class Reinforce(Estimator):
    """The score-function estimator with NVIL's baselines (module docstring).

    Args:
      input_dim: size of the baseline network's input (``x`` flattened, and the
        context); ``None``: the VAE's.
      num_samples: ``S``; with ``S > 1`` the leave-one-out baseline replaces NVIL's.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, input_dim: int | None = None, num_samples: int | None = None,
                 **kwargs: Any):
        super().__init__(num_samples, **kwargs)
        self.input_dim = None if input_dim is None else _args.positive_int_arg(input_dim,
                                                                               "input_dim")
        if self.input_dim is not None and self.num_samples is not None:
            self._make_baseline()

    def bind(self, num_samples, input_dim) -> Estimator:
        super().bind(num_samples, input_dim)
        if self.input_dim is None:
            self.input_dim = int(input_dim)
        if not hasattr(self, "baseline"):
            self._make_baseline()
        return self

    def _make_baseline(self) -> None:
        self.baseline = None
        if self.num_samples > 1:
            return
        self.baseline = keras.Sequential([keras.Input((self.input_dim,)),
                                          keras.layers.Dense(BASELINE_UNITS, "tanh"),
                                          keras.layers.Dense(1)], name="nvil_baseline")
        # MEAN: under a tf.distribute strategy the replicas' updates are averaged.
        self.signal_mean = self.add_weight(name="signal_mean", shape=[], initializer="zeros",
                                           trainable=False,
                                           aggregation=tf.VariableAggregation.MEAN)

    def terms(self, problem, num_samples) -> EstimatorTerms:
        z, log_px, log_pz, log_q, f = _hard_draws(problem, num_samples)
        if num_samples > 1:
            others = (tf.reduce_sum(f, axis=0) - f) / (num_samples - 1.0)
            return EstimatorTerms(z, log_px, log_pz, log_q, score_term(f - others, log_q),
                                  tf.zeros([], log_px.dtype))
        inputs = tf.cast(problem.inputs, log_px.dtype)
        b = self.baseline(tf.stop_gradient(inputs))[:, 0]                       # [B]
        centred = f - self.signal_mean                                          # [S=1, B]
        aux = tf.reduce_mean(tf.square(centred - b))
        self.signal_mean.assign(NVIL_DECAY * self.signal_mean
                                + (1.0 - NVIL_DECAY) * tf.reduce_mean(f))
        return EstimatorTerms(z, log_px, log_pz, log_q, score_term(centred - b, log_q), aux)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim}


@_saving.register
class VIMCO(Estimator):
    """VIMCO's leave-one-out signals for the multi-sample bound (module docstring)."""

    def check(self, posterior, objective, num_samples) -> None:
        if not posterior.is_discrete:
            super().check(posterior, "elbo", num_samples)
        if objective != "iwae":
            raise ValueError("`estimator`='vimco' is the estimator of the IWAE bound "
                             f"(objective='iwae'); got objective={objective!r}.")
        if num_samples < 2:
            raise ValueError(f"VIMCO needs `num_samples` >= 2; got {num_samples}.")

    def terms(self, problem, num_samples) -> EstimatorTerms:
        z, log_px, log_pz, log_q, _ = _hard_draws(problem, num_samples)
        log_w = tf.stop_gradient(log_px + problem.beta * (log_pz - log_q))     # [S, B]
        bound = tfp.math.reduce_logmeanexp(log_w, axis=0)                        # [B]
        s = tf.shape(log_w)[0]
        others = (tf.reduce_sum(log_w, axis=0) - log_w) / (num_samples - 1.0)  # [S, B]
        # L_{-s}: log w_s replaced by the others' mean, sample by sample.
        eye = tf.eye(s, dtype=log_w.dtype)[:, :, None]                          # [S, S, 1]
        replaced = log_w[None] * (1.0 - eye) + others[:, None] * eye            # [S(s), S, B]
        loo = tfp.math.reduce_logmeanexp(replaced, axis=1)                      # [S, B]
        return EstimatorTerms(z, log_px, log_pz, log_q,
                              num_samples * score_term(bound - loo, log_q),
                              tf.zeros([], log_px.dtype))


@_saving.register
class GumbelSoftmax(Estimator):
    """The Concrete relaxation (``hard=True``: straight-through), module docstring.

    Args:
      temperature: ``tau_0``.
      temperature_decay: ``r`` in ``tau_t = max(min_temperature, tau_0 exp(-r t))``.
      min_temperature: the floor of the annealed temperature.
      hard: straight-through (hard forward, relaxed backward).
      num_samples: as :class:`Estimator`'s.
      **kwargs: Keras layer arguments.
    """

    relaxed = True

    def __init__(self, temperature: float = 1.0, temperature_decay: float = 5e-3,
                 min_temperature: float = 0.1, hard: bool = False,
                 num_samples: int | None = None, **kwargs: Any):
        super().__init__(num_samples, **kwargs)
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

    def terms(self, problem, num_samples) -> EstimatorTerms:
        tau = self.current_temperature(problem.step)
        z = problem.posterior.relaxed_sample(problem.features, num_samples, tau, hard=self.hard)
        return EstimatorTerms(z, problem.log_likelihood(z), None, None,
                              tf.zeros(tf.shape(z)[1:2], z.dtype), tf.zeros([], z.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature,
                "temperature_decay": self.temperature_decay,
                "min_temperature": self.min_temperature, "hard": self.hard}


@_saving.register
class DisARM(Estimator):
    """DisARM for Bernoulli latents (module docstring)."""

    def check(self, posterior, objective, num_samples) -> None:
        super().check(posterior, objective, num_samples)
        if posterior.num_classes is not None:
            raise ValueError("`estimator`='disarm' is for Bernoulli latents "
                             "(posterior='bernoulli'); use 'reinforce' or a relaxed estimator "
                             "for categorical ones.")

    def terms(self, problem, num_samples) -> EstimatorTerms:
        posterior, features = problem.posterior, problem.features
        b, b_tilde = posterior.antithetic_pair(features, num_samples)            # [S, B, L]
        both = tf.concat([b, b_tilde], 0)
        log_px = problem.log_likelihood(both)                                    # [2S, B]
        f = tf.stop_gradient(log_px)
        log_pz = log_q = None
        if not problem.exact_kl:
            log_pz = problem.log_prior(both)
            log_q = posterior.log_prob(features, both)
            f = f + problem.beta * tf.stop_gradient(log_pz - log_q)
        f_b, f_tilde = f[:num_samples], f[num_samples:]
        logits = posterior.logits(features)                                      # [B, L]
        sign = 1.0 - 2.0 * b_tilde
        g = (0.5 * (f_b - f_tilde)[..., None] * sign * tf.cast(tf.not_equal(b, b_tilde),
                                                               b.dtype)
             * tf.sigmoid(tf.abs(logits)))                                      # [S, B, L]
        surrogate = tf.reduce_sum(tf.reduce_mean(g, axis=0)
                                  * (logits - tf.stop_gradient(logits)), axis=-1)
        return EstimatorTerms(both, log_px, log_pz, log_q, surrogate,
                              tf.zeros([], log_px.dtype))


__all__ = ["DisARM", "Estimator", "EstimatorTerms", "GumbelSoftmax", "Problem",
           "Reinforce", "Reparameterized", "VIMCO", "exact_draws", "score_term"]
