"""`robot-brain bench e2e` on the tiny test-shaped models: the JSON keys, the plot, the report, the figures' sense."""
import json

import numpy as np
import pytest

from robot_brain.bench_e2e import percentile, summarise
from robot_brain.bench_report import markdown
from robot_brain.cli import main
from robot_brain.config import Config

KEYS = {"e2e_p50_s", "e2e_p95_s", "segments", "serial_sum_p50_s", "model_profile", "quantisation", "device",
        "largest_segment", "overhead_ratio", "target_met", "per_turn", "serial_per_utterance", "machine", "peak_rss_mb",
        "prefix_cache", "picture_ahead", "brain_nice"}


def test_bench_e2e_writes_json_plot_and_report(tmp_path, capsys):
    from robot_brain.samples import write_bag
    bag = write_bag(tmp_path / "bag", said=[(0.5, "what do you see"), (9.0, "where is the red cup")], typed=[],
                    duration_s=12.0)                            # the first answer is over before the next question
    out = tmp_path / "e2e.json"
    code = main(["bench", "e2e", "--tiny", "--repeats", "1", "--bag", str(bag), "--json", str(out),
                 "--plot", str(tmp_path / "docs" / "e2e.png"), "--report", str(tmp_path / "docs" / "performance.md")])
    assert code == 0
    r = json.loads(out.read_text())
    assert KEYS <= r.keys()
    assert r["turns"] == 2 and len(r["serial_per_utterance"]) == 2
    for turn in r["per_turn"]:                                      # every stage left its mark, in order
        marks = list(turn["marks"])
        for earlier, later in [("speech_end", "endpoint"), ("endpoint", "asr_done"), ("asr_done", "turn_start"),
                               ("turn_start", "first_token"), ("first_token", "first_sentence"),
                               ("first_sentence", "first_audio"), ("first_audio", "first_audio_out")]:
            assert marks.index(earlier) < marks.index(later)
    assert set(r["segments"]) == {"endpoint", "asr", "turn", "prefill", "sentence", "tts", "play"}
    assert r["largest_segment"] == max(r["segments"], key=lambda n: r["segments"][n]["p50"])
    # the segments add up to the total; the endpointer waits at least its silence rule
    total = sum(s["p50"] for s in r["segments"].values())
    assert total == pytest.approx(r["e2e_p50_s"], rel=0.25)
    assert r["segments"]["endpoint"]["p50"] >= 0.9 * r["end_silence_s"]
    assert r["serial"]["endpoint"]["p50"] >= 0.9 * r["end_silence_s"]
    assert 0.3 < r["overhead_ratio"] < 3 and r["target_met"] == (r["overhead_ratio"] <= 1.2)
    png = (tmp_path / "docs" / "e2e.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    report = (tmp_path / "docs" / "performance.md").read_text()
    assert "![per-turn segments and one turn's timeline](e2e.png)" in report
    assert f"{r['e2e_p50_s']:.3f}" in report and "robot-brain bench e2e --tiny" in report
    assert 100 < r["peak_rss_mb"] < 24_000 and f"{r['peak_rss_mb']:.0f} MB" in report
    said = capsys.readouterr().out
    assert "end of speech → first reply audio: p50" in said and "largest segment" in said


def test_percentiles_and_summary_figures():
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5.0], 95) == 5.0
    assert np.isnan(percentile([], 50))
    marks = {"speech_end": 0.0, "endpoint": 0.5, "asr_done": 0.8, "turn_start": 0.8, "first_token": 1.5,
             "first_sentence": 2.0, "first_audio": 2.1, "first_audio_out": 2.1}
    serial = [{"endpoint": 0.5, "asr": 0.3, "brain": 1.2, "tts": 0.1, "sum": 2.1}]
    r = summarise([{"run": 0, "bag": "b", "turn": 1, "marks": marks}], serial, Config(), [0.01],
                  model_profile="p", quantisation="q", repeats=1, bags=[])
    assert r["e2e_p50_s"] == 2.1 and r["serial_sum_p50_s"] == 2.1 and r["overhead_ratio"] == 1.0 and r["target_met"]
    assert r["largest_segment"] == "prefill" and r["stop_to_silent_p50_s"] == 0.01
    text = markdown(r, json_path="x.json", plot_path=None, command="robot-brain bench e2e")
    assert "| prefill | turn_start → first_token | 0.700 |" in text and "No GPU was available" in text
