#!/usr/bin/env python3
"""Batch enrolment throughput: `argus enroll` against face_recognition's encode loop, same photos, one run.

The photos are the first --limit photos of ../shared/faces/images in `argus enroll`'s order
(subject folders, then file names; default: all 1,369). face_recognition runs its usual loop:
load_image_file, face_locations(model="cnn") (upsample 1), face_encodings; a photo "enrols" when
exactly one face is found (no_face / multiple_faces otherwise), Argus's default policy. Prints
photos per second, the speed-up, and how many photos got the same outcome.

    python3 Benchmarks/anchors/enroll.py [--limit 60]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

from common import ARGUS, SHARED, header


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    import face_recognition
    root = os.path.join(SHARED, "faces", "images")
    photos = [os.path.join(s, f) for s in sorted(os.listdir(root)) for f in sorted(os.listdir(os.path.join(root, s)))]
    if args.limit:
        photos = photos[: args.limit]
    header(f"{len(photos)} photos")
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "archive")
        for p in photos:
            os.makedirs(os.path.join(archive, os.path.dirname(p)), exist_ok=True)
            os.symlink(os.path.join(root, p), os.path.join(archive, p))
        t0 = time.perf_counter()
        subprocess.run([ARGUS, "enroll", archive, "--data-dir", os.path.join(tmp, "data"), "--report", os.path.join(tmp, "r.jsonl"),
                        "--quiet"], check=True, capture_output=True)
        argus_s = time.perf_counter() - t0
        argus = {os.path.relpath(json.loads(l)["path"], archive): json.loads(l)["outcome"] for l in open(os.path.join(tmp, "r.jsonl"))}

        t0 = time.perf_counter()
        theirs = {}
        for p in photos:
            img = face_recognition.load_image_file(os.path.join(root, p))
            enc = face_recognition.face_encodings(img, face_recognition.face_locations(img, model="cnn"))
            theirs[p] = "enrolled" if len(enc) == 1 else ("no_face" if not enc else "multiple_faces")
        fr_s = time.perf_counter() - t0
    same = sum(1 for p in photos if argus.get(p) == theirs[p])
    print("| tool | photos/s | time |")
    print("|---|---|---|")
    print(f"| argus enroll (2 cores, includes model loading) | {len(photos) / argus_s:.2f} | {argus_s:.1f} s |")
    print(f"| face_recognition cnn loop | {len(photos) / fr_s:.2f} | {fr_s:.1f} s |")
    print(f"speed-up **{fr_s / argus_s:.1f}x**; same outcome for {same}/{len(photos)} photos ({100 * same / len(photos):.1f}%)")
    diff = [(p, argus.get(p), theirs[p]) for p in photos if argus.get(p) != theirs[p]]
    for d in diff[:10]:
        print("  differs:", d)


if __name__ == "__main__":
    main()
