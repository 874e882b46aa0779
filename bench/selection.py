"""Benchmark of the stage-1 selection CNN: FLOPs per image and CPU inference throughput.

    .venv/bin/python bench/selection.py                      # input sizes 64 and 252, 2 threads
    .venv/bin/python bench/selection.py --sizes 252 --threads 1 --batch 8

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2 FLOPs; it counts
convolutions and matrix products, not ReLU / pooling). Throughput is images per second of
``model.eval()`` forward passes on random inputs, after one warm-up batch, timed for at least
``--seconds`` seconds.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from ra_lib.stages.selection.model import SelectionCNN


def flops_per_image(model: torch.nn.Module, input_size: int) -> int:
    """Forward FLOPs of one image."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1, input_size, input_size))
    return int(counter.get_total_flops())


@torch.no_grad()
def images_per_second(model: torch.nn.Module, input_size: int, batch: int, seconds: float) -> float:
    """Forward throughput on CPU."""
    inputs = torch.rand(batch, 1, input_size, input_size)
    model(inputs)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model(inputs)
        done += batch
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 252], help="input sides")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for size in args.sizes:
        model = SelectionCNN(size).eval()
        flops = flops_per_image(model, size)
        rows.append({"input_size": size, "parameters": sum(p.numel() for p in model.parameters()),
                     "gflops_per_image": flops / 1e9, "threads": args.threads, "batch": args.batch,
                     "images_per_s": images_per_second(model, size, args.batch, args.seconds)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return table


if __name__ == "__main__":
    main()
