#!/usr/bin/env bash
# interleave.sh compares two sub-benchmarks of one benchmark in interleaved
# rounds, so that drift on a shared machine does not pick a winner: the test
# binary is built once, then each round runs the two sides one after the
# other, alternating which goes first, and the script prints the median of the
# per-round ratios (B over A) of ns/op, B/op and allocs/op.
#
# `go test -bench -count N` runs each sub-benchmark N times back to back; a
# machine that slows down during the run then favours whichever ran first.
#
# Usage: [PKG=./fapiao] internal/bench/interleave.sh [ROUNDS] [BENCH] [A] [B] [BENCHTIME]
#   defaults: the root package, 10 Insert client=nethttp client=sdk 1s
# Example: internal/bench/interleave.sh 20 Insert client=nethttp client=sdk 2s
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-10}
bench=${2:-Insert}
a=${3:-client=nethttp}
b=${4:-client=sdk}
benchtime=${5:-1s}

pkg=${PKG:-.}
bin=$(mktemp -d)/wxinvoice.test
go test -c -o "$bin" "$pkg"
trap 'rm -rf "$(dirname "$bin")"' EXIT
cd "$pkg" # the binary runs in its package's directory, as go test runs it

# run SIDE prints "ns B allocs" of one run of BENCH/SIDE.
run() {
  "$bin" -test.run '^$' -test.bench "^Benchmark${bench}\$/^$1\$" -test.benchmem -test.benchtime "$benchtime" |
    awk '/^Benchmark/ { for (i = 1; i <= NF; i++) { if ($i == "ns/op") ns = $(i-1); if ($i == "B/op") by = $(i-1); if ($i == "allocs/op") al = $(i-1) } }
         END { print ns, by, al }'
}

ratios=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then ra=$(run "$a"); rb=$(run "$b"); else rb=$(run "$b"); ra=$(run "$a"); fi
  echo "$ra $rb" | awk -v r="$r" '{ printf "round %d: %s %s ns/op, ratio %.3f\n", r, $1, $4, $4/$1 > "/dev/stderr";
                                    print $4/$1, ($2 > 0 ? $5/$2 : 1), ($3 > 0 ? $6/$3 : 1) }' >>"$ratios"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2 }'; }
echo "$bench: $b over $a, median of $rounds interleaved rounds ($benchtime each):"
echo "  time   $(cut -d' ' -f1 "$ratios" | median)x"
echo "  bytes  $(cut -d' ' -f2 "$ratios" | median)x"
echo "  allocs $(cut -d' ' -f3 "$ratios" | median)x"
rm -f "$ratios"
