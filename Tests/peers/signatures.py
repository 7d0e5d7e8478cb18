#!/usr/bin/env python3
"""Signed requests, checked by signers nobody here wrote: Python `cryptography` (Ed25519, P-256,
RSA PKCS#1 v1.5) and `coincurve` (secp256k1), against a live `argus serve`.

    signatures.py BASE_URL SECRET_KEY

For each algorithm: a fresh secret key gets the signer, requires signed requests, and then
  - a signed POST /v1/subjects succeeds, and an unsigned one is 401 user_action_required;
  - body tampering, path swap, method swap, replay, a signer of another credential, a revoked
    signer and a bad signature are each 401 user_action_invalid;
  - the setting cannot be turned off without a user action.
Exits 1 on the first disagreement, printing it."""
import base64, hashlib, json, sys, urllib.error, urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
import coincurve

sys.path.insert(0, __import__("os").path.dirname(__file__))
from peerlib import Peer, b64url, pem  # noqa: E402

BASE, ROOT_KEY = sys.argv[1].rstrip("/"), sys.argv[2]
peer = Peer(BASE)
expect = peer.expect


def call(method, path, key, body=None, headers=None):
    return peer.call(method, path, key, body, headers=headers)


def int_bytes(n, size=None):
    return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")


def ec_jwk(public_key, crv):
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": crv, "x": b64url(int_bytes(numbers.x, 32)), "y": b64url(int_bytes(numbers.y, 32))}


def signers():
    """(alg, public PEM, the same key as a JWK, sign(bytes) -> signature bytes) per algorithm, from independent libraries."""
    e = ed25519.Ed25519PrivateKey.generate()
    raw = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    yield "Ed25519", pem(e.public_key()), {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}, lambda m: e.sign(m)
    p = ec.generate_private_key(ec.SECP256R1())
    yield "ES256", pem(p.public_key()), ec_jwk(p.public_key(), "P-256"), lambda m: p.sign(m, ec.ECDSA(hashes.SHA256()))
    k = coincurve.PrivateKey()
    # coincurve gives the raw point; wrap it in a SubjectPublicKeyInfo with `cryptography`.
    k_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), k.public_key.format(compressed=False))
    yield "ES256K", pem(k_pub), ec_jwk(k_pub, "secp256k1"), lambda m: k.sign(m, hasher=lambda x: hashlib.sha256(x).digest())
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = r.public_key().public_numbers()
    yield "RS256", pem(r.public_key()), {"kty": "RSA", "n": b64url(int_bytes(n.n)), "e": b64url(int_bytes(n.e))}, \
        lambda m: r.sign(m, padding.PKCS1v15(), hashes.SHA256())


def signed_bytes(challenge, method, path, digest):
    return ('{"challenge":"%s","method":"%s","path":"%s","body_sha256":"%s"}' % (challenge, method, path, digest)).encode()


def action(key, signer_id, sign, method, path, body, init_key=None):
    digest = hashlib.sha256(body).hexdigest()
    s, ch = call("POST", "/v1/auth/action/init", init_key or key, json.dumps({"method": method, "path": path, "body_sha256": digest}).encode())
    assert s == 200, (s, ch)
    sig = sign(signed_bytes(ch["challenge"], method, path, digest))
    s, ua = call("POST", "/v1/auth/action", key, json.dumps({"challenge_id": ch["challenge_id"], "signer_id": signer_id, "signature": b64url(sig)}).encode())
    return s, ua


def new_key():
    s, body = call("POST", "/v1/keys", ROOT_KEY, json.dumps({"kind": "secret", "name": "peer"}).encode())
    assert s == 201, body
    return body["id"], body["key"]


for alg, public_pem, jwk, sign in signers():
    key_id, key = new_key()
    s, signer = call("POST", f"/v1/keys/{key_id}/signers", key, json.dumps({"alg": alg, "public_key_pem": public_pem}).encode())
    expect(f"{alg}: register signer", (s, signer), 201)
    expect(f"{alg}: require signed requests", call("PATCH", f"/v1/keys/{key_id}", key, b'{"signed_requests":"required"}'), 200)
    body = json.dumps({"external_id": f"peer-{alg}"}).encode()
    expect(f"{alg}: unsigned POST", call("POST", "/v1/subjects", key, body), 401, "user_action_required")
    expect(f"{alg}: GET needs no action", call("GET", "/v1/subjects", key), 200)
    # The same key registered as a JWK signs too (registering is itself a signed request now).
    reg = json.dumps({"alg": alg, "jwk": jwk}).encode()
    _, reg_ua = action(key, signer["id"], sign, "POST", f"/v1/keys/{key_id}/signers", reg)
    s, jwk_signer = call("POST", f"/v1/keys/{key_id}/signers", key, reg, {"x-argus-user-action": reg_ua["user_action"]})
    expect(f"{alg}: register the JWK signer", (s, jwk_signer), 201)
    jbody = json.dumps({"external_id": f"jwk-{alg}"}).encode()
    _, jua = action(key, jwk_signer["id"], sign, "POST", "/v1/subjects", jbody)
    expect(f"{alg}: signed by the JWK signer", call("POST", "/v1/subjects", key, jbody, {"x-argus-user-action": jua["user_action"]}), 201)
    s, ua = action(key, signer["id"], sign, "POST", "/v1/subjects", body)
    expect(f"{alg}: complete", (s, ua), 200)
    expect(f"{alg}: signed POST", call("POST", "/v1/subjects", key, body, {"x-argus-user-action": ua["user_action"]}), 201)
    expect(f"{alg}: replay", call("POST", "/v1/subjects", key, body, {"x-argus-user-action": ua["user_action"]}), 401, "user_action_invalid")
    # Tampering: the action names one body, the request sends another.
    _, ua = action(key, signer["id"], sign, "POST", "/v1/subjects", body)
    expect(f"{alg}: body tampering", call("POST", "/v1/subjects", key, b'{"external_id":"evil"}', {"x-argus-user-action": ua["user_action"]}),
           401, "user_action_invalid")
    _, ua = action(key, signer["id"], sign, "POST", "/v1/subjects", body)
    expect(f"{alg}: path swap", call("POST", "/v1/sessions", key, body, {"x-argus-user-action": ua["user_action"]}), 401, "user_action_invalid")
    _, ua = action(key, signer["id"], sign, "DELETE", "/v1/subjects/sub_x", b"")
    expect(f"{alg}: method swap", call("POST", "/v1/subjects/sub_x", key, b"", {"x-argus-user-action": ua["user_action"]}), 401, "user_action_invalid")
    # A bad signature: the challenge is spent and refused.
    expect(f"{alg}: bad signature", action(key, signer["id"], lambda m: sign(m + b"x"), "POST", "/v1/subjects", body), 401, "user_action_invalid")
    # A signer of another credential cannot complete this credential's challenge.
    other_id, other = new_key()
    _, other_signer = call("POST", f"/v1/keys/{other_id}/signers", other, json.dumps({"alg": alg, "public_key_pem": public_pem}).encode())
    expect(f"{alg}: another credential's signer", action(key, other_signer["id"], sign, "POST", "/v1/subjects", body), 401, "user_action_invalid")
    # Turning the protection off needs a user action too.
    expect(f"{alg}: unsigned PATCH", call("PATCH", f"/v1/keys/{key_id}", key, b'{"signed_requests":"optional"}'), 401, "user_action_required")
    expect(f"{alg}: PATCH by another key", call("PATCH", f"/v1/keys/{key_id}", other, b'{"signed_requests":"optional"}'), 401, "user_action_required")
    # A revoked signer: its pending action no longer authorises anything. A second signer keeps the key usable.
    second = ed25519.Ed25519PrivateKey.generate()
    _, add_ua = action(key, signer["id"], sign, "POST", f"/v1/keys/{key_id}/signers",
                       json.dumps({"alg": "Ed25519", "public_key_pem": pem(second.public_key())}).encode())
    s2 = call("POST", f"/v1/keys/{key_id}/signers", key, json.dumps({"alg": "Ed25519", "public_key_pem": pem(second.public_key())}).encode(),
              {"x-argus-user-action": add_ua["user_action"]})
    expect(f"{alg}: add a second signer (signed)", s2, 201)
    _, ua = action(key, signer["id"], sign, "POST", "/v1/subjects", json.dumps({"external_id": f"late-{alg}"}).encode())
    path = f"/v1/keys/{key_id}/signers/{signer['id']}"
    _, revoke_ua = action(key, signer["id"], sign, "DELETE", path, b"")
    expect(f"{alg}: revoke signer (signed)", call("DELETE", path, key, b"", {"x-argus-user-action": revoke_ua["user_action"]}), 200)
    expect(f"{alg}: revoked signer's action", call("POST", "/v1/subjects", key, json.dumps({"external_id": f"late-{alg}"}).encode(),
                                                   {"x-argus-user-action": ua["user_action"]}), 401, "user_action_invalid")
    expect(f"{alg}: revoked signer completes nothing", action(key, signer["id"], sign, "POST", "/v1/subjects", body), 401, "user_action_invalid")
    _, ua = action(key, s2[1]["id"], lambda m: second.sign(m), "POST", "/v1/subjects", json.dumps({"external_id": f"second-{alg}"}).encode())
    expect(f"{alg}: the second signer still signs", call("POST", "/v1/subjects", key, json.dumps({"external_id": f"second-{alg}"}).encode(),
                                                         {"x-argus-user-action": ua["user_action"]}), 201)
    print(f"{alg}: ok")

print(f"signatures.py: {peer.checks} checks passed (Ed25519, ES256, RS256 by cryptography; ES256K by coincurve)")
