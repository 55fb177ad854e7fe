#!/bin/sh
# interleaved A/B of the harness: main's code (a detached worktree's venv) then this branch, $1 pairs
H=$(dirname "$0")/harness18.py
for i in $(seq 1 "${1:-2}"); do
  for side in main branch; do
    if [ $side = main ]; then PY=/work/wt-broker4-base/.venv/bin/python DB=wtb4main; else PY=/work/wt-broker4/.venv/bin/python DB=wtb4; fi
    echo "$i $side $(date -u +%H:%M:%S) load$(uptime | sed 's/.*average://')"
    nice $PY $H 4000 40 postgresql://127.0.0.1/$DB --digest 2>&1 | tail -2
  done
done
