"""Tests of ra_lib.stages.grading.train: loaders, thread control, seeded training, prediction."""
import numpy as np
import torch
import torch.nn.functional as F

from fixtures.crop_stores import tiny_settings
from ra_lib.stages.grading import train


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with train.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_training_loader_oversamples_and_augments():
    images, targets = torch.rand(40, 1, 8, 8), torch.tensor([0] * 36 + [1] * 4)
    calls = []

    def augment(batch, generator):
        calls.append(len(batch))
        return batch + 1

    loader = train.make_loader(images, targets, 10, torch.Generator().manual_seed(0), True,
                               sampler_labels=targets.numpy(), augment=augment)
    drawn = torch.cat([y for _, y in loader])
    assert len(drawn) == 40 and sum(calls) == 40 and 0.25 < drawn.float().mean() < 0.75
    evaluation = train.make_loader(images, targets, 16, torch.Generator(), False)
    torch.testing.assert_close(torch.cat([x for x, _ in evaluation]), images)


def test_train_network_is_seeded_and_learns():
    rng = np.random.default_rng(0)
    targets = torch.as_tensor(rng.integers(0, 2, 64))
    images = torch.rand(64, 1, 16, 16) + targets.view(-1, 1, 1, 1).float()
    settings = tiny_settings(epochs=4, lr=0.05)

    def optimizer(params):
        return torch.optim.SGD(params, lr=settings.lr, momentum=0.9)

    runs = [train.train_network(images, targets, 2, F.cross_entropy, optimizer, settings, 4, seed=1, device="cpu",
                                val=(images, targets), progress=False) for _ in range(2)]
    assert runs[0].history.equals(runs[1].history)
    assert runs[0].history["train_loss"].iloc[-1] < runs[0].history["train_loss"].iloc[0]
    assert runs[0].timing(kind="x")["samples"] == 4 * 64
    proba = train.predict_outputs(runs[0].model, images, "cpu", lambda x: torch.softmax(x, dim=1), threads=1)
    assert proba.shape == (64, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
