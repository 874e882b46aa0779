"""Benchmark: stage 2's detectors on CPU, training seconds per epoch and inference hands per second.

    .venv/bin/python bench/detection.py [--size 128] [--images 20] [--epochs 2] [--threads 2]

Images are synthetic (bright blobs at 22 jittered landmark positions), so no cohort is needed. Both
wall-clock and process CPU seconds are printed: on a shared machine the CPU seconds are the stable
figure. DeepLabCut's per-epoch time is the total training time over ``--epochs`` epochs (it includes
DeepLabCut's per-run setup, so more epochs give a fairer per-epoch figure).
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort import sites
from ra_lib.stages.detection import PROFILES, boxes, dlc as dlc_detector, frcnn as frcnn_detector
from ra_lib.stages.detection.inputs import HandFrame


def blob_hands(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, size, size) images and (n, 22, 2) landmark positions (model pixels)."""
    rng = np.random.default_rng(seed)
    template = np.random.default_rng(123).uniform(0.1, 0.9, (len(sites.HAND_LANDMARKS), 2)) * size
    yy, xx = np.mgrid[:size, :size]
    images, points = [], []
    for _ in range(n):
        pts = template + rng.normal(0, size * 0.02, template.shape)
        sigma = size / 80
        image = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)) for x, y in pts)
        images.append(np.clip(image, 0, 1).astype(np.float32))
        points.append(pts)
    return np.stack(images), np.stack(points)


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def bench_dlc(images, points, epochs: int, net_type: str, batch_size: int) -> dict:
    n = len(images)
    train_idx, test_idx = list(range(n - 2)), [n - 2, n - 1]
    with tempfile.TemporaryDirectory() as folder:
        project = dlc_detector.write_project(folder, images, points, sites.HAND_LANDMARKS, train_idx, test_idx,
                                             net_type)
        with Clock() as fit:
            dlc_detector.train(project, epochs, batch_size, lr=1e-3)
        with Clock() as infer:
            dlc_detector.predict(project, images, progress=False)
    return {"detector": f"dlc ({net_type})", "train_images": len(train_idx),
            "train_s_per_epoch": fit.wall / epochs, "train_cpu_s_per_epoch": fit.cpu / epochs,
            "infer_hands_per_s": n / infer.wall, "infer_cpu_s_per_hand": infer.cpu / n}


def bench_frcnn(images, points, epochs: int, arch: str, batch_size: int) -> dict:
    frames = [HandFrame(f"h{i}:R", 0, images.shape[-1], images.shape[-1], images.shape[-1], False)
              for i in range(len(images))]
    landmarks = pd.DataFrame([(f.hand_id, lm, x, y) for f, pts in zip(frames, points)
                              for lm, (x, y) in zip(sites.HAND_LANDMARKS, pts)],
                             columns=["hand_id", "landmark", "x", "y"])
    truth = boxes.truth_boxes(landmarks)
    settings = dataclasses.replace(PROFILES["quick"], frcnn_arch=arch, frcnn_epochs=epochs,
                                   frcnn_batch_size=batch_size)
    n_train = len(images) - 2
    with Clock() as fit:
        detector, _ = frcnn_detector.fit(images[:n_train], frames[:n_train], truth, sites.HAND_LANDMARKS, settings,
                                         progress=False)
    with Clock() as infer:
        detector.detect(images, frames, progress=False)
    n = len(images)
    return {"detector": f"frcnn ({arch})", "train_images": n_train,
            "train_s_per_epoch": fit.wall / epochs, "train_cpu_s_per_epoch": fit.cpu / epochs,
            "infer_hands_per_s": n / infer.wall, "infer_cpu_s_per_hand": infer.cpu / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="model input side in pixels")
    parser.add_argument("--images", type=int, default=22, help="hands (two are held out)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--net-type", default="cspnext_s")
    parser.add_argument("--arch", default="mobilenet_v3")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, points = blob_hands(args.images, args.size)
    rows = [bench_dlc(images, points, args.epochs, args.net_type, args.batch_size),
            bench_frcnn(images, points, args.epochs, args.arch, args.batch_size)]
    table = pd.DataFrame(rows).set_index("detector")
    print(f"{args.images} hands of {args.size} x {args.size} px, {args.epochs} epoch(s), batch {args.batch_size}, "
          f"{args.threads} torch thread(s)")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
