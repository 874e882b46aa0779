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
