"""Shared training loop: seeds, device choice, early stopping, progress bars.

Stages 1, 3, 4 and 5 train different models with the same mechanics; they all use :func:`fit`
and :func:`predict` so early stopping and determinism behave identically across the book.
"""
from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for data loaders."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


def select_device(preference: str = "auto") -> torch.device:
    """``cuda`` when present and ``preference`` is ``auto``; otherwise the named device (default CPU)."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


@dataclass
class EarlyStopping:
    """Stop when the monitored loss has not improved for ``patience`` epochs (paper 001: 10)."""

    patience: int
    min_delta: float = 0.0
    best: float = float("inf")
    bad_epochs: int = 0
    best_state: dict | None = field(default=None, repr=False)

    def step(self, loss: float, model: torch.nn.Module) -> bool:
        """Record one epoch's loss; return True when training should stop."""
        if loss < self.best - self.min_delta:
            self.best = loss
            self.bad_epochs = 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _batch_size(targets) -> int:
    if isinstance(targets, torch.Tensor):
        return len(targets)
    if isinstance(targets, dict):
        return len(next(iter(targets.values())))
    return len(targets)  # a list of per-sample targets (e.g. torchvision detection dicts)


def run_epoch(model, loader: Iterable, loss_fn: Callable | None, device, optimizer=None, step: Callable | None = None,
              batch_scheduler=None) -> float:
    """One pass over ``loader`` (training if an optimizer is given); mean loss per sample.

    Each batch is ``(inputs, targets)``, moved to ``device``. Its loss is ``step(model, inputs, targets)``
    when ``step`` is given (e.g. a torchvision detector, whose forward takes the targets and returns a
    dict of losses), else ``loss_fn(model(inputs), targets)``; either returns the batch's mean loss.
    ``batch_scheduler`` (training only) is stepped after every optimizer step (e.g. a warm-up).
    """
    model.train(optimizer is not None)
    total, count = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for inputs, targets in loader:
            inputs, targets = _to_device(inputs, device), _to_device(targets, device)
            loss = step(model, inputs, targets) if step is not None else loss_fn(model(inputs), targets)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if batch_scheduler is not None:
                    batch_scheduler.step()
            n = _batch_size(targets)
            total += float(loss.detach()) * n
            count += n
    return total / max(count, 1)


def fit(
    model: torch.nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None,
    loss_fn: Callable | None,
    optimizer: torch.optim.Optimizer,
    max_epochs: int,
    patience: int | None = None,
    device: torch.device | str = "cpu",
    desc: str = "epochs",
    scheduler=None,
    progress: bool = True,
    step: Callable | None = None,
    batch_scheduler=None,
) -> pd.DataFrame:
    """Train with optional early stopping on validation loss; restore the best weights.

    ``scheduler`` is stepped once per epoch, ``batch_scheduler`` after every optimizer step; ``step``
    computes a batch's loss instead of ``loss_fn`` (see :func:`run_epoch`). Returns the history: one
    row per epoch with ``train_loss`` and ``val_loss``.
    """
    device = torch.device(device)
    model.to(device)
    stopper = EarlyStopping(patience) if (patience and val_loader is not None) else None
    rows = []
    bar = tqdm(range(max_epochs), desc=desc, leave=False, disable=not progress)
    for epoch in bar:
        train_loss = run_epoch(model, train_loader, loss_fn, device, optimizer, step, batch_scheduler)
        val_loss = run_epoch(model, val_loader, loss_fn, device, step=step) if val_loader is not None else float("nan")
        if scheduler is not None:
            scheduler.step()
        rows.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
        bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        if stopper is not None and stopper.step(val_loss, model):
            break
    if stopper is not None and stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return pd.DataFrame(rows)


@torch.no_grad()
def predict(model: torch.nn.Module, loader: Iterable, device: torch.device | str = "cpu",
            transform: Callable | None = None) -> np.ndarray:
    """Concatenate model outputs over ``loader`` (batches ``(inputs, ...)``), optionally transformed."""
    model.eval().to(device)
    outputs = []
    for batch in loader:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        out = model(_to_device(inputs, device))
        if transform is not None:
            out = transform(out)
        outputs.append(out.detach().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.empty((0,))
