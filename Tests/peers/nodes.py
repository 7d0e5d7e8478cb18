#!/usr/bin/env python3
"""Several `argus serve` nodes on one PostgreSQL store (a throw-away cluster), each a test
(run by scripts/node-tests, part of make test):

  cli          `argus tenants create --store … --json` and `argus keys create --store … --mode test --json`
               make credentials both nodes accept; a tenant suspended by the CLI is refused by both.
  propagation  three nodes: a face acknowledged by one is in the others' galleries within 1 s
               (p99 over every enrolment, measured from the acknowledgement) and identified there.
  kill9        kill -9 of a node during concurrent enrolment: every acknowledged face is on the other
               node, and on the killed one after its restart; no face is held twice.
  pgrestart    PostgreSQL restarted under load: meanwhile the nodes answer 503 (never 500, never a
               wrong identity); afterwards they reconnect and catch up, and changes propagate again.
  race         one session token spent from two nodes at once (20 requests): one success, once.
  live         a WebSocket listener on one node hears the events of requests another node served.

  nodes.py BIN MODELS FACES [--only NAME,...] [--trials N]
"""
import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOGS = tempfile.mkdtemp(prefix="argus-node-logs-")
FAILURES = []
CHECKS = [0]
MASTER = base64.b64encode(os.urandom(32)).decode()
CLUSTER = {}


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


def env():
    return {**os.environ, "ARGUS_MASTER_KEY": MASTER}


# --- the throw-away cluster -------------------------------------------------------------------

def as_postgres(args):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + args
    return args


def pg_bin(name):
    dirs = sorted(d for d in os.listdir("/usr/lib/postgresql"))
    return f"/usr/lib/postgresql/{dirs[-1]}/bin/{name}"


def start_cluster():
    d = tempfile.mkdtemp(prefix="argus-pg-")
    url = subprocess.check_output([os.path.join(ROOT, "scripts/pg-throwaway.sh"), "start", d], text=True).strip()
    CLUSTER.update(dir=d, url=url, port=int(open(os.path.join(d, "port")).read()))


def stop_cluster():
    if CLUSTER:
        subprocess.run([os.path.join(ROOT, "scripts/pg-throwaway.sh"), "stop", CLUSTER["dir"]], check=False)
        shutil.rmtree(CLUSTER["dir"], ignore_errors=True)


def restart_cluster(down_seconds):
    data = os.path.join(CLUSTER["dir"], "data")
    subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]), check=True, stdout=subprocess.DEVNULL)
    time.sleep(down_seconds)
    subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", data, "-l", os.path.join(CLUSTER["dir"], "log"), "-w",
                                "-o", f"-p {CLUSTER['port']} -k {CLUSTER['dir']} -c listen_addresses=127.0.0.1", "start"]),
                   check=True, stdout=subprocess.DEVNULL)


def new_store():
    name = "argus_nodes_" + "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
    subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(CLUSTER["port"]), "-U", "argus", name], check=True)
    return f"postgres://argus@127.0.0.1:{CLUSTER['port']}/{name}"


def cli(*args):
    r = subprocess.run([ARGS.bin] + list(args), capture_output=True, text=True, env=env(), timeout=120)
    return r.returncode, r.stdout, r.stderr


# --- nodes --------------------------------------------------------------------------------------

class Node:
    def __init__(self, store, name):
        self.store, self.name, self.port = store, name, free_port()
        self.proc = None

    def start(self):
        args = [ARGS.bin, "serve", "--store", self.store, "--port", str(self.port), "--models", ARGS.models, "--log-level", "warning"]
        self.log = os.path.join(LOGS, f"{self.name}-{self.port}.log")
        self.proc = subprocess.Popen(args, stdout=open(self.log, "a"), stderr=subprocess.STDOUT, env=env())
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited: {open(self.log).read()[-2000:]}")
            try:
                if self.call("GET", "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"node {self.name} did not become healthy")

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

    def call(self, method, path, key=None, body=None, ctype="application/json", timeout=120):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": ctype}
        if key:
            h["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = {"_raw": raw[:300].decode(errors="replace")}
            return r.status, parsed
        finally:
            c.close()

    def templates(self, key):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/metrics", headers={"Authorization": f"Bearer {key}"})
            r = c.getresponse()
            text = r.read().decode()
            if r.status != 200:
                return None
            m = re.search(r"^argus_templates (\d+)", text, re.M)
            return int(m.group(1)) if m else None
        finally:
            c.close()


def photos(per_identity=2, identities=40):
    """(identity, [paths]) for identities with at least `per_identity` photos, in a fixed shuffled order."""
    out = []
    for name in sorted(os.listdir(ARGS.faces)):
        files = sorted(os.listdir(os.path.join(ARGS.faces, name)))
        if len(files) >= per_identity:
            out.append((name, [os.path.join(ARGS.faces, name, f) for f in files[:per_identity]]))
    random.Random(11).shuffle(out)
    return out[:identities]


def code(body):
    return (body.get("error") or {}).get("code")


def make_key(store):
    rc, out, err = cli("keys", "create", "--store", store, "--mode", "test", "--json")
    if not check("cli: keys create", rc == 0, err[-500:]):
        raise RuntimeError("no key")
    return json.loads(out)["key"]


def enrol(node, key, identity, path):
    s, subject = node.call("POST", "/v1/subjects", key, {"external_id": identity})
    if s == 409:
        s, page = node.call("GET", f"/v1/subjects?external_id={identity}", key)
        subject = (page.get("data") or [{}])[0]
    if s not in (200, 201):
        return s, None, None
    s, face = node.call("POST", f"/v1/subjects/{subject['id']}/faces", key, open(path, "rb").read(), ctype="image/jpeg")
    return s, subject["id"], face.get("id")


def wait_templates(node, key, want, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if node.templates(key) == want:
            return time.time() - start
        time.sleep(0.005)
    return None


# --- tests --------------------------------------------------------------------------------------

def test_cli():
    store = new_store()
    rc, out, err = cli("tenants", "create", "--store", store, "--name", "acme", "--json")
    check("cli: tenants create --store --json", rc == 0, err[-500:])
    tenant = json.loads(out) if rc == 0 else {}
    check("cli: tenants create prints id and secret_key", tenant.get("id", "").startswith("ten_") and tenant.get("secret_key", "").startswith("sk_test_"), out)
    rc, out, err = cli("keys", "create", "--store", store, "--mode", "test", "--json")
    check("cli: keys create --store --mode test --json", rc == 0 and json.loads(out or "{}").get("key", "").startswith("sk_test_"), out + err[-500:])
    default_key = json.loads(out)["key"] if rc == 0 else None
    a, b = Node(store, "cli-a").start(), Node(store, "cli-b").start()
    try:
        for node in (a, b):
            s, p = node.call("GET", "/v1/ping", tenant.get("secret_key"))
            check(f"cli: the new tenant's key works on node {node.name}", s == 200 and p.get("tenant") == tenant.get("id"), f"{s} {p}")
            s, p = node.call("GET", "/v1/ping", default_key)
            check(f"cli: the CLI's key works on node {node.name}", s == 200, f"{s} {p}")
        rc, _, err = cli("tenants", "suspend", "--store", store, tenant.get("id", ""))
        check("cli: tenants suspend --store", rc == 0, err[-500:])
        for node in (a, b):
            s, p = node.call("GET", "/v1/ping", tenant.get("secret_key"))
            check(f"cli: a suspended tenant is refused at once by node {node.name}", s in (401, 403), f"{s} {p}")
    finally:
        a.stop(), b.stop()


def test_propagation():
    store = new_store()
    key = make_key(store)
    nodes = [Node(store, f"prop-{n}").start() for n in "abc"]
    latencies = []
    try:
        people = photos(per_identity=2, identities=ARGS.identities)
        count = 0
        for i, (identity, paths) in enumerate(people):
            writer = nodes[i % 3]
            s, subject, face = enrol(writer, key, identity, paths[0])
            acked = time.time()
            if s != 201:
                continue  # no single good face in this photo: not this test's concern
            count += 1
            for reader in nodes:
                if reader is writer:
                    continue
                while time.time() - acked < 5:
                    if reader.templates(key) >= count:
                        break
                    time.sleep(0.002)
                latencies.append(time.time() - acked)
        check("propagation: enough faces enrolled", count >= 10, f"{count}")
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"propagation: {len(latencies)} reads of {count} faces, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms", flush=True)
        check("propagation: p99 from acknowledgement to the other nodes' galleries is under 1 s", p99 < 1.0, f"p99 {p99:.3f} s")
        # The galleries agree, and a second photo is identified on a node that did not enrol it.
        totals = [n.templates(key) for n in nodes]
        check("propagation: every node holds every face", len(set(totals)) == 1 and totals[0] == count, f"{totals} vs {count}")
        hits = 0
        for i, (identity, paths) in enumerate(people[:6]):
            reader = nodes[(i + 1) % 3]
            image = base64.b64encode(open(paths[1], "rb").read()).decode()
            s, r = reader.call("POST", "/v1/identify", key, {"image": image, "top_k": 1})
            if s == 200 and r.get("candidates"):
                s2, subj = reader.call("GET", f"/v1/subjects/{r['candidates'][0]['subject_id']}", key)
                hits += subj.get("external_id") == identity
        check("propagation: faces enrolled elsewhere are identified", hits >= 4, f"{hits} of 6")
    finally:
        for n in nodes:
            n.stop()


def test_kill9():
    people = photos(per_identity=1, identities=200)
    for trial in range(ARGS.trials):
        store = new_store()
        key = make_key(store)
        a, b = Node(store, f"k9-a{trial}").start(), Node(store, f"k9-b{trial}").start()
        acked, lock, stop = [], threading.Lock(), threading.Event()
        queue = list(people)
        random.Random(trial).shuffle(queue)

        def client():
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    identity, paths = queue.pop()
                try:
                    s, subject, face = enrol(a, key, identity, paths[0])
                except OSError:
                    return
                if s == 201 and face:
                    with lock:
                        acked.append((subject, face))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        # The kill comes at a random moment once enrolment is under way (a slow machine may take a
        # while for the first one): not before the first acknowledgement.
        deadline = time.time() + 60
        while time.time() < deadline and not acked:
            time.sleep(0.05)
        time.sleep(random.uniform(0.5, 4.0))
        a.kill9()
        stop.set()
        for t in threads:
            t.join()
        check(f"kill9 trial {trial}: some enrolments were acknowledged before the kill", len(acked) > 0, "none")
        # Every acknowledged face is on the surviving node, in its gallery and through the API.
        time.sleep(1.0)
        missing = [f for s, f in acked if f not in (b.call("GET", f"/v1/subjects/{s}", key)[1].get("faces") or [])]
        check(f"kill9 trial {trial}: every acknowledged face is stored (node b reads it)", not missing, f"{len(missing)} of {len(acked)} missing")
        held_b = b.templates(key)
        check(f"kill9 trial {trial}: node b's gallery holds at least every acknowledged face", held_b is not None and held_b >= len(acked), f"{held_b} < {len(acked)}")
        a.start()
        held_a = a.templates(key)
        check(f"kill9 trial {trial}: the restarted node holds what the other holds, nothing twice", held_a == b.templates(key), f"{held_a} vs {b.templates(key)}")
        missing = [f for s, f in acked if f not in (a.call("GET", f"/v1/subjects/{s}", key)[1].get("faces") or [])]
        check(f"kill9 trial {trial}: every acknowledged face is on the restarted node", not missing, f"{len(missing)} missing")
        print(f"kill9 trial {trial}: {len(acked)} acknowledged, galleries {held_a}/{held_b}", flush=True)
        a.stop(), b.stop()


def test_pgrestart():
    store = new_store()
    key = make_key(store)
    a, b = Node(store, "pg-a").start(), Node(store, "pg-b").start()
    people = photos(per_identity=2, identities=30)
    enrolled = {}
    for identity, paths in people[:8]:
        s, subject, face = enrol(a, key, identity, paths[0])
        if s == 201:
            enrolled[identity] = (subject, paths[1])
    check("pgrestart: faces enrolled before the restart", len(enrolled) >= 4, f"{len(enrolled)}")
    statuses, wrong, lock, stop = {}, [], threading.Lock(), threading.Event()
    probes = list(enrolled.items())

    def load(node):
        i = 0
        while not stop.is_set():
            identity, (subject, probe) = probes[i % len(probes)]
            i += 1
            try:
                s, r = node.call("POST", "/v1/identify", key, {"image": base64.b64encode(open(probe, "rb").read()).decode(), "top_k": 1}, timeout=30)
            except OSError as e:
                s, r = type(e).__name__, {}
            with lock:
                statuses[s] = statuses.get(s, 0) + 1
                if s == 200 and r.get("decision") == "match" and r["candidates"][0]["subject_id"] != subject:
                    wrong.append((identity, r))

    threads = [threading.Thread(target=load, args=(n,)) for n in (a, b, a, b)]
    for t in threads:
        t.start()
    time.sleep(2)
    restart_cluster(down_seconds=3)
    t0 = time.time()
    # Back: both nodes answer again within seconds.
    back = None
    while time.time() - t0 < 30:
        if a.call("GET", "/v1/ping", key)[0] == 200 and b.call("GET", "/v1/ping", key)[0] == 200:
            back = time.time() - t0
            break
        time.sleep(0.1)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    print(f"pgrestart: statuses under load {statuses}; answering again {back if back is None else round(back, 2)} s after PostgreSQL was", flush=True)
    check("pgrestart: the nodes answer again after PostgreSQL returns", back is not None)
    check("pgrestart: meanwhile only 200 or 503, never a 500", set(statuses) <= {200, 503}, f"{statuses}")
    check("pgrestart: some requests were refused with 503 while it was down", statuses.get(503, 0) > 0, f"{statuses}")
    check("pgrestart: never a wrong identity", not wrong, f"{wrong[:2]}")
    # Changes propagate again (the listening connection was lost and is back, or the poll finds them).
    before = b.templates(key)
    for identity, paths in people[8:14]:
        s, subject, face = enrol(a, key, identity, paths[0])
        if s == 201:
            seen = wait_templates(b, key, before + 1, 3.0)
            check("pgrestart: a face enrolled on a after the restart reaches b within 1 s", seen is not None and seen < 1.0, f"{seen}")
            before += 1
    a.stop(), b.stop()


def test_race():
    store = new_store()
    key = make_key(store)
    a, b = Node(store, "race-a").start(), Node(store, "race-b").start()
    try:
        identity, paths = photos(per_identity=2, identities=12)[0]
        s, subject, face = enrol(a, key, identity, paths[0])
        check("race: subject enrolled", s == 201, f"{s}")
        s, sess = a.call("POST", "/v1/sessions", key, {"purpose": "verify", "subject_id": subject, "customer_ref": "phone-1"})
        check("race: session minted", s == 201, f"{s} {sess}")
        token = sess.get("token")
        image = base64.b64encode(open(paths[1], "rb").read()).decode()
        time.sleep(0.5)

        def verify(i):
            node = a if i % 2 == 0 else b
            return node.call("POST", "/v1/verify", token, {"subject_id": subject, "image": image})

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(verify, range(20)))
        wins = [r for s, r in results if s == 200 and r.get("match") is True]
        print(f"race: statuses {sorted(s for s, _ in results)}", flush=True)
        check("race: exactly one success across the two nodes", len(wins) == 1, f"{[(s, code(r)) for s, r in results]}")
        check("race: the others are refused, none is a 500", all(s in (200, 401, 403, 409, 429, 503) for s, _ in results), f"{[s for s, _ in results]}")
        s, state = b.call("GET", f"/v1/sessions/{sess.get('id')}", key)
        attempts = state.get("attempts") or []
        check("race: the session says succeeded, with one matching attempt", s == 200 and state.get("status") == "succeeded"
              and sum(1 for x in attempts if x.get("match") is True) == 1, f"{s} {state}")
    finally:
        a.stop(), b.stop()


def test_live():
    try:
        import websocket
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "websocket-client"], check=True)
        import websocket
    store = new_store()
    key = make_key(store)
    a, b = Node(store, "live-a").start(), Node(store, "live-b").start()
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{b.port}/v1/events/ws", header=["Authorization: Bearer " + key], timeout=10)
        # The server says "subscribed" once the listener is registered: only then is the enrolment made.
        hello = json.loads(ws.recv())
        check("live: node b's listener is subscribed", hello.get("type") == "subscribed", f"{hello}")
        identity, paths = photos(per_identity=1, identities=12)[0]
        s, subject, face = enrol(a, key, identity, paths[0])
        check("live: enrolled on node a", s == 201, f"{s}")
        acked = time.time()
        heard = None
        while time.time() - acked < 5:
            try:
                message = json.loads(ws.recv())
            except Exception as e:
                break
            if message.get("type") == "face.enrolled":
                heard = (time.time() - acked, message)
                break
        check("live: node b's listener hears the enrolment node a served, within 1 s", heard is not None and heard[0] < 1.0
              and (heard[1].get("data") or {}).get("face_id") == face, f"{heard}")
        if heard:
            print(f"live: heard on the other node {heard[0] * 1000:.1f} ms after the acknowledgement", flush=True)
        ws.close()
    finally:
        a.stop(), b.stop()


TESTS = {"cli": test_cli, "propagation": test_propagation, "race": test_race, "live": test_live, "kill9": test_kill9, "pgrestart": test_pgrestart}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("bin")
    p.add_argument("models")
    p.add_argument("faces")
    p.add_argument("--only", default=",".join(TESTS))
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--identities", type=int, default=45)
    ARGS = p.parse_args()
    start_cluster()
    try:
        for name in ARGS.only.split(","):
            t0 = time.time()
            try:
                TESTS[name]()
            except Exception as e:  # a test that cannot run is a failure, with its reason
                check(f"{name}: ran", False, repr(e))
            print(f"{name}: done in {time.time() - t0:.1f} s", flush=True)
    finally:
        stop_cluster()
    print(f"nodes: {CHECKS[0]} checks, {len(FAILURES)} failed (logs in {LOGS})")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
