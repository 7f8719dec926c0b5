"""The names of the library's choices, in one place, without importing TensorFlow.

The modules that implement a choice import its tuple from here and check
their arguments against it; the CLI's parser reads the same tuples for its
``choices`` (and ``--help``) without loading TensorFlow.
"""

from __future__ import annotations

#: Flow recipes: the CLI's ``--model`` name -> the class in :mod:`tfp_genmodels.flows`.
FLOW_RECIPES: dict[str, str] = {"nice": "NICE", "realnvp": "RealNVP",
                                "spline": "NeuralSplineFlow", "maf": "MAF", "iaf": "IAF",
                                "glow": "Glow", "ffjord": "FFJORD"}
#: Recipes defined on images only.
IMAGE_ONLY_RECIPES: tuple[str, ...] = ("glow",)
#: Recipes with a multi-scale (squeeze / factor-out) architecture for ``[H, W, C]`` events;
#: the others model images as flat vectors.
MULTISCALE_RECIPES: tuple[str, ...] = ("realnvp", "glow")
#: The continuous flow's trace estimators and ODE solvers.
CNF_TRACES: tuple[str, ...] = ("exact", "hutchinson")
CNF_SOLVERS: tuple[str, ...] = ("dopri5", "bdf")

#: The VAE's built-in posteriors ``q(z|x)``, priors ``p(z)``, likelihoods
#: ``p(x|z)`` and training objectives.
POSTERIORS: tuple[str, ...] = ("diagonal", "full", "iaf", "planar", "categorical", "bernoulli")
#: The first four are for continuous latents, "uniform" and "learned" for discrete ones.
PRIORS: tuple[str, ...] = ("normal", "mixture", "vamp", "flow", "uniform", "learned")
LIKELIHOODS: tuple[str, ...] = ("bernoulli", "gaussian", "categorical")
OBJECTIVES: tuple[str, ...] = ("elbo", "iwae")
#: Gradient estimators (:mod:`tfp_genmodels.vae.estimators`): pathwise for continuous
#: latents, the others for discrete ones.
ESTIMATORS: tuple[str, ...] = ("reparameterized", "reinforce", "gumbel_softmax",
                               "straight_through", "vimco", "disarm")
