#!/usr/bin/env bash
# Debian packages the integration tests and the benchmark use: Dovecot (IMAP), isync (mbsync),
# Chromium (the HTML digest screenshot test) and systemd-analyze (the unit file check); and
# python3-venv, so that the Makefile can build .venv on the distribution's faster python3.
set -euo pipefail
missing=()
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
command -v mbsync >/dev/null 2>&1 || missing+=(isync)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The Makefile's SYSTEM_PYTHON question, less ensurepip: keep the version bound the same in both.
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
  && ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package may start a system-wide Dovecot; the tests run their own on free ports.
else
  echo "note: ${missing[*]} not installed; the tests that need them are skipped." >&2
  echo "      install with: sudo apt-get install ${missing[*]}" >&2
fi
