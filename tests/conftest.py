"""Small shared fixtures: tiny simulated datasets and a tiny-SAE factory."""

from __future__ import annotations

import pytest
import torch

from dynlens.data import simulate
from dynlens.models import SAE

# Tiny models run fastest on one thread; two threads on a shared 2-core machine oversubscribe
# and make a 20 ms epoch take seconds.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_data():
    """Arneodo, 6 neurons, 24 trials x 12 bins (15 train / 4 valid / 5 test). Do not mutate."""
    return simulate("arneodo", n_neurons=6, n_trials=24, n_bins=12, seed=0)


@pytest.fixture(scope="session")
def heldout_data():
    """Like ``tiny_data`` with the last 2 of 6 neurons held out. Do not mutate."""
    return simulate("arneodo", n_neurons=6, n_trials=24, n_bins=12, n_heldout=2, seed=0)


@pytest.fixture
def make_sae():
    """``make_sae(generator="gru", init_seed=0, **kw)``: a small SAE, reproducibly initialised."""

    def build(generator: str = "gru", init_seed: int = 0, **kwargs) -> SAE:
        kwargs.setdefault("n_neurons", 6)
        kwargs.setdefault("latent_dim", 3)
        kwargs.setdefault("encoder_size", 8)
        if generator in ("node", "node_discrete", "mlp_map"):
            kwargs.setdefault("hidden_size", 16)
        torch.manual_seed(init_seed)
        return SAE(generator=generator, **kwargs)

    return build
