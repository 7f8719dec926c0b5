"""Variational autoencoders on TFP: pluggable posteriors, priors and likelihoods,
flow posteriors and priors, discrete latents and conditional VAEs.

See :class:`VAE`. The parts are objects (:class:`Posterior`, :class:`Prior`,
:class:`Likelihood`, :class:`Estimator` and their subclasses), each with its
own options; the strings the VAE accepts are shortcuts for the built-in ones
(:mod:`tfp_genmodels.vae.parts` holds the tables). Gradient estimators are
in :mod:`tfp_genmodels.vae.estimators`; diagnostics for posterior collapse in
:mod:`tfp_genmodels.vae.diagnostics` and :meth:`VAE.diagnostics`.
"""

from tfp_genmodels._registry import ESTIMATORS, LIKELIHOODS, POSTERIORS, PRIORS
from tfp_genmodels.vae.bounds import Terms
from tfp_genmodels.vae.discrete import BernoulliPosterior, CategoricalPosterior
from tfp_genmodels.vae.estimators import (
                                           VIMCO,
                                           DisARM,
                                           Estimator,
                                           GumbelSoftmax,
                                           Reinforce,
                                           Reparameterized,
)
from tfp_genmodels.vae.likelihoods import (
                                           BernoulliLikelihood,
                                           CallableLikelihood,
                                           CategoricalLikelihood,
                                           GaussianLikelihood,
                                           Likelihood,
)
from tfp_genmodels.vae.model import VAE
from tfp_genmodels.vae.posteriors import (
                                           DiagonalGaussianPosterior,
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

__all__ = ["ESTIMATORS", "LIKELIHOODS", "POSTERIORS", "PRIORS", "BernoulliLikelihood",
           "BernoulliPosterior", "CallableLikelihood", "CategoricalLikelihood",
           "CategoricalPosterior", "DiagonalGaussianPosterior", "DisARM", "Estimator",
           "FlowPrior", "FullGaussianPosterior", "GaussianLikelihood", "GumbelSoftmax",
           "IAFPosterior", "Likelihood", "MixturePrior", "PlanarPosterior", "Posterior", "Prior",
           "Reinforce", "Reparameterized", "StandardNormalPrior", "Terms", "UniformPrior",
           "VAE", "VIMCO", "VampPrior"]
