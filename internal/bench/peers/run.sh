#!/usr/bin/env bash
# run.sh measures one InsertInvoice-shaped call through every client of
# peers_test.go, side by side in one run, and prints a Markdown table:
#
#   - time: the server in the same process (httptest), as the root package's
#     benchmarks do, and in another process; the median of per-round ratios
#     to the floor;
#   - client-only allocations and bytes: the server in another process (this
#     test binary started with WXBENCH_SERVE=1), so that the counts are the
#     client's own; the median over rounds.
#
# The test binary is built once. Each round runs every client once per mode,
# rotating which goes first, so that drift on a shared machine does not pick
# a winner (`go test -count N` runs each sub-benchmark N times back to back).
#
# Usage: [CLIENTS="nethttp wxinvoice"] internal/bench/peers/run.sh [ROUNDS] [CALLS]
#   defaults: every client, 20 rounds, 10000 calls; the floor (nethttp) must be among CLIENTS
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-20}
calls=${2:-10000}
read -r -a clients <<<"${CLIENTS:-nethttp wxinvoice silenceper resty}"

tmp=$(mktemp -d)
bin=$tmp/peers.test
go test -c -o "$bin" .

# The server in another process: it prints its address, serves until its
# stdin closes.
mkfifo "$tmp/in"
WXBENCH_SERVE=1 "$bin" <"$tmp/in" >"$tmp/addr" &
server=$!
exec 3>"$tmp/in"
trap 'exec 3>&-; wait "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$tmp/addr")

# run MODE CLIENT prints "MODE CLIENT ns B allocs" for one run.
run() {
  local env=()
  [ "$1" = remote ] && env=(WXBENCH_ADDR="$addr")
  env "${env[@]}" "$bin" -test.run '^$' -test.bench "^BenchmarkInsert\$/^client=$2\$" -test.benchmem -test.benchtime "${calls}x" |
    awk -v m="$1" -v c="$2" '/^Benchmark/ { for (i = 1; i <= NF; i++) { if ($i == "ns/op") ns = $(i-1); if ($i == "B/op") by = $(i-1); if ($i == "allocs/op") al = $(i-1) } }
         END { print m, c, ns, by, al }'
}

: >"$tmp/runs"
n=${#clients[@]}
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < n; k++)); do
    c=${clients[(r + k) % n]}
    echo "$r $(run local "$c")" >>"$tmp/runs"
    echo "$r $(run remote "$c")" >>"$tmp/runs"
  done
  echo "round $((r + 1))/$rounds done" >&2
done

# Per round, each client's in-process time over the floor's; medians.
awk -v clients="${clients[*]}" '
  { ns[$1, $2, $3] = $4; by[$1, $2, $3] = $5; al[$1, $2, $3] = $6; if ($1 + 1 > R) R = $1 + 1 }
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    n = split(clients, cs, " ")
    print "| client | time vs floor | in-process µs (median) | time vs floor, server in another process | client-only allocs | client-only bytes |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
      c = cs[i]
      for (r = 0; r < R; r++) {
        tr[r + 1] = ns[r, "local", c] / ns[r, "local", "nethttp"]; t[r + 1] = ns[r, "local", c] / 1000
        rr[r + 1] = ns[r, "remote", c] / ns[r, "remote", "nethttp"]
        a[r + 1] = al[r, "remote", c]; b[r + 1] = by[r, "remote", c]; fb[r + 1] = by[r, "remote", "nethttp"]
      }
      ratio = median(tr, R); us = median(t, R); rratio = median(rr, R); allocs = median(a, R); bytes = median(b, R); floorb = median(fb, R)
      printf "| %s | %.2f | %.1f | %.2f | %d | %.2f KiB (%.2fx) |\n", c, ratio, us, rratio, allocs, bytes / 1024, bytes / floorb
    }
    printf "\n%d rounds x %s calls per client and mode\n", R, '"$calls"'
  }' "$tmp/runs"
