"""robot_brain: the on-device brain of a humanoid or service robot."""

__version__ = "0.1.0"
