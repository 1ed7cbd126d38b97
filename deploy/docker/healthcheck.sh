#!/bin/sh
# The image's HEALTHCHECK: one script for the three images, chosen by SERVICE_NAME.
#   versioner-healthcheck          liveness (ingest: GET /health/live)
#   versioner-healthcheck ready    readiness (ingest: GET /health, broker up and policy answering)
# policy and notifier have one check for both: `versioner-<service> health`.
set -eu

case "${SERVICE_NAME:-}" in
    ingest)
        if [ "${1:-live}" = "ready" ]; then path=/health; else path=/health/live; fi
        exec python -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3)' \
            "http://127.0.0.1:${VERSIONER_HTTP_PORT:-8000}${path}"
        ;;
    policy | notifier)
        exec "versioner-${SERVICE_NAME}" health
        ;;
    *)
        echo "SERVICE_NAME must be ingest, policy or notifier (got '${SERVICE_NAME:-}')" >&2
        exit 1
        ;;
esac
