"""The VAE's parts from its arguments: one table per extension point, resolved here.

Each part is an object: a :class:`~.posteriors.Posterior` ``q(z|x)``, a
:class:`~.priors.Prior` ``p(z)``, a :class:`~.likelihoods.Likelihood`
``p(x|z)`` and an :class:`~.estimators.Estimator` (how the encoder gets its
gradient). Each carries its own options (``IAFPosterior(num_layers=4)``,
``MixturePrior(num_components=10)``, ``VIMCO(num_samples=5)``); the VAE binds
what only it knows (``latent_dim``, the data's shape, the encoder). A name is a
shortcut for a built-in part with its default options: the tables below map
each name to its class, and a new built-in part is one entry (the shared
contract in ``tests/test_vae_tables.py`` runs over every entry). A part of your
own is an instance of a subclass of the base class, passed as it is.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from tfp_genmodels import _args
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import ESTIMATORS, LIKELIHOODS, POSTERIORS, PRIORS
from tfp_genmodels.vae import estimators as E
from tfp_genmodels.vae import tfp_layers
from tfp_genmodels.vae.discrete import BernoulliPosterior, CategoricalPosterior
from tfp_genmodels.vae.likelihoods import (
    BernoulliLikelihood,
    CallableLikelihood,
    CategoricalLikelihood,
    DistributionLayerLikelihood,
    GaussianLikelihood,
    Likelihood,
)
from tfp_genmodels.vae.posteriors import (
    DiagonalGaussianPosterior,
    DistributionLayerPosterior,
    FullGaussianPosterior,
    IAFPosterior,
    PlanarPosterior,
    Posterior,
)
from tfp_genmodels.vae.priors import (
    FlowPrior,
    MixturePrior,
    Prior,
    StandardNormalPrior,
    UniformPrior,
    VampPrior,
)

#: ``posterior=`` names -> the class built with its defaults.
POSTERIOR_TABLE: dict[str, Callable[..., Posterior]] = {
    "diagonal": DiagonalGaussianPosterior, "full": FullGaussianPosterior, "iaf": IAFPosterior,
    "planar": PlanarPosterior, "categorical": CategoricalPosterior,
    "bernoulli": BernoulliPosterior}
#: ``prior=`` names.
PRIOR_TABLE: dict[str, Callable[..., Prior]] = {
    "normal": StandardNormalPrior, "mixture": MixturePrior, "vamp": VampPrior,
    "flow": FlowPrior, "uniform": UniformPrior,
    "learned": functools.partial(UniformPrior, learned=True)}
#: ``likelihood=`` names.
LIKELIHOOD_TABLE: dict[str, Callable[..., Likelihood]] = {
    "bernoulli": BernoulliLikelihood, "gaussian": GaussianLikelihood,
    "categorical": CategoricalLikelihood}
#: ``estimator=`` names.
ESTIMATOR_TABLE: dict[str, Callable[..., E.Estimator]] = {
    "reparameterized": E.Reparameterized, "reinforce": E.Reinforce,
    "gumbel_softmax": E.GumbelSoftmax,
    "straight_through": functools.partial(E.GumbelSoftmax, hard=True),
    "vimco": E.VIMCO, "disarm": E.DisARM}

#: The VAE's keyword arguments that were part options before 0.2: name -> (part, option).
DEPRECATED_OPTIONS: dict[str, tuple[str, str]] = {
    "likelihood_scale": ("likelihood", "scale"),
    "num_flow_steps": ("posterior", "num_layers"),
    "num_components": ("prior", "num_components"),
    "num_classes": ("posterior", "num_classes"),
    "temperature": ("estimator", "temperature"),
    "temperature_decay": ("estimator", "temperature_decay"),
    "min_temperature": ("estimator", "min_temperature")}
#: Which named parts take which deprecated option.
_OPTION_TAKERS = {"scale": ("gaussian",), "num_layers": ("iaf", "planar"),
                  "num_components": ("mixture", "vamp"), "num_classes": ("categorical",),
                  "temperature": ("gumbel_softmax", "straight_through"),
                  "temperature_decay": ("gumbel_softmax", "straight_through"),
                  "min_temperature": ("gumbel_softmax", "straight_through"),
                  "pixel_levels": ("categorical",)}


def deprecated_options(kwargs: dict, warn: bool = True) -> dict[str, dict[str, Any]]:
    """Takes the pre-0.2 part options out of the VAE's ``kwargs``: ``{part: {option: value}}``,
    with a ``DeprecationWarning`` each (``warn=False`` for configs written by 0.1.x)."""
    options: dict[str, dict[str, Any]] = {}
    for old in [k for k in DEPRECATED_OPTIONS if k in kwargs]:
        part, option = DEPRECATED_OPTIONS[old]
        value = kwargs.pop(old)
        if warn:
            warnings.warn(f"VAE: `{old}` is deprecated; give it to the {part} instead "
                          f"(e.g. {part}=...({option}={value!r})).", DeprecationWarning,
                          stacklevel=4)
        options.setdefault(part, {})[option] = value
    return options


def _named(table: Mapping[str, Callable], names: Sequence[str], spec: str, what: str,
           base: type, options: dict) -> Any:
    """The part built from ``table[spec]`` with the options that fit it."""
    if spec not in table:
        raise ValueError(f"`{what}` must be one of {tuple(names)} or a "
                         f"tfp_genmodels.vae.{base.__name__} instance; got {spec!r}.")
    fitting = {k: v for k, v in options.items() if spec in _OPTION_TAKERS.get(k, ())}
    return table[spec](**fitting, name=what)


def _instance(spec, what: str, base: type, options: dict) -> Any:
    if options:
        raise ValueError(f"{sorted(options)} are options of a named {what}; an instance "
                         f"carries its own (got a {type(spec).__name__}).")
    if not isinstance(spec, base):
        raise ValueError(f"`{what}` must be a name or a tfp_genmodels.vae.{base.__name__} "
                         f"instance; got {type(spec).__name__}.")
    return spec


def resolve_posterior(spec: str | Posterior | None, latent_dim: int,
                      options: dict | None = None) -> Posterior:
    """``posterior=`` as a bound :class:`Posterior` (default ``"diagonal"``)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    spec = "diagonal" if spec is None else spec
    if isinstance(spec, str):
        if "num_classes" in options and spec not in ("categorical", "bernoulli"):
            raise ValueError("`num_classes` is for posterior='categorical'; got "
                             f"posterior={spec!r}.")
        if spec == "categorical" and "num_classes" not in options:
            raise ValueError("posterior='categorical' needs `num_classes` (K classes for each "
                             "of the `latent_dim` latents): pass "
                             "posterior=vae.CategoricalPosterior(num_classes=K).")
        posterior = _named(POSTERIOR_TABLE, POSTERIORS, spec, "posterior", Posterior, options)
    else:
        posterior = _instance(spec, "posterior", Posterior, options)
    return posterior.bind(latent_dim)


def resolve_likelihood(spec: str | Callable | Likelihood | None, event_shape: Sequence[int],
                       pixel_levels: int | None = None,
                       options: dict | None = None) -> Likelihood:
    """``likelihood=`` as a bound :class:`Likelihood` (default ``"bernoulli"``); a callable
    ``decoder output -> tfd.Distribution`` is wrapped (:class:`CallableLikelihood`).
    ``pixel_levels`` is the data's (the categorical likelihood's ``K``)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    spec = "bernoulli" if spec is None else spec
    if isinstance(spec, str):
        likelihood = _named(LIKELIHOOD_TABLE, LIKELIHOODS, spec, "likelihood", Likelihood,
                            {**options, "pixel_levels": pixel_levels})
    elif callable(spec) and not isinstance(spec, Likelihood):
        _instance(spec, "likelihood", object, options)
        likelihood = CallableLikelihood(spec, name="likelihood")
    else:
        likelihood = _instance(spec, "likelihood", Likelihood, options)
    return likelihood.bind(event_shape)


def _built_class(factory: Callable) -> type:
    return factory.func if isinstance(factory, functools.partial) else factory


def resolve_prior(spec: str | Prior | None, latent_dim: int, posterior: Posterior,
                  event_shape: Sequence[int], encode_base: Callable,
                  options: dict | None = None) -> Prior:
    """``prior=`` as a bound :class:`Prior` (default ``"normal"``, ``"uniform"`` for
    discrete latents), checked against the posterior."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if spec is None:
        spec = "uniform" if posterior.is_discrete else "normal"
    if isinstance(spec, str):
        if spec in PRIOR_TABLE and (_built_class(PRIOR_TABLE[spec]).continuous
                                    == posterior.is_discrete):
            kind = "discrete" if posterior.is_discrete else "continuous"
            allowed = tuple(k for k in PRIORS if _built_class(PRIOR_TABLE[k]).continuous
                            != posterior.is_discrete)
            raise ValueError(f"`prior`={spec!r} does not fit a {kind} posterior "
                             f"({type(posterior).__name__}); use one of {allowed}.")
        prior = _named(PRIOR_TABLE, PRIORS, spec, "prior", Prior, options)
    else:
        prior = _instance(spec, "prior", Prior, options)
    return prior.bind(latent_dim, posterior, event_shape, encode_base)


def resolve_estimator(spec: str | E.Estimator | None, posterior: Posterior, objective: str,
                      num_samples: int, input_dim: int,
                      options: dict | None = None) -> E.Estimator:
    """``estimator=`` as a bound, checked :class:`Estimator`: by default
    :class:`Reparameterized` for continuous latents, REINFORCE (``"elbo"``) or VIMCO
    (``"iwae"``) for discrete ones."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if spec is None:
        spec = ("reparameterized" if not posterior.is_discrete
                else "vimco" if objective == "iwae" else "reinforce")
    if isinstance(spec, str):
        estimator = _named(ESTIMATOR_TABLE, ESTIMATORS, spec, "estimator", E.Estimator,
                           options)
    else:
        estimator = _instance(spec, "estimator", E.Estimator, options)
    count = num_samples if estimator.num_samples is None else estimator.num_samples
    estimator.check(posterior, objective, count)
    return estimator.bind(count, input_dim)


class Resolved(NamedTuple):
    """The VAE's parts, bound, with ``beta``, the sample count and the config's specs."""

    posterior: Posterior
    likelihood: Likelihood
    prior: Prior
    estimator: E.Estimator
    beta: float
    num_samples: int
    specs: dict[str, Any]


def resolve(encoder, decoder, latent_dim: int, event_shape: Sequence[int], objective: str,
            input_dim: int, encode_base: Callable, likelihood=None, posterior=None, prior=None,
            estimator=None, beta=None, num_samples=None, pixel_levels=None,
            options: dict | None = None) -> Resolved:
    """Every part of a VAE from its arguments (see :class:`~tfp_genmodels.vae.VAE`).

    A network ending in a ``tfp.layers`` distribution layer is the posterior
    (encoder) or the likelihood (decoder) itself, and an encoder's
    ``KLDivergenceRegularizer`` gives the prior and ``beta``
    (:mod:`~tfp_genmodels.vae.tfp_layers`). ``options`` are 0.1's part options
    (:func:`deprecated_options`); ``specs`` keeps each argument for the config (a
    name given with such options becomes the resolved part).
    """
    options = options or {}
    # q(z|x): the encoder's own distribution layer, or a head on its features.
    encoder_head = tfp_layers.distribution_layer(encoder)
    if encoder_head is not None:
        if posterior is not None:
            raise ValueError(f"the encoder ends in a {type(encoder_head).__name__} layer, "
                             "which is q(z|x) itself; leave `posterior` unset (or drop "
                             "the encoder's distribution layer).")
        q = DistributionLayerPosterior(latent_dim, name="posterior")
    else:
        q = resolve_posterior(posterior, latent_dim, options.get("posterior"))
    # p(x|z): the decoder's own distribution layer, or a head on its features. (Made
    # before the prior: the saved variables' order is that of earlier versions.)
    decoder_head = tfp_layers.distribution_layer(decoder)
    if decoder_head is not None:
        if likelihood is not None:
            raise ValueError(f"the decoder ends in a {type(decoder_head).__name__} layer, "
                             "which is p(x|z) itself; leave `likelihood` unset.")
        p_x = DistributionLayerLikelihood(event_shape, name="likelihood")
    else:
        p_x = resolve_likelihood(likelihood, event_shape, pixel_levels,
                                 options.get("likelihood"))
    # p(z), beta: the regulariser's, if the encoder has one; else the arguments.
    p_z, beta = tfp_layers.regularizer_prior_and_beta(encoder, latent_dim, prior, beta)
    beta = _args.nonnegative_float_arg(1.0 if beta is None else beta, "beta")
    p_z = resolve_prior(p_z, latent_dim, q, event_shape, encode_base, options.get("prior"))
    if estimator is not None and not isinstance(estimator, (str, E.Estimator)):
        raise TypeError("`estimator` must be a name or a tfp_genmodels.vae.estimators."
                        f"Estimator instance; got {type(estimator).__name__}.")
    requested = None if num_samples is None else _args.positive_int_arg(num_samples,
                                                                        "num_samples")
    own = getattr(estimator, "num_samples", None)
    if requested is not None and own is not None and own != requested:
        raise ValueError(f"`num_samples`={requested} but the estimator has "
                         f"num_samples={own}; give it once.")
    num_samples = requested or own or 1
    est = resolve_estimator(estimator, q, objective, num_samples, input_dim,
                            options.get("estimator"))
    specs = {key: part if options.get(key) else spec for key, spec, part in (
        ("likelihood", likelihood, p_x), ("posterior", posterior, q), ("prior", prior, p_z),
        ("estimator", estimator, est))}
    return Resolved(q, p_x, p_z, est, beta, num_samples, specs)


def serialized_part(part) -> Any:
    """A part for the VAE's config: a name stays a name, an instance becomes its Keras
    config (a part of your own must be registered with
    ``keras.saving.register_keras_serializable``)."""
    if isinstance(part, str) or part is None:
        return part
    try:
        return keras.saving.serialize_keras_object(part)
    except Exception as error:  # Keras raises several types here
        raise TypeError(f"{part!r} cannot be saved in a Keras config; give it a get_config "
                        "and register it with keras.saving.register_keras_serializable.") from error


__all__ = ["DEPRECATED_OPTIONS", "ESTIMATOR_TABLE", "LIKELIHOOD_TABLE", "POSTERIOR_TABLE",
           "PRIOR_TABLE", "Resolved", "deprecated_options", "resolve", "resolve_estimator",
           "resolve_likelihood", "resolve_posterior", "resolve_prior", "serialized_part"]
