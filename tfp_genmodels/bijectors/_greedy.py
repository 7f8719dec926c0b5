"""A bijector base whose log-det comes out of the same pass as its output.

Maps such as couplings compute ``y`` and ``log|det J|`` together. TFP's
``BijectorCacheWithGreedyAttrs`` (the mechanism ``tfb.FFJORD`` uses) stores
the log-det next to the output, so ``TransformedDistribution.log_prob``
runs the expensive part once per call, not twice.
"""

from __future__ import annotations

import tensorflow_probability as tfp

from tfp_genmodels._tfp_compat import greedy_cache
from tfp_genmodels.bijectors._stateful import StatefulBijector

tfb = tfp.bijectors


class GreedyLogDetBijector(StatefulBijector, tfb.Bijector):
    """Subclasses define ``_augmented_forward`` / ``_augmented_inverse``.

    Each returns ``(output, {"fldj": ..., "ildj": ...})``.
    """

    _cache = greedy_cache(forward_name="_augmented_forward",
                          inverse_name="_augmented_inverse")

    def _augmented_forward(self, x, **kwargs):
        raise NotImplementedError

    def _augmented_inverse(self, y, **kwargs):
        raise NotImplementedError

    def _forward(self, x, **kwargs):
        return self._augmented_forward(x, **kwargs)[0]

    def _inverse(self, y, **kwargs):
        return self._augmented_inverse(y, **kwargs)[0]

    def _forward_log_det_jacobian(self, x, **kwargs):
        cached = self._cache.forward_attributes(x, **kwargs)
        if "fldj" not in cached:
            cached.update(self._augmented_forward(x, **kwargs)[1])
        return cached["fldj"]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        cached = self._cache.inverse_attributes(y, **kwargs)
        if "ildj" not in cached:
            cached.update(self._augmented_inverse(y, **kwargs)[1])
        return cached["ildj"]
