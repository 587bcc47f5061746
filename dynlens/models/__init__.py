"""Sequential autoencoders and their generators (each generator is a ``Dynamics``)."""

from .checkpoint import load_model, register_model, save_model
from .encoder import BidirectionalGRUEncoder
from .generators import (
    DiscreteNODEDynamics,
    GRUDynamics,
    LinearDynamics,
    NODEDynamics,
    RNNDynamics,
    rollout,
)
from .inference import Inference
from .sae import GENERATORS, SAE, SAEConfig

register_model(SAE)

__all__ = [
    "GENERATORS",
    "SAE",
    "BidirectionalGRUEncoder",
    "DiscreteNODEDynamics",
    "GRUDynamics",
    "Inference",
    "LinearDynamics",
    "NODEDynamics",
    "RNNDynamics",
    "SAEConfig",
    "load_model",
    "register_model",
    "rollout",
    "save_model",
]
