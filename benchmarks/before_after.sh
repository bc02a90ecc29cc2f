#!/usr/bin/env bash
# One benchmark against two commits side by side, in one run, alternating (before, after,
# before, after, ...) so that the load of a shared machine falls on both alike.
#
#   benchmarks/before_after.sh BEFORE AFTER [ROUNDS] -- benchmarks/sandboxes.py --n 10
#
# Each commit is checked out in a temporary worktree and run with its own flowyard first on
# PYTHONPATH (the zygotes inherit it).
set -euo pipefail
before=$1 after=$2 rounds=1
shift 2
if [[ ${1:-} != -- ]]; then rounds=$1; shift; fi
[[ ${1:-} == -- ]] && shift
repo=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d /tmp/fy-before-after-XXXX)
cleanup() {
  for side in before after; do git -C "$repo" worktree remove --force "$tmp/$side" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
git -C "$repo" worktree add --detach -q "$tmp/before" "$before"
git -C "$repo" worktree add --detach -q "$tmp/after" "$after"
for ((i = 1; i <= rounds; i++)); do
  for side in before after; do
    ref=$([[ $side == before ]] && echo "$before" || echo "$after")
    echo "=== $side ($ref, $(git -C "$repo" rev-parse --short "$ref")), round $i: $*"
    (cd "$tmp/$side" && PYTHONPATH="$tmp/$side" python "$@")
  done
done
