#!/usr/bin/env python3
"""Faults against a real `argus serve`, each a test (run by scripts/fault-tests, part of make test):

  kill9     SIGKILL at a random moment during concurrent HTTP enrolment by several clients,
            repeated (20 trials by default); after each restart every acknowledged face is
            there, no photo is stored twice on a subject (the clients then send again what was
            not acknowledged, as `argus enroll` does on a re-run), every stored face is searchable
            and SQLite's integrity check passes.
  slow      a head trickled a byte at a time is cut at the head timeout; a body trickled a byte
            at a time gets 408 at the body timeout; meanwhile /healthz answers at once.
  overload  a full analysis queue answers 503 `overloaded` with Retry-After, fast, before any
            credential check; a session token's attempt shed so is given back.
  diskfull  the data directory on a small tmpfs filled up: enrolment answers 507 `storage_full`
            (or 503), nothing half-written; once space returns it enrols again and the store
            survives a restart whole.
  hostile   a PNG declaring 60000×60000, a PNG decompression bomb, a progressive JPEG with
            thousands of scans: each refused (422 `invalid_image`) fast, resident memory bounded.

  faults.py BIN MODELS FACES [--only NAME,...] [--trials N]
"""
import argparse
import base64
import concurrent.futures
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ARGS = None
LOGS = tempfile.mkdtemp(prefix="argus-fault-logs-")
FAILURES = []
CHECKS = [0]


def check(what, ok, detail=""):
    CHECKS[0] += 1
    if not ok:
        FAILURES.append(f"{what}: {detail}")
        print(f"FAIL {what}: {detail}", flush=True)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data, port=None, config=None, extra=()):
        self.data, self.port = data, port or free_port()
        self.config, self.extra = config, list(extra)
        self.proc = None

    def start(self, log="serve.log"):
        args = [ARGS.bin, "serve", "--data-dir", self.data, "--port", str(self.port), "--models", ARGS.models,
                "--log-level", "warning"] + self.extra
        if self.config:
            path = os.path.join(tempfile.gettempdir(), f"argus-faults-{self.port}.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            args += ["--config", path]
        # Logs live outside the data directory (whose disk a test may fill).
        self.log = os.path.join(LOGS, f"{self.port}-{log}")
        self.proc = subprocess.Popen(args, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {open(self.log).read()[-2000:]}")
            try:
                if self.get("/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def first_key(self):
        m = re.search(r"sk_test_[A-Za-z0-9]+", open(self.log).read())
        return m.group(0) if m else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def call(self, method, path, key=None, body=None, ctype="application/json", timeout=120, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": ctype}
        if key:
            h["Authorization"] = f"Bearer {key}"
        h.update(headers or {})
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = {"_raw": raw[:200].decode(errors="replace")}
            return r.status, parsed, dict(r.getheaders())
        finally:
            c.close()

    def get(self, path, key=None, timeout=30, raw=False):
        if raw:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                c.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
                r = c.getresponse()
                return r.status, r.read().decode(errors="replace")
            finally:
                c.close()
        s, b, _ = self.call("GET", path, key, timeout=timeout)
        return s, b


def photos(limit):
    out = []
    for name in sorted(os.listdir(ARGS.faces)):
        d = os.path.join(ARGS.faces, name)
        for f in sorted(os.listdir(d)):
            out.append((name, os.path.join(d, f)))
    random.Random(7).shuffle(out)
    return out[:limit]


def code(body):
    return (body.get("error") or {}).get("code")


# --- kill -9 during concurrent enrolment -------------------------------------------------------

def kill9():
    root = tempfile.mkdtemp(prefix="argus-kill9-")
    data = os.path.join(root, "data")
    # A gallery snapshot is written in the background after every start-up, so later start-ups load
    # it and the face log's tail (and a kill may land in the middle of writing one).
    # Each trial reads every subject back at once (a hundred and more after a few rounds): the
    # per-credential rate limit is not what is tested here.
    snapshots = {"gallerySnapshotThreshold": 0, "rateLimitPerSecond": 10000, "rateLimitBurst": 10000}
    server = Server(data, config=snapshots).start()
    key = server.first_key()
    clients = 3
    pool = photos(clients * 24)
    # Rounds: each gives every identity a subject of its own. A client that has had its share of
    # the pool acknowledged in one round goes on to the next, so the clients never run dry and
    # every kill lands with enrolments in flight (the pool alone runs dry after about seven trials).
    subjects = {}  # (round, identity) -> subject id
    subjects_lock = threading.Lock()
    acknowledged = {}  # face id -> (subject, path)
    sent_ok = {}  # (round, path) -> face id
    no_face = set()  # (round, path) answered 422: not sent again
    lock = threading.Lock()
    refused = {}
    inflight = [0]  # enrolment requests sent and not yet answered
    rounds = [0]  # the highest round an enrolment was sent in
    shares = [pool[i::clients] for i in range(clients)]
    rng = random.Random(int(os.environ.get("ARGUS_FAULT_SEED", "1")))

    def subject(n, identity):
        # Made ahead for the first rounds (below), so a client entering a new round goes straight on
        # to enrolment; beyond them made on first use (a kill may land between its creation and
        # our hearing of it: such a subject is simply never used).
        with subjects_lock:
            if (n, identity) not in subjects:
                subjects[(n, identity)] = create_subject(n, identity)
            return subjects[(n, identity)]

    def create_subject(n, identity):
        s, b, _ = server.call("POST", "/v1/subjects", key, {"external_id": f"{identity}#{n}"})
        if s != 201:
            raise OSError(f"subject not created: {s} {b}")
        return b["id"]

    ahead = [(n, identity) for n in range(12) for identity in sorted({i for i, _ in pool})]
    with concurrent.futures.ThreadPoolExecutor(4) as makers:
        subjects.update(zip(ahead, makers.map(lambda r: create_subject(*r), ahead)))

    def client(share, stop, last=None):
        """Sends the share round after round (up to round `last`, if given) until stopped."""
        n = 0
        while not stop.is_set() and (last is None or n <= last):
            for identity, path in share:
                if stop.is_set():
                    return
                with lock:
                    if (n, path) in sent_ok or (n, path) in no_face:
                        continue
                try:
                    sid = subject(n, identity)
                    with lock:
                        inflight[0] += 1
                        rounds[0] = max(rounds[0], n)
                    try:
                        s, b, _ = server.call("POST", f"/v1/subjects/{sid}/faces?largest_face=true", key,
                                              open(path, "rb").read(), ctype="image/jpeg", timeout=60)
                    finally:
                        with lock:
                            inflight[0] -= 1
                except OSError as e:
                    if not stop.is_set():
                        print(f"kill9: client error before the kill: {e!r}", flush=True)
                    return  # the server went away mid-request: not acknowledged
                if s in (200, 201):
                    with lock:
                        if s == 201:
                            acknowledged[b["id"]] = (sid, path)
                        sent_ok[(n, path)] = b["id"]
                else:
                    with lock:
                        refused[s] = refused.get(s, 0) + 1
                        if s == 422:
                            no_face.add((n, path))
                    if s not in (422, 503):
                        check("kill9: enrolment answer", False, f"{s} {b}")
            with lock:
                done = all((n, path) in sent_ok or (n, path) in no_face for _, path in share)
            if done:
                n += 1

    for trial in range(ARGS.trials):
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(share, stop)) for share in shares]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 2.5))
        with lock:
            at_kill = inflight[0]
        stop.set()
        server.kill9()
        for t in threads:
            t.join()
        check(f"kill9 trial {trial}: the kill landed with enrolments in flight", at_kill > 0, f"{at_kill} in flight")
        server = Server(data, port=server.port, config=snapshots).start(log=f"trial{trial}.log")
        # Every acknowledged face is there, on its subject.
        missing = []
        listed = {}
        for sid in [sid for (n, _), sid in list(subjects.items()) if n <= rounds[0]]:  # the rounds begun
            s, b = server.get(f"/v1/subjects/{sid}", key)
            check("kill9: subject readable", s == 200, f"{s} {b}")
            listed[sid] = set(b.get("faces", []))
        for face, (sid, path) in acknowledged.items():
            if face not in listed.get(sid, set()):
                missing.append(face)
        check(f"kill9 trial {trial}: every acknowledged face is there", not missing, f"missing {missing}")
        # No photo twice on a subject; nothing half-written: every stored face is in the gallery.
        db = sqlite3.connect(f"file:{os.path.join(data, 'argus.sqlite')}?mode=ro", uri=True)
        dup = db.execute("SELECT subject_id, image_sha256, COUNT(*) FROM faces WHERE image_sha256 IS NOT NULL "
                         "GROUP BY subject_id, image_sha256 HAVING COUNT(*) > 1").fetchall()
        stored = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
        check(f"kill9 trial {trial}: no photo stored twice", not dup, str(dup))
        check(f"kill9 trial {trial}: integrity", integrity == "ok", integrity)
        held = sum(len(v) for v in listed.values())
        check(f"kill9 trial {trial}: every stored face is listed on its subject", held == stored, f"listed {held}, stored {stored}")
        # The in-memory galleries hold exactly the stored faces (loaded from the snapshot and the log's tail).
        s, text = server.get("/metrics", key, raw=True)
        gauge = re.search(r"^argus_templates (\d+)$", text, re.M) if s == 200 else None
        check(f"kill9 trial {trial}: the galleries hold every stored face once", gauge is not None and int(gauge.group(1)) == stored,
              f"{s} {gauge.group(0) if gauge else text[:200]}, stored {stored}")
        print(f"kill9 trial {trial} (rounds 0-{rounds[0]}): {at_kill} in flight at the kill, {len(acknowledged)} acknowledged so far, "
              f"{stored} stored, refused {refused}", flush=True)
    acknowledged_in_trials = len(acknowledged)
    # Finally every photo of every round is sent until acknowledged: then each is stored exactly once.
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(share, stop, rounds[0])) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db = sqlite3.connect(f"file:{os.path.join(data, 'argus.sqlite')}?mode=ro", uri=True)
    stored = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    db.close()
    check("kill9: the trials acknowledged enrolments (before the last re-run)", acknowledged_in_trials >= ARGS.trials,
          f"{acknowledged_in_trials} acknowledged")
    check("kill9: a gallery snapshot was written", os.path.exists(os.path.join(data, "gallery.snapshot")))
    check("kill9: after the last re-run every acknowledged photo is stored exactly once", stored == len(set(sent_ok.values())),
          f"stored {stored}, distinct acknowledged {len(set(sent_ok.values()))}")
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


# --- slow clients ------------------------------------------------------------------------------

def slow():
    root = tempfile.mkdtemp(prefix="argus-slow-")
    server = Server(os.path.join(root, "data"), config={"headTimeout": 2, "idleTimeout": 3, "bodyTimeout": 3}).start()
    key = server.first_key()

    def trickle(payload, interval, limit):
        """Sends `payload` a byte per `interval`; returns (seconds until the server answered or closed, what it said)."""
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(interval)
        t0 = time.time()
        got = b""
        try:
            for byte in payload:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                    if b"\r\n\r\n" in got:
                        break
                except socket.timeout:
                    pass
                except OSError:
                    break  # reset by the server: cut
                if time.time() - t0 > limit:
                    break
        finally:
            s.close()
        return time.time() - t0, got

    holders = []
    head = b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    # Each kind runs ten clients at once; every one's outcome is kept and checked.
    results = {"head": [], "body": [], "crlf": [], "unread": []}

    def head_case():
        results["head"].append(trickle(head, 0.2, 20))

    def body_case():
        hdr = (f"POST /v1/subjects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
               f"Content-Length: 400\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(hdr)
        s.settimeout(0.2)
        t0, got = time.time(), b""
        for byte in (b'{"external_id": "' + b"x" * 380 + b'"}'):
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
                if b"\r\n\r\n" in got:
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if time.time() - t0 > 20:
                break
        s.close()
        results["body"].append((time.time() - t0, got))

    def crlf_head_case():
        # Blank lines before a request line are skipped by HTTP parsers: they must not stop the clock.
        results["crlf"].append(trickle(b"\r\n\r\n" + head, 0.2, 20))

    def unread_body_case():
        # An unauthenticated chunked POST: answered 401 at once, its body then discarded by the server,
        # dripped a chunk every second. The connection must end at the body timeout and its grace.
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/subjects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        s.settimeout(1.0)
        t0, got, closed = time.time(), b"", None
        while time.time() - t0 < 30:
            try:
                s.sendall(b"1\r\nx\r\n")
            except OSError:
                closed = time.time() - t0
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    closed = time.time() - t0
                    break
                got += chunk
            except socket.timeout:
                pass
            except OSError:
                closed = time.time() - t0
                break
        s.close()
        results["unread"].append((closed, got))

    for fn in (head_case, body_case, crlf_head_case, unread_body_case):
        for _ in range(10):  # ten slow clients of each kind at once
            t = threading.Thread(target=fn)
            t.start()
            holders.append(t)
    # Meanwhile the server answers everyone else at once.
    latencies = []
    for _ in range(20):
        t0 = time.time()
        s, _ = server.get("/healthz", timeout=5)
        latencies.append(time.time() - t0)
        check("slow: /healthz answers while slow clients hold connections", s == 200)
        time.sleep(0.1)
    for t in holders:
        t.join()
    def each(kind, what, ok, show):
        # All ten clients of a kind must have ended as described (a thread that died left no result).
        r = results[kind]
        bad = [show(x) for x in r if not ok(*x)]
        check(what, len(r) == 10 and not bad, f"{len(r)} of 10 ended; not as described: {bad[:3]}")

    each("head", "slow: a trickled head is cut at the head timeout (2 s), all ten",
         lambda took, got: 1.5 <= took <= 6 and b"200 OK" not in got, lambda x: f"{x[0]:.1f}s {x[1][:80]!r}")
    each("body", "slow: a trickled body gets 408 request_timeout at the body timeout (3 s), all ten",
         lambda took, got: 2.5 <= took <= 8 and b" 408 " in got.split(b"\r\n", 1)[0], lambda x: f"{x[0]:.1f}s {x[1][:120]!r}")
    each("crlf", "slow: blank lines before a trickled head do not stop the head timeout, all ten",
         lambda took, got: 1.5 <= took <= 6 and b"200 OK" not in got, lambda x: f"{x[0]:.1f}s {x[1][:80]!r}")
    each("unread", "slow: a dripped body nobody reads ends with its connection at the body timeout + grace (5 s), all ten",
         lambda closed, got: closed is not None and closed <= 12 and got.startswith(b"HTTP/1.1 401"), lambda x: f"closed after {x[0]}, {x[1][:60]!r}")
    check("slow: /healthz p100 under 0.5 s meanwhile", max(latencies) < 0.5, f"{max(latencies):.3f}s")
    # A new connection that sends nothing is idle, not a slow head: closed at the idle timeout (3 s), not the head's (2 s).
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(10)
    t0 = time.time()
    try:
        silent = s.recv(4096)
    except OSError:
        silent = b""
    closed = time.time() - t0
    s.close()
    check("slow: a silent new connection is closed at the idle timeout (3 s)", silent == b"" and 2.7 <= closed < 8, f"closed after {closed:.1f}s")
    # An idle keep-alive connection is closed after the idle timeout.
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    t0 = time.time()
    data = s.recv(4096)
    closed = None
    while True:
        chunk = s.recv(4096)
        if not chunk:
            closed = time.time() - t0
            break
    s.close()
    check("slow: an idle keep-alive connection is closed after the idle timeout (3 s)", b"200" in data and closed is not None and closed < 8,
          f"closed after {closed}")
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


# --- overload ----------------------------------------------------------------------------------

def overload():
    root = tempfile.mkdtemp(prefix="argus-overload-")
    server = Server(os.path.join(root, "data"), extra=["--analysis-threads", "1", "--analysis-queue", "1", "--analysis-deadline", "60000"]).start()
    key = server.first_key()
    s, b, _ = server.call("POST", "/v1/subjects", key, {"external_id": "hugo"})
    subject = b["id"]
    probe = open(os.path.join(ARGS.faces, "Hugo_Chavez", "0001.jpg"), "rb").read()
    s, b, _ = server.call("POST", f"/v1/subjects/{subject}/faces", key, probe, ctype="image/jpeg")
    check("overload: enrol", s == 201, f"{s} {b}")
    body = {"image": base64.b64encode(open(os.path.join(ARGS.faces, "Hugo_Chavez", "0002.jpg"), "rb").read()).decode()}
    # Fill the one thread and the one queue slot with slow work (several identifies), then ask more.
    answers = []
    errors = []

    def identify(stop):
        # Keeps asking (without backing off) until told to stop: the queue stays full meanwhile,
        # however long the scenarios below take.
        while not stop.is_set():
            try:
                answers.append(server.call("POST", "/v1/identify", key, body, timeout=120))
            except Exception as e:  # recorded and checked: a busy client must not die unseen
                errors.append(repr(e))
                return

    stop = threading.Event()
    busy = [threading.Thread(target=identify, args=(stop,)) for _ in range(6)]
    for t in busy:
        t.start()
    time.sleep(0.3)

    def refused(credential):
        # The busy clients refill a freed slot within milliseconds, but a request of ours may still
        # find one and is then rightly taken: asked again (at most five times) until it meets a full queue.
        # Timed from the request's first byte to its answer's end on a connection already open (the
        # client's own connection set-up is not the server's time).
        request = raw_post("/v1/identify", credential, json.dumps(body).encode())
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
            try:
                t0 = time.perf_counter()
                sock.sendall(request)
                s, h, raw, _ = read_response(sock)
                took = time.perf_counter() - t0
            finally:
                sock.close()
            if s == 503:
                break
        return s, json.loads(raw or b"{}"), h, took

    try:
        s, b, h, took = refused(key)
        check("overload: a full queue answers 503 overloaded", s == 503 and code(b) == "overloaded", f"{s} {b}")
        check("overload: with Retry-After", "Retry-After" in h or "retry-after" in h, str(h))
        check("overload: within 100 ms", took < 0.1, f"{took * 1000:.0f} ms")
        s, b, _, _ = refused("sk_test_not_a_key")
        check("overload: shed before the credential is even checked", s == 503 and code(b) == "overloaded", f"{s} {b}")
        event_loop_refusals(server, key, body, answers)
        # A session token shed by the full queue keeps its attempts. A verify that finds a free slot
        # is rightly taken (and spends the token on its match): then the try does not count, and is
        # made again with a fresh session, at most five times.
        token, shed = None, 0
        for _ in range(5):
            s, sess, _ = server.call("POST", "/v1/sessions", key, {"purpose": "verify", "subject_id": subject, "customer_ref": "phone-1"})
            check("overload: session created", s == 201, f"{s} {sess}")
            token = sess.get("token")
            shed = 0
            for _ in range(5):
                s, b, _ = server.call("POST", "/v1/verify", token, {"subject_id": subject, "image": body["image"]})
                shed += s == 503
            if shed == 5:
                break
    except Exception:
        # A failure here must not leave the server running.
        server.stop()
        raise
    finally:
        stop.set()
        for t in busy:
            t.join()
    check("overload: session verifies shed while busy (5 of 5 in one try)", shed == 5, f"{shed} of 5 shed")
    s, b, _ = server.call("POST", "/v1/verify", token, {"subject_id": subject, "image": body["image"]})
    check("overload: the token still works after being shed (attempts given back)", s == 200 and b.get("match") is True, f"{s} {b}")
    check("overload: no busy client failed", not errors, str(errors[:3]))
    statuses = sorted({a[0] for a in answers})
    check("overload: the busy requests got answers (200 or 503)", set(statuses) <= {200, 503} and 200 in statuses, str(statuses))
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def raw_post(path, credential, data, extra=b""):
    """The bytes of a JSON POST with a bearer credential (`extra`: more header lines, each ending CRLF)."""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {credential}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n").encode() + extra + b"\r\n" + data


def read_response(sock, buf=b""):
    """One HTTP/1.1 response with a Content-Length body: (status, lowercased headers, body, bytes after it)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed after {buf[:80]!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a body")
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:n], rest[n:]


def event_loop_refusals(server, key, body, answers):
    """While the queue is full: refusals answered on the event loop keep HTTP/1.1's rules: the
    connection stays usable, pipelined requests are answered in order, Connection: close closes,
    and a client asking again at once on the same connection is paced (20 ms)."""
    data = json.dumps(body).encode()

    def identify(path="/v1/identify", extra=b""):
        return raw_post(path, key, data, extra)

    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def attempt(scenario, happened=lambda r: r[0] == 503):
        # The busy clients refill a freed slot within milliseconds, but a request of ours may still
        # find one (and is then rightly taken: the queue was not full when its head arrived). A
        # scenario counts when the refusals it is about happened; else it is tried again, at most
        # five times, so a server that never refuses still fails the check below.
        result = None
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            try:
                result = scenario(sock)
            finally:
                sock.close()
            if happened(result):
                return result
        return result

    def keep_alive(sock):
        sock.sendall(identify())
        s1, h1, b1, rest = read_response(sock)
        if s1 != 503:
            return (s1, h1, b1)
        sock.sendall(health)
        s2, _, _, rest = read_response(sock, rest)
        t0 = time.time()
        sock.sendall(identify())
        s3, _, b3, _ = read_response(sock, rest)
        return (s1, h1, b1, s2, s3, b3, time.time() - t0)

    # Counts when both identifies found the queue full (a health check always goes through).
    r = attempt(keep_alive, happened=lambda r: r[0] == 503 and len(r) > 3 and r[4] == 503)
    check("overload: a refusal on a keep-alive connection: 503 overloaded with Retry-After and a request id",
          r[0] == 503 and code(json.loads(r[2])) == "overloaded" and "retry-after" in r[1] and r[1].get("x-request-id", "").startswith("req_"),
          f"{r[:3]}")
    check("overload: the connection stays usable after the refusal", len(r) > 3 and r[3] == 200, f"{r[3:4]}")
    check("overload: asked again at once on the same connection: refused after the 20 ms pacing",
          len(r) > 3 and r[4] == 503 and r[6] >= 0.018, f"{r[4:5]} after {r[6] * 1000 if len(r) > 3 else 0:.1f} ms")

    def pipelined(sock):
        # Refused once; then asked again at once with a health check pipelined behind: the second
        # refusal waits for its pacing, and the health check is held behind it, then answered.
        sock.sendall(identify())
        s0, _, _, rest = read_response(sock)
        if s0 != 503:
            return (s0,)
        t0 = time.time()
        sock.sendall(identify() + health)
        s1, _, _, rest = read_response(sock, rest)
        took = time.time() - t0
        s2, _, b2, _ = read_response(sock, rest) if s1 == 503 else (None, None, b"{}", None)
        return (s1, s2, b2, took)

    r = attempt(pipelined)
    check("overload: a request pipelined behind a paced refusal is held and answered after it, in order",
          len(r) == 4 and r[0] == 503 and r[1] == 200 and json.loads(r[2]).get("status") == "ok" and r[3] >= 0.018, f"{r}")

    def closing(sock):
        sock.sendall(identify(extra=b"Connection: close\r\n"))
        s1, h1, _, rest = read_response(sock)
        sock.settimeout(5)
        try:
            after = rest + sock.recv(4096)
        except socket.timeout:
            after = b"(still open after 5 s)"
        except OSError:
            after = b""
        return (s1, h1.get("connection"), after)

    r = attempt(closing)
    check("overload: Connection: close is refused and the connection closed", r[0] == 503 and r[1] == "close" and r[2] == b"", f"{r}")

    r = attempt(lambda sock: (sock.sendall(identify("/v1/identify/")), read_response(sock))[1])
    check("overload: another spelling of the route (/v1/identify/) is refused the same way", r[0] == 503, f"{r[:2]}")

    # Every refusal a client saw so far is counted, wherever it was answered (mostly on the event loop).
    seen = sum(1 for a in list(answers) if a[0] == 503) + 6
    s, text = server.get("/metrics", key, raw=True)
    shed = re.search(r'argus_requests_total\{route="/v1/identify",status="503"\} (\d+)', text)
    check("overload: refusals are counted in /metrics", s == 200 and shed is not None and int(shed.group(1)) >= seen,
          f"{s} {shed and shed.group(0)}, {seen} seen by clients")


# --- disk full ---------------------------------------------------------------------------------

def diskfull():
    root = tempfile.mkdtemp(prefix="argus-diskfull-")
    mnt = os.path.join(root, "small")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"diskfull: skipped, cannot mount a tmpfs here ({r.stderr.strip()}; needs root)")
        return
    try:
        data = os.path.join(mnt, "data")
        server = Server(data).start()
        key = server.first_key()
        s, b, _ = server.call("POST", "/v1/subjects", key, {"external_id": "before"})
        subject = b["id"]
        images = [p for _, p in photos(40)]
        enrolled = []
        for p in images[:3]:
            s, b, _ = server.call("POST", f"/v1/subjects/{subject}/faces?largest_face=true", key, open(p, "rb").read(), ctype="image/jpeg")
            if s == 201:
                enrolled.append(b["id"])
        check("diskfull: enrolments before the disk fills", len(enrolled) >= 1, str(enrolled))
        # Fill the file system to the last block.
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 16))
                    f.flush()
            except OSError:
                pass
        refusals = []
        for p in images[3:15]:
            s, b, _ = server.call("POST", f"/v1/subjects/{subject}/faces?largest_face=true", key, open(p, "rb").read(), ctype="image/jpeg")
            if s == 201:
                enrolled.append(b["id"])  # a page the database still had room for
            else:
                refusals.append((s, code(b)))
        check("diskfull: enrolment on a full disk is refused with a clear error",
              bool(refusals) and all(x in ((507, "storage_full"), (503, "store_unavailable")) for x in refusals),
              str(refusals))
        s, b = server.get(f"/v1/subjects/{subject}", key)
        check("diskfull: reads still answer on a full disk", s == 200 and set(enrolled) <= set(b.get("faces", [])), f"{s} {b}")
        os.remove(filler)
        s, b, _ = server.call("POST", f"/v1/subjects/{subject}/faces?largest_face=true", key, open(images[20], "rb").read(), ctype="image/jpeg")
        check("diskfull: once space returns, enrolment works again", s in (201, 422), f"{s} {b}")
        if s == 201:
            enrolled.append(b["id"])
        server.stop()
        server = Server(data, port=server.port).start(log="again.log")
        s, b = server.get(f"/v1/subjects/{subject}", key)
        check("diskfull: after a restart every acknowledged face is there", s == 200 and set(enrolled) <= set(b.get("faces", [])),
              f"{s} {b} {enrolled}")
        db = sqlite3.connect(f"file:{os.path.join(data, 'argus.sqlite')}?mode=ro", uri=True)
        check("diskfull: integrity", db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
        stored = db.execute("SELECT COUNT(*) FROM faces WHERE subject_id = ?", (subject,)).fetchone()[0]
        db.close()
        check("diskfull: nothing unacknowledged was kept", stored == len(enrolled), f"stored {stored}, acknowledged {len(enrolled)}")
        server.stop()
    finally:
        subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(root, ignore_errors=True)


# --- hostile images ----------------------------------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, idat):
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def progressive_jpeg_with_scans(n):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 80, 60)).save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    # Repeat the last scan (its SOS segment and entropy-coded data) until there are `n` scans.
    last = data.rfind(b"\xff\xda")
    scan = data[last:-2]
    return data[:-2] + scan * n + b"\xff\xd9"


def hostile():
    root = tempfile.mkdtemp(prefix="argus-hostile-")
    server = Server(os.path.join(root, "data")).start()
    key = server.first_key()
    s, b, _ = server.call("POST", "/v1/subjects", key, {"external_id": "x"})
    subject = b["id"]
    # A deflate stream of 400 MP of zeros is about 400 KB; of 25 MP (the limit), about 25 KB.
    bomb_rows = zlib.compress(b"\0" * ((20000 + 1) * 20000), 9)
    cases = [
        ("a PNG declaring 60000×60000", png(60000, 60000, zlib.compress(b"\0" * 1024))),
        ("a PNG decompression bomb (20000×20000 of zeros in 400 KB)", png(20000, 20000, bomb_rows)),
        ("a progressive JPEG with 5000 scans", progressive_jpeg_with_scans(5000)),
    ]
    before = server.rss_kb()
    for what, blob in cases:
        for route, kwargs in (("enrol", dict(method="POST", path=f"/v1/subjects/{subject}/faces", body=blob,
                                             ctype="image/png" if blob[:4] == b"\x89PNG" else "image/jpeg")),
                              ("identify", dict(method="POST", path="/v1/identify", body={"image": base64.b64encode(blob).decode()}))):
            t0 = time.time()
            s, b, _ = server.call(kwargs["method"], kwargs["path"], key, kwargs["body"], ctype=kwargs.get("ctype", "application/json"))
            took = time.time() - t0
            check(f"hostile: {what} ({route}) is refused as invalid_image", s == 422 and code(b) == "invalid_image", f"{s} {b}")
            check(f"hostile: {what} ({route}) is refused fast", took < 2.0, f"{took:.2f}s")
    after = server.rss_kb()
    check("hostile: resident memory bounded (grew < 200 MB)", after - before < 200_000, f"{before} kB → {after} kB")
    s, b = server.get(f"/v1/subjects/{subject}", key)
    check("hostile: nothing was enrolled", s == 200 and b.get("faces") == [], f"{s} {b}")
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("models")
    ap.add_argument("faces")
    ap.add_argument("--only", default="overload,slow,hostile,diskfull,kill9")
    ap.add_argument("--trials", type=int, default=20)
    ARGS = ap.parse_args()
    for name in ARGS.only.split(","):
        t0 = time.time()
        globals()[name]()
        print(f"faults: {name} done in {time.time() - t0:.0f} s", flush=True)
    if FAILURES:
        print(f"faults: {len(FAILURES)} of {CHECKS[0]} checks failed")
        sys.exit(1)
    print(f"faults: {CHECKS[0]} checks held")


if __name__ == "__main__":
    main()
