"""Training images/s of the GPU recipe's model (all 13 convs + head) on this machine's CPU.

Answers "can the CPU stand in for a GPU lease?": the rate times the pack's 18,504 training images
is one epoch. Needs PyTorch (`pip install torch`, the CPU build), not TensorFlow.

    python benchmarks/cpu_train_rate.py --batch 64 --precision bf16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "gpu"))
from finetune import VGG  # tools/gpu is not a package


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                    help="bf16: autocast (AMX or AVX512-BF16 where the CPU has them)")
    ap.add_argument("--steps", type=int, default=4, help="timed steps, after one warm-up step")
    ap.add_argument("--images", type=int, default=18504, help="training images per epoch")
    args = ap.parse_args()
    model = VGG().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    x = (torch.rand(args.batch, 3, 150, 150) * 255).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 29, (args.batch,))
    rates = []
    for step in range(args.steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=args.precision == "bf16"):
            out = model(x)
        loss = F.cross_entropy(out.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:  # the first step allocates and picks kernels
            rates.append(args.batch / (time.perf_counter() - t))
    best = max(rates)
    print(f"{args.precision} batch {args.batch}, {torch.get_num_threads()} threads: "
          f"{min(rates):.1f}-{best:.1f} training images/s; "
          f"{args.images} images = {args.images / best / 60:.0f} min an epoch at best")


if __name__ == "__main__":
    main()
