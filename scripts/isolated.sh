#!/usr/bin/env bash
# Run a command in a new network namespace where only loopback is up, so DDS discovery (multicast)
# never leaves the machine:  bash scripts/isolated.sh CMD ARGS...
# Where no namespace can be made, the command runs as it is, and the ROS tests skip loudly.
set -euo pipefail
inner='ip link set lo up && ip link set lo multicast on && exec "$@"'
if [ "$(id -u)" = 0 ]; then flags=(-n); else flags=(-r -n); fi
if unshare "${flags[@]}" true 2>/dev/null && command -v ip >/dev/null; then
  exec unshare "${flags[@]}" bash -c "$inner" isolated "$@"
fi
echo "[isolated] WARNING: cannot make a network namespace (unshare ${flags[*]} or ip missing);" \
     "running without one: tests that start DDS will skip" >&2
exec "$@"
