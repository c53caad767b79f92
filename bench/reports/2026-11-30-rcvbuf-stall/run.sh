#!/bin/bash
# Runs the matrix of runs.txt from the repository's root:
#   bench/reports/2026-11-30-rcvbuf-stall/run.sh > runs.txt
set -e
bin=$(mktemp -d)/rcvbuf-stall
go build -o "$bin" ./bench/cmd/rcvbuf-stall
for half in false true; do
  for cfg in "-rcvbuf 8192" "-rcvbuf 8192 -grow 262144" "-rcvbuf 0"; do
    for sp in "-split 54610 -pause 2ms" "-split 1024"; do
      echo "### $cfg $sp -half=$half"
      timeout 900 "$bin" -pairs 2000 -par 48 $cfg $sp -half=$half 2>&1
    done
  done
done
