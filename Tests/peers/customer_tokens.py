#!/usr/bin/env python3
"""Customer tokens minted by PyJWT (with `cryptography`), nobody here wrote either, against a live
`argus serve`:

    customer_tokens.py BASE_URL SECRET_KEY FACES_DIR

For RS256, ES256 and EdDSA: a registered key's token verifies its own subject (match on a photo of
the person, no match on another's), reads its status, self-enrols when the tenant allows it, and
nothing else. Attacks, each 401 (403 for what a valid token may not do): alg none, HS256 signed with
the public key, an unknown kid, another tenant's key, a header-embedded jwk, type not customer, a
wrong workspace_id, an over-long lifetime, expiry (token_expired), nbf in the future, a deleted key,
a tampered payload; identify, keys, sessions and another subject are refused. Exits 1 at the first
disagreement."""
import base64, hashlib, hmac, json, sys, time, urllib.error, urllib.request, uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

sys.path.insert(0, __import__("os").path.dirname(__file__))
from peerlib import Peer, b64url, pem  # noqa: E402

BASE, KEY, FACES = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
peer = Peer(BASE)
call, expect = peer.call, peer.expect


def photo(name):
    with open(f"{FACES}/{name}", "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


tenant = expect("ping", call("GET", "/v1/ping", KEY), 200)["tenant"]
run = uuid.uuid4().hex[:6]
# The subject of end user "user-<run>", enrolled by the tenant's backend.
subject = expect("subject", call("POST", "/v1/subjects", KEY, {"external_id": f"user-{run}"}), 201)["id"]
expect("enrol", call("POST", f"/v1/subjects/{subject}/faces", KEY, raw=photo("Hugo_Chavez/0001.jpg"), ctype="image/jpeg"), 201)
other = expect("another subject", call("POST", "/v1/subjects", KEY, {"external_id": f"other-{run}"}), 201)["id"]
same, different = b64(photo("Hugo_Chavez/0002.jpg")), b64(photo("Tom_Ridge/0001.jpg"))

# Another tenant and its key, for cross-tenant attacks.
op = None


def claims(**over):
    now = int(time.time())
    c = {"type": "customer", "sub": f"user-{run}", "workspace_id": tenant, "product_space_code": "default", "jti": uuid.uuid4().hex,
         "iat": now, "exp": now + 900}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


keys = {
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
}
for alg, private in keys.items():
    kid = f"{alg.lower()}-{run}"
    registered = expect(f"{alg}: register", call("POST", "/v1/customer_keys", KEY, {"kid": kid, "alg": alg, "public_key_pem": pem(private)}), 201)
    token = jwt.encode(claims(), private, algorithm=alg, headers={"kid": kid})
    body = expect(f"{alg}: verify own subject", call("POST", "/v1/verify", token, {"image": same}), 200)
    if not (body.get("match") is True and "score" in body and "threshold" in body):
        print(f"FAIL {alg}: expected a match with score and threshold, got {body}")
        sys.exit(1)
    body = expect(f"{alg}: another person", call("POST", "/v1/verify", token, {"image": different}), 200)
    if body.get("match") is not False:
        print(f"FAIL {alg}: another person matched: {body}")
        sys.exit(1)
    status = expect(f"{alg}: status", call("GET", "/v1/customer/subject", token), 200)
    if status.get("subject_id") != subject or status.get("enrolled") is not True:
        print(f"FAIL {alg}: status {status}")
        sys.exit(1)
    # What a valid token may not do.
    expect(f"{alg}: no subject_id of its choosing", call("POST", "/v1/verify", token, {"image": same, "subject_id": other}), 400, "invalid_request")
    expect(f"{alg}: no threshold", call("POST", "/v1/verify", token, {"image": same, "threshold": -0.9}), 400, "invalid_request")
    expect(f"{alg}: no identify", call("POST", "/v1/identify", token, {"image": same}), 403, "insufficient_scope")
    expect(f"{alg}: no keys", call("GET", "/v1/keys", token), 403, "insufficient_scope")
    expect(f"{alg}: no sessions", call("POST", "/v1/sessions", token, {"customer_ref": "x", "purpose": "verify", "subject_id": other}), 403)
    expect(f"{alg}: no other subject's faces", call("POST", f"/v1/subjects/{other}/faces", token, raw=photo("Tom_Ridge/0001.jpg"), ctype="image/jpeg"), 403)
    expect(f"{alg}: no self-enrolment unless enabled", call("POST", "/v1/customer/faces", token, raw=photo("Hugo_Chavez/0003.jpg"), ctype="image/jpeg"),
           403, "insufficient_scope")
    # Attacks on the token itself.
    expect(f"{alg}: alg none", call("GET", "/v1/customer/subject", jwt.encode(claims(), None, algorithm="none", headers={"kid": kid})), 401)
    public_bytes = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a public key, so the forgery is made by hand.
    def seg(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    signing_input = f"{seg({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{seg(claims())}"
    mac = hmac.new(public_bytes, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    expect(f"{alg}: HS256 with the public key", call("GET", "/v1/customer/subject", forged), 401, "invalid_credentials")
    expect(f"{alg}: unknown kid", call("GET", "/v1/customer/subject", jwt.encode(claims(), private, algorithm=alg, headers={"kid": "nobody"})), 401)
    embedded = jwt.encode(claims(), private, algorithm=alg, headers={"kid": kid, "jwk": {"kty": "oct", "k": "AAAA"}})
    expect(f"{alg}: embedded jwk", call("GET", "/v1/customer/subject", embedded), 401)
    expect(f"{alg}: type not customer", call("GET", "/v1/customer/subject", jwt.encode(claims(type="user"), private, algorithm=alg, headers={"kid": kid})), 401)
    expect(f"{alg}: wrong workspace", call("GET", "/v1/customer/subject", jwt.encode(claims(workspace_id="ten_nobody"), private, algorithm=alg,
                                                                                       headers={"kid": kid})), 401)
    now = int(time.time())
    expect(f"{alg}: over-long lifetime", call("GET", "/v1/customer/subject", jwt.encode(claims(iat=now, exp=now + 7200), private, algorithm=alg,
                                                                                          headers={"kid": kid})), 401)
    expect(f"{alg}: expired", call("GET", "/v1/customer/subject", jwt.encode(claims(iat=now - 600, exp=now - 10), private, algorithm=alg,
                                                                                 headers={"kid": kid})), 401, "token_expired")
    expect(f"{alg}: nbf ahead", call("GET", "/v1/customer/subject", jwt.encode(claims(nbf=now + 600), private, algorithm=alg, headers={"kid": kid})), 401)
    expect(f"{alg}: iat ahead", call("GET", "/v1/customer/subject", jwt.encode(claims(iat=now + 600, exp=now + 900), private, algorithm=alg,
                                                                                   headers={"kid": kid})), 401)
    head, payload, sig = token.split(".")
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims(sub=f"other-{run}")).encode()).rstrip(b"=").decode()
    expect(f"{alg}: tampered payload", call("GET", "/v1/customer/subject", f"{head}.{tampered_payload}.{sig}"), 401)
    expect(f"{alg}: another alg on the same kid", call("GET", "/v1/customer/subject",
                                                        jwt.encode(claims(), keys["ES256" if alg != "ES256" else "RS256"],
                                                                   algorithm="ES256" if alg != "ES256" else "RS256", headers={"kid": kid})), 401)
    # A deleted key stops its tokens at once.
    expect(f"{alg}: delete key", call("DELETE", f"/v1/customer_keys/{registered['id']}", KEY), 200)
    expect(f"{alg}: deleted key's token", call("GET", "/v1/customer/subject", token), 401)
    print(f"{alg}: ok")

# Self-enrolment, once the tenant enables it: the subject of a new end user is created with its face.
private = keys["EdDSA"]
kid = f"enrol-{run}"
expect("register", call("POST", "/v1/customer_keys", KEY, {"kid": kid, "alg": "EdDSA", "public_key_pem": pem(private)}), 201)
expect("enable self-enrolment", call("PATCH", "/v1/settings", KEY, {"customer_self_enrollment": True}), 200)
newcomer = jwt.encode(claims(sub=f"new-{run}"), private, algorithm="EdDSA", headers={"kid": kid})
expect("self-enrol", call("POST", "/v1/customer/faces", newcomer, raw=photo("Tom_Ridge/0001.jpg"), ctype="image/jpeg"), 201)
expect("verify after self-enrolment", call("POST", "/v1/verify", newcomer, {"image": b64(photo("Tom_Ridge/0002.jpg"))}), 200)
expect("no options on self-enrolment", call("POST", "/v1/customer/faces?gallery=vip", newcomer, raw=photo("Tom_Ridge/0003.jpg"), ctype="image/jpeg"),
       400, "invalid_request")
# Another tenant's key never signs for this one.
expect("a restricted key cannot change settings", call("PATCH", "/v1/settings",
       expect("rk", call("POST", "/v1/keys", KEY, {"kind": "restricted", "scopes": ["keys:manage"]}), 201)["key"], {"customer_self_enrollment": False}),
       403, "insufficient_scope")
# Live events over WebSocket (websocket-client).
import websocket

WS = BASE.replace("http://", "ws://") + "/v1/events/ws"


def close_code(ws, seconds=10):
    """Reads until the server closes; the close frame's code."""
    ws.settimeout(seconds)
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else None


def next_json(ws, seconds=20):
    ws.settimeout(seconds)
    return json.loads(ws.recv())


ws = websocket.create_connection(WS, header=["Authorization: Bearer " + newcomer], timeout=10)
check_first = next_json(ws)
expect("ws subscribed (header)", (200 if check_first.get("type") == "subscribed" else 500, check_first), 200)
expect("verify while listening", call("POST", "/v1/verify", newcomer, {"image": b64(photo("Tom_Ridge/0002.jpg"))}), 200)
event = next_json(ws)
expect("the verification result arrives", (200 if event.get("type") == "verification.completed" and "match" in event["data"] and "score" in event["data"] else 500,
                                           event), 200)
ws.close()
# The token as the first message; a secret key hears the whole tenant.
ws = websocket.create_connection(WS, timeout=10)
ws.send(json.dumps({"token": "Bearer " + KEY}))
expect("ws subscribed (first message, secret key)", (200 if next_json(ws).get("type") == "subscribed" else 500, {}), 200)
expect("a verification of another subject", call("POST", "/v1/verify", KEY, {"subject_id": subject, "image": same}), 200)
tenant_event = next_json(ws)
expect("the secret key hears it", (200 if tenant_event.get("type") == "verification.completed" and tenant_event["data"].get("subject_id") == subject else 500,
                                   tenant_event), 200)
ws.close()
# No token within 5 s: 4000. An expiring token: 4001. A deleted key: 4003.
ws = websocket.create_connection(WS, timeout=10)
expect("no token within 5 s closes 4000", (200 if close_code(ws, 10) == 4000 else 500, {}), 200)
now = int(time.time())
short = jwt.encode(claims(sub=f"new-{run}", iat=now, exp=now + 3), private, algorithm="EdDSA", headers={"kid": kid})
ws = websocket.create_connection(WS, header=["Authorization: Bearer " + short], timeout=10)
next_json(ws)
expect("an expiring token closes 4001", (200 if close_code(ws, 10) == 4001 else 500, {}), 200)
doomed = ec.generate_private_key(ec.SECP256R1())
registered = expect("register a key to delete", call("POST", "/v1/customer_keys", KEY, {"kid": f"doomed-{run}", "alg": "ES256", "public_key_pem": pem(doomed)}), 201)
ws = websocket.create_connection(WS, header=["Authorization: Bearer " + jwt.encode(claims(), doomed, algorithm="ES256", headers={"kid": f"doomed-{run}"})],
                                 timeout=10)
next_json(ws)
expect("delete it", call("DELETE", f"/v1/customer_keys/{registered['id']}", KEY), 200)
expect("a deleted key closes 4003", (200 if close_code(ws, 10) == 4003 else 500, {}), 200)
expect("a forged token is refused", call("GET", "/v1/events/ws", "x.y.z"), 401)
# At most 5 sockets per holder: the sixth is closed with 4029.
# Each of the five is heard subscribed before the next is opened (the limit is applied as a
# socket registers, and the order connections' handlers run in is not the order they were opened).
held, firsts = [], []
for _ in range(5):
    held.append(websocket.create_connection(WS, header=["Authorization: Bearer " + KEY], timeout=10))
    firsts.append(next_json(held[-1]).get("type"))
held.append(websocket.create_connection(WS, header=["Authorization: Bearer " + KEY], timeout=10))
expect("five sockets per holder", (200 if firsts == ["subscribed"] * 5 else 500, {"got": firsts}), 200)
expect("the sixth is refused", (200 if close_code(held[5], 10) == 4029 else 500, {}), 200)
for w in held[:5]:
    w.close()

print(f"customer_tokens.py: {peer.checks} checks passed (tokens by PyJWT {jwt.__version__}, WebSocket by websocket-client {websocket.__version__})")
