#!/usr/bin/env bash
# The dashboard's CI steps: a clean install, a rebuild that must reproduce the committed
# dist/ byte for byte, the component tests, and (unless --no-e2e) the end-to-end tests in
# headless Chromium against a freshly built `herald serve`. Needs Node 20+ and, for the
# end-to-end tests, Debian's chromium (CHROMIUM_PATH) and cargo.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npm run build
if ! git diff --quiet -- dist || [[ -n "$(git ls-files --others --exclude-standard -- dist)" ]]; then
  echo "!! dashboard/dist differs from a fresh build of the sources: run 'npm run build' in dashboard/ and commit dist/" >&2
  git status --short -- dist >&2
  exit 1
fi
npm run format:check
npm test

if [[ "${1:-}" != "--no-e2e" ]]; then
  (cd .. && cargo build -q --bin herald)
  npm run e2e
fi
