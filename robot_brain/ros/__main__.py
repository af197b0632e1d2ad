"""python -m robot_brain.ros ROLE [--record DIR] [--ros-args ...]: run one node (roles: composed, asr, brain,
gate, tts), e.g. from .venv-ros on a machine without a ROS install."""
import sys

from .main import _run

ROLES = ("composed", "asr", "brain", "gate", "tts")
if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
    sys.exit(f"usage: python -m robot_brain.ros {{{','.join(ROLES)}}} [--record DIR] [--ros-args ...]")
role = sys.argv.pop(1)
_run(role)
