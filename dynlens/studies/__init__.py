"""Ablation sweeps (capacity vs latent dimensionality); filled in by the studies issue."""
