#!/usr/bin/env bash
# Debian 12 packages for building and testing labelfree (run as root).
# The python3-* packages regenerate reference fixtures, run the benchmarks against PyTorch and
# the PyTorch interop test (tests/e2e/torch_interop.sh, skipped without them); the other tests
# read committed fixtures. Set LF_NO_PYTHON=1 to skip them.
set -euo pipefail
pkgs=(build-essential pkg-config libopenblas-dev libopenblas-openmp-dev libjansson-dev libpng-dev libjpeg-dev
      libtiff-dev zlib1g-dev libsqlite3-dev libmicrohttpd-dev)
if [ -z "${LF_NO_PYTHON:-}" ]; then pkgs+=(python3-numpy python3-pil python3-torch python3-torchvision python3-faiss); fi
# curl for the server's e2e test; chromium for the browser test (LF_NO_BROWSER=1 skips it)
pkgs+=(curl)
if [ -z "${LF_NO_BROWSER:-}" ]; then pkgs+=(chromium); fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
