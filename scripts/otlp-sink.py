#!/usr/bin/env python3
"""An OTLP/HTTP sink for benchmarks: accepts trace exports on 127.0.0.1:PORT and discards
them, answering as a collector does. On SIGTERM it prints what it received as JSON:
{"requests": N, "bytes": B}.

Usage: scripts/otlp-sink.py PORT
"""
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = {"requests": 0, "bytes": 0}
lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        with lock:
            received["requests"] += 1
            received["bytes"] += length
        answer = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    print(json.dumps(received), flush=True)


if __name__ == "__main__":
    main()
