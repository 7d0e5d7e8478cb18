#!/usr/bin/env python3
"""Exact 1:N search: Argus beside numpy and FAISS IndexFlatIP, in one run on this machine.

Runs `argus bench search --json` (release build) for each size, then times numpy
(one sgemv/sgemm + argpartition) and FAISS IndexFlatIP on random L2-normalised
galleries of the same size and dimension, and prints Argus / anchor ratios
(below 1 means Argus is faster). Median of repeated runs, after a warm-up.

    python3 Benchmarks/anchors/search.py [--sizes 10000,100000,1000000] [--dims 128] [--big512]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

try:
    import faiss
except ImportError:  # pragma: no cover
    sys.exit("faiss-cpu is missing: pip install faiss-cpu")

from common import ARGUS, cpu_model, median_ms


def random_gallery(n, d, rng):
    g = np.empty((n, d), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        block = rng.uniform(-1, 1, size=(min(step, n - i), d)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        g[i:i + len(block)] = block
    return g


def numpy_search(g, q, k):
    scores = q @ g.T if q.ndim == 2 else g @ q
    if scores.ndim == 1:
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)


def argus_numbers(binary, n, d, batch, k, repeats):
    out = subprocess.run([binary, "bench", "search", "--sizes", str(n), "--dimension", str(d), "--batch-size", str(batch),
                          "--k", str(k), "--repeats", str(repeats), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dims", default="128")
    ap.add_argument("--big512", action="store_true", help="also N=1M at d=512")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--argus", default=ARGUS)
    args = ap.parse_args()
    if not os.path.exists(args.argus):
        sys.exit(f"{args.argus} not found: run `swift build -c release` first")

    cases = [(int(n), int(d)) for d in args.dims.split(",") for n in args.sizes.split(",")]
    if args.big512:
        cases.append((1_000_000, 512))
    print(f"# CPU: {cpu_model()}, {os.cpu_count()} cores; numpy {np.__version__}, faiss {faiss.__version__}; "
          f"k={args.k}, batch={args.batch}; median of {args.repeats} runs after warm-up")
    print("| N | d | Argus 1 query | numpy | FAISS | Argus/FAISS | Argus batched /query | numpy | FAISS | Argus/FAISS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(7)
    results = []
    for n, d in cases:
        a = argus_numbers(args.argus, n, d, args.batch, args.k, args.repeats)
        g = random_gallery(n, d, rng)
        q1 = random_gallery(1, d, rng)[0]
        qb = random_gallery(args.batch, d, rng)
        index = faiss.IndexFlatIP(d)
        index.add(g)
        np1 = median_ms(lambda: numpy_search(g, q1, args.k), args.repeats)
        npb = median_ms(lambda: numpy_search(g, qb, args.k), max(3, args.repeats // 3)) / args.batch
        f1 = median_ms(lambda: index.search(q1[None, :], args.k), args.repeats)
        fb = median_ms(lambda: index.search(qb, args.k), max(3, args.repeats // 3)) / args.batch
        row = dict(n=n, d=d, argus_single=a["ms_single"], numpy_single=np1, faiss_single=f1,
                   argus_batched=a["ms_per_query_batched"], numpy_batched=npb, faiss_batched=fb)
        results.append(row)
        print(f"| {n:,} | {d} | {row['argus_single']:.3f} ms | {np1:.3f} ms | {f1:.3f} ms | **{row['argus_single'] / f1:.2f}** "
              f"| {row['argus_batched']:.3f} ms | {npb:.3f} ms | {fb:.3f} ms | **{row['argus_batched'] / fb:.2f}** |", flush=True)
        del g, index
    print(json.dumps({"search": results}))


if __name__ == "__main__":
    main()
