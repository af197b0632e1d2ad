#!/usr/bin/env bash
# A second venv, .venv-ros, with ROS 2 Jazzy's rclpy from PyPI wheels layered over .venv (which holds
# robot_brain and its models). Kept apart because the wheels re-execute every Python process of their
# venv at start-up. Safe to rerun. Run scripts/bootstrap.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "[setup-ros] run scripts/bootstrap.sh first (no .venv)" >&2; exit 1; }
PYTHON=${PYTHON:-python3}
if [ ! -x .venv-ros/bin/python ]; then
  echo "[setup-ros] creating .venv-ros"
  "$PYTHON" -m venv .venv-ros
fi
site_main=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
site_ros=$(.venv-ros/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# numpy and PyYAML: the same versions as .venv, so both venvs see one of each.
.venv/bin/python -m pip freeze 2>/dev/null | grep -i -E '^(numpy|pyyaml)==' > .venv-ros/constraints.txt
stamp=.venv-ros/.robot_brain-install
want=$(cat ros-requirements.txt .venv-ros/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup-ros] pip install -r ros-requirements.txt"
  .venv-ros/bin/python -m pip install -q -c .venv-ros/constraints.txt -r ros-requirements.txt \
    2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" > "$stamp"
fi
echo "import site; site.addsitedir('$site_main')" > "$site_ros/zz_robot_brain_main_venv.pth"
