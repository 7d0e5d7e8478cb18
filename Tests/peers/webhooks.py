#!/usr/bin/env python3
"""Webhooks against a live `argus serve --allow-private-webhooks`, received by a real HTTP receiver
that checks every `Argus-Signature` (HMAC-SHA256 over "<t>.<body>", timestamps at most 5 min old):

    webhooks.py ARGUS_BINARY MODELS_DIR FACES_DIR

Each event type is caused and received once, signed; then the kill -9 trial: with the receiver down,
events are caused, the server is killed with SIGKILL, restarted, the receiver comes back, and every
event is delivered (duplicates allowed, none lost, ids stable). Exits 1 at the first disagreement."""
import base64, hashlib, hmac, http.server, json, os, signal, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

BIN, MODELS, FACES = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp(prefix="argus-webhooks-")
checks = 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def check(what, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        print(f"FAIL {what} {detail}")
        sys.exit(1)


class Receiver:
    """Accepts signed events only; keeps what it accepted."""
    def __init__(self):
        self.secret = None
        self.events = []
        self.refused = 0
        self.port = free_port()
        self.server = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                header = self.headers.get("Argus-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
                ok = False
                if receiver.secret and "t" in parts and "v1" in parts and abs(time.time() - int(parts["t"])) < 300:
                    expected = hmac.new(receiver.secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
                    ok = hmac.compare_digest(expected, parts["v1"])
                if not ok:
                    receiver.refused += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver.events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_server(data, port):
    with open(f"{work}/config.json", "w") as f:
        json.dump({"webhookRetryBase": 0.3, "authFailureBurst": 1000}, f)
    log = open(f"{work}/serve-{port}.log", "a")
    p = subprocess.Popen([BIN, "serve", "--data-dir", data, "--port", str(port), "--models", MODELS, "--allow-private-webhooks",
                          "--config", f"{work}/config.json", "--log-level", "warning"], stdout=log, stderr=log, env=os.environ.copy())
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return p
        except Exception:
            time.sleep(0.25)
    print(open(f"{work}/serve-{port}.log").read())
    sys.exit(1)


def api(port, method, path, key, body=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def photo(name):
    with open(f"{FACES}/{name}", "rb") as f:
        return f.read()


def wait_for(what, predicate, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    check(what, False, "(timed out)")


receiver = Receiver()
receiver.start()
data, port = f"{work}/data", free_port()
server = start_server(data, port)
import re
found = re.search(r"sk_test_[A-Za-z0-9]+", open(f"{work}/serve-{port}.log").read())
key = found.group(0) if found else None
check("first key", key is not None)

# Targets: refused where they must be.
for bad in ["ftp://example.com/x", "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "http://224.0.0.1/x", "http://user:pw@127.0.0.1/"]:
    status, _ = api(port, "POST", "/v1/webhook_endpoints", key, {"url": bad, "events": ["face.enrolled"]})
    check(f"target {bad} refused", status == 400, str(status))
status, endpoint = api(port, "POST", "/v1/webhook_endpoints", key, {"url": f"http://127.0.0.1:{receiver.port}/hook",
                                                                    "events": ["session.succeeded", "session.failed", "session.expired", "face.enrolled",
                                                                               "face.duplicate_candidate", "subject.deleted"]})
check("endpoint registered", status == 201 and endpoint.get("secret", "").startswith("whsec_"), str(endpoint))
receiver.secret = endpoint["secret"]
rk = api(port, "POST", "/v1/keys", key, {"kind": "restricted", "scopes": ["keys:manage"]})[1]["key"]
check("a restricted key cannot register an endpoint", api(port, "POST", "/v1/webhook_endpoints", rk, {"url": f"http://127.0.0.1:{receiver.port}/x",
                                                                                                       "events": ["face.enrolled"]})[0] == 403)

# Cause each event.
hugo = api(port, "POST", "/v1/subjects", key, {"external_id": "hugo"})[1]["id"]
check("enrol", api(port, "POST", f"/v1/subjects/{hugo}/faces", key, raw=photo("Hugo_Chavez/0001.jpg"), ctype="image/jpeg")[0] == 201)
twin = api(port, "POST", "/v1/subjects", key, {"external_id": "twin"})[1]["id"]
check("enrol a duplicate", api(port, "POST", f"/v1/subjects/{twin}/faces?dedup=true", key, raw=photo("Hugo_Chavez/0002.jpg"), ctype="image/jpeg")[0] == 201)
same, other = base64.b64encode(photo("Hugo_Chavez/0003.jpg")).decode(), base64.b64encode(photo("Tom_Ridge/0001.jpg")).decode()
token = api(port, "POST", "/v1/sessions", key, {"customer_ref": "c1", "purpose": "verify", "subject_id": hugo})[1]["token"]
check("session succeeds", api(port, "POST", "/v1/verify", token, {"subject_id": hugo, "image": same})[1].get("match") is True)
failing = api(port, "POST", "/v1/sessions", key, {"customer_ref": "c2", "purpose": "verify", "subject_id": hugo})[1]["token"]
for _ in range(3):
    api(port, "POST", "/v1/verify", failing, {"subject_id": hugo, "image": other})
api(port, "POST", "/v1/sessions", key, {"customer_ref": "c3", "purpose": "verify", "subject_id": hugo, "ttl": 1})
check("delete", api(port, "DELETE", f"/v1/subjects/{twin}", key)[0] == 200)
expected = {"face.enrolled", "face.duplicate_candidate", "session.succeeded", "session.failed", "session.expired", "subject.deleted"}
wait_for("every event type delivered", lambda: expected <= {e["type"] for e in receiver.events}, 40)
check("each event is {id, type, created, data}", all(set(e) == {"id", "type", "created", "data"} for e in receiver.events))
succeeded = next(e for e in receiver.events if e["type"] == "session.succeeded")
check("session.succeeded carries its session and score", succeeded["data"].get("customer_ref") == "c1" and "score" in succeeded["data"])
duplicate = next(e for e in receiver.events if e["type"] == "face.duplicate_candidate")
check("face.duplicate_candidate names the other subject", hugo in duplicate["data"].get("candidates", []))
check("no unsigned delivery was accepted", receiver.refused == 0, str(receiver.refused))
# The receiver has an event before the server has read its 200 and recorded the delivery: the
# listing is polled until it shows them delivered.
listing = [[]]


def all_delivered():
    status, body = api(port, "GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", key)
    listing[0] = body.get("data", []) if status == 200 else []
    return len(listing[0]) >= len(expected) and all(d["status"] == "delivered" and d["last_status"] == 200 for d in listing[0])


wait_for("deliveries are listed, delivered", all_delivered, 40)
check("deliveries listed", len(listing[0]) >= len(expected), str(listing[0][:2]))

# The kill -9 trial: receiver down, events caused, server killed, restarted, receiver up: all delivered.
receiver.stop()
before = {e["id"] for e in receiver.events}
caused = 0
for i in range(6):
    s = api(port, "POST", "/v1/subjects", key, {"external_id": f"k{i}"})[1]["id"]
    check(f"enrol k{i}", api(port, "POST", f"/v1/subjects/{s}/faces", key, raw=photo(f"Hugo_Chavez/000{i + 4}.jpg"), ctype="image/jpeg")[0] == 201)
    caused += 1
time.sleep(1.0)  # some attempts fail meanwhile (connection refused), and are rescheduled
server.send_signal(signal.SIGKILL)
server.wait()
server = start_server(data, port)
listed = api(port, "GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", key)[1]["data"]
pending = {d["event_id"] for d in listed if d["type"] == "face.enrolled" and d["event_id"] not in before}
check("the caused events are in the outbox after the kill", len(pending) == caused, f"{len(pending)} of {caused}")
failed_before = [d for d in listed if d["event_id"] in pending and d["attempts"] >= 1 and d["status"] == "pending"]
check("some were tried and failed before the kill (their retries cross the restart)", failed_before,
      str([(d["attempts"], d["status"], d["last_error"]) for d in listed if d["event_id"] in pending]))
receiver2 = Receiver()
receiver2.port = receiver.port
receiver2.secret = receiver.secret
receiver2.start()
wait_for("every pending event delivered after the restart", lambda: pending <= {e["id"] for e in receiver2.events}, 60)
ids = [e["id"] for e in receiver2.events]
print(f"kill -9 trial: {caused} events caused with the receiver down, {len(pending)} pending across the kill, "
      f"{len(set(ids) & pending)} delivered after the restart ({len(ids) - len(set(ids))} duplicates)")
server.send_signal(signal.SIGTERM)
server.wait(timeout=30)
receiver2.stop()
print(f"webhooks.py: {checks} checks passed")
