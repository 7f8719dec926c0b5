"""Pieces shared by the Keras models' training steps (``FlowModel`` and ``VAE``), by
concern: :mod:`.batches` (what a step receives, weighted means), :mod:`.gradient_step`
(the checked optimizer step), :mod:`.inputs` (data checked before the call),
:mod:`.bookkeeping` (where ``fit`` is) and :mod:`.checked_model` (``compile`` /
``fit`` / ``evaluate`` / ``predict``).
"""

from tfp_genmodels._training.batches import (
    batch_weight,
    is_weight_placeholder,
    only_if,
    unpack_context,
    weighted_mean,
    with_weight_placeholder,
)
from tfp_genmodels._training.checked_model import NONFINITE_POLICIES, CheckedModel
from tfp_genmodels._training.gradient_step import checked_gradient_step
from tfp_genmodels._training.inputs import (
    as_validation_data,
    check_before_call,
    check_data_arg,
    input_errors_as_value_errors,
)

__all__ = ["NONFINITE_POLICIES", "CheckedModel", "as_validation_data", "batch_weight",
           "check_before_call", "check_data_arg", "checked_gradient_step",
           "input_errors_as_value_errors", "is_weight_placeholder", "only_if", "unpack_context",
           "weighted_mean", "with_weight_placeholder"]
