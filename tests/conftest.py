"""Shared test setup: single-threaded torch so parallel test runs stay fast and deterministic."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is a hard dependency; this only keeps collection errors readable
    pass
