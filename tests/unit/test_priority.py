"""Model threads give way to the audio path: a stage's `nice` lowers its thread and every thread it starts."""
import sys
import threading

import pytest

from robot_brain.frames import Turn
from robot_brain.pipeline import Stage
from robot_brain.priority import lower_this_thread, thread_nice
from robot_brain.testing import run_stages

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux-only")


class Seen(Stage):
    """Records the nice value of its own thread and of a thread it starts (as torch starts its pool)."""

    accepts = (Turn,)

    def __init__(self, name, nice):
        super().__init__(name)
        self.nice = nice
        self.seen = {}

    def process(self, frame):
        self.seen["stage"] = thread_nice()
        child = threading.Thread(target=lambda: self.seen.__setitem__("child", thread_nice()))
        child.start()
        child.join()
        yield frame


@linux
def test_a_model_stage_runs_below_the_audio_path_and_so_do_the_threads_it_starts():
    base = thread_nice()
    model, audio = Seen("model", nice=10), Seen("audio", nice=0)
    run_stages([audio, model], [Turn(turn=1, text="hi")])
    assert audio.seen == {"stage": base, "child": base}
    assert model.seen == {"stage": min(19, base + 10), "child": min(19, base + 10)}
    assert thread_nice() == base                                  # the caller's own thread is untouched


@linux
def test_lowering_is_capped_and_a_zero_step_changes_nothing():
    out = {}

    def run():
        out["zero"] = lower_this_thread(0)
        out["big"] = lower_this_thread(50)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert out["zero"] == thread_nice() and out["big"] == 19


def test_the_brain_runs_niced_by_default_and_the_setting_is_checked():
    from robot_brain.config import Config, ConfigError, load_config
    assert Config().brain.nice == 10
    assert load_config(None, {"brain.nice": 0}).brain.nice == 0
    with pytest.raises(ConfigError):
        load_config(None, {"brain.nice": 25})


def test_cpu_hogs_start_and_are_ended():
    from robot_brain.bench_speech import cpu_hogs
    with cpu_hogs(2) as hogs:
        assert len(hogs) == 2 and all(h.poll() is None for h in hogs)
    assert all(h.poll() is not None for h in hogs)
