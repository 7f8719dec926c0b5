"""The VAE's ``posterior=`` argument: a name from :data:`POSTERIORS` or an instance.

(Here, not in :mod:`~tfp_genmodels.vae.posteriors`, because the discrete posteriors
build on that module.)
"""

from __future__ import annotations

from tfp_genmodels._registry import POSTERIORS
from tfp_genmodels.vae.discrete import BernoulliPosterior, CategoricalPosterior
from tfp_genmodels.vae.posteriors import (
    DiagonalGaussianPosterior,
    FullGaussianPosterior,
    IAFPosterior,
    PlanarPosterior,
    Posterior,
)


def make_posterior(spec: str | Posterior, latent_dim: int, num_flow_steps: int = 4,
                   num_classes: int = 2, name: str = "posterior") -> Posterior:
    """The posterior for the VAE's ``posterior=`` argument: an instance is used as it is
    (its ``latent_dim`` must be the VAE's), a name from :data:`POSTERIORS` is built."""
    if isinstance(spec, Posterior):
        if spec.latent_dim != latent_dim:
            raise ValueError(f"`posterior` has latent_dim={spec.latent_dim} but the VAE's "
                             f"`latent_dim` is {latent_dim}.")
        return spec
    if not isinstance(spec, str) or spec not in POSTERIORS:
        raise ValueError(f"`posterior` must be one of {POSTERIORS} or a "
                         f"tfp_genmodels.vae.Posterior instance; got {spec!r}.")
    if spec in ("iaf", "planar"):
        cls = IAFPosterior if spec == "iaf" else PlanarPosterior
        return cls(latent_dim, num_flow_steps=num_flow_steps, name=name)
    if spec == "categorical":
        return CategoricalPosterior(latent_dim, num_classes=num_classes, name=name)
    cls = {"diagonal": DiagonalGaussianPosterior, "full": FullGaussianPosterior,
           "bernoulli": BernoulliPosterior}[spec]
    return cls(latent_dim, name=name)
