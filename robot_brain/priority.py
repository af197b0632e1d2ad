"""CPU priority per thread: the model's threads give way to the audio path and the stop word.

On Linux every thread has its own nice value and the threads it starts inherit it, so lowering a model
stage's thread at its start also lowers the thread pools torch (OpenMP), CTranslate2 or a BLAS start from
it. Raising a priority needs privileges; lowering does not. Elsewhere this does nothing and says so once.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: Nice increment for model threads: under full load the audio threads get most of a core when they need it.
BACKGROUND = 10
_warned = False


def thread_nice(tid: int | None = None) -> int | None:
    """The nice value of a thread of this process (this thread by default); None where threads have none."""
    if not sys.platform.startswith("linux"):
        return None
    return os.getpriority(os.PRIO_PROCESS, tid or threading.get_native_id())


def lower_this_thread(by: int) -> int | None:
    """Make this thread `by` nice steps lower in priority (at most 19); returns its nice value now, or None
    where the platform has no per-thread priority (the thread runs as before)."""
    global _warned
    if by <= 0:
        return thread_nice()
    if not sys.platform.startswith("linux"):
        if not _warned:
            log.info("per-thread CPU priority is Linux-only: model threads run at the audio path's priority here")
            _warned = True
        return None
    tid = threading.get_native_id()
    nice = min(19, os.getpriority(os.PRIO_PROCESS, tid) + by)
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)      # Linux: PRIO_PROCESS with a thread id is that thread only
    except OSError as exc:                              # a sandbox that forbids it: run on, say why
        log.warning("could not lower the priority of thread %s: %s", threading.current_thread().name, exc)
        return thread_nice()
    return nice
