#!/usr/bin/env bash
# The web page in headless chromium (tests/browser/run.sh; skips when chromium is absent).
exec bash tests/browser/run.sh
