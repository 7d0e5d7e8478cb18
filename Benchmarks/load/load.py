#!/usr/bin/env python3
"""The ABIS API under load, measured against its own CPU bound in the same run.

Starts `argus serve` (defaults: the settings a user gets) on a store seeded with 10,000 templates
(one real enrolled subject plus synthetic ones), then:

1. CPU bound: N identify requests one after another on the idle server; the server's CPU time
   (utime + stime from /proc) per request gives `bound = cores / cpu_seconds_per_request`.
2. For each connection count: wrk on POST /v1/identify (or verify) with its timeout raised past
   any answer, counting statuses; meanwhile a poller GETs /healthz every 50 ms and a probe sends
   one identify every 250 ms on a fresh connection, timing 200s and 503s apart; a second probe does
   the same on one kept-alive connection (asking again within Retry-After, so refused after the pacing)
   at loads over 18 connections.

Prints one JSON object per load and a markdown table. Only loopback is used.
   python3 Benchmarks/load/load.py [--duration 20] [--connections 1,4,16,64] [--route identify]
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("ARGUS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
BIN = os.environ.get("ARGUS_BIN", os.path.join(ROOT, ".build", "release", "argus"))

LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("%(body)s", "rb"); wrk.body = f:read("*a"); f:close()
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do all[s] = (all[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(all) do table.insert(parts, string.format('"%%d": %%d', s, n)) end
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "timeouts": %%d, "connect_errors": %%d, "read_errors": %%d, "p50_ms": %%.1f, "p90_ms": %%.1f, "p99_ms": %%.1f, "max_ms": %%.1f, "statuses": {%%s}}\\n',
    summary.requests, summary.duration, summary.errors.timeout, summary.errors.connect, summary.errors.read,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(parts, ", ")))
end
"""


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(port, method, path, key=None, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class Poller(threading.Thread):
    """Sends a request every `every` seconds (on a fresh connection each time, or on one kept-alive
    connection); records latency (ms) and status."""

    def __init__(self, port, path, every, key=None, body=None, method="GET", keep_alive=False):
        super().__init__(daemon=True)
        self.port, self.path, self.every, self.key, self.body, self.method = port, path, every, key, body, method
        self.keep_alive = keep_alive
        self.samples = []  # (status, ms)
        self.stop = threading.Event()

    def run(self):
        c = None
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                if self.keep_alive:
                    c = c or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    c.request(self.method, self.path, body=self.body, headers=headers)
                    r = c.getresponse()
                    r.read()
                    status = r.status
                else:
                    status, _ = request(self.port, self.method, self.path, self.key, self.body, timeout=30)
            except OSError:
                status, c = 0, None
            ms = (time.perf_counter() - t0) * 1e3
            self.samples.append((status, ms))
            self.stop.wait(max(0.0, self.every - ms / 1e3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", default="1,4,16,64")
    ap.add_argument("--route", default="identify", choices=["identify", "verify"])
    ap.add_argument("--templates", type=int, default=10_000)
    ap.add_argument("--bound-requests", type=int, default=24)
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "18080")))
    ap.add_argument("--serve-args", default="", help="extra arguments for argus serve")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    if not os.access(BIN, os.X_OK):
        sys.exit("build first: swift build -c release")

    data = tempfile.mkdtemp(prefix="argus-load-")
    server = None
    try:
        subprocess.run([BIN, "bench", "seed", "--data-dir", data, "--count", str(args.templates - 1)],
                       check=True, stdout=subprocess.DEVNULL)
        log = open(os.path.join(data, "serve.log"), "w")
        server = subprocess.Popen([BIN, "serve", "--data-dir", data, "--port", str(args.port), "--models",
                                   os.path.join(ROOT, "models"), "--log-level", "warning"] + args.serve_args.split(),
                                  stdout=log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if request(args.port, "GET", "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        key = re.search(r"sk_test_[A-Za-z0-9]+", open(os.path.join(data, "serve.log")).read()).group(0)
        status, body = request(args.port, "POST", "/v1/subjects", key, json.dumps({"external_id": "hugo"}))
        assert status == 201, (status, body)
        subject = json.loads(body)["id"]
        with open(os.path.join(SHARED, "faces/images/Hugo_Chavez/0001.jpg"), "rb") as f:
            c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
            c.request("POST", f"/v1/subjects/{subject}/faces", body=f.read(),
                      headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"})
            r = c.getresponse()
            assert r.status == 201, (r.status, r.read())
        with open(os.path.join(SHARED, "faces/images/Hugo_Chavez/0002.jpg"), "rb") as f:
            probe = base64.b64encode(f.read()).decode()
        payload = {"image": probe, "top_k": 5} if args.route == "identify" else {"subject_id": subject, "image": probe}
        body_path = os.path.join(data, "body.json")
        with open(body_path, "w") as f:
            json.dump(payload, f)
        body = open(body_path, "rb").read()
        lua = os.path.join(data, "load.lua")
        with open(lua, "w") as f:
            f.write(LUA % {"key": key, "body": body_path})

        # 1. The CPU bound, on the idle server.
        path = f"/v1/{args.route}"
        for _ in range(3):
            assert request(args.port, "POST", path, key, body)[0] == 200
        cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
        for _ in range(args.bound_requests):
            status, answer = request(args.port, "POST", path, key, body)
            assert status == 200, (status, answer)
        cpu = (cpu_seconds(server.pid) - cpu0) / args.bound_requests
        wall = (time.perf_counter() - t0) / args.bound_requests
        cores = os.cpu_count()
        bound = cores / cpu
        print(json.dumps({"route": args.route, "templates": args.templates, "cpu_ms_per_request": round(cpu * 1e3, 1),
                          "idle_latency_ms": round(wall * 1e3, 1), "cores": cores, "cpu_bound_rps": round(bound, 2)}), flush=True)

        def embedding_counts():
            status, text = request(args.port, "GET", "/metrics", key, None)
            assert status == 200, status
            text = text.decode() if isinstance(text, bytes) else text
            found = dict(re.findall(r"^(argus_embedding_(?:batches|chips)_total) (\d+)$", text, re.M))
            return int(found.get("argus_embedding_batches_total", 0)), int(found.get("argus_embedding_chips_total", 0))

        rows = []
        for conns in [int(c) for c in args.connections.split(",")]:
            batches0, chips0 = embedding_counts()
            health = Poller(args.port, "/healthz", 0.05)
            probe_client = Poller(args.port, path, 0.25, key=key, body=body, method="POST")
            # The same on one kept-alive connection: refused, it asks again within Retry-After (1 s), as
            # wrk's clients do, so its refusals are the paced ones. Only under loads that are refused
            # (more connections than the default queue and threads hold: 16 + 2), where it adds no
            # requester that changes what is measured.
            probe_again = Poller(args.port, path, 0.25, key=key, body=body, method="POST", keep_alive=True)
            health.start()
            probe_client.start()
            if conns > 18:
                probe_again.start()
            out = subprocess.run(["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{args.duration}s", "--timeout", "60s", "-s", lua,
                                  f"http://127.0.0.1:{args.port}{path}"], capture_output=True, text=True)
            health.stop.set()
            probe_client.stop.set()
            health.join()
            probe_client.join()
            probe_again.stop.set()
            if probe_again.is_alive():
                probe_again.join()
            if "WRKJSON " not in out.stdout:
                sys.exit(f"wrk said: {out.stdout}\n{out.stderr}")
            w = json.loads(out.stdout.split("WRKJSON ", 1)[1].splitlines()[0])
            batches1, chips1 = embedding_counts()
            ok = w["statuses"].get("200", 0)
            shed = w["statuses"].get("503", 0) + w["statuses"].get("429", 0)
            # The probe's answers are the server's work too: throughput counts both.
            rps = (ok + sum(1 for p in (probe_client, probe_again) for s, _ in p.samples if s == 200)) / (w["duration_us"] / 1e6)
            h = [ms for s, ms in health.samples]
            accepted = [ms for s, ms in probe_client.samples if s == 200]
            refused = [ms for s, ms in probe_client.samples if s == 503]
            refused_again = [ms for s, ms in probe_again.samples if s == 503]
            row = {"connections": conns, "ok_rps": round(rps, 2), "of_cpu_bound": round(rps / bound, 3),
                   "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"], "max_ms": w["max_ms"], "statuses": w["statuses"],
                   "shed": shed, "socket_timeouts": w["timeouts"], "socket_errors": w["connect_errors"] + w["read_errors"],
                   "healthz_p50_ms": round(percentile(h, 50), 1), "healthz_p99_ms": round(percentile(h, 99), 1),
                   "healthz_max_ms": round(max(h), 1), "healthz_failures": sum(1 for s, _ in health.samples if s != 200),
                   "probe_200_p99_ms": round(percentile(accepted, 99), 1), "probe_200": len(accepted),
                   "probe_503_p99_ms": round(percentile(refused, 99), 1), "probe_503_max_ms": round(max(refused), 1) if refused else None,
                   "probe_503": len(refused),
                   "probe_again_503_p99_ms": round(percentile(refused_again, 99), 1),
                   "probe_again_503_max_ms": round(max(refused_again), 1) if refused_again else None,
                   "probe_again_503": len(refused_again),
                   # Batching across requests: chips per pass of the embedding network in this run.
                   "chips_per_batch": round((chips1 - chips0) / (batches1 - batches0), 2) if batches1 > batches0 else None}
            rows.append(row)
            print(json.dumps(row), flush=True)
            time.sleep(2)
        print(f"\n| connections | {args.route}/s | ÷ CPU bound ({bound:.1f}/s) | p50 | p99 | 503s | socket timeouts | /healthz p99 | probe: 200 p99 / 503 max | asking again: 503 max |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['connections']} | {r['ok_rps']:.1f} | {r['of_cpu_bound']:.2f} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms | "
                  f"{r['shed']} | {r['socket_timeouts']} | {r['healthz_p99_ms']:.1f} ms | {r['probe_200_p99_ms']:.0f} ms / "
                  f"{r['probe_503_max_ms'] if r['probe_503_max_ms'] is not None else '–'} ms | "
                  f"{r['probe_again_503_max_ms'] if r['probe_again_503_max_ms'] is not None else '–'} ms |")
        if server.poll() is not None:
            sys.exit("the server exited during the run")
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
