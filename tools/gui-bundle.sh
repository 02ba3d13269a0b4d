#!/usr/bin/env bash
# Bundles the browser libraries of `cloonix gui` (cytoscape.js, xterm.js and
# its fit addon, pinned in cli/gui/web/package-lock.json) into
# cli/gui/web/vendor/, which the build embeds in the cloonix binary
# (//cli:gui_assets). npm ci runs when node_modules is missing or older than
# the lockfile; after that the script works offline. puppeteer-core (the
# headless-browser test driver) comes with the same npm ci.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/cli/gui/web"
cd "$WEB"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "gui-bundle: npm ci (cli/gui/web) ..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
mkdir -p vendor
copy() {  # copy SRC DEST, only when it changed (keeps bazel's cache warm)
  cmp -s "$1" "vendor/$2" 2>/dev/null || cp "$1" "vendor/$2"
}
copy node_modules/cytoscape/dist/cytoscape.min.js cytoscape.min.js
copy node_modules/@xterm/xterm/lib/xterm.js xterm.js
copy node_modules/@xterm/xterm/css/xterm.css xterm.css
copy node_modules/@xterm/addon-fit/lib/addon-fit.js addon-fit.js
echo "gui-bundle: $(ls vendor | wc -l) files in cli/gui/web/vendor" >&2
