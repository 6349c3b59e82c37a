/// Python handlers written for the tests, each a few lines on top of the protocol.
enum ExecScripts {
    /// Acts on the body: `crash` exits with status 3, `hang` sleeps, `garbage` writes a
    /// non-JSON line, `unknown-id` and `bad-result` write invalid responses, `stderr:TEXT`
    /// writes TEXT to standard error, `pid` answers retry with the process ID, `env`
    /// answers reject with `$IDEM_TEST_VAR|$HOME`; a request with header `echo` is answered
    /// reject with the whole request as error text. Anything else is ok. With
    /// `linger` as first argument, it keeps running after its standard input closes; with
    /// `slow-start`, it waits 300 ms before it reads its first request.
    static let scripted = #"""
        import json, os, sys, time
        if sys.argv[1:] == ["slow-start"]:
            time.sleep(0.3)
        for line in sys.stdin:
            request = json.loads(line)
            body = request["body"]
            reply = {"id": request["id"], "result": "ok"}
            if "echo" in request["headers"]:
                reply = {"id": request["id"], "result": "reject", "error": json.dumps(request, sort_keys=True)}
            elif body == "crash":
                sys.exit(3)
            elif body == "hang":
                time.sleep(3600)
            elif body == "garbage":
                sys.stdout.write("this is not json\n")
                sys.stdout.flush()
                continue
            elif body == "unknown-id":
                reply["id"] = "no-such-id"
            elif body == "bad-result":
                reply["result"] = "maybe"
            elif body.startswith("stderr:"):
                sys.stderr.write(body[len("stderr:"):] + "\n")
                sys.stderr.flush()
            elif body == "pid":
                reply = {"id": request["id"], "result": "retry", "error": str(os.getpid())}
            elif body == "env":
                text = os.environ.get("IDEM_TEST_VAR", "") + "|" + os.environ.get("HOME", "")
                reply = {"id": request["id"], "result": "reject", "error": text}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
        if sys.argv[1:] == ["linger"]:
            time.sleep(3600)
        """#

    /// Reads four requests, then answers them in reverse order, each with reject and
    /// `answer to ID`.
    static let reversing = #"""
        import json, sys
        batch = []
        for line in sys.stdin:
            batch.append(json.loads(line)["id"])
            if len(batch) == 4:
                for request_id in reversed(batch):
                    reply = {"id": request_id, "result": "reject", "error": "answer to " + request_id}
                    sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()
                batch = []
        """#
}
