"""robot_brain: the on-device brain of a humanoid or service robot."""
import os

# numpy's OpenBLAS: the audio path's small matrix products gain nothing from more threads, and OpenBLAS's idle
# worker threads spin on a core between calls, taking a whole core of a small robot computer from the model.
# Set before numpy loads OpenBLAS; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
