"""SavedModel export for TF Serving: explicit signatures, loadable with TensorFlow alone.

:func:`save_for_serving` traces the model's computations into
``tf.function`` s with an unknown batch dimension and writes a SavedModel
whose root is a plain ``tf.Module`` holding the variables: the graphs
contain only core TensorFlow ops, so ``tf.saved_model.load`` (and TF
Serving) needs neither this package nor TensorFlow Probability nor Keras.

Signatures (inputs -> outputs; ``B`` is the batch, unknown):

* flows (:class:`~tfp_genmodels.flows.FlowModel`):

  - ``log_prob``: ``x [B, *event]`` (and ``context [B, K]`` for a
    conditional flow) -> ``log_prob [B]`` in nats;
    ``serving_default`` is the same function;
  - ``bits_per_dim``: the same inputs -> ``bits_per_dim [B]``;
  - ``sample``: ``num_samples`` (int32 scalar) -> ``samples [n, *event]``;
    a conditional flow takes ``context [B, K]`` instead and returns one
    sample per row.

* VAEs (:class:`~tfp_genmodels.vae.VAE`):

  - ``encode``: ``x`` -> ``mean [B, L]``, ``stddev [B, L]`` of ``q(z|x)``
    in closed form (``scale_tril [B, L, L]`` too for a correlated Gaussian:
    ``posterior="full"``, a ``tfp.layers`` ``MultivariateNormalTriL``
    encoder). Flow posteriors have no closed-form moments: theirs are Monte
    Carlo estimates from ``encode_samples`` draws per example (fixed seed,
    independent of the batch), and the signature says so with an extra
    output ``num_monte_carlo_samples [B]``. Discrete latents: ``probs``
    ``[B, L, K]`` (categorical) or ``[B, L]`` (Bernoulli);
  - ``decode``: ``z [B, code]`` (``L``; one-hot ``L * K`` for categorical
    latents) -> ``mean`` (the expected ``x``; Bernoulli and categorical
    likelihoods also give ``probs``);
  - ``reconstruct``: ``x`` -> ``reconstruction`` (decoder mean at the
    posterior mean);
  - ``elbo``: ``x`` -> ``elbo [B]`` (nats, one sample of ``z``);
  - ``log_likelihood``: ``x`` -> ``log_likelihood [B]`` (IWAE estimate with
    ``log_likelihood_samples`` samples);
  - ``sample``: ``num_samples`` -> ``samples`` (draws from ``p(x|z)``,
    ``z ~ p(z)``).
  - ``serving_default`` is ``elbo``.
  - a conditional VAE's signatures also take ``context [B, C]``; its
    ``sample`` takes only ``context`` and returns one sample per row.

Estimates that need noise (a flow's dequantisation noise for pixel data,
the VAE's draws of ``z``) use fixed stateless seeds, so a served score is a
deterministic function of its input, equal to the in-process
``model.log_prob(x, seed=SEED)`` / ``model.elbo(x, seed=SEED)``; ``sample``
draws fresh randomness on every call.

Inspect an export with ``saved_model_cli show --dir PATH/1 --all``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import tensorflow as tf

from tfp_genmodels import _io, _validation
from tfp_genmodels.bijectors.dequantize import bits_per_dim

if TYPE_CHECKING:
    from tfp_genmodels.flows import FlowModel
    from tfp_genmodels.vae import VAE

#: The stateless seed of every estimate that needs noise in an export.
SEED = (20240, 1)


def save_for_serving(model: FlowModel | VAE, path: str, version: int | None = None,
                     overwrite: bool = False,
                     *, log_likelihood_samples: int = 100, encode_samples: int = 64,
                     sample_temperature: float = 1.0) -> str:
    """Writes ``model`` as a SavedModel for TF Serving; returns the directory written.

    Args:
      model: a :class:`~tfp_genmodels.flows.FlowModel` or a
        :class:`~tfp_genmodels.vae.VAE`.
      path: the SavedModel directory, or with ``version`` the model's base
        directory (TF Serving's ``--model_base_path``).
      version: write ``path/<version>/`` (a non-negative int), the layout TF
        Serving polls for new versions.
      overwrite: replace an existing export; otherwise an existing directory
        is an error and is left untouched.
      log_likelihood_samples: ``K`` of the VAE's ``log_likelihood`` signature.
      encode_samples: Monte Carlo draws for a flow posterior's ``encode``.
      sample_temperature: base temperature of a flow's ``sample`` signature.

    The export is written to a temporary directory beside the target and
    renamed into place, so TF Serving (or a crash) never sees half of one.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> from tfp_genmodels import export, flows
    >>> model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    >>> path = export.save_for_serving(model, tempfile.mkdtemp(), version=1)
    >>> served = tf.saved_model.load(path)
    >>> sorted(served.signatures)
    ['bits_per_dim', 'log_prob', 'sample', 'serving_default']
    >>> log_prob = served.signatures["log_prob"]
    >>> log_prob(x=tf.zeros([3, 2]))["log_prob"].shape
    TensorShape([3])
    """
    from tfp_genmodels.flows import FlowModel
    from tfp_genmodels.vae import VAE

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a directory path; got {type(path).__name__}.")
    if version is not None:
        version = _validation.nonnegative_int_arg(version, "version")
        path = os.path.join(os.fspath(path), str(version))
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (CLI: "
                              f"--overwrite) to replace it, or export a new `version`.")
    if isinstance(model, FlowModel):
        signatures = flow_signatures(model, sample_temperature)
    elif isinstance(model, VAE):
        signatures = vae_signatures(model, log_likelihood_samples, encode_samples)
    else:
        raise TypeError(f"`model` must be a tfp_genmodels FlowModel or VAE; got "
                        f"{type(model).__name__}.")
    root = tf.Module(name="servable")
    root.model_variables = list(model.variables)
    root.signature_functions = signatures  # keeps the traced functions alive

    def write(directory: str) -> None:
        tf.saved_model.save(root, directory, signatures=signatures)

    _io.replace_directory(path, write, overwrite=overwrite)
    return path


def _seed() -> tf.Tensor:
    return tf.constant(SEED, tf.int32)


def _spec(shape, name: str, dtype=tf.float32) -> tf.TensorSpec:
    return tf.TensorSpec([None, *shape], dtype, name=name)


def flow_signatures(model, sample_temperature: float = 1.0) -> dict:
    """The concrete functions of a flow's export (see the module docstring)."""
    x_spec = _spec(model.event_shape, "x", model.flow_dtype)
    conditional = model.context_shape is not None

    # Inputs: x, and the context of a conditional flow (the signature names come
    # from the specs' names).
    specs = [x_spec] + ([_spec(model.context_shape, "context", model.flow_dtype)]
                        if conditional else [])

    def score(x, context=None):
        # log_prob checks x's event shape, pixel range and finiteness in the graph.
        return model.log_prob(x, context, seed=_seed())

    log_prob = tf.function(lambda *inputs: {"log_prob": score(*inputs)},
                           input_signature=specs)
    bits = tf.function(lambda *inputs: {"bits_per_dim": bits_per_dim(score(*inputs),
                                                                     model.num_dims)},
                       input_signature=specs)
    if conditional:
        @tf.function(input_signature=specs[1:])
        def sample(context):
            n = tf.shape(context)[0]
            return {"samples": model.sample(n, context=context,
                                            temperature=sample_temperature)}
    else:
        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples")])
        def sample(num_samples):
            return {"samples": model.sample(num_samples, temperature=sample_temperature)}

    log_prob_fn = log_prob.get_concrete_function()
    return {"serving_default": log_prob_fn, "log_prob": log_prob_fn,
            "bits_per_dim": bits.get_concrete_function(),
            "sample": sample.get_concrete_function()}


def _unwrapped(dist):
    """The distribution a ``tfp.layers`` output wraps (its ``_TensorCoercible``
    wrapper is no ``tfd.Independent`` and implements no ``covariance``)."""
    return getattr(dist, "tensor_distribution", dist)


def encode_moments(posterior, features, encode_samples: int = 64) -> dict:
    """The ``encode`` signature's outputs for a continuous posterior.

    Closed forms wherever ``q(z|x)`` has them: ``mean`` and ``stddev``, and
    ``scale_tril`` for a correlated Gaussian. A posterior without a closed-form
    mean (a flow posterior) gets Monte Carlo moments from ``encode_samples``
    draws and says so: ``num_monte_carlo_samples [B]`` is added to the outputs.
    Each example is estimated on its own with the export's fixed seed, so its
    served moments do not depend on the batch it arrives in.
    """
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    q = _unwrapped(posterior(features))
    try:
        out = {"mean": q.mean(), "stddev": q.stddev()}
    except NotImplementedError:
        return _monte_carlo_moments(posterior, features, encode_samples)
    if not isinstance(q, (tfd.Independent, tfd.Normal, tfd.MultivariateNormalDiag)):
        try:  # correlated: the Cholesky factor of the covariance
            out["scale_tril"] = tf.linalg.cholesky(q.covariance())
        except NotImplementedError:
            pass
    return out


def _monte_carlo_moments(posterior, features, num_samples: int) -> dict:
    def moments(row_features):
        row = tf.nest.map_structure(lambda f: f[None], row_features)
        z, _ = posterior.sample_and_log_prob(row, num_samples, seed=_seed())
        mean, variance = tf.nn.moments(z[:, 0], axes=[0])
        return tf.stack([mean, tf.sqrt(variance)])

    stacked = tf.map_fn(moments, features, fn_output_signature=tf.TensorSpec(
        [2, posterior.code_size], posterior.dtype))  # the VAE's dtype (float32 / float64)
    batch = tf.shape(stacked)[0]
    return {"mean": stacked[:, 0], "stddev": stacked[:, 1],
            "num_monte_carlo_samples": tf.fill([batch], tf.constant(num_samples, tf.int32))}


def vae_signatures(model, log_likelihood_samples: int = 100, encode_samples: int = 64) -> dict:
    """The concrete functions of a VAE's export (see the module docstring)."""
    from tfp_genmodels.vae.likelihoods import distribution_mean

    x_spec = _spec(model.event_shape, "x")
    z_spec = _spec((model.posterior.code_size,), "z")
    conditional = model.context_shape is not None
    c_specs = [_spec(model.context_shape, "context")] if conditional else []
    posterior = model.posterior

    def signature(fn, first_spec):
        return tf.function(fn, input_signature=[first_spec, *c_specs]).get_concrete_function()

    def encode(x, context=None):
        features = model.features(x, context)
        if posterior.is_discrete:
            return {"probs": tf.nn.softmax(posterior.logits(features)) if posterior.num_classes
                    else tf.sigmoid(posterior.logits(features))}
        return encode_moments(posterior, features, encode_samples)

    def decode(z, context=None):
        dist = model.decode(z, context)
        out = {"mean": distribution_mean(dist)}
        inner = getattr(dist, "distribution", dist)
        if hasattr(inner, "probs_parameter"):
            out["probs"] = inner.probs_parameter()
        return out

    if conditional:
        @tf.function(input_signature=c_specs)
        def sample(context):
            z = model.prior.sample(tf.shape(context)[0])
            return {"samples": model.decode(z, context).sample()}
    else:
        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples")])
        def sample(num_samples):
            return {"samples": model.decode(model.prior.sample(num_samples)).sample()}

    elbo_fn = signature(lambda x, context=None: {
        "elbo": model.elbo(x, seed=_seed(), context=context)}, x_spec)
    return {"serving_default": elbo_fn, "elbo": elbo_fn,
            "encode": signature(encode, x_spec),
            "decode": signature(decode, z_spec),
            "reconstruct": signature(lambda x, context=None: {
                "reconstruction": model.reconstruct(x, seed=_seed(), context=context)}, x_spec),
            "log_likelihood": signature(lambda x, context=None: {
                "log_likelihood": model.log_likelihood(
                    x, num_samples=log_likelihood_samples, seed=_seed(), context=context)},
                x_spec),
            "sample": sample.get_concrete_function()}
