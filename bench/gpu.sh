#!/usr/bin/env bash
# Every GPU figure the README and bench/RESULTS.md promise, in one run (bench/gpu.py says what each part
# measures), from a bare checkout: curate need not be installed. JSON in $OUT/gpu.json.
#   bench/gpu.sh                        # on the GPU machine: under 8 minutes
#   bench/gpu.sh --device cpu --quick   # a dry run of the same code on a CPU
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "$0")/gpu.py" "$@"
