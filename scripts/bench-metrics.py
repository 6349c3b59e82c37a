#!/usr/bin/env python3
"""Reads an `idem run`'s Prometheus metrics for the benchmark scripts (bench-common.sh).

  bench-metrics.py sum PORT NAME...        prints each metric's sum over its samples
  bench-metrics.py wait PORT PID COUNT     returns once idem_messages_processed_total
                                           reaches COUNT (polled every 20 ms); exits 1
                                           if the process PID ends first

One process and one kept-alive connection for the whole wait: polling through bash's
/dev/tcp read the page a byte per system call, and at 50 polls a second that took an
eighth of this machine's two cores from the run it measured.
"""
import http.client
import os
import sys
import time


def fetch(port, connection):
    """The metrics page, on `connection` (a fresh one if it was closed); and the connection."""
    for _ in range(2):
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read().decode()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = None
            return body, connection
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = None
    raise OSError(f"no metrics on 127.0.0.1:{port}")


def total(page, name):
    """The sum of the samples of the metric `name` (any labels) on the page."""
    value = 0.0
    for line in page.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            value += float(line.rsplit(" ", 1)[1])
    return value


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def main(argv):
    if len(argv) >= 3 and argv[0] == "sum":
        page, _ = fetch(int(argv[1]), None)
        print(" ".join(repr(total(page, name)) for name in argv[2:]))
        return 0
    if len(argv) == 4 and argv[0] == "wait":
        port, pid, count = int(argv[1]), int(argv[2]), int(argv[3])
        connection = None
        while alive(pid):
            try:
                page, connection = fetch(port, connection)
                if total(page, "idem_messages_processed_total") >= count:
                    return 0
            except OSError:
                pass  # not listening yet
            time.sleep(0.02)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
