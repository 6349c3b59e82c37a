#!/usr/bin/env bash
# Usage: scripts/check-references.sh
#
# Fails when the documentation, the deploy files, the scripts or the source comments name a
# repository path (scripts/..., docs/..., deploy/..., Sources/..., Tests/..., Examples/...,
# .ci/...) that does not exist, so that moved or deleted files leave no stale references.
# Paths that are not in the repository on purpose are listed in ALLOWED below, each with
# its reason.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

ALLOWED=(
    # Made by the user from secrets.env.example; ignored by git.
    deploy/kubernetes/secrets.env
    # docs/adapters.md: the files a third broker (NATS, as the example) would add.
    Sources/CNats Sources/IdemNATS Sources/IdemNATSConsumer
    Sources/IdemNATSConsumer/NATSBrokerAdapter.swift Sources/IdemNATSConsumer/NATSConsumerSession.swift
    Sources/IdemConfig/NATSSourceConfig.swift
)

missing=0
while IFS=: read -r file line path; do
    path=${path%%[.,:;)\`\']}
    path=${path%/}
    [[ -e "$path" ]] && continue
    allowed=0
    for entry in "${ALLOWED[@]}"; do [[ "$path" == "$entry" ]] && allowed=1; done
    ((allowed)) && continue
    printf '%s:%s: names %s, which is not in the repository\n' "$file" "$line" "$path" >&2
    missing=$((missing + 1))
done < <(git ls-files -- README.md BENCHMARKS.md docs deploy scripts Sources Tests Examples .ci worker.yaml.example Package.swift \
    | xargs grep -InoE '(^|[^A-Za-z0-9_./-])(scripts|docs|deploy|Sources|Tests|Examples|\.ci)/[A-Za-z0-9_+./-]*[A-Za-z0-9_+/-]' \
    | sed -E 's/^([^:]+:[0-9]+:)[^A-Za-z0-9_.]?/\1/')

if ((missing > 0)); then
    echo "check-references: $missing reference(s) to missing files" >&2
    exit 1
fi
echo "check-references: every repository path named in the docs, scripts and sources exists"
