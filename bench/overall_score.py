"""Throughput of stage 5's networks: images per second, training and inference, per variant.

Each profile's networks run at that profile's input size (``quick``: the tiny family members at the
quick input size; ``paper``: the full networks at 1024 px), on random images, batch size of the
profile (paper 003: 4). Short runs: ``--warmup`` untimed steps, then ``--steps`` timed ones.

    .venv/bin/python bench/overall_score.py                       # quick and paper, every variant
    .venv/bin/python bench/overall_score.py --profiles quick --steps 5
    .venv/bin/python bench/overall_score.py --profiles paper --variants IRB DSC --device cuda --out bench.csv
    .venv/bin/python bench/overall_score.py --profiles paper --batch-size 1 --steps 1   # CPU: mind the memory
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from ra_lib.core.profiles import resolve
from ra_lib.core.training import select_device
from ra_lib.stages.overall_score import PROFILES
from ra_lib.stages.overall_score.models import VARIANTS, build_model, count_macs, count_parameters
from ra_lib.stages.overall_score.train import SmoothLoss, model_kwargs


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(model: torch.nn.Module, input_size: int, batch_size: int, steps: int, warmup: int,
                      device: torch.device, train: bool) -> float:
    """Timed SGD steps (``train``) or forward passes (inference) on random one-channel images."""
    model.to(device).train(train)
    x = torch.rand(batch_size, 1, input_size, input_size, device=device)
    y = torch.randn(batch_size, device=device)
    loss_fn = SmoothLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-3)

    def step() -> None:
        if train:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(x)

    for _ in range(warmup):
        step()
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronise(device)
    return batch_size * steps / (time.perf_counter() - start)


def benchmark(profiles: list[str], variants: list[str], steps: int, warmup: int, device: torch.device,
              batch_size: int | None = None) -> pd.DataFrame:
    """One row per (profile, variant): size, MACs, training and inference images per second."""
    rows = []
    for profile in profiles:
        settings = resolve(PROFILES, profile, batch_size=batch_size)
        for variant in variants:
            model = build_model(variant, **model_kwargs(variant, settings))
            row = {"profile": profile, "variant": variant, "input_size": settings.input_size,
                   "batch_size": settings.batch_size, "parameters": count_parameters(model),
                   "gmacs_per_image": count_macs(model, settings.input_size) / 1e9}
            row["train_img_per_s"] = images_per_second(model, settings.input_size, settings.batch_size, steps,
                                                       warmup, device, train=True)
            row["infer_img_per_s"] = images_per_second(model, settings.input_size, settings.batch_size, steps,
                                                       warmup, device, train=False)
            rows.append(row)
            print(f"{profile:>6} {variant:<16} {row['input_size']:>5} px  train {row['train_img_per_s']:8.2f} img/s  "
                  f"inference {row['infer_img_per_s']:8.2f} img/s", flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["quick", "paper"], choices=sorted(PROFILES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's (paper 003: 4)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=None, help="also write the table as CSV")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"device: {device}, torch threads: {torch.get_num_threads()}", flush=True)
    table = benchmark(args.profiles, args.variants, args.steps, args.warmup, device, args.batch_size)
    print("\n" + table.to_string(index=False, float_format="%.3g"))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
