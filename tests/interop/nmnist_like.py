"""Writes MNIST digits as event recordings in N-MNIST's exact layout and byte format
(Orchard et al. 2015): `<out>/Train/<digit>/<id>.bin` and `<out>/Test/<digit>/<id>.bin`,
5 bytes per event (x, y, polarity in bit 7 of byte 3 and a 23-bit big-endian microsecond
timestamp across bytes 3-5). A stand-in of N-MNIST's size for benchmarks, written by code
independent of spikeburn's reader.

Like the recordings (a camera on a pan-tilt unit making three saccades in front of the image),
the 28 x 28 digit, centred on the 34 x 34 sensor, moves along a triangle: 3 saccades of about
100 ms, each in steps of 1 pixel; a pixel whose brightness rises by more than a threshold
emits an ON event, one that falls emits an OFF event, at times spread over the step.

    python nmnist_like.py MNIST_DIR OUT [--train N] [--test N] [--seed S]
"""

import argparse
import gzip
import os

import numpy as np


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


# The triangle of the three saccades, in pixels per step (dx, dy), 4 steps of 25 ms each.
PATH = [(1, 1)] * 4 + [(1, -1)] * 4 + [(-2, 0)] * 4
STEP_US = 25_000


def events(image, rng):
    canvas = np.zeros((34, 34), dtype=np.float32)
    canvas[3:31, 3:31] = image / 255.0
    x0 = y0 = 0
    out = []
    prev = canvas
    for k, (dx, dy) in enumerate(PATH):
        x0 += dx
        y0 += dy
        cur = np.roll(np.roll(canvas, y0, axis=0), x0, axis=1)
        diff = cur - prev
        for polarity, mask in ((1, diff > 0.1), (0, diff < -0.1)):
            ys, xs = np.nonzero(mask)
            ts = k * STEP_US + rng.integers(0, STEP_US, size=xs.size)
            out.append(np.stack([ts, xs, ys, np.full(xs.size, polarity)], axis=1))
        prev = cur
    ev = np.concatenate(out)
    return ev[np.argsort(ev[:, 0], kind="stable")]


def encode(ev):
    t, x, y, p = ev[:, 0], ev[:, 1], ev[:, 2], ev[:, 3]
    b = np.empty((ev.shape[0], 5), dtype=np.uint8)
    b[:, 0] = x
    b[:, 1] = y
    b[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    b[:, 3] = (t >> 8) & 0xFF
    b[:, 4] = t & 0xFF
    return b.tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist")
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    for split, stem, n in (("Train", "train", a.train), ("Test", "t10k", a.test)):
        images = idx(os.path.join(a.mnist, f"{stem}-images-idx3-ubyte.gz"))[:n]
        labels = idx(os.path.join(a.mnist, f"{stem}-labels-idx1-ubyte.gz"))[:n]
        for d in range(10):
            os.makedirs(os.path.join(a.out, split, str(d)), exist_ok=True)
        for i, (img, lab) in enumerate(zip(images, labels)):
            with open(os.path.join(a.out, split, str(lab), f"{i:05d}.bin"), "wb") as f:
                f.write(encode(events(img.astype(np.float32), rng)))


if __name__ == "__main__":
    main()
