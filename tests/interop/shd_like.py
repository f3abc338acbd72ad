"""Writes a file in the exact format of the Spiking Heidelberg Digits (Cramer et al. 2020),
with h5py: `spikes/times` (variable-length float16, seconds), `spikes/units` (variable-length
uint16), `labels` (uint16), `extra/speaker` — an independent writer for spikeburn's reader
tests and a stand-in of SHD's size for benchmarks.

Each class is a random template: a set of channels, each firing at a class-specific time;
a sample jitters those times, drops some spikes and adds background spikes, so a network
must read spike times across channels to tell classes apart.

    python shd_like.py OUT.h5 [--samples N] [--classes C] [--channels 700] [--seed S]
                              [--template-seed S] [--active K] [--spikes-per-unit M]
                              [--gzip] [--dump] [--hostile KIND]

Of SHD's size: --samples 8156 (train) / 2264 (test) --active 700 --spikes-per-unit 12
(about 8,000 spikes per sample), the same --template-seed for both.

--dump prints the written samples as JSON (times as the float16 values stored, in seconds).
--hostile writes one inconsistency: length (times and units of sample 1 differ), label
(label 1 = classes), unit (a unit = channels), nan (a time NaN), count (labels one short).
"""

import argparse
import gzip
import json
import shutil

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--channels", type=int, default=700)
    ap.add_argument("--active", type=int, default=60, help="channels of a class template")
    ap.add_argument("--duration", type=float, default=0.9, help="seconds")
    ap.add_argument("--spikes-per-unit", type=int, default=1, help="template spikes per active channel")
    ap.add_argument("--seed", type=int, default=0, help="seed of the samples")
    ap.add_argument("--template-seed", type=int, default=0, help="seed of the class templates (keep it for train and test)")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--userblock", type=int, default=0, help="bytes before the HDF5 data (0, or a power of two >= 512)")
    ap.add_argument("--dump", action="store_true")
    ap.add_argument("--hostile", default="")
    a = ap.parse_args()
    trng = np.random.default_rng(a.template_seed)
    templates = []
    for _ in range(a.classes):
        units = np.repeat(trng.choice(a.channels, size=a.active, replace=False), a.spikes_per_unit)
        times = trng.uniform(0.05, a.duration - 0.05, size=units.size)
        templates.append((units, times))
    rng = np.random.default_rng(a.seed)

    all_times, all_units, labels = [], [], []
    for i in range(a.samples):
        label = int(rng.integers(a.classes)) if i >= a.classes else i % a.classes
        units, times = templates[label]
        keep = rng.random(units.size) > 0.1
        t = times[keep] + rng.normal(0.0, 0.01, size=keep.sum())
        u = units[keep]
        n_noise = int(rng.integers(5, 30))
        t = np.concatenate([t, rng.uniform(0.0, a.duration, size=n_noise)])
        u = np.concatenate([u, rng.integers(0, a.channels, size=n_noise)])
        t = np.clip(t, 0.0, a.duration)
        order = np.argsort(t, kind="stable")
        all_times.append(t[order].astype(np.float16))
        all_units.append(u[order].astype(np.uint16))
        labels.append(label)

    if a.hostile == "length":
        all_units[1] = all_units[1][:-1]
    elif a.hostile == "label":
        labels[1] = a.classes
    elif a.hostile == "unit":
        all_units[1][0] = a.channels
    elif a.hostile == "nan":
        all_times[1][0] = np.float16("nan")

    path = a.out[:-3] if a.gzip and a.out.endswith(".gz") else a.out
    with h5py.File(path, "w", userblock_size=a.userblock) as f:
        spikes = f.create_group("spikes")
        t_ds = spikes.create_dataset("times", (len(all_times),), dtype=h5py.vlen_dtype(np.float16))
        u_ds = spikes.create_dataset("units", (len(all_units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(all_times, all_units)):
            t_ds[i] = t
            u_ds[i] = u
        lab = labels[:-1] if a.hostile == "count" else labels
        f.create_dataset("labels", data=np.array(lab, dtype=np.uint16))
        extra = f.create_group("extra")
        extra.create_dataset("speaker", data=np.zeros(len(lab), dtype=np.uint16))
    if a.gzip:
        with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)

    if a.dump:
        print(json.dumps({
            "labels": labels,
            "times": [[None if x != x else float(x) for x in t] for t in all_times],
            "units": [[int(x) for x in u] for u in all_units],
        }))


if __name__ == "__main__":
    main()
