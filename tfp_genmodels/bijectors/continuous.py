"""``ContinuousFlow``: a ``tfb.FFJORD`` with the event rank its log-det needs."""

from __future__ import annotations

import tensorflow_probability as tfp

from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector

tfb = tfp.bijectors


class ContinuousFlow(GreedyLogDetBijector):
    """A continuous normalizing flow on vectors: ``tfb.FFJORD``, declared non-elementwise.

    ``tfb.FFJORD`` integrates ``dz/dt = f(t, z)`` from ``t = 0`` (forward's
    input) to ``t = 1`` together with ``integral tr(df/dz) dt``, and returns
    that trace unreduced, one term per coordinate, with
    ``forward_min_event_ndims=0``. But ``f`` mixes the coordinates, so
    ``forward_log_det_jacobian(x, event_ndims=0)`` is no log-det of
    anything, and TFP answers it without complaint. This wrapper declares
    ``forward_min_event_ndims=1`` (a rank-0 request then raises) and asks the
    FFJORD for the log-det summed over the vector; TFP's greedy cache keeps
    ``forward`` and its log-det to one ODE solve, in both directions.

    Keyword arguments of a call (a context) go to the FFJORD, which hands
    them to its solver's ``constants`` and so to ``f``.

    Args:
      ffjord: the ``tfb.FFJORD`` bijector.
      name: the bijector's name (context is routed by it in a chain).
    """

    def __init__(self, ffjord: tfb.FFJORD, validate_args: bool = False,
                 name: str = "continuous_flow"):
        parameters = dict(locals())
        if not isinstance(ffjord, tfb.FFJORD):
            raise TypeError(f"`ffjord` must be a tfp.bijectors.FFJORD; got "
                            f"{type(ffjord).__name__}.")
        self._ffjord = ffjord
        super().__init__(forward_min_event_ndims=1, dtype=ffjord.dtype,
                         validate_args=validate_args, parameters=parameters, name=name)

    @property
    def ffjord(self) -> tfb.FFJORD:
        return self._ffjord

    def _augmented_forward(self, x, **kwargs):
        y = self._ffjord.forward(x, **kwargs)
        fldj = self._ffjord.forward_log_det_jacobian(x, event_ndims=1, **kwargs)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x = self._ffjord.inverse(y, **kwargs)
        ildj = self._ffjord.inverse_log_det_jacobian(y, event_ndims=1, **kwargs)
        return x, {"ildj": ildj, "fldj": -ildj}
