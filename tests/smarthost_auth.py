"""tests/smarthost_auth.py - AUTH PLAIN and AUTH LOGIN (RFC 4954) for
tests/smarthost.py: checks the client's credentials against --auth
USER:PASS and records "auth-attempt MECH", "auth-success USER" and
"auth-failure USER" in the transcript. Which mechanisms are offered, and
when, is the session's business (Session.auth_mechs).

Python 3 standard library only; the client's data is hostile: bad base64,
bad UTF-8 or a bad PLAIN response get 501.
"""

import base64
import binascii

from smarthost_io import strip_eol


class AuthMixin:
    """The AUTH command of smarthost_session.Session."""

    def cmd_AUTH(self, arg):
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        self.log("event", "auth-attempt " + mech)
        if self.throttled("auth"):
            return
        if self.auth_user:
            self.reply("503 5.5.1 Already authenticated")
            return
        mechs = self.auth_mechs() if self.esmtp else []
        if not mechs and self.cleartext_blocked():
            self.reply("530 5.7.0 Must issue a STARTTLS command first")
            return
        if mech not in mechs:
            self.reply("504 5.5.4 Unrecognized authentication type")
            return
        try:
            if mech == "XOAUTH2":
                user, pw = self.auth_xoauth2(parts[1] if len(parts) > 1 else None)
            elif mech == "PLAIN":
                user, pw = self.auth_plain(parts[1] if len(parts) > 1 else None)
            else:
                user, pw = self.auth_login(parts[1] if len(parts) > 1 else None)
        except ValueError as e:
            self.reply("501 5.5.2 %s" % e)
            return
        want_user, _, want_pw = (self.o.auth or "").partition(":")
        if mech == "XOAUTH2":
            ok = pw == self.o.oauth_token
        else:
            ok = self.o.auth and user == want_user and pw == want_pw
        if ok:
            self.auth_user = user
            self.log("event", "auth-success " + user)
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.log("event", "auth-failure " + user)
            self.reply("535 5.7.8 Authentication credentials invalid")

    def auth_response(self, prompt):
        self.reply("334 " + prompt)
        line = self.readline()
        self.log_c2s(line)
        s = strip_eol(line).strip()
        if s == b"*":
            raise ValueError("AUTH cancelled")
        return self.b64(s)

    @staticmethod
    def b64(s):
        try:
            return base64.b64decode(s, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("Invalid base64 data")

    def auth_plain(self, initial):
        if initial is None:
            data = self.auth_response("")
        else:
            data = "" if initial == "=" else self.b64(initial.encode())
        fields = data.split("\0")
        if len(fields) != 3:
            raise ValueError("Invalid PLAIN response")
        return fields[1], fields[2]

    def auth_xoauth2(self, initial):
        """"user=U^Aauth=Bearer T^A^A": (U, T)."""
        data = self.b64(initial.encode()) if initial else self.auth_response("")
        fields = dict(f.split("=", 1) for f in data.split("\1") if "=" in f)
        if "user" not in fields or not fields.get("auth", "").startswith("Bearer "):
            raise ValueError("Invalid XOAUTH2 response")
        return fields["user"], fields["auth"][len("Bearer "):]

    def auth_login(self, initial):
        user = self.b64(initial.encode()) if initial else \
            self.auth_response("VXNlcm5hbWU6")
        return user, self.auth_response("UGFzc3dvcmQ6")
