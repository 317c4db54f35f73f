#!/usr/bin/env python3
"""An example policy decider for egressd's [network.decider].

egressd POSTs one JSON object per allowlist miss (schema in docs/configuration.md):

    {"version": 1, "protocol": "https_connect", "host": "pkg.example", "port": 443,
     "method": "CONNECT", "client": "127.0.0.1:50412", "connection_id": 17}

and this script answers from a small rules file (JSON):

    {"allow": ["pkg.example", "*.mirror.example"], "deny": ["*.paste.example"],
     "ask": ["*.download.example"], "default": "deny", "cache_seconds": 60}

A pattern is an exact host or "*.suffix" (any subdomain, not the suffix itself). The first list that matches
wins in the order deny, allow, ask; otherwise "default". Every answer carries a reason naming the rule.

    decider.py --rules rules.json --listen 127.0.0.1:0        # prints "listening on 127.0.0.1:PORT"
    decider.py --rules rules.json --unix /run/egressd/decider.sock

With --token-env NAME the request must carry "Authorization: Bearer $NAME", else 401.

--misbehave exists to test that egressd fails closed when a decider breaks: "slow" never answers in time,
"crash" exits on the first request without answering, "invalid-json" answers a broken body, "error" answers
HTTP 500.
"""

import argparse
import http.server
import json
import os
import socketserver
import sys
import time


def matches(pattern, host):
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return host == pattern


def decide(rules, request):
    host = str(request.get("host", "")).lower()
    for verdict in ("deny", "allow", "ask"):
        for pattern in rules.get(verdict, []):
            if matches(pattern.lower(), host):
                return {"decision": verdict, "reason": f"rule {pattern} ({verdict})",
                        "cache_seconds": rules.get("cache_seconds", 0)}
    return {"decision": rules.get("default", "deny"), "reason": "no rule matched",
            "cache_seconds": rules.get("cache_seconds", 0)}


def handler_class(rules_path, token, misbehave):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if token is not None and self.headers.get("Authorization") != "Bearer " + token:
                return self.reply(401, b'{"error":"unauthorized"}')
            if misbehave == "crash":
                sys.stderr.write("decider: crashing as asked\n")
                sys.stderr.flush()
                os._exit(3)
            if misbehave == "slow":
                time.sleep(30)
            if misbehave == "invalid-json":
                return self.reply(200, b'{"decision": allow')
            if misbehave == "error":
                return self.reply(500, b'{"error":"internal"}')
            try:
                request = json.loads(body)
            except ValueError:
                return self.reply(400, b'{"error":"invalid request"}')
            with open(rules_path) as f:  # read per request, so a test or an operator can edit it live
                rules = json.load(f)
            answer = decide(rules, request)
            sys.stderr.write(f"decider: {request.get('protocol')} {request.get('host')}:{request.get('port')}"
                             f" -> {answer['decision']}\n")
            sys.stderr.flush()
            self.reply(200, json.dumps(answer).encode())

        def reply(self, status, payload):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, fmt, *args):
            pass  # one line per decision above is enough

    return Handler


class UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        connection, _ = super().get_request()
        return connection, ("unix", 0)  # BaseHTTPRequestHandler wants a (host, port) client address


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", required=True, help="JSON rules file")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", help="HOST:PORT (loopback; port 0 picks a free one)")
    where.add_argument("--unix", help="Unix socket path")
    parser.add_argument("--token-env", help="environment variable holding the bearer token to require")
    parser.add_argument("--misbehave", choices=["slow", "crash", "invalid-json", "error"])
    args = parser.parse_args()
    token = os.environ[args.token_env] if args.token_env else None
    handler = handler_class(args.rules, token, args.misbehave)
    if args.unix:
        server = UnixHttpServer(args.unix, handler)
        print(f"listening on {args.unix}", flush=True)
    else:
        host, _, port = args.listen.rpartition(":")
        server = http.server.ThreadingHTTPServer((host, int(port)), handler)
        print(f"listening on {host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
