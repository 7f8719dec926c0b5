"""Variational autoencoders on TFP: pluggable posteriors, priors and likelihoods,
flow posteriors and priors, discrete latents and conditional VAEs.

See :class:`VAE`. The parts are objects (:class:`Posterior`, :class:`Prior`,
:class:`Likelihood` and their subclasses); the strings the VAE accepts are
shortcuts for the built-in ones. Gradient estimators for discrete latents are
in :mod:`tfp_genmodels.vae.estimators`; diagnostics for posterior collapse in
:mod:`tfp_genmodels.vae.diagnostics` and :meth:`VAE.diagnostics`.
"""

from tfp_genmodels._registry import ESTIMATORS, LIKELIHOODS, POSTERIORS, PRIORS
from tfp_genmodels.vae.discrete import BernoulliPosterior, CategoricalPosterior
from tfp_genmodels.vae.likelihoods import (
                                           BernoulliLikelihood,
                                           CallableLikelihood,
                                           CategoricalLikelihood,
                                           GaussianLikelihood,
                                           Likelihood,
)
from tfp_genmodels.vae.model import VAE, Terms
from tfp_genmodels.vae.posteriors import (
                                           DiagonalGaussianPosterior,
                                           FullGaussianPosterior,
                                           IAFPosterior,
                                           PlanarPosterior,
                                           Posterior,
)
from tfp_genmodels.vae.priors import MixturePrior, Prior, StandardNormalPrior, UniformPrior

__all__ = ["ESTIMATORS", "LIKELIHOODS", "POSTERIORS", "PRIORS", "BernoulliLikelihood",
           "BernoulliPosterior", "CallableLikelihood", "CategoricalLikelihood",
           "CategoricalPosterior", "DiagonalGaussianPosterior", "FullGaussianPosterior",
           "GaussianLikelihood", "IAFPosterior", "Likelihood", "MixturePrior", "PlanarPosterior",
           "Posterior", "Prior", "StandardNormalPrior", "Terms", "UniformPrior", "VAE"]
