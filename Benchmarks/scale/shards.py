#!/usr/bin/env python3
"""Scatter-gather over shards equals one gallery: the simulation behind docs/scale.md.

Splits labelled photos (../shared/faces) by subject over S shards (a stable hash of the subject, as
the shard map would), enrols each shard into a store of its own and all photos into one reference
store (`argus enroll --manifest`), starts S + 1 `argus serve` processes on loopback, then for every
probe photo:

* scatter: POST /v1/identify (top_k K) to every shard at once;
* gather: merge the shards' candidates by score (ties: the smaller subject), keep K;
* compare with the reference node's top K, by external id and score (|Δ| ≤ 1e-6).

It also checks what an answer says with one shard down (the merge of the others, marked partial).
Prints one JSON summary line; exit status 1 when any merged top K differs from the reference.

   python3 Benchmarks/scale/shards.py [--shards 3] [--photos 400] [--probes 60] [--top-k 10]
"""
import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("ARGUS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
BIN = os.environ.get("ARGUS_BIN", os.path.join(ROOT, ".build", "release", "argus"))
MODELS = os.environ.get("ARGUS_MODELS", os.path.join(ROOT, "models"))


def shard_of(subject, shards):
    """A stable placement: the same subject lands on the same shard in every run and on every node."""
    return int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big") % shards


def call(port, method, path, key, body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, (json.loads(payload) if payload else None)


class Node:
    def __init__(self, name, workdir, port, manifest):
        self.name, self.port = name, port
        self.data = os.path.join(workdir, name)
        subprocess.run([BIN, "enroll", "--manifest", manifest, "--data-dir", self.data, "--models", MODELS, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        made = subprocess.run([BIN, "keys", "create", "--data-dir", self.data, "--mode", "test", "--json"],
                              check=True, capture_output=True, text=True)
        self.key = json.loads(made.stdout)["key"]
        self.process = None
        self.external = {}

    def start(self):
        self.process = subprocess.Popen([BIN, "serve", "--data-dir", self.data, "--port", str(self.port), "--models", MODELS],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def identify(self, image, k):
        status, body = call(self.port, "POST", "/v1/identify", self.key, {"image": image, "top_k": k})
        if status != 200:
            raise RuntimeError(f"{self.name}: identify answered {status}: {body}")
        out = []
        for c in body["candidates"]:
            sid = c["subject_id"]
            if sid not in self.external:
                status, subject = call(self.port, "GET", f"/v1/subjects/{sid}", self.key)
                if status != 200:
                    raise RuntimeError(f"{self.name}: subject {sid} answered {status}")
                self.external[sid] = subject["external_id"]
            out.append((c["score"], self.external[sid]))
        return out, body["gallery_size"]


def merge(answers, k):
    """Per-shard top K → global top K. Each shard's list is its exact top K, and a subject lives on
    one shard only, so the global top K is among their union."""
    union = [c for answer in answers for c in answer]
    union.sort(key=lambda c: (-c[0], c[1]))
    return union[:k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--photos", type=int, default=400)
    ap.add_argument("--probes", type=int, default=60)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--port", type=int, default=18300)
    args = ap.parse_args()

    manifest = os.path.join(SHARED, "faces", "manifest.tsv")
    if not os.path.exists(manifest):
        print(f"shards.py: skipped: {manifest} is missing (../shared/faces holds the labelled photos)")
        return 0
    with open(manifest) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    rows = [(os.path.join(SHARED, "faces", r[0]), r[1]) for r in rows if len(r) >= 2]
    enrolled, probes = rows[:args.photos], rows[args.photos:args.photos + args.probes]

    workdir = tempfile.mkdtemp(prefix="argus-shards-")
    nodes = []
    try:
        manifests = {}
        for name, members in [("reference", enrolled)] + [
                (f"shard{s}", [r for r in enrolled if shard_of(r[1], args.shards) == s]) for s in range(args.shards)]:
            path = os.path.join(workdir, f"{name}.csv")
            with open(path, "w") as f:
                for photo, subject in members:
                    f.write(f"{photo},{subject}\n")
            manifests[name] = path
        for i, name in enumerate(manifests):
            nodes.append(Node(name, workdir, args.port + i, manifests[name]))
        for node in nodes:
            node.start()
        reference, shards = nodes[0], nodes[1:]

        equal, compared, partial_ok = 0, 0, 0
        scatter_ms, single_ms = [], []
        mismatches = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.shards) as pool:
            for photo, identity in probes:
                with open(photo, "rb") as f:
                    image = base64.b64encode(f.read()).decode()
                try:
                    t = time.perf_counter()
                    expected, ref_size = reference.identify(image, args.top_k)
                    single_ms.append((time.perf_counter() - t) * 1000)
                except RuntimeError as e:
                    if "422" in str(e):  # no face in this probe: not a search
                        continue
                    raise
                t = time.perf_counter()
                answers = list(pool.map(lambda n: n.identify(image, args.top_k), shards))
                scatter_ms.append((time.perf_counter() - t) * 1000)
                merged = merge([a for a, _ in answers], args.top_k)
                sizes = sum(s for _, s in answers)
                compared += 1
                same = sizes == ref_size and len(merged) == len(expected) and all(
                    m[1] == e[1] and abs(m[0] - e[0]) <= 1e-6 for m, e in zip(merged, expected))
                if same:
                    equal += 1
                else:
                    mismatches.append({"probe": os.path.relpath(photo, SHARED), "merged": merged, "reference": expected})
                # One shard down: the others' merge is exactly the reference's top K without that shard's subjects.
                down = compared % args.shards
                rest = merge([a for i, (a, _) in enumerate(answers) if i != down], args.top_k)
                without = [e for e in merge([a for a, _ in answers], 10 ** 6) if shard_of(e[1], args.shards) != down][:args.top_k]
                if rest == without:
                    partial_ok += 1

        def p50(xs):
            return round(sorted(xs)[len(xs) // 2], 1) if xs else None

        summary = {"shards": args.shards, "enrolled_photos": len(enrolled), "probes_compared": compared,
                   "merged_equals_single": equal, "partial_answers_exact": partial_ok,
                   "scatter_gather_p50_ms": p50(scatter_ms), "single_node_p50_ms": p50(single_ms),
                   "shard_sizes": [n.identify(image, 1)[1] for n in shards] if compared else []}
        print(json.dumps(summary))
        for m in mismatches[:3]:
            print(json.dumps(m), file=sys.stderr)
        return 0 if compared > 0 and equal == compared and partial_ok == compared else 1
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
