#!/usr/bin/env python3
"""Descriptor network speed: Argus beside dlib and ONNX Runtime, same chips, one run.

Chips: 150x150 chips that dlib itself cuts (HOG detector + 5-point predictor +
get_face_chip) from photos in ../shared/faces. Each contender computes descriptors
for the same chips: dlib's compute_face_descriptor (a batch list; dlib-bin runs on one
core, without BLAS), ONNX Runtime on the same network exported from the same .dat by
shared/tools/onnx_anchor/export.py, and `argus bench embed` on the chip files.
Prints ms per chip and the ratios.

    python3 Benchmarks/anchors/embed.py [--chips 32] [--repeats 5]
"""
import argparse
import glob
import os
import tempfile

import numpy as np
from PIL import Image

from common import MODELS, SHARED, argus_json, chip_tensor, header, median_ms, ort_session


def make_chips(n, folder):
    import dlib
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(os.path.join(MODELS, "shape_predictor_5_face_landmarks.dat"))
    paths = []
    for path in sorted(glob.glob(os.path.join(SHARED, "faces", "images", "*", "*.jpg"))):
        img = np.array(Image.open(path).convert("RGB"))
        boxes = detector(img, 1)
        if len(boxes) != 1:
            continue
        chip = dlib.get_face_chip(img, predictor(img, boxes[0]), 150, 0.25)
        out = os.path.join(folder, f"chip{len(paths):03d}.png")
        Image.fromarray(chip).save(out)
        paths.append(out)
        if len(paths) == n:
            break
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chips", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-dlib", action="store_true")
    args = ap.parse_args()

    import dlib
    import onnxruntime as ort
    header(f"dlib {dlib.__version__}, onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_chips(args.chips, tmp)
        chips = [np.array(Image.open(p).convert("RGB")) for p in paths]
        batch = len(chips)
        rows = []

        facerec = dlib.face_recognition_model_v1(os.path.join(MODELS, "dlib_face_recognition_resnet_model_v1.dat"))
        dlib_ms = None
        if not args.skip_dlib:
            dlib_ms = median_ms(lambda: facerec.compute_face_descriptor(chips), max(1, args.repeats // 2)) / batch

        x = chip_tensor(chips)
        onnx_ms = {}
        for threads in (1, 2):
            sess = ort_session("resnet", threads)
            onnx_ms[(batch, threads)] = median_ms(lambda: sess.run(None, {"input": x}), args.repeats) / batch
            onnx_ms[(1, threads)] = median_ms(lambda: sess.run(None, {"input": x[:1]}), args.repeats * 4)

        argus_ms = {}
        for b in (batch, 1):
            for threads in (1, 2):
                r = argus_json("bench", "embed", "--batch", str(b), "--threads", str(threads), "--repeats", str(args.repeats),
                               "--chip", *paths)[0]
                argus_ms[(b, threads)] = r["ms_per_chip"]

        print(f"| batch | threads | Argus ms/chip | ONNX Runtime | dlib (1 core) | Argus/ORT | dlib/Argus |")
        print("|---|---|---|---|---|---|---|")
        for b in (batch, 1):
            for threads in (1, 2):
                a, o = argus_ms[(b, threads)], onnx_ms[(b, threads)]
                d = f"{dlib_ms:.1f}" if dlib_ms else "–"
                speedup = f"**{dlib_ms / a:.1f}×**" if dlib_ms else "–"
                print(f"| {b} | {threads} | {a:.2f} | {o:.2f} | {d} | **{a / o:.2f}** | {speedup} |", flush=True)


if __name__ == "__main__":
    main()
