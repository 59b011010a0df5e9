#!/usr/bin/env bash
# Debian's Chromium for tests/test_browser.py; does nothing when it is already installed.
# Without root or apt-get it says so, and the browser test then explains why it cannot run.
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: not root or no apt-get; install Debian's chromium by hand"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; }
install || { apt-get update >/dev/null 2>&1 && install; } \
  || echo "install_chromium: apt-get could not install chromium"
