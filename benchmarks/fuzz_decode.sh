#!/usr/bin/env bash
# The long fuzz run of the decode path (CI runs 300 examples): 10,000 generated inputs by default.
set -euo pipefail
FINGERSPELL_FUZZ_EXAMPLES=${1:-10000} python -m pytest -q tests/test_robustness.py -k fuzzed \
  -p no:cacheprovider --hypothesis-show-statistics
