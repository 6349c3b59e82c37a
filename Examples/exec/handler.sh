#!/usr/bin/env bash
# A minimal idem `exec` handler in bash: it replies "ok" to every request.
#
# idem writes one JSON request per line to standard input and reads one JSON response per
# line from standard output (docs/exec-protocol.md). idem always writes the "id" member
# first, so this script takes the ID with a regular expression instead of a JSON parser,
# and copies it back still JSON-escaped (which keeps IDs with quotes or backslashes
# intact).
#
# Limitations: the script does not parse JSON, so it cannot look at the body or headers;
# a handler that needs them should use a language with a JSON parser (see handler.py) or
# pipe the line through a tool such as jq (one process per message: slow).
#
# Configuration:
#
#     handler:
#       exec: [Examples/exec/handler.sh]
#       processes: 1
#       in_flight: 16

id_pattern='^\{"id":"(([^"\\]|\\.)*)"'
while IFS= read -r line; do
    if [[ $line =~ $id_pattern ]]; then
        printf '{"id":"%s","result":"ok"}\n' "${BASH_REMATCH[1]}"
    else
        # Not a request idem would write; say so on standard error (it is logged).
        printf 'handler.sh: ignoring a line without a leading "id": %.80s\n' "$line" >&2
    fi
done
