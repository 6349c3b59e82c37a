#!/usr/bin/env python3
"""An example idem `exec` handler in Python 3 (standard library only).

idem starts this program once per pool process and keeps it running. It writes one
request per line to our standard input and reads one response per line from our standard
output (see docs/exec-protocol.md):

    request:  {"id": "...", "fence": 7, "attempt": 1, "source": "orders:3:1200",
               "consumer": "billing", "headers": {"name": "text"}, "body": "..."}
              (+ "body_base64": true when the body is Base64, "headers_base64": [names])
    response: {"id": "...", "result": "ok" | "retry" | "reject", "error": "reason"}

What this example does with each message:

* it appends the message ID to the file named by the environment variable
  IDEM_EXAMPLE_OUT, if set (one line per message, flushed at once);
* it replies "reject" (a permanent failure: the message is dead-lettered) when the body is
  a JSON object with "reject": true, and "retry" (a transient failure: the message is
  tried again later) when it has "retry": true;
* it replies "ok" otherwise.

Anything written to standard error shows up in idem's log (warning level). Standard
output carries responses only: never print anything else there. When standard input
closes (idem shuts down), the loop ends and the program exits.

Configuration:

    handler:
      exec: [python3, Examples/exec/handler.py]
      processes: 2
      in_flight: 64
      env: {IDEM_EXAMPLE_OUT: /tmp/idem-example.out}
      timeout: 30s
"""

import base64
import json
import os
import sys


def body_bytes(request):
    """The message body as bytes, decoding Base64 when idem had to use it."""
    body = request.get("body", "")
    if request.get("body_base64"):
        return base64.b64decode(body)
    return body.encode("utf-8")


def decide(request):
    """Returns (result, error) for one request."""
    try:
        document = json.loads(body_bytes(request))
    except ValueError:
        document = None  # Not JSON (or not UTF-8): nothing special to do.
    if isinstance(document, dict):
        if document.get("reject") is True:
            return "reject", "the message asked to be rejected"
        if document.get("retry") is True:
            return "retry", "the message asked to be retried"
    return "ok", None


def main():
    out_path = os.environ.get("IDEM_EXAMPLE_OUT")
    out = open(out_path, "a", encoding="utf-8") if out_path else None
    stdout = sys.stdout
    # Read bytes: requests are UTF-8 whatever the locale says (json.loads decodes them).
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        message_id = request["id"]
        try:
            result, error = decide(request)
            if result == "ok" and out is not None:
                out.write(message_id + "\n")
                out.flush()
        except Exception as failure:  # A bug here must not kill the process: retry.
            result, error = "retry", "handler error: %r" % (failure,)
        response = {"id": message_id, "result": result}
        if error is not None:
            response["error"] = error
        stdout.write(json.dumps(response) + "\n")
        stdout.flush()


if __name__ == "__main__":
    main()
