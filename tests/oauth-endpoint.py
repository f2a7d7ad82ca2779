#!/usr/bin/env python3
"""tests/oauth-endpoint.py - an OAuth 2.0 authorization server for the tests,
HTTPS on 127.0.0.1 with the test PKI (tests/mkcerts.sh). Standard library only.

Endpoints:
  POST /token       RFC 6749 token endpoint: grant_type client_credentials,
                    refresh_token (rotation: a new refresh token each time;
                    the old one stays valid until the new one is used, as
                    a crash between the answer and its saving must not lock
                    the client out), authorization_code (checks the PKCE
                    verifier against the challenge: RFC 7636 S256) and
                    urn:ietf:params:oauth:grant-type:device_code (RFC 8628:
                    "authorization_pending", then "slow_down", then tokens).
  POST /device      RFC 8628 device authorization.
  GET  /authorize   records the code challenge and redirects (302) to the
                    client's redirect_uri with a code and the state.
  POST /introspect  RFC 7662 for Dovecot's oauth2 passdb: {"active": true,
                    "username": USER} for a live access token.
  POST /control     test switches (form): scenario=NAME, revoke=all
                    (every access token issued so far becomes inactive).
  GET  /stats       JSON counters: token requests per grant, tokens issued.

Scenarios (--scenario or /control): ok, invalid_grant, invalid_client,
slow (answers after --slow seconds), drop (closes without an answer),
oversize (a 200 KB JSON body), unavailable (HTTP 503).

Every request is appended to --log as one JSON line (path, form keys,
whether the client secret given was right); the file is what tests read
to prove a secret never reached an endpoint. Test material only.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()


class State:
    def __init__(self, o):
        self.o = o
        self.scenario = o.scenario
        self.refresh = set(o.refresh_token or [])   # valid refresh tokens
        self.previous = {}                           # new RT -> old RT (grace)
        self.access = {}                             # live access token -> user
        self.codes = {}                              # code -> (challenge, redirect_uri)
        self.devices = {}                            # device_code -> polls
        self.stats = {"token": 0, "client_credentials": 0, "refresh_token": 0,
                      "authorization_code": 0, "device_code": 0, "issued": 0,
                      "introspect": 0}


def new_token(prefix):
    return prefix + secrets.token_urlsafe(32)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oauth-endpoint"

    def log_message(self, fmt, *args):
        pass

    def record(self, form):
        st = self.server.state
        entry = {"t": time.time(), "path": self.path.split("?")[0],
                 "keys": sorted(form.keys())}
        if "client_secret" in form:
            entry["client_secret_ok"] = form["client_secret"] == st.o.client_secret
        if self.server.log:
            with LOCK, open(self.server.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def send_json(self, code, obj, extra=b""):
        body = json.dumps(obj).encode() + extra
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(n, 1 << 20)).decode("ascii", "replace")
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def error(self, code, err, desc=""):
        self.send_json(code, {"error": err, "error_description": desc})

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        self.record(q)
        if url.path == "/stats":
            with LOCK:
                return self.send_json(200, dict(st.stats))
        if url.path == "/authorize":
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return self.error(400, "invalid_request", "PKCE S256 required")
            code = new_token("code-")
            with LOCK:
                st.codes[code] = (q["code_challenge"], q.get("redirect_uri", ""))
            loc = q.get("redirect_uri", "") + "?" + urllib.parse.urlencode(
                {"code": code, "state": q.get("state", "")})
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.error(404, "not_found")

    def do_POST(self):
        st = self.server.state
        path = self.path.split("?")[0]
        form = self.form()
        self.record(form)
        if path == "/control":
            with LOCK:
                if "scenario" in form:
                    st.scenario = form["scenario"]
                if form.get("revoke") == "all":
                    st.access.clear()
            return self.send_json(200, {"ok": True})
        if path == "/introspect":
            with LOCK:
                st.stats["introspect"] += 1
                user = st.access.get(form.get("token", ""))
            if user:
                return self.send_json(200, {"active": True, "username": user, "email": user,
                                            "scope": "mail"})
            return self.send_json(200, {"active": False})
        if path == "/device":
            dc = new_token("dev-")
            with LOCK:
                st.devices[dc] = 0
            return self.send_json(200, {"device_code": dc, "user_code": "WDJB-MJHT",
                                        "verification_uri": "https://127.0.0.1/device",
                                        "expires_in": 120, "interval": 1})
        if path != "/token":
            return self.error(404, "not_found")
        return self.token(form)

    def token(self, form):
        st = self.server.state
        o = st.o
        with LOCK:
            st.stats["token"] += 1
            grant = form.get("grant_type", "")
            short = grant.rsplit(":", 1)[-1]
            if short in st.stats:
                st.stats[short] += 1
            scenario = st.scenario
        if scenario == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if scenario == "slow":
            time.sleep(o.slow)
        if scenario == "oversize":
            return self.send_json(200, {"access_token": "x"}, b" " * 200000)
        if scenario == "unavailable":
            return self.error(503, "temporarily_unavailable")
        if scenario == "invalid_client" or form.get("client_id") != o.client_id or (
                o.client_secret and form.get("client_secret") != o.client_secret):
            return self.error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if scenario == "invalid_grant":
            return self.error(400, "invalid_grant", "AADSTS700082: The refresh token has expired.")
        rotate = None
        with LOCK:
            if grant == "client_credentials":
                pass
            elif grant == "refresh_token":
                rt = form.get("refresh_token", "")
                if rt not in st.refresh:
                    return self.error(400, "invalid_grant", "unknown refresh token")
                if o.require_scope and not form.get("scope"):
                    return self.error(400, "invalid_scope", "scope missing on refresh")
                # the token it rotated from is no longer needed once the new one is used
                old = st.previous.pop(rt, None)
                if old:
                    st.refresh.discard(old)
                if o.rotate:
                    rotate = new_token("rt-")
                    st.refresh.add(rotate)
                    st.previous[rotate] = rt
            elif grant == "authorization_code":
                got = st.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                want = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if not got or got[0] != want or got[1] != form.get("redirect_uri"):
                    return self.error(400, "invalid_grant", "code, verifier or redirect_uri wrong")
                rotate = new_token("rt-")
                st.refresh.add(rotate)
            elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                dc = form.get("device_code", "")
                if dc not in st.devices:
                    return self.error(400, "expired_token")
                st.devices[dc] += 1
                polls = st.devices[dc]
                if polls == 1:
                    return self.error(400, "authorization_pending")
                if polls == 2:
                    return self.error(400, "slow_down")
                del st.devices[dc]
                rotate = new_token("rt-")
                st.refresh.add(rotate)
            else:
                return self.error(400, "unsupported_grant_type")
            at = new_token("at-")
            st.access[at] = o.user
            st.stats["issued"] += 1
        body = {"access_token": at, "token_type": "Bearer", "expires_in": o.lifetime,
                "scope": form.get("scope") or "mail"}
        if rotate:
            body["refresh_token"] = rotate
        self.send_json(200, body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # handshake failures (untrusted certificate tests) are expected


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--client-id", default="sealpost-test")
    p.add_argument("--client-secret", default="")
    p.add_argument("--user", default="sealtest@sealpost.test")
    p.add_argument("--refresh-token", action="append")
    p.add_argument("--rotate", action="store_true")
    p.add_argument("--require-scope", action="store_true")
    p.add_argument("--lifetime", type=int, default=3600)
    p.add_argument("--slow", type=float, default=30)
    p.add_argument("--scenario", default="ok")
    o = p.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(o.cert, o.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.state = State(o)
    srv.log = o.log
    tmp = o.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, o.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
