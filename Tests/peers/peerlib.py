"""What the peer scripts share: one HTTP call, one expectation, and key encodings."""
import base64, json, sys, urllib.error, urllib.request

from cryptography.hazmat.primitives import serialization


class Peer:
    """Calls one server and counts the expectations that held; the first that fails ends the run."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.checks = 0

    def call(self, method, path, key, body=None, raw=None, ctype="application/json", headers=None):
        """`body`: a dict sent as JSON, or bytes sent as they are; `raw`: bytes with `ctype`."""
        if isinstance(body, (bytes, bytearray)):
            raw, body = bytes(body), None
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data if method != "GET" else None, method=method)
        req.add_header("Authorization", "Bearer " + key)
        req.add_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def expect(self, what, got, status, code=None):
        self.checks += 1
        s, body = got
        if s != status or (code is not None and body.get("error", {}).get("code") != code):
            print(f"FAIL {what}: expected {status} {code or ''}, got {s} {json.dumps(body)[:300]}")
            sys.exit(1)
        return body


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pem(public_key):
    """A public key (or a private key's public half) as a SubjectPublicKeyInfo PEM."""
    if hasattr(public_key, "public_key"):
        public_key = public_key.public_key()
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
