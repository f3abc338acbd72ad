#!/usr/bin/env python3
"""snnTorch reference benchmark: the "tutorial 5" spiking MLP on MNIST.

Trains exactly the network that spikeburn's Rust benchmark trains, so both can
be timed side by side:

    Linear(784, 1000) -> Leaky(beta=0.95) -> Linear(1000, 10) -> Leaky(beta=0.95)

* Leaky: threshold 1.0, reset by subtraction, ATan surrogate (alpha = 2), i.e.
  snnTorch's defaults, passed explicitly below.
* 25 time steps; the static image is injected as input current at every step.
* loss = sum over time steps of CrossEntropy(mem2[t], y) (mean over the batch).
* Adam, lr 5e-4, betas (0.9, 0.999); batch 128, shuffled, drop_last for train.
* Test accuracy: class with the largest summed output spike count
  (``spk_rec.sum(0).argmax(1)``), as tutorial 5 does, over all 10,000 test
  images (tutorial 5 drops the last partial test batch; we do not).

``--first-layer-once`` computes fc1(x) once per batch and reuses it at every
time step. The input is the same at every step, so this is mathematically
identical (gradients of fc1 sum over steps either way), only faster.

MNIST is read straight from the IDX gzip files (gzip + numpy, no torchvision).

Run via the venv made by setup_venv.sh, e.g.:
    ~/.cache/spikeburn/venv/bin/python benches/reference/snntorch_mnist.py --max-steps 60 --json
"""

import argparse
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "datasets" / "mnist"

WARMUP_STEPS = 3  # excluded from the mean step time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="folder with the four MNIST IDX .gz files (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--num-steps", type=int, default=25, help="SNN time steps per sample")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2,
                   help="torch intra-op and inter-op threads (default: %(default)s)")
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="use only the first N training images")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop training after N optimizer steps (for timing runs)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--first-layer-once", action="store_true",
                   help="compute fc1(x) once per batch and reuse it at every time step")
    p.add_argument("--log-every", type=int, default=50, metavar="N",
                   help="progress line every N training steps (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one final JSON line")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "num_steps", "threads", "log_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.limit_train is not None and args.limit_train < 1:
        p.error("--limit-train must be >= 1")
    if args.max_steps is not None and args.max_steps < 1:
        p.error("--max-steps must be >= 1")
    return args


# Threads must be configured before torch does any parallel work, so parse the
# arguments and set them before importing anything heavy.
ARGS = parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import snntorch as snn  # noqa: E402
from snntorch import surrogate  # noqa: E402


# --------------------------------------------------------------------------
# MNIST from IDX gzip files
# --------------------------------------------------------------------------

def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: bad IDX magic {magic:#x}, expected {expected_magic:#x}")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    expected = int(np.prod(dims))
    if arr.size != expected:
        raise ValueError(f"{path}: {arr.size} bytes of data, header says {expected}")
    return arr.reshape(dims)


def load_mnist(data_dir: Path, split: str):
    """Returns (images float32 [N, 784] in [0, 1], labels int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz", 0x00000803)
    labels = _read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz", 0x00000801)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    # Plain x / 255 scaling, NO mean/std normalisation: tutorial 5 normalises
    # with (0,), (1,) i.e. a no-op, and spikeburn's Rust side also uses x / 255.
    x = images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
    y = labels.astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


# --------------------------------------------------------------------------
# Network (snnTorch tutorial 5)
# --------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, num_inputs=784, num_hidden=1000, num_outputs=10,
                 beta=0.95, num_steps=25, first_layer_once=False):
        super().__init__()
        self.num_steps = num_steps
        self.first_layer_once = first_layer_once
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="subtract",
                              spike_grad=surrogate.atan(alpha=2.0))
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="subtract",
                              spike_grad=surrogate.atan(alpha=2.0))

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec = []
        mem2_rec = []
        cur1_once = self.fc1(x) if self.first_layer_once else None
        for _ in range(self.num_steps):
            cur1 = cur1_once if self.first_layer_once else self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


# --------------------------------------------------------------------------
# Training / evaluation
# --------------------------------------------------------------------------

def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


@torch.no_grad()
def evaluate(net, x, y, batch_size):
    net.eval()
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        yb = y[start:start + batch_size]
        spk_rec, _ = net(xb)
        pred = spk_rec.sum(0).argmax(1)
        correct += int((pred == yb).sum())
    net.train()
    return correct / x.shape[0]


def main(args):
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError as e:  # already set or parallel work already started
        print(f"warning: could not set interop threads: {e}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    t0 = time.perf_counter()
    x_train, y_train = load_mnist(args.data_dir, "train")
    x_test, y_test = load_mnist(args.data_dir, "test")
    if args.limit_train is not None:
        x_train, y_train = x_train[:args.limit_train], y_train[:args.limit_train]
    load_s = time.perf_counter() - t0

    n_train = x_train.shape[0]
    steps_per_epoch = n_train // args.batch_size  # drop_last=True
    if steps_per_epoch == 0:
        sys.exit(f"error: {n_train} training images is fewer than one batch of {args.batch_size}")

    print(f"snntorch {snn.__version__} | torch {torch.__version__} | numpy {np.__version__} | "
          f"threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})")
    print(f"train {n_train} / test {x_test.shape[0]} images loaded in {load_s:.2f}s from {args.data_dir}")
    print(f"batch {args.batch_size}, {steps_per_epoch} steps/epoch, {args.num_steps} time steps, "
          f"lr {args.lr}, epochs {args.epochs}, max_steps {args.max_steps}, "
          f"first_layer_once {args.first_layer_once}, seed {args.seed}")

    net = Net(num_steps=args.num_steps, first_layer_once=args.first_layer_once)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(args.seed)

    step_times = []  # seconds, one per optimizer step (all epochs)
    epoch_times = []  # seconds of training loop, one per epoch run
    losses = []
    global_step = 0
    done = False
    epoch_complete = False
    for epoch in range(args.epochs):
        perm = torch.randperm(n_train, generator=gen)  # shuffle=True
        epoch_start = time.perf_counter()
        steps_this_epoch = 0
        for i in range(steps_per_epoch):
            t_step = time.perf_counter()
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            data, targets = x_train[idx], y_train[idx]

            spk_rec, mem_rec = net(data)
            loss_val = torch.zeros((1,), dtype=torch.float32)
            for step in range(args.num_steps):
                loss_val += loss_fn(mem_rec[step], targets)

            optimizer.zero_grad()
            loss_val.backward()
            optimizer.step()
            loss_item = loss_val.item()
            step_times.append(time.perf_counter() - t_step)
            losses.append(loss_item)
            global_step += 1
            steps_this_epoch += 1

            if global_step == 1 or global_step % args.log_every == 0:
                acc = (spk_rec.sum(0).argmax(1) == targets).float().mean().item()
                timed = step_times[WARMUP_STEPS:]
                ms = 1000 * (sum(timed) / len(timed)) if timed else 1000 * step_times[-1]
                print(f"epoch {epoch} step {global_step} ({i + 1}/{steps_per_epoch}) "
                      f"loss {loss_item:.4f} batch_acc {acc:.3f} step_ms {ms:.1f}", flush=True)

            if args.max_steps is not None and global_step >= args.max_steps:
                done = True
                break
        epoch_complete = steps_this_epoch == steps_per_epoch
        epoch_times.append(time.perf_counter() - epoch_start)
        if done:
            break

    # Mean step time excludes the first WARMUP_STEPS steps (when there are more).
    excluded = WARMUP_STEPS if len(step_times) > WARMUP_STEPS else 0
    timed = step_times[excluded:]
    step_s = sum(timed) / len(timed)
    epoch_s = sum(epoch_times) / len(epoch_times)

    t_eval = time.perf_counter()
    test_acc = evaluate(net, x_test, y_test, args.batch_size)
    eval_s = time.perf_counter() - t_eval
    rss = peak_rss_mb()

    print(f"trained {global_step} steps; loss first {losses[0]:.4f} last {losses[-1]:.4f}")
    print(f"step_ms {1000 * step_s:.2f} (mean over {len(timed)} steps, first {excluded} excluded)")
    print(f"epoch_s {epoch_s:.2f} ({'full epoch' if epoch_complete else 'partial epoch, stopped by --max-steps'}; "
          f"projected full epoch {step_s * steps_per_epoch:.1f}s)")
    print(f"test_acc {100 * test_acc:.2f}% on {x_test.shape[0]} images (eval {eval_s:.1f}s)")
    print(f"peak_rss_mb {rss:.1f}")

    if args.json:
        print(json.dumps({
            "framework": "snntorch",
            "step_ms": round(1000 * step_s, 3),
            "epoch_s": round(epoch_s, 3),
            "test_acc": round(test_acc, 4),
            "peak_rss_mb": round(rss, 1),
            "threads": torch.get_num_threads(),
            "first_layer_once": args.first_layer_once,
            # extras (not needed for the comparison, but handy):
            "steps": global_step,
            "steps_per_epoch": steps_per_epoch,
            "epoch_complete": epoch_complete,
            "projected_epoch_s": round(step_s * steps_per_epoch, 3),
            "batch_size": args.batch_size,
            "num_steps": args.num_steps,
            "final_loss": round(losses[-1], 4),
            "torch": torch.__version__,
            "snntorch": snn.__version__,
        }), flush=True)


if __name__ == "__main__":
    main(ARGS)
