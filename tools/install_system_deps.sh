#!/usr/bin/env bash
# System programs the course drives for real: Graphviz `dot` (torchviz renders) and Chromium
# (headless browser checks of the dashboards), with a font for what the dashboards write in CJK. Installed with apt when we are root; otherwise
# we say exactly what to run. Idempotent and quiet when everything is present.
set -u
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# npm fetches Visdom's web page files from the npm registry (`watchtrain visdom --install-assets`).
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Netron writes a tensor's shape between CJK angle brackets (U+3008, U+3009), and Korean tags and notes
# need Hangul: without such a font, Chromium draws empty boxes. Nanum (Korean, 10 MB) has both.
if [ "$(uname -s)" = Linux ] && [ ! -d /usr/share/fonts/truetype/nanum ] && [ -z "$(fc-list ':charset=3008' 2>/dev/null)" ]; then
  missing+=(fonts-nanum)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "apt-get could not install ${missing[*]}; the lessons that need them will say so" >&2; exit 0; }
else
  echo "note: ${missing[*]} not found. Install them for every lesson to work, e.g." >&2
  echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
  echo "  macOS:         brew install graphviz && brew install --cask chromium" >&2
fi
