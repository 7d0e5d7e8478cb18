#!/usr/bin/env python3
"""A soak: mixed load on `argus serve` for a long while, resident memory sampled throughout.

Starts the release `argus serve` (defaults) on a store seeded with 10,000 templates, then for
`--minutes` (30) runs at once, each on a keep-alive connection of its own:

* identify workers (POST /v1/identify, top 5) and verify workers (POST /v1/verify),
* churn workers: create a subject, enrol a photo, verify against it, read it, delete it — so the
  gallery stays the same size and what is allocated for a subject must be given back,
* a reader (GET /v1/subjects, /v1/keys, /metrics) and a session minter (POST /v1/sessions),
* /healthz every 250 ms.

VmRSS is read from /proc every 10 s. Passes when the RSS at the end is within 5 % of the RSS at the
end of the warm-up (the first sixth of the run), and no answer was other than the expected one or a
503/429 refusal. Prints one JSON line per minute and a summary.
   python3 Benchmarks/load/soak.py [--minutes 30] [--identify 3] [--verify 1] [--churn 2]
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("ARGUS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
BIN = os.environ.get("ARGUS_BIN", os.path.join(ROOT, ".build", "release", "argus"))
REFUSALS = {503, 429}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port, key):
        self.port, self.key, self.conn = port, key, None

    def call(self, method, path, body=None, ctype="application/json"):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            headers = {"Authorization": f"Bearer {self.key}"}
            if body is not None:
                headers["Content-Type"] = ctype
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return 0, b""
        return 0, b""


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}  # (what, status) -> n
        self.unexpected = []

    def add(self, what, status, expected, body=b""):
        with self.lock:
            self.counts[(what, status)] = self.counts.get((what, status), 0) + 1
            if status != expected and status not in REFUSALS and len(self.unexpected) < 20:
                self.unexpected.append((what, status, body[:200].decode("utf-8", "replace")))

    def errors(self):
        with self.lock:
            return len([1 for (what, status), n in self.counts.items() if status not in REFUSALS and status not in EXPECTED[what]])


EXPECTED = {"identify": {200}, "verify": {200}, "create": {201}, "enrol": {201}, "read": {200}, "delete": {200, 204},
            "list": {200}, "keys": {200}, "metrics": {200}, "session": {201}, "healthz": {200}, "churn-verify": {200}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--identify", type=int, default=3)
    ap.add_argument("--verify", type=int, default=1)
    ap.add_argument("--churn", type=int, default=2)
    ap.add_argument("--templates", type=int, default=10_000)
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "18090")))
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("build first: swift build -c release")
    photos = [os.path.join(SHARED, "faces/images", p) for p in
              ("Hugo_Chavez/0001.jpg", "Hugo_Chavez/0002.jpg", "Hugo_Chavez/0003.jpg", "Hugo_Chavez/0004.jpg")]
    photos = [open(p, "rb").read() for p in photos if os.path.exists(p)]
    if len(photos) < 2:
        sys.exit(f"{SHARED}/faces is missing")

    data = tempfile.mkdtemp(prefix="argus-soak-")
    server = None
    stop = threading.Event()
    try:
        subprocess.run([BIN, "bench", "seed", "--data-dir", data, "--count", str(args.templates - 1)], check=True, stdout=subprocess.DEVNULL)
        log = open(os.path.join(data, "serve.log"), "w")
        server = subprocess.Popen([BIN, "serve", "--data-dir", data, "--port", str(args.port), "--models", os.path.join(ROOT, "models"),
                                   "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
        key = None
        for _ in range(600):
            time.sleep(0.1)
            m = re.search(r"sk_test_[A-Za-z0-9]+", open(os.path.join(data, "serve.log")).read())
            if m:
                try:
                    if Client(args.port, m.group(0)).call("GET", "/healthz")[0] == 200:
                        key = m.group(0)
                        break
                except OSError:
                    pass
        if key is None:
            sys.exit("the server did not start")
        setup = Client(args.port, key)
        status, body = setup.call("POST", "/v1/subjects", json.dumps({"external_id": "anchor"}))
        anchor = json.loads(body)["id"]
        status, body = setup.call("POST", f"/v1/subjects/{anchor}/faces", photos[0], ctype="image/jpeg")
        assert status == 201, (status, body)
        probes = [json.dumps({"image": base64.b64encode(p).decode()}) for p in photos[1:]]
        tally = Tally()

        def identify():
            c, i = Client(args.port, key), 0
            while not stop.is_set():
                s, b = c.call("POST", "/v1/identify", json.dumps({"image": json.loads(probes[i % len(probes)])["image"], "top_k": 5}))
                tally.add("identify", s, 200, b)
                i += 1

        def verify():
            c, i = Client(args.port, key), 0
            while not stop.is_set():
                s, b = c.call("POST", "/v1/verify", json.dumps({"subject_id": anchor, "image": json.loads(probes[i % len(probes)])["image"]}))
                tally.add("verify", s, 200, b)
                i += 1

        def churn(n):
            c, i = Client(args.port, key), 0
            while not stop.is_set():
                s, b = c.call("POST", "/v1/subjects", json.dumps({"external_id": f"churn-{n}-{i}"}))
                tally.add("create", s, 201, b)
                if s != 201:
                    time.sleep(0.1)
                    continue
                sid = json.loads(b)["id"]
                s, b = c.call("POST", f"/v1/subjects/{sid}/faces", photos[i % len(photos)], ctype="image/jpeg")
                tally.add("enrol", s, 201, b)
                if s == 201:
                    s, b = c.call("POST", "/v1/verify", json.dumps({"subject_id": sid, "image": json.loads(probes[i % len(probes)])["image"]}))
                    tally.add("churn-verify", s, 200, b)
                s, b = c.call("GET", f"/v1/subjects/{sid}")
                tally.add("read", s, 200, b)
                s, b = c.call("DELETE", f"/v1/subjects/{sid}")
                tally.add("delete", s, 200, b)
                i += 1

        def reader():
            c = Client(args.port, key)
            while not stop.is_set():
                for what, path in (("list", "/v1/subjects?limit=50"), ("keys", "/v1/keys"), ("metrics", "/metrics")):
                    s, b = c.call("GET", path)
                    tally.add(what, s, 200, b)
                s, b = c.call("POST", "/v1/sessions", json.dumps({"customer_ref": "soak", "purpose": "verify", "subject_id": anchor}))
                tally.add("session", s, 201, b)
                stop.wait(0.2)

        health = []

        def healthz():
            c = Client(args.port, key)
            while not stop.is_set():
                t0 = time.perf_counter()
                s, _ = c.call("GET", "/healthz")
                health.append((time.perf_counter() - t0) * 1e3)
                tally.add("healthz", s, 200)
                stop.wait(0.25)

        workers = ([threading.Thread(target=identify) for _ in range(args.identify)] + [threading.Thread(target=verify) for _ in range(args.verify)]
                   + [threading.Thread(target=churn, args=(n,)) for n in range(args.churn)] + [threading.Thread(target=reader), threading.Thread(target=healthz)])
        for w in workers:
            w.daemon = True
            w.start()
        start, samples, last_minute = time.time(), [], 0
        duration, warmup = args.minutes * 60, args.minutes * 60 / 6
        while time.time() - start < duration:
            time.sleep(10)
            if server.poll() is not None:
                sys.exit("the server exited during the soak")
            t = time.time() - start
            samples.append((t, rss_kb(server.pid)))
            if int(t // 60) > last_minute:
                last_minute = int(t // 60)
                with tally.lock:
                    done = sum(n for (what, s), n in tally.counts.items() if s in EXPECTED[what])
                    refused = sum(n for (what, s), n in tally.counts.items() if s in REFUSALS)
                print(json.dumps({"minute": last_minute, "rss_mb": round(samples[-1][1] / 1024, 1), "answered": done, "refused": refused,
                                  "errors": tally.errors()}), flush=True)
        stop.set()
        for w in workers:
            w.join(130)
        after_warmup = [kb for t, kb in samples if t >= warmup]
        base = after_warmup[0]
        end = after_warmup[-1]
        peak = max(after_warmup)
        growth = (end - base) / base
        h = sorted(health)
        summary = {"minutes": args.minutes, "rss_after_warmup_mb": round(base / 1024, 1), "rss_end_mb": round(end / 1024, 1),
                   "rss_peak_mb": round(peak / 1024, 1), "growth_after_warmup": round(growth, 4),
                   "counts": {f"{w} {s}": n for (w, s), n in sorted(tally.counts.items())}, "errors": tally.errors(),
                   "unexpected": tally.unexpected, "healthz_p99_ms": round(h[int(0.99 * (len(h) - 1))], 1) if h else None}
        print(json.dumps(summary, indent=1))
        ok = growth < 0.05 and tally.errors() == 0
        print("soak: " + ("PASS" if ok else "FAIL") + f" (RSS growth after warm-up {growth * 100:.2f} %, errors {tally.errors()})")
        sys.exit(0 if ok else 1)
    finally:
        stop.set()
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
