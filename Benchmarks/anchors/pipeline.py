#!/usr/bin/env python3
"""Detector and photo -> template speed: Argus beside dlib, face_recognition and ONNX Runtime, one run.

1. The detector call on a 640x480 photo at upsample 0 (the golden 320x240 Obama enlarged):
   dlib's cnn_face_detection_model_v1; ONNX Runtime running the same network (exported by
   shared/tools/onnx_anchor) inside the numpy reference's pyramid + decoding + NMS
   (shared/tools/dlib_ref/mmod.py) - the "whole call"; and `argus bench detect`.
2. Photo -> template on the same photos of ../shared/faces: face_recognition with
   model="cnn" (face_locations, upsample 1, then face_encodings) against `argus bench pipeline`
   (which upsamples these 250x250 photos once as well).

    python3 Benchmarks/anchors/pipeline.py [--photos 12] [--repeats 5]
"""
import argparse
import glob
import os
import tempfile

from common import MODELS, SHARED, argus_json, header, median_ms, ort_detector, photo_640


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import dlib
    import face_recognition
    import onnxruntime as ort

    header(f"dlib {dlib.__version__}, onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        photo, img = photo_640(tmp)

        cnn = dlib.cnn_face_detection_model_v1(os.path.join(MODELS, "mmod_human_face_detector.dat"))
        dlib_ms = median_ms(lambda: cnn(img, 0), max(1, args.repeats // 2))

        det, sess = ort_detector(2)
        x = det.input_tensor(img)
        ort_net_ms = median_ms(lambda: sess.run(None, {"input": x}), args.repeats)
        ort_call_ms = median_ms(lambda: det(img, 0), args.repeats)
        argus_ms = argus_json("bench", "detect", photo, "--repeats", str(args.repeats))[0]["ms_per_call"]

        print("| detector, 640x480, upsample 0 | ms per call | Argus / it |")
        print("|---|---|---|")
        print(f"| Argus (whole call, 2 cores) | {argus_ms:.1f} | 1.00 |")
        print(f"| ONNX Runtime whole call (numpy pyramid + ORT network + NMS, 2 threads) | {ort_call_ms:.1f} | **{argus_ms / ort_call_ms:.2f}** |")
        print(f"| ONNX Runtime network only | {ort_net_ms:.1f} | {argus_ms / ort_net_ms:.2f} |")
        print(f"| dlib cnn_face_detection_model_v1 (1 core) | {dlib_ms:.0f} | {argus_ms / dlib_ms:.3f} |", flush=True)

        photos = sorted(glob.glob(os.path.join(SHARED, "faces", "images", "*", "0001.jpg")))[: args.photos]

        def fr_all():
            for p in photos:
                im = face_recognition.load_image_file(p)
                face_recognition.face_encodings(im, face_recognition.face_locations(im, model="cnn"))
        fr_ms = median_ms(fr_all, 1, warmup=0) / len(photos)
        a = argus_json("bench", "pipeline", *photos, "--repeats", "3")[0]["ms_per_photo"]
        print()
        print("| photo -> template (250x250, upsample 1) | ms per photo | speed-up of Argus |")
        print("|---|---|---|")
        print(f"| Argus | {a:.1f} | |")
        print(f"| face_recognition model=\"cnn\" | {fr_ms:.0f} | **{fr_ms / a:.1f}x** |")


if __name__ == "__main__":
    main()
