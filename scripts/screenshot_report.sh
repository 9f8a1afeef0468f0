#!/bin/sh
# Screenshot an evaluation report (kura eval --report DIR writes DIR/report.html) to look at it
# without a desktop: headless Chromium (Debian: apt-get install chromium; not a Kura dependency).
# Usage: scripts/screenshot_report.sh REPORT.html OUT.png [HEIGHT]
# The page fetches nothing; networking, updates and sync are off anyway, in a throwaway profile.
set -eu
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "usage: $0 REPORT.html OUT.png [HEIGHT]" >&2
    exit 2
fi
report=$(realpath -e "$1")
out=$(realpath -m "$2")
height=${3:-2400}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$profile" --window-size="1280,$height" \
    --screenshot="$out" "file://$report"
