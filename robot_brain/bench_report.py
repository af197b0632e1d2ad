"""The end-to-end benchmark's JSON as a picture (matplotlib) and as docs/performance.md."""
from __future__ import annotations

import json
from pathlib import Path

from .latency import SEGMENTS

COLOURS = {"endpoint": "#999999", "asr": "#e6be28", "turn": "#777777", "prefill": "#1f64a0", "sentence": "#2882c8",
           "tts": "#c850b4", "play": "#3ca05a"}


def plot(result: dict, path: str | Path) -> Path:
    """Stacked per-segment bars for every measured turn, and the timeline of the median turn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .latency import segments_of
    turns = result["per_turn"]
    fig, (bars, line) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 2]})
    for row, turn in enumerate(turns):
        left = 0.0
        for name, seconds in segments_of(turn["marks"])[0]:
            bars.barh(row, seconds, left=left, color=COLOURS.get(name, "#555555"),
                      label=name if row == 0 else None, edgecolor="white", linewidth=0.5)
            left += seconds
    bars.set_yticks(range(len(turns)), [f"run {t['run'] + 1} turn {t['turn']}" for t in turns], fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel("seconds from the end of the user's speech")
    bars.set_title(f"End of speech → first reply audio: p50 {result['e2e_p50_s']:.2f} s, p95 {result['e2e_p95_s']:.2f} s "
                   f"(serial work p50 {result['serial_sum_p50_s']:.2f} s)", fontsize=10)
    bars.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if turns:
        totals = [segments_of(t["marks"])[1] or 0.0 for t in turns]
        median = turns[sorted(range(len(turns)), key=lambda i: totals[i])[len(turns) // 2]]
        marks = median["marks"]
        for name, start, end in SEGMENTS:
            if start in marks and end in marks:
                line.barh(0, marks[end] - marks[start], left=marks[start], color=COLOURS.get(name, "#555555"))
        for i, (mark, t) in enumerate(sorted(marks.items(), key=lambda kv: kv[1])):
            line.axvline(t, color="black", linewidth=0.5)
            line.text(t, 0.5 + 0.22 * (i % 4), f"{mark} {t:.2f} s", fontsize=7, ha="left", va="bottom")
        line.set_ylim(-0.5, 1.5)
        line.set_yticks([])
        line.set_xlabel("seconds (timeline of the median turn)")
        line.set_title(f"One turn: run {median['run'] + 1}, turn {median['turn']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(result: dict, *, json_path: str, plot_path: str | None, command: str, gpu: dict | None = None) -> str:
    """docs/performance.md from the JSON: the table, the plot, the machine, the command, GPU figures if any."""
    m = result["machine"]
    lines = [
        "# Performance",
        "",
        f"Generated from `{json_path}` by `robot-brain bench e2e`. Do not edit by hand: rerun the command.",
        "",
        "## End of the user's speech → first reply audio",
        "",
        f"- **e2e p50 {result['e2e_p50_s']:.3f} s, p95 {result['e2e_p95_s']:.3f} s** over {result['turns']} spoken "
        f"turns ({result['repeats']} real-time replays of {', '.join(_bag_name(b) for b in result['bags'])}).",
        f"- Serial work (each stage timed alone on the same inputs, plus the {result['end_silence_s']} s of silence "
        f"that ends a turn by rule): p50 **{result['serial_sum_p50_s']:.3f} s**.",
        f"- Pipeline overhead ratio e2e p50 / serial p50 = **{result['overhead_ratio']}** (target ≤ 1.2: "
        f"{'met' if result['target_met'] else 'MISSED'}).",
        f"- Largest segment: **{result['largest_segment']}**.",
    ]
    if result.get("peak_rss_mb") is not None:
        lines.append(f"- Peak resident memory of the process through the first replay (the whole pipeline loaded "
                     f"once): {result['peak_rss_mb']:.0f} MB (target ≤ 1200 MB).")
    if result.get("stop_to_silent_p50_s") is not None:
        lines.append(f"- A stop while the robot talks → silence: p50 {1000 * result['stop_to_silent_p50_s']:.1f} ms.")
    lines += ["", "| segment | from → to | p50 s | p95 s | n |", "|---|---|---|---|---|"]
    for name, start, end in SEGMENTS:
        if name in result["segments"]:
            s = result["segments"][name]
            lines.append(f"| {name} | {start} → {end} | {s['p50']:.3f} | {s['p95']:.3f} | {s['n']} |")
    lines.append(f"| **total** | speech_end → first_audio_out | {result['e2e_p50_s']:.3f} | {result['e2e_p95_s']:.3f} "
                 f"| {result['turns']} |")
    lines += ["", "| stage alone | p50 s | p95 s |", "|---|---|---|"]
    for stage, s in result["serial"].items():
        lines.append(f"| {stage} | {s['p50']:.3f} | {s['p95']:.3f} |")
    if plot_path:
        lines += ["", f"![per-turn segments and one turn's timeline]({plot_path})"]
    on = lambda flag: "unknown" if flag is None else "on" if flag else "off"
    nice = result.get("brain_nice", 0)
    lines += [
        "", "## Set-up", "",
        f"- Brain: {result['model_profile']}, the {result.get('engine') or 'transformers'} engine, "
        f"{result['quantisation']} on {result['device']}, "
        f"{result['max_new_tokens']} new tokens at most.",
        f"- Speech recognition: {result['asr_model']} (faster-whisper, int8 on CPU); voice: espeak-ng via pyttsx3.",
        f"- Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, torch {m['torch']}; the brain on "
        f"{m['torch_threads']} CPU thread(s) (`brain.cpu_threads` 0: one per core, below the always-on "
        f"audio path), {nice} nice steps below it.",
        f"- Prefix cache {on(result.get('prefix_cache'))}, picture encoded while the user speaks "
        f"{on(result.get('picture_ahead'))} (`brain.prefix_cache`, `brain.picture_ahead`).",
        "- The brain's prefill grows with its prompt: the system prompt with the skills list, the remembered turns "
        "and 64 image tokens; with the prefix cache only what is new since the last turn is prefilled. "
        + ("The language model and tokenizer are SmolVLM-256M's own, so prompts and replies have their real "
           "lengths; the vision encoder's weights are random." if "SmolLM2" in result["model_profile"] else
           "The random model's tokenizer has a 400-token vocabulary, so the same text takes about three times the "
           "tokens SmolVLM's own tokenizer would, and its replies are noise."),
        "- Random weights have the timing of the real architectures. Whisper's hallucination guard is off here so "
        "that every utterance becomes a turn.",
        "", "Command:", "", "```bash", command, "```", "",
        "## GPU", "",
    ]
    if gpu:
        lines += [f"- {k}: {v}" for k, v in gpu.items()]
    else:
        lines.append("No GPU was available for this run; run the same command with `--device cuda` on one and add "
                     "`--gpu-json FILE` (the JSON of `robot-brain bench vlm --json FILE` there) to fill this section.")
    return "\n".join(lines) + "\n"


def _bag_name(path: str) -> str:
    p = Path(path)
    return p.parent.name.rsplit("-", 1)[0] if p.name == "bag" else p.name


def engines_table(vlm: dict) -> list[str]:
    """`bench vlm`'s JSON as a Markdown section: every engine side by side against plain generate()."""
    lines = ["", "## Engines (`robot-brain bench vlm`)", "",
             f"{vlm['model']}, {vlm['prompt_tokens']} prompt tokens with the picture, {vlm['new_tokens']} new tokens, "
             f"memory bandwidth {vlm['memory_bandwidth_gbs']} GB/s; each engine in its own process.", "",
             "First token: with the picture encoded while the user spoke (the brain's way when the scene has not "
             "changed), and with it encoded in the turn.", "",
             "| engine | weights | decode tok/s | first token s | first token s, picture in the turn | peak RSS MB | "
             "ceiling tok/s |", "|---|---|---|---|---|---|---|",
             f"| plain `generate()` | {vlm['baseline']} | {vlm['baseline_decode_tok_s']} | | {vlm['baseline_ttft_s']} | "
             f"{vlm['baseline_peak_rss_mb']} | |"]
    for row in vlm["engines"]:
        lines.append(f"| {row['engine']} | {row['quantisation']} | {row['decode_tok_s']} | {row['ttft_s']} | "
                     f"{row.get('ttft_cold_s', '')} | {row['peak_rss_mb']} | {row['ceiling_tok_s']} |")
    met = ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in vlm.get("targets", {}).items())
    lines += ["", f"Best engine: {vlm['engine']}; {met}."]
    return lines


def write_report(result: dict, path: str | Path, *, json_path: str, plot_path: str | None, command: str,
                 gpu_json: str | Path | None = None, vlm_json: str | Path | None = None) -> Path:
    gpu = None
    if gpu_json:
        data = json.loads(Path(gpu_json).read_text())
        gpu = {k: data[k] for k in ("device", "decode_tok_s", "ttft_s", "e2e_p50_s") if k in data} or data
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if plot_path:
        try:
            plot_path = str(Path(plot_path).resolve().relative_to(path.parent.resolve()))
        except ValueError:
            pass
    text = markdown(result, json_path=json_path, plot_path=plot_path, command=command, gpu=gpu)
    if vlm_json:
        text += "\n".join(engines_table(json.loads(Path(vlm_json).read_text()))) + "\n"
    path.write_text(text)
    return path


def summary_text(r: dict) -> str:
    """The figures in a few lines, for the terminal."""
    lines = [f"end of speech → first reply audio: p50 {r['e2e_p50_s']:.3f} s, p95 {r['e2e_p95_s']:.3f} s over "
             f"{r['turns']} turns ({r['model_profile']}, {r['quantisation']}, {r['device']})"]
    lines.append("  " + ", ".join(f"{name} {s['p50']:.3f}" for name, s in r["segments"].items()) + " (p50 s)")
    ratio = r["overhead_ratio"]
    lines.append(f"serial work p50 {r['serial_sum_p50_s']:.3f} s; e2e / serial = {ratio}: "
                 f"{'meets' if r['target_met'] else 'MISSES'} the 1.2 target; largest segment: {r['largest_segment']}")
    if r.get("stop_to_silent_p50_s") is not None:
        lines.append(f"stop → silent p50 {1000 * r['stop_to_silent_p50_s']:.1f} ms")
    return "\n".join(lines)
