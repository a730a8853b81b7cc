#!/bin/sh
# Runs each fuzz target for a bounded time on a fresh seed corpus (plus what
# earlier runs found), and fails on the first crash, leak, timeout or sanitizer
# report. Usage: run-fuzzers.sh SECONDS TARGET...
set -eu
cd "$(dirname "$0")"
seconds=$1
shift
out=out
seeds=$out/seeds
rm -rf "$seeds"
./$out/make_seeds "$seeds/qcow2_image_fuzz"
# QEMU-made seeds too, when qemu-img is installed (compressed, v2, zstd).
if command -v qemu-img >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  head -c 262144 /dev/urandom >"$tmp/r.raw"
  qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=4096 "$seeds/qcow2_image_fuzz/v2.qcow2" 1M
  qemu-img convert -q -c -O qcow2 -o cluster_size=4096 "$tmp/r.raw" "$seeds/qcow2_image_fuzz/deflate.qcow2"
  qemu-img convert -q -c -O qcow2 -o cluster_size=4096,compression_type=zstd "$tmp/r.raw" "$seeds/qcow2_image_fuzz/zstd.qcow2"
  rm -rf "$tmp"
fi
status=0
for target in "$@"; do
  corpus=$out/corpus/$target
  mkdir -p "$corpus" "$out/findings/$target" "$seeds/$target"
  echo "fuzz: $target for ${seconds}s"
  if ! ./$out/$target "$corpus" "$seeds/$target" -max_total_time="$seconds" -max_len=300000 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$out/findings/$target/" 2>"$out/$target.log"; then
    tail -n 60 "$out/$target.log"
    echo "fuzz: $target FAILED (reproducer in $out/findings/$target/)"
    status=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$out/$target.log" | tail -n 2
    echo "fuzz: $target passed"
  fi
done
exit $status
