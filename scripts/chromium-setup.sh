#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian's chromium, chromium-driver)
# for the screenshot tests, when they are missing.  Needs root and apt-get.
# Prints the two paths on success; exits 1 saying why otherwise.
set -euo pipefail

chromium=$(command -v chromium || command -v chromium-browser || true)
driver=$(command -v chromedriver || true)
if [[ -z "$chromium" || -z "$driver" ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "headless Chromium is missing and cannot be installed here (needs root and apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A lock held by another apt run is waited for, not failed on.
    apt-get -o DPkg::Lock::Timeout=300 update -q >&2
    apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium chromium-driver fonts-dejavu-core >&2
    chromium=$(command -v chromium)
    driver=$(command -v chromedriver)
fi
echo "$chromium"
echo "$driver"
