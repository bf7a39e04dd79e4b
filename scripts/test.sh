#!/usr/bin/env bash
# Runs every test of Strawberry Phi on a fresh Debian 12 machine: installs what the tests need, then `dotnet test`.
# Usage: scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "scripts/test.sh: the .NET 10 SDK is needed (dotnet is not on PATH); install it, then run this again." >&2
  exit 2
fi

# What the tests need beyond the SDK, installed only when missing: Debian's Chromium for the studio's browser tests
# (Playwright drives it; it cannot download browsers of its own here). Dataset tests use committed fixtures.
if [ -z "${PHI_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "scripts/test.sh: installing Chromium for the end-to-end tests (apt-get install chromium)..."
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# axe-core (npm) scans every page in the browser tests; installed from the lock file when missing.
web_tests=tests/StrawberryPhi.Web.Tests
if [ ! -f "$web_tests/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "scripts/test.sh: installing npm for the accessibility checks (apt-get install npm)..."
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
  fi
  echo "scripts/test.sh: installing axe-core for the accessibility checks (npm ci)..."
  (cd "$web_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

status=0
dotnet test StrawberryPhi.slnx -c Release "$@" 2>&1 | tee "$log" || status=$?

# One closing line for people and CI: "Tests: N passed, N failed".
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(/,/, ""); for (i = 1; i < NF; i++) { if ($i == "Failed:") f += $(i + 1); if ($i == "Passed:") p += $(i + 1) }
     }
     END { printf "Tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
