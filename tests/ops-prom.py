#!/usr/bin/python3
"""tests/ops-prom.py - read a sealpost metrics_file with the Prometheus
project's own text-format parser (Debian's python3-prometheus-client),
as the node exporter's textfile collector would.

usage: ops-prom.py FILE                 print "name{l=v,...} value" per sample
       ops-prom.py FILE NAME [L=V...]   print the value of that one sample
                                        (exit 1 when it is absent)
Every family must have HELP and TYPE lines and one of SPEC section 8's
names; anything else is an error (exit 2). Test material only.
"""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("python3-prometheus-client is not installed", file=sys.stderr)
    sys.exit(77)

KNOWN = {
    "sealpost_queue_messages": "gauge",
    "sealpost_queue_oldest_seconds": "gauge",
    "sealpost_deliveries": "counter",   # the parser strips _total
    "sealpost_relay_last_success_timestamp_seconds": "gauge",
    "sealpost_tls_peer_cert_expiry_timestamp_seconds": "gauge",
    "sealpost_oauth2_token_expiry_timestamp_seconds": "gauge",
}


def main():
    text = open(sys.argv[1]).read()
    for name in KNOWN:
        full = name + ("_total" if KNOWN[name] == "counter" else "")
        if "\n# TYPE %s " % name not in "\n" + text and "# TYPE %s " % full not in text:
            if name != "sealpost_oauth2_token_expiry_timestamp_seconds":
                print("no TYPE line for %s" % name, file=sys.stderr)
                sys.exit(2)
    samples = {}
    for fam in text_string_to_metric_families(text):
        if fam.name not in KNOWN or fam.type != KNOWN[fam.name]:
            print("unexpected family %s (%s)" % (fam.name, fam.type), file=sys.stderr)
            sys.exit(2)
        if not fam.documentation:
            print("no HELP for %s" % fam.name, file=sys.stderr)
            sys.exit(2)
        for s in fam.samples:
            key = s.name + "{" + ",".join("%s=%s" % kv for kv in sorted(s.labels.items())) + "}"
            samples[key] = s.value
    if len(sys.argv) == 2:
        for k in sorted(samples):
            print(k, int(samples[k]))
        return
    key = sys.argv[2] + "{" + ",".join(sorted(sys.argv[3:])) + "}"
    if key not in samples:
        sys.exit(1)
    print(int(samples[key]))


main()
