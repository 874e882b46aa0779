import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.stages.detection import frcnn as frcnn_detector
from ra_lib.stages.detection.inputs import DETECTION_COLUMNS, HandFrame
from ra_lib.stages.detection.settings import PROFILES

BODYPARTS = ("pip2", "radius")


def _frame(hand_id="h:R", mirrored=False):
    return HandFrame(hand_id, x0=100, width=64, height=64, size=32, mirrored=mirrored)


def test_truth_boxes_map_into_the_model_input_and_mirror():
    truth = pd.DataFrame({"hand_id": ["a:R", "b:L", "b:L"], "label": ["pip2", "pip2", "ulna"],
                          "x0": [110.0, 110.0, 100.0], "y0": [10.0, 10.0, 0.0],
                          "x1": [130.0, 130.0, 110.0], "y1": [30.0, 30.0, 10.0]})
    targets = frcnn_detector.boxes_in_model(truth, [_frame("a:R"), _frame("b:L", True), _frame("c:R")], BODYPARTS)
    boxes, labels = targets[0]
    # pixel-centre convention: x -> (x + 0.5) / 2 - 0.5 when halving
    assert labels.tolist() == [1] and np.allclose(boxes, [[4.75, 4.75, 14.75, 14.75]])
    boxes, labels = targets[1]  # mirrored: columns 10..30 of 64 become 53..33
    assert labels.tolist() == [1] and np.allclose(boxes, [[16.25, 4.75, 26.25, 14.75]])  # "ulna" is no class
    assert targets[2][0].shape == (0, 4)


def test_model_is_untrained_and_uses_scaled_anchors():
    model = frcnn_detector.build_model("mobilenet_v3", 2, 64, anchor_side=10.0, box_head_width=32)
    assert model.roi_heads.box_head.fc7.out_features == 32
    sizes = model.rpn.anchor_generator.sizes
    assert len(sizes) == 3 and sizes[0][2] == pytest.approx(10.0) and sizes[0][0] == pytest.approx(5.0)
    assert model.roi_heads.box_predictor.cls_score.out_features == 3
    assert model.transform.min_size == (64,) and model.transform.max_size == 64
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 64, 64)])
    assert set(out[0]) == {"boxes", "labels", "scores"}
    with pytest.raises(ValueError, match="arch must be one of"):
        frcnn_detector.build_model("yolo", 2, 64, 10.0)


def test_local_weights_load_where_shapes_match(tmp_path):
    source = frcnn_detector.build_model("mobilenet_v3", 5, 64, anchor_side=10.0)
    torch.save(source.state_dict(), tmp_path / "coco.pt")
    model = frcnn_detector.build_model("mobilenet_v3", 2, 64, anchor_side=10.0,
                                       weights_path=str(tmp_path / "coco.pt"))
    name = "backbone.body.0.0.weight"
    assert torch.equal(model.state_dict()[name], source.state_dict()[name])
    torch.save({"nothing": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: no tensor matches"):
        frcnn_detector.build_model("mobilenet_v3", 2, 64, 10.0, weights_path=str(tmp_path / "bad.pt"))


class _FixedModel(torch.nn.Module):
    """Returns the same detections for every image."""

    def forward(self, images):
        boxes = torch.tensor([[0.0, 0, 4, 4], [2, 2, 6, 6], [8, 8, 12, 12], [1, 1, 2, 2]])
        return [{"boxes": boxes, "labels": torch.tensor([1, 1, 2, 5]), "scores": torch.tensor([0.3, 0.9, 0.6, 0.99])}
                for _ in images]


def test_predict_keeps_the_best_box_per_class():
    best = frcnn_detector.predict(_FixedModel(), np.zeros((3, 16, 16), np.float32), 3, batch_size=2, progress=False)
    assert best.shape == (3, 3, 5)
    assert np.allclose(best[:, 0], [2, 2, 6, 6, 0.9]) and np.allclose(best[:, 1], [8, 8, 12, 12, 0.6])
    assert np.isnan(best[:, 2]).all()  # class 3 never detected; class 5 is out of range
    centres = frcnn_detector.centres(best)
    assert np.allclose(centres[0, 0], [4, 4, 0.9])
    frames = [_frame(f"h{i}:L", True) for i in range(3)]
    boxes = frcnn_detector.boxes_to_image(best, frames, ("pip2", "radius", "ulna"))
    assert len(boxes) == 6 and (boxes.x1 > boxes.x0).all()
    x, _ = frames[0].to_image(np.array([2.0, 6.0]), np.array([2.0, 6.0]))
    assert boxes.iloc[0][["x0", "x1"]].tolist() == pytest.approx(sorted(x))


def test_fit_and_detect_tiny():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.2, (3, 64, 64)).astype(np.float32)
    images[:, 10:20, 10:20] = 1.0
    frames = [HandFrame(f"h{i}:R", 0, 64, 64, 64, False) for i in range(3)]
    truth = pd.DataFrame({"hand_id": ["h0:R", "h1:R"], "label": ["pip2", "pip2"], "x0": [10.0, 10.0],
                          "y0": [10.0, 10.0], "x1": [20.0, 20.0], "y1": [20.0, 20.0]})
    settings = dataclasses.replace(PROFILES["smoke"], frcnn_batch_size=2)
    detector, history = frcnn_detector.fit(images, frames, truth, BODYPARTS, settings, progress=False)
    assert history.columns.tolist() == ["epoch", "train_loss"]
    assert history.epoch.tolist() == [1] and np.isfinite(history.train_loss).all()
    detections, boxes = detector.detect(images, frames, progress=False)
    assert list(detections.columns) == list(DETECTION_COLUMNS) and len(detections) == 6
    assert set(detections.detector) == {"frcnn"} and set(boxes.label) <= set(BODYPARTS)
    with pytest.raises(ValueError, match="no training hand has a ground-truth box"):
        frcnn_detector.fit(images, frames, truth.iloc[:0], BODYPARTS, settings)


def test_batches_reshuffle_every_pass_and_skip_hands_without_boxes():
    images = np.arange(5 * 4 * 4, dtype=np.float32).reshape(5, 4, 4)  # image n starts with 16 n
    targets = [(np.array([[0.0, 0, 2, 2]]), np.array([1])) for _ in range(5)]
    usable = [0, 2, 3, 4]
    batches = frcnn_detector.ShuffledBatches(images, targets, usable, 3, torch.Generator().manual_seed(0))
    assert len(batches) == 2
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):  # each pass draws the next permutation
        expected = [usable[i] for i in torch.randperm(4, generator=generator).tolist()]
        passed = list(batches)
        assert [len(inputs) for inputs, _ in passed] == [3, 1]
        assert [int(image[0, 0, 0]) // 16 for inputs, _ in passed for image in inputs] == expected
    inputs, batch_targets = passed[0]
    assert inputs[0].shape == (3, 4, 4) and batch_targets[0]["boxes"].dtype == torch.float32


class _CountingDetector(torch.nn.Module):
    """A torchvision-style detector: in training, forward(images, targets) returns a dict of losses."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.batches = []

    def forward(self, images, targets):
        self.batches.append(len(images))
        return {"a": self.weight.sum() * len(images), "b": self.weight.sum()}


def test_training_goes_through_the_shared_loop_with_a_warm_up():
    model = _CountingDetector()
    targets = [(np.array([[0.0, 0, 2, 2]]), np.array([1]))] * 5 + [(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))]
    history = frcnn_detector.train(model, np.zeros((6, 4, 4), np.float32), targets, epochs=2, batch_size=2, lr=0.0,
                                   progress=False)
    assert model.batches == [2, 2, 1, 2, 2, 1]  # the hand without a box is left out
    assert history.epoch.tolist() == [1, 2]
    # summed losses a + b per batch (3, 3, 2), weighted by the batch's hands; lr 0 keeps the weight at 1
    assert history.train_loss.tolist() == pytest.approx([14 / 5, 14 / 5])
    assert frcnn_detector.detection_loss(model, [0, 0], None).item() == pytest.approx(3 * model.weight.item())
