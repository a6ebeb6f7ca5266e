#!/usr/bin/env bash
# revs.sh compares benchmarks at two git revisions in interleaved rounds:
# the test binary of PKG is built once per revision (from a temporary
# worktree), then each round runs both, alternating which goes first, so that
# drift on a shared machine does not favour either; the rounds of each side
# go to a file and benchstat (when installed) compares them.
#
# Usage: internal/bench/revs.sh REV_A REV_B BENCH [PKG] [ROUNDS] [BENCHTIME]
#   defaults: PKG . (the root package), 10 rounds, 1s
# Example: internal/bench/revs.sh 07994c1 HEAD 'EventHandler(Encrypted|Plaintext)$'
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$1 b=$2 bench=$3 pkg=${4:-.} rounds=${5:-10} benchtime=${6:-1s}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/wt-a" 2>/dev/null || true; git worktree remove --force "$tmp/wt-b" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for side in a b; do
  rev=${!side}
  git worktree add --detach "$tmp/wt-$side" "$rev" >/dev/null 2>&1
  (cd "$tmp/wt-$side" && go test -c -o "$tmp/$side.test" "$pkg")
done
dir=$(pwd)/$pkg # the binaries run in the package's directory, as go test runs them
out=${OUT:-${TMPDIR:-/tmp}} # where revs-a.txt and revs-b.txt go
: >"$out/revs-a.txt"
: >"$out/revs-b.txt"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order="a b"; else order="b a"; fi
  for side in $order; do
    (cd "$dir" && "$tmp/$side.test" -test.run '^$' -test.bench "$bench" -test.benchmem -test.benchtime "$benchtime") |
      grep '^Benchmark' >>"$out/revs-$side.txt"
  done
  echo "round $r/$rounds done" >&2
done
echo "$a: $out/revs-a.txt, $b: $out/revs-b.txt"
if command -v benchstat >/dev/null 2>&1; then
  benchstat "$out/revs-a.txt" "$out/revs-b.txt"
elif [ -x "$(go env GOPATH)/bin/benchstat" ]; then
  "$(go env GOPATH)/bin/benchstat" "$out/revs-a.txt" "$out/revs-b.txt"
fi
