"""Helpers shared by the anchor scripts: paths, machine description, timing, ONNX export."""
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("ARGUS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
MODELS = os.environ.get("ARGUS_MODELS", os.path.join(ROOT, "models"))
ARGUS = os.environ.get("ARGUS_BIN", os.path.join(ROOT, ".build", "release", "argus"))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def header(extra=""):
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} CPU: {cpu_model()}, {os.cpu_count()} cores {extra}".rstrip(), flush=True)


def median_ms(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def argus_json(*args):
    if not os.path.exists(ARGUS):
        sys.exit(f"{ARGUS} not found: run `swift build -c release` first")
    out = subprocess.run([ARGUS, *args, "--json"], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def onnx_models():
    """Exports dlib's networks to ONNX with shared/tools/onnx_anchor (cached), returns the folder."""
    out = os.environ.get("ONNX_ANCHOR_DIR", os.path.join(os.path.expanduser("~"), ".cache", "argus", "onnx"))
    if not (os.path.exists(os.path.join(out, "resnet.onnx")) and os.path.exists(os.path.join(out, "mmod.onnx"))):
        env = dict(os.environ, DLIB_MODELS_DIR=MODELS)
        subprocess.run([sys.executable, os.path.join(SHARED, "tools", "onnx_anchor", "export.py"), "--out", out,
                        "--residual", "pad"], check=True, env=env, cwd=os.path.join(SHARED, "tools"))
    return out


CHIP_MEAN = (122.782, 117.001, 104.298)


def chip_tensor(chips):
    """150x150 RGB chips as the ResNet's NCHW input: (pixel - mean) / 256, as dlib and Argus do."""
    import numpy as np
    mean = np.array(CHIP_MEAN, np.float32)
    return np.ascontiguousarray(((np.stack(chips).astype(np.float32) - mean) / np.float32(256)).transpose(0, 3, 1, 2))


def ort_session(name, threads):
    """An ONNX Runtime CPU session on an exported network ("resnet" or "mmod") with `threads` intra-op threads."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(os.path.join(onnx_models(), f"{name}.onnx"), so, providers=["CPUExecutionProvider"])


def photo_640(folder):
    """The golden 320x240 photo enlarged to 640x480 (the detector benchmarks' input): its path and pixels."""
    import numpy as np
    from PIL import Image
    src = Image.open(os.path.join(SHARED, "tools", "dlib_ref", "golden", "obama_320x240.png")).convert("RGB")
    path = os.path.join(folder, "obama_640x480.png")
    src.resize((640, 480), Image.BILINEAR).save(path)
    return path, np.array(Image.open(path).convert("RGB"))


def ort_detector(threads=2):
    """The numpy reference detector (shared/tools/dlib_ref/mmod.py: pyramid, decoding, NMS) with ONNX
    Runtime running its network, and that session: (detector, session)."""
    sys.path.insert(0, os.path.join(SHARED, "tools"))
    from dlib_ref import mmod
    sess = ort_session("mmod", threads)
    det = mmod.MMODDetector(os.path.join(MODELS, "mmod_human_face_detector.dat"))

    def ort_score_map(image):
        x, rects = mmod.build_input_tensor(image, det.avg, det.padding, det.outer_padding)
        return sess.run(None, {"input": x})[0][0, 0], rects, x.shape
    det.score_map = ort_score_map
    det.input_tensor = lambda image: mmod.build_input_tensor(image, det.avg, det.padding, det.outer_padding)[0]
    return det, sess
