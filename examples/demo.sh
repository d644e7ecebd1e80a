#!/usr/bin/env bash
# make demo: trace the built-in example and print the tables.
#
# cancel_loop runs 4 workers pinned to CPU 1 that poll a cancellation flag
# (USDT markers irqlat:cancel / irqlat:done, so windows are on by default).
# To give the breakdown something to find, a CPU hog shares CPU 1 for the
# run and O_DIRECT writes drive real disk interrupts meanwhile.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "make demo loads BPF programs: run it as root" >&2
  exit 1
fi

"$BUILD/targets/cpuhog" --cpu 1 --seconds 6 &
hog=$!
( sleep 0.5; dd if=/dev/zero of=/var/tmp/irqlat-demo bs=4k count=4000 oflag=direct status=none;
  rm -f /var/tmp/irqlat-demo ) &
io=$!
trap 'kill $hog $io 2>/dev/null || true; rm -f /var/tmp/irqlat-demo' EXIT

echo "# irqlat trace -- $BUILD/cancel_loop --threads 4 --mode sleep --cpu 1 --rounds 8 --run-ms 300"
echo "# (a CPU hog shares CPU 1; dd drives disk interrupts)"
echo
"$BUILD/irqlat" trace --top 3 -- "$BUILD/cancel_loop" --threads 4 --mode sleep --cpu 1 \
  --rounds 8 --run-ms 300 >/tmp/irqlat-demo.out 2>/tmp/irqlat-demo.err || {
  cat /tmp/irqlat-demo.err >&2
  exit 1
}
# The example's own JSON stamps go to stdout too; show only the tables.
grep -v '^{"event"' /tmp/irqlat-demo.out
