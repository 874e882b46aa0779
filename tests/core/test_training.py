import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ra_lib.core.training import EarlyStopping, fit, predict, seed_everything, select_device


def _toy(seed):
    g = seed_everything(seed)
    x = torch.randn(64, 3)
    y = (x[:, :1] > 0).float()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g)


def test_fit_learns_and_is_deterministic():
    histories, weights = [], []
    for _ in range(2):
        loader = _toy(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        hist = fit(model, loader, loader, torch.nn.BCEWithLogitsLoss(), opt, max_epochs=15, patience=3,
                   progress=False)
        histories.append(hist)
        weights.append(model.weight.detach().clone())
    assert histories[0]["train_loss"].iloc[-1] < histories[0]["train_loss"].iloc[0]
    assert torch.equal(weights[0], weights[1])
    probs = predict(model, loader, transform=torch.sigmoid)
    assert probs.shape == (64, 1)


def test_early_stopping_counts_patience_and_keeps_best():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    assert not stopper.step(1.0, model)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1)
    assert not stopper.step(1.5, model)
    assert stopper.step(1.2, model)
    assert torch.equal(stopper.best_state["weight"], best["weight"])


def test_select_device():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda"}


class _TargetsInForward(torch.nn.Module):
    """A model whose forward takes the targets and returns a dict of losses (as torchvision detectors)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, inputs, targets=None):
        out = self.linear(inputs)
        return {"bce": torch.nn.functional.binary_cross_entropy_with_logits(out, targets), "l2": out.pow(2).mean()}


def test_step_hook_replaces_the_loss_function():
    loader = _toy(0)
    model = _TargetsInForward()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def step(m, inputs, targets):
        calls.append(len(inputs))
        return sum(m(inputs, targets).values())

    hist = fit(model, loader, loader, None, opt, max_epochs=3, progress=False, step=step)
    assert calls[:4] == [16, 16, 16, 16] and len(calls) == 3 * 8  # train and validation batches
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]


def test_default_step_is_the_loss_function():
    histories, weights = [], []
    for use_step in (False, True):
        loader = _toy(0)
        torch.manual_seed(1)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        step = (lambda m, inputs, targets: loss_fn(m(inputs), targets)) if use_step else None
        histories.append(fit(model, loader, None, loss_fn, opt, max_epochs=2, progress=False, step=step))
        weights.append(model.weight.detach().clone())
    assert histories[0].equals(histories[1]) and torch.equal(weights[0], weights[1])


def test_batch_scheduler_steps_after_every_optimizer_step_and_lists_count_samples():
    batches = [([torch.ones(2)] * n, [{"y": torch.zeros(1)}] * n) for n in (2, 2, 1)]
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    rates = []

    def step(m, inputs, targets):
        rates.append(opt.param_groups[0]["lr"])
        return m(torch.stack(inputs)).sum() * 0 + len(inputs)  # loss = batch size

    hist = fit(model, batches, None, None, opt, max_epochs=2, progress=False, step=step, batch_scheduler=warmup)
    assert rates[:3] == pytest.approx([0.1, 0.4, 0.7]) and rates[3:] == pytest.approx([1.0] * 3)
    assert hist["train_loss"].tolist() == pytest.approx([9 / 5, 9 / 5])  # per sample: (2*2 + 2*2 + 1*1) / 5
