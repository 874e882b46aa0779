from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.stages.detection import evaluation as detection_eval, frcnn as frcnn_detector

BODYPARTS = ("pip2", "radius")


def _frame(hand_id="h:R", mirrored=False):
    return detection_eval.HandFrame(hand_id, x0=100, width=64, height=64, size=32, mirrored=mirrored)


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
    frames = [detection_eval.HandFrame(f"h{i}:R", 0, 64, 64, 64, False) for i in range(3)]
    truth = pd.DataFrame({"hand_id": ["h0:R", "h1:R"], "label": ["pip2", "pip2"], "x0": [10.0, 10.0],
                          "y0": [10.0, 10.0], "x1": [20.0, 20.0], "y1": [20.0, 20.0]})
    settings = SimpleNamespace(**{**frcnn_detector.PROFILES["smoke"], "batch_size": 2})
    detector, history = frcnn_detector.fit(images, frames, truth, BODYPARTS, settings, progress=False)
    assert history.epoch.tolist() == [1] and np.isfinite(history.train_loss).all()
    detections, boxes = detector.detect(images, frames, progress=False)
    assert list(detections.columns) == list(detection_eval.DETECTION_COLUMNS) and len(detections) == 6
    assert set(detections.detector) == {"frcnn"} and set(boxes.label) <= set(BODYPARTS)
    with pytest.raises(ValueError, match="no training hand has a ground-truth box"):
        frcnn_detector.fit(images, frames, truth.iloc[:0], BODYPARTS, settings)
