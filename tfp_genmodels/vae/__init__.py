"""Variational autoencoders on TFP: ``tfp.layers`` heads, flow posteriors and priors.

See :class:`VAE`. Diagnostics for posterior collapse are in
:mod:`tfp_genmodels.vae.diagnostics` and :meth:`VAE.diagnostics`.
"""

from tfp_genmodels.vae.likelihoods import LIKELIHOODS, Likelihood
from tfp_genmodels.vae.model import VAE
from tfp_genmodels.vae.posteriors import POSTERIORS, Posterior
from tfp_genmodels.vae.priors import PRIORS, Prior

__all__ = ["LIKELIHOODS", "Likelihood", "POSTERIORS", "Posterior", "PRIORS", "Prior", "VAE"]
