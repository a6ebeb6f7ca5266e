#!/usr/bin/env bash
# Extra peak RSS of one UploadPDF, as a multiple of the file size.
# Usage: bash internal/bench/rss.sh   (uses /usr/bin/time -v when installed, else the program's own getrusage)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/uploadrss
go build -o "$bin" ./internal/bench/uploadrss
peak() { # $1 mode, $2 MiB → KiB
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$bin" -mode "$1" -mb "$2" 2>&1 >/dev/null | awk '/Maximum resident set size/ {print $6}'
  else
    "$bin" -mode "$1" -mb "$2" | sed 's/.*maxrss_kib=//'
  fi
}
printf '%-10s %8s %14s %18s\n' mode size_MiB extra_peak_MiB extra/size
for mb in 2 20; do
  floor=$(peak none "$mb")
  for mode in sdk sdkreader naive; do
    p=$(peak "$mode" "$mb")
    awk -v m="$mode" -v s="$mb" -v p="$p" -v f="$floor" 'BEGIN { e=(p-f)/1024; printf "%-10s %8d %14.2f %17.2fx\n", m, s, e, e/s }'
  done
done
