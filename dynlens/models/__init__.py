"""Model families (one contract: :mod:`dynlens.models.base`), their generators and checkpoints.

Families: the deterministic sequential autoencoder :class:`SAE`, :class:`LFADS` and the
transformer :class:`NDT` (no generator).

Every family is a :class:`Model` registered by name; ``available()`` lists them and
``build(name, **config)`` makes one. Each generator of the SAE is a
:class:`~dynlens.dynamics.Dynamics` registered by name with :func:`register_generator`
(``available_generators()`` lists them), or any Dynamics instance passed to :class:`SAE`.
"""

from .base import CONTRACT, LossTerms, Model, available, build, check_model, get, register
from .checkpoint import load_model, save_model
from .encoder import BidirectionalGRUEncoder
from .generator_registry import available_generators, register_generator
from .generators import (
    DiscreteNODEDynamics,
    GRUDynamics,
    LinearDynamics,
    MLPMapDynamics,
    NODEDynamics,
    ResidualRNNDynamics,
    RNNDynamics,
)
from .inference import Inference
from .lfads import LFADS, LFADSConfig
from .lfads_parts import AR1Prior, LFADSGenerator
from .losses import poisson_nll
from .ndt import NDT, NDTConfig
from .sae import SAE, SAEConfig
from .trained_on import other_data_message, training_record

__all__ = [
    "CONTRACT",
    "LFADS",
    "NDT",
    "SAE",
    "AR1Prior",
    "BidirectionalGRUEncoder",
    "DiscreteNODEDynamics",
    "GRUDynamics",
    "Inference",
    "LFADSConfig",
    "LFADSGenerator",
    "LinearDynamics",
    "LossTerms",
    "MLPMapDynamics",
    "Model",
    "NDTConfig",
    "NODEDynamics",
    "RNNDynamics",
    "ResidualRNNDynamics",
    "SAEConfig",
    "available",
    "available_generators",
    "build",
    "check_model",
    "get",
    "load_model",
    "other_data_message",
    "poisson_nll",
    "register",
    "register_generator",
    "save_model",
    "training_record",
]
