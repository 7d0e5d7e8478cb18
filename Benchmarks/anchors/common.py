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
