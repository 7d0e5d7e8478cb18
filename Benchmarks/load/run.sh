#!/usr/bin/env bash
# Load test of the ABIS API with wrk (Debian package) against its CPU bound measured in the same
# run; see load.py for what is measured.
#   Benchmarks/load/run.sh [duration-seconds] [connections, comma-separated] [identify|verify]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 Benchmarks/load/load.py --duration "${1:-20}" --connections "${2:-1,4,16,64}" --route "${3:-identify}"
