#!/bin/bash
# Runs the irqlat performance suite; `make bench` builds everything first.
#   bench/run.sh [BUILD_DIR]      (default: build)
# Environment: BENCH_QUICK=1 for a smoke run; see bench/README.md for the rest.
# Results: bench/results/latest.md (every sample: BUILD_DIR/bench/latest.json).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench: must run as root" >&2
  exit 2
fi
# bpftrace's tracepoint probes need tracefs.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
for tool in perf bpftrace bpftool taskset dd; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (run make deps)" >&2; exit 2; }
done
exec /usr/bin/python3 bench/bench.py "$build"
