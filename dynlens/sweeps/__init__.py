"""Ablation sweeps: one specification of datasets x model families x sizes x seeds, run
locally or on a Ray cluster into one results table.

This package is where the sweep runner lives (``dl.Sweep``, executors, result tables); it may
import every layer above it. The committed results of studies run with it live in the
repository's top-level ``studies/`` folder, not here.
"""
