#!/usr/bin/env python3
"""dlib's own verification accuracy on a pairs file, the reference Argus is held to.

face_recognition 1.3.0 with its CNN detector (model="cnn", upsample 1, its default), the
5-point predictor and dlib's descriptor; a pair matches when the Euclidean distance of the
first face's descriptors is <= 0.6 (face_recognition's tolerance). A photo without a face
makes its pairs non-matches. Also reports the best threshold by 10-fold cross-validation and
writes the summary to --out (JSON), so Argus's numbers can be set beside them.

    pip install dlib-bin face_recognition_models pillow numpy; pip install --no-deps face_recognition
    python3 Benchmarks/anchors/accuracy.py [--pairs ../shared/faces/pairs.tsv] [--out fixtures/reference/pairs_dlib.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from common import ROOT, SHARED


def best_threshold_cv(scores, labels, folds=10, higher_is_same=True):
    scores, labels = np.asarray(scores), np.asarray(labels)
    idx = np.arange(len(scores))
    accs, ths = [], []
    for f in range(folds):
        train, test = idx % folds != f, idx % folds == f
        cands = np.unique(scores[train])
        best_t, best_a = None, -1
        for t in cands:
            pred = scores[train] >= t if higher_is_same else scores[train] <= t
            a = np.mean(pred == labels[train])
            if a > best_a:
                best_a, best_t = a, t
        pred = scores[test] >= best_t if higher_is_same else scores[test] <= best_t
        accs.append(np.mean(pred == labels[test]))
        ths.append(best_t)
    return float(np.mean(accs)), float(np.mean(ths))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=os.path.join(SHARED, "faces", "pairs.tsv"))
    ap.add_argument("--root", default=os.path.join(SHARED, "faces"))
    ap.add_argument("--upsample", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "fixtures", "reference", "pairs_dlib.json"))
    args = ap.parse_args()
    import face_recognition

    pairs = [line.rstrip("\n").split("\t") for line in open(args.pairs) if line.strip()]
    photos = sorted({p for a, b, *_ in pairs for p in (a, b)})
    enc = {}
    t0 = time.time()
    for i, p in enumerate(photos):
        img = face_recognition.load_image_file(os.path.join(args.root, p))
        locs = face_recognition.face_locations(img, number_of_times_to_upsample=args.upsample, model="cnn")
        e = face_recognition.face_encodings(img, locs)
        enc[p] = e[0].tolist() if e else None
        if i % 50 == 0:
            print(f"{i}/{len(photos)} photos, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    dists, labels = [], []
    for a, b, same, *_ in pairs:
        if enc[a] is None or enc[b] is None:
            d = 10.0
        else:
            d = float(np.linalg.norm(np.array(enc[a]) - np.array(enc[b])))
        dists.append(d)
        labels.append(same == "1")
    dists, labels = np.array(dists), np.array(labels)
    acc = float(np.mean((dists <= 0.6) == labels))
    cv_acc, cv_t = best_threshold_cv(dists, labels, higher_is_same=False)
    result = dict(pairs=len(pairs), photos=len(photos), no_face=sum(v is None for v in enc.values()),
                  accuracy_at_0_6=acc, best_accuracy_cv10=cv_acc, best_threshold_cv10=cv_t,
                  detector=f"face_recognition cnn, upsample {args.upsample}", seconds=round(time.time() - t0))
    print(json.dumps(result))
    result["photos_without_face"] = sorted(k for k, v in enc.items() if v is None)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
