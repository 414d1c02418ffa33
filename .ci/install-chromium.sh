#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser tests (tests/test_dashboards_browser.py):
# Debian's `chromium` package at /usr/bin/chromium, driven by Playwright for Python with
# `executable_path`. Playwright's own browser download is not used: it needs the network
# at test time and pins a build we do not control.
#
# Idempotent: a second run only checks. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

say() { echo "install-chromium: $*"; }

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
    say "already installed: $(/usr/bin/chromium --version)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "run as root (or install sudo): apt-get needs it"; exit 1; }
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists first: on a fresh machine they may be missing, or old enough
# to name a chromium build (bookworm-security replaces it every few weeks) that the mirror
# no longer has. This line is reached only when chromium is not installed yet.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

/usr/bin/chromium --version >/dev/null 2>&1 || { say "chromium installed but /usr/bin/chromium does not run"; exit 1; }
say "installed: $(/usr/bin/chromium --version)"
