#!/usr/bin/env python3
"""Both networks, Argus's convolution kernels beside ONNX Runtime's, in one run.

This machine's speed drifts 10-30% for seconds at a time, so the contenders take turns: each
round runs every Argus and every ONNX Runtime measurement once (a median of --repeats calls),
and each figure reported is the minimum over --rounds rounds. Ratios are Argus / ORT (below 1:
Argus faster).

- ResNet descriptor network (dlib_face_recognition_resnet_model_v1), batch 32 and batch 1, on 1
  and 2 threads: `argus bench embed --batch B --threads T --json` against an ORT session with
  intra_op_num_threads = T on the same chips (cut by dlib) and the same normalisation.
- MMOD detector on a 640x480 photo at upsample 0, 2 threads: `argus bench detect IMG --json`
  (whole call: pyramid, network, decoding, NMS; and `network_ms`, the network alone on the same
  pyramid tensor) against ORT on the same network, alone and inside the numpy reference's pyramid
  + decoding + NMS (shared/tools/dlib_ref/mmod.py), the "whole call".

    python3 Benchmarks/anchors/kernels.py [--rounds 5] [--repeats 5] [--chips 32]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image

from common import argus_json, chip_tensor, header, median_ms, ort_detector, ort_session, photo_640
from embed import make_chips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chips", type=int, default=32)
    args = ap.parse_args()

    import onnxruntime as ort

    kernels = os.environ.get("ARGUS_KERNELS", "best for this CPU")
    header(f"onnxruntime {ort.__version__}, Argus kernels: {kernels}")
    best = {}

    def keep(key, ms):
        best[key] = min(best.get(key, float("inf")), ms)

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_chips(args.chips, tmp)
        chips = [np.array(Image.open(p).convert("RGB")) for p in paths]
        batch = len(chips)
        x = chip_tensor(chips)
        sessions = {threads: ort_session("resnet", threads) for threads in (1, 2)}
        photo, img = photo_640(tmp)
        det, det_sess = ort_detector(2)
        tensor = det.input_tensor(img)

        for r in range(args.rounds):
            for b in (batch, 1):
                for threads in (1, 2):
                    sess = sessions[threads]
                    xb = x if b == batch else x[:1]
                    reps = args.repeats if b == batch else args.repeats * 4
                    keep(("ort", b, threads), median_ms(lambda: sess.run(None, {"input": xb}), reps) / b)
                    res = argus_json("bench", "embed", "--batch", str(b), "--threads", str(threads), "--repeats", str(reps),
                                     "--chip", *paths)[0]
                    keep(("argus", b, threads), res["ms_per_chip"])
            keep(("ort", "net"), median_ms(lambda: det_sess.run(None, {"input": tensor}), args.repeats))
            keep(("ort", "call"), median_ms(lambda: det(img, 0), args.repeats))
            res = argus_json("bench", "detect", photo, "--repeats", str(args.repeats))[0]
            keep(("argus", "call"), res["ms_per_call"])
            keep(("argus", "net"), res["network_ms"])
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    print(f"minimum over {args.rounds} alternating rounds, each a median of {args.repeats}+ calls")
    print()
    print("| ResNet | threads | Argus ms/chip | ONNX Runtime ms/chip | Argus / ORT |")
    print("|---|---|---|---|---|")
    for b in (batch, 1):
        for threads in (1, 2):
            a, o = best[("argus", b, threads)], best[("ort", b, threads)]
            print(f"| batch {b} | {threads} | {a:.2f} | {o:.2f} | **{a / o:.2f}** |")
    print()
    print("| MMOD detector, 640x480, upsample 0, 2 threads | Argus ms | ONNX Runtime ms | Argus / ORT |")
    print("|---|---|---|---|")
    an, on, ac, oc = best[("argus", "net")], best[("ort", "net")], best[("argus", "call")], best[("ort", "call")]
    print(f"| network alone | {an:.1f} | {on:.1f} | **{an / on:.2f}** |")
    print(f"| whole call (ORT: numpy pyramid + network + NMS) | {ac:.1f} | {oc:.1f} | **{ac / oc:.2f}** |", flush=True)


if __name__ == "__main__":
    main()
