"""tests/smarthost_policy.py - provider send-as rules for tests/smarthost.py.

Imported by smarthost_mail.py (kept apart: each rule here is a provider's,
with its source). Python 3 standard library only; the message is hostile
input: parsing never raises, and anything unreadable is refused like the
provider would.

Scenarios:
  send-as    Microsoft 365 (Exchange Online) SMTP AUTH submission: the
             authenticated mailbox may send only as itself. MAIL FROM must
             be that mailbox (or <>), else
               550 5.7.60 SMTP; Client does not have permissions to send as this sender
             and after DATA the message must have exactly one From: field
             with exactly one address, that mailbox (any case), else
               554 5.2.252 SendAsDenied; USER not allowed to send as FROM; ...
             (Microsoft Learn, "Fix NDR error 5.2.252 SendAsDenied" and
             "Fix NDR error 5.7.60 ... Client does not have permissions").
"""

import email
import email.policy

SCENARIOS = {"send-as"}

SEND_AS_DENIED = ("554 5.2.252 SendAsDenied; %s not allowed to send as %s; "
                  "STOREDRV.Submission.Exception:SendAsDeniedException."
                  "MapiExceptionSendAsDenied; Failed to process message due "
                  "to a permanent exception with message "
                  "[BeginDiagnosticData]Cannot submit message.")
NO_SEND_AS_SENDER = ("550 5.7.60 SMTP; Client does not have permissions to "
                     "send as this sender")


def header_from(body):
    """The addresses of every From: field, or None if unreadable."""
    try:
        msg = email.message_from_bytes(body, policy=email.policy.SMTP)
        fields = msg.get_all("From") or []
        return [[a.addr_spec for a in f.addresses] for f in fields]
    except Exception:  # a broken header is the sender's problem: refuse
        return None


def at_mail(scenario, auth_user, mail_from):
    """A reply refusing MAIL FROM, or None to go on."""
    if scenario != "send-as" or mail_from == "":
        return None
    if auth_user is None or mail_from.lower() != auth_user.lower():
        return NO_SEND_AS_SENDER
    return None


def after_data(scenario, auth_user, body):
    """A reply refusing the message after its final dot, or None."""
    if scenario != "send-as":
        return None
    froms = header_from(body)
    ok = (froms is not None and len(froms) == 1 and len(froms[0]) == 1
          and auth_user is not None and froms[0][0].lower() == auth_user.lower())
    if ok:
        return None
    shown = ", ".join(a for f in (froms or []) for a in f) or "(no From:)"
    return SEND_AS_DENIED % (auth_user, shown)
