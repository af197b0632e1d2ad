"""`robot-brain`: the command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, describe, load_config, parse_overrides



def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="robot-brain",
        description="On-device robot brain: camera + voice in, vision-language model, spoken replies and "
                    "gated action intents out.",
        epilog="Try: robot-brain replay tests/data/sample_bag --out out/demo",
    )
    p.add_argument("--version", action="version", version=f"robot-brain {__version__}")
    p.add_argument("--config", type=Path, metavar="FILE", help="YAML config layered on the packaged defaults")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config key (repeatable), e.g. --set pipeline.queue_size=32")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo", help="live demo: webcam, microphone and speaker, with a live view of what the robot sees, hears, "
                     "says and intends",
        description="Talk to the robot on a laptop. Camera: the webcam (default), --video or --images. Voice: the "
                    "microphone (default), --wav or --text. Speech out: the speaker (default) or --wav-out. A window "
                    "shows the camera with what the robot heard and says, its intents and the safety gate's "
                    "decisions, the last turn's latency per stage and its state; keys: s stop, q quit, space "
                    "talk (with --push-to-talk). With --no-window (or no display) a status line shows the same.",
        epilog="Example without a webcam or microphone: robot-brain demo --video clip.mp4 --wav question.wav "
               "--no-window --wav-out reply.wav --out out/demo-run")
    cam = demo.add_mutually_exclusive_group()
    cam.add_argument("--camera", metavar="INDEX|PATH|NAME", help="webcam: index, /dev/video path or part of its "
                     "name (default 0)")
    cam.add_argument("--video", type=Path, metavar="FILE", help="a video file instead of the webcam (loops)")
    cam.add_argument("--images", type=Path, metavar="DIR", help="a folder of pictures, each shown --image-period s")
    ear = demo.add_mutually_exclusive_group()
    ear.add_argument("--mic", metavar="INDEX|NAME", help="microphone (default: the system's)")
    ear.add_argument("--wav", type=Path, metavar="FILE", help="a recording played in as the microphone, in real "
                     "time; the demo ends once it is answered")
    ear.add_argument("--text", action="store_true", help="type questions (or pipe them in, one per line)")
    mouth = demo.add_mutually_exclusive_group()
    mouth.add_argument("--speaker", metavar="INDEX|NAME", help="playback device (sets tts.output; none = silent)")
    mouth.add_argument("--wav-out", type=Path, metavar="FILE", help="write the robot's voice to this WAV file")
    demo.add_argument("--no-window", dest="window", action="store_false", help="no window: a status line instead")
    demo.add_argument("--out", type=Path, metavar="DIR", help="write DIR/events.jsonl (as replay does), "
                      "DIR/reply.wav and DIR/audit.jsonl")
    demo.add_argument("--push-to-talk", action="store_true", help="the microphone is heard only after space is "
                      "pressed (press again to send); the stop word is heard always")
    demo.add_argument("--model", metavar="PROFILE|FOLDER", help="brain model (sets brain.model)")
    demo.add_argument("--device", metavar="DEV", help="cpu, cuda, cuda:1 ... for the brain and speech "
                      "recognition (sets brain.device and asr.device)")
    demo.add_argument("--language", metavar="CODE", help="spoken language, e.g. en, de (sets asr.language; "
                      "default: detect)")
    demo.add_argument("--fps", type=float, default=15.0, help="camera pictures per second into the pipeline")
    demo.add_argument("--image-period", type=float, default=2.0, metavar="S", help="with --images: seconds per "
                      "picture")
    demo.set_defaults(func=cmd_demo, config_flags={"speaker": "tts.output", "model": "brain.model",
                                                   "device": ("brain.device", "asr.device"),
                                                   "language": "asr.language"})

    replay = sub.add_parser("replay", help="play a recorded rosbag2 through the pipeline (or into live ROS topics)",
                            description="Play a rosbag2 folder (sqlite3 or mcap) through the pipeline in bag time "
                                        "and write DIR/events.jsonl, DIR/reply.wav (when speech is produced) "
                                        "and an output bag DIR/bag with what the robot heard, said and intended. "
                                        "With --ros, publish the bag's messages on their live topics (and /clock) "
                                        "for running robot_brain nodes instead, and report what they answer.")
    replay.add_argument("bag", type=Path, help="rosbag2 folder")
    replay.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (required without --ros; with --ros: DIR/ros_outputs.jsonl)")
    replay.add_argument("--ros", action="store_true",
                        help="publish into live ROS 2 topics in real time x --speed (needs rclpy; start the nodes "
                             "with use_sim_time:=true)")
    replay.add_argument("--linger", type=float, default=5.0, metavar="S",
                        help="with --ros: listen this long after the last message for the nodes' answers")
    replay.add_argument("--pace", choices=["bag", "realtime"],
                        help="bag: deterministic, as fast as the stages allow (default); realtime: the bag's pace")
    replay.add_argument("--speed", type=float, help="speed factor for --pace realtime")
    replay.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap", help="output bag format")
    replay.add_argument("--quiet", action="store_true", help="no progress bar and no turn-by-turn account")
    replay.set_defaults(func=cmd_replay, config_flags={"pace": "replay.pace", "speed": "replay.speed"})

    bench = sub.add_parser("bench", help="benchmarks that print figures and write JSON")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    bp = bench_sub.add_parser("pipeline", help="per-frame overhead of the pipeline runtime (target < 100 µs)")
    bp.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    bp.add_argument("--frames", type=int, default=2000)
    bp.add_argument("--stages", type=int, default=5)
    bp.set_defaults(func=cmd_bench_pipeline)
    bs = bench_sub.add_parser("speech", help="ASR real-time factor, VAD cost, TTS first audio, stop latency "
                              "(targets: stop p99 <= 0.2 s, VAD <= 2%% of real time, 3 s utterance < 0.5 s)")
    bs.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    bs.add_argument("--trials", type=int, default=50, help="spoken stops, fed in real time (about 2 s each)")
    bs.add_argument("--load", type=int, default=0, metavar="N",
                    help="N other processes keep the cores busy during the stop trials (a robot under full load)")
    bs.set_defaults(func=cmd_bench_speech)
    bv = bench_sub.add_parser("vlm", help="the brain's engines side by side vs plain generate() on a "
                              "SmolVLM-256M-shaped random model: decode tok/s, first token, ceiling, memory")
    bv.add_argument("--engines", default="all", metavar="all|NAME[,NAME]",
                    help="engines to time: all installed ones (default), or a comma-separated list of "
                         "transformers, llama.cpp")
    bv.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    bv.add_argument("--repeats", type=int, default=3, help="timed generations per variant (after one warm-up)")
    bv.set_defaults(func=cmd_bench_vlm)
    bg = bench_sub.add_parser("gate", help="safety-gate cost per intent over 10,000 mixed proposals "
                              "(target < 1000 µs)")
    bg.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    bg.add_argument("--intents", type=int, default=10_000)
    bg.set_defaults(func=cmd_bench_gate)
    bst = bench_sub.add_parser("stop", help="every WAV in a folder through the stop path: *_pos should stop the "
                               "robot, *_neg not (targets: recall >= 95 %%, false fires <= 2 %%, p99 <= 0.2 s)")
    bst.add_argument("folder", type=Path, metavar="DIR", help="WAV files (any rate and level; searched recursively)")
    bst.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    bst.add_argument("--all-negative", action="store_true", help="every file is a _neg (e.g. a folder of other speech)")
    bst.set_defaults(func=cmd_bench_stop)
    be = bench_sub.add_parser(
        "e2e", help="end of speech → first reply audio through the whole pipeline, per stage (target: <= 1.2x the "
                    "stages' serial work)",
        description="Replays the benchmark bag in real time through every stage (SmolVLM-256M-shaped and "
                    "whisper-tiny-shaped random models, espeak-ng) --repeats times, reports p50/p95 per segment and in "
                    "all, times each stage alone on the same inputs, and compares.")
    be.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    be.add_argument("--plot", type=Path, metavar="PNG", help="stacked per-stage bars per turn and one turn's timeline")
    be.add_argument("--report", type=Path, metavar="MD", help="write a Markdown report (docs/performance.md)")
    be.add_argument("--gpu-json", type=Path, metavar="FILE", help="with --report: GPU figures to include")
    be.add_argument("--vlm-json", type=Path, metavar="FILE",
                    help="with --report: the per-engine table of `robot-brain bench vlm --json FILE` to include")
    be.add_argument("--repeats", type=int, default=3, help="real-time replays of each bag (36 s each by default)")
    be.add_argument("--bag", type=Path, action="append", metavar="DIR", help="bag to replay (repeatable; default: "
                    "the benchmark bag: the sample scene with three spoken questions 14 s apart and a stop)")
    be.add_argument("--device", default="cpu", help="cpu, cuda, ... for the brain and speech recognition")
    be.add_argument("--max-new-tokens", type=int, default=48, help="the brain's reply length cap")
    be.add_argument("--tiny", action="store_true", help="the tiny test-shaped models instead (quick check of the "
                    "command, not a measurement)")
    be.set_defaults(func=cmd_bench_e2e)

    ev = sub.add_parser("eval", help="generated table-top episodes through the whole pipeline: answer and intent "
                        "accuracy, ASR word error rate, false intents",
                        description="Writes --n scenes of the synthetic table-top world with spoken questions "
                                    "(espeak-ng) as bags, replays each through the configured pipeline and scores "
                                    "what the robot heard, said and intended against the truth.")
    ev.add_argument("--seed", type=int, default=1, help="generator seed: another seed is a held-out set")
    ev.add_argument("--n", type=int, default=10, help="scenes")
    ev.add_argument("--questions", type=int, default=3, help="spoken questions per scene")
    ev.add_argument("--signs", type=int, default=0, metavar="K",
                    help="K more scenes with printed instructions on the wall and only questions that call for "
                         "words: counts the actions taken there (should be 0)")
    ev.add_argument("--json", type=Path, metavar="FILE", help="write the figures (and every question's score)")
    ev.set_defaults(func=cmd_eval)

    models = sub.add_parser("models", help="model profiles (models/registry.yaml): list, pull, check",
                            description="list: every profile and whether it is on this machine; "
                                        "pull NAME: download it (needs internet; progress bar); "
                                        "check NAME|FOLDER: can the brain load it?")
    models.add_argument("action", nargs="?", choices=["list", "pull", "check"], default="list")
    models.add_argument("name", nargs="?", help="profile name (pull, check) or model folder (check)")
    models.add_argument("--registry", type=Path, help="registry file (default: models/registry.yaml)")
    models.add_argument("--revision", help="pull this hub revision instead of the profile's")
    models.set_defaults(func=cmd_models)

    calibrate = sub.add_parser(
        "calibrate", help="camera intrinsics from a printed chessboard (OpenCV), written as camera_info YAML",
        description="Show a chessboard to the camera from 10-20 different angles (or save such photos in a "
                    "folder). Writes the camera_calibration_parsers YAML the safety gate reads (gate.camera).")
    source = calibrate.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, metavar="DIR", help="a folder of chessboard photos")
    source.add_argument("--camera", type=int, metavar="INDEX", help="take views from this webcam")
    calibrate.add_argument("--board", default="9x6", metavar="COLSxROWS", help="inner corners (default 9x6)")
    calibrate.add_argument("--square", type=float, default=0.025, metavar="M", help="square size in metres")
    calibrate.add_argument("--views", type=int, default=15, help="views to take from --camera")
    calibrate.add_argument("--name", default="camera", help="camera_name written to the file")
    calibrate.add_argument("--out", type=Path, default=Path("calibration/camera.yaml"), metavar="FILE")
    calibrate.set_defaults(func=cmd_calibrate)

    redteam = sub.add_parser(
        "redteam", help="scripted attacks on the turn taking and safety gate: a pass/leak/miss/crash table",
        description="Runs each case of a JSON-lines file through the real turn taking and safety gate (with a "
                    "scripted brain, and the link's receive path without DDS) and scores it: pass, leak (an action "
                    "the case forbids came out), miss (an expected action did not), crash (an exception or a stage "
                    "error), slow (over 50 ms). Exit status 1 when any case does not pass. Step kinds: user "
                    "(source voice|typed, language), typed, brain (raw model output; image_size), wait (seconds on "
                    "the gate's clock), camera_info, link (to, signed, from_role, key), fault (gate|turns|brain), "
                    "estop; robot_brain/redteam.py documents each.",
        epilog="Example: robot-brain redteam --json out/redteam.json")
    redteam.add_argument("cases", nargs="?", type=Path, help="cases file (default: the shipped "
                         "robot_brain/intents/redteam_cases.jsonl)")
    redteam.add_argument("--json", type=Path, metavar="FILE", help="write every case's result and the counts here")
    redteam.add_argument("--only", action="append", metavar="ID|PREFIX|RULE", help="run only these cases (repeatable)")
    redteam.set_defaults(func=cmd_redteam)

    devices = sub.add_parser("devices", help="list compute, audio and camera devices")
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.set_defaults(func=cmd_devices)

    config = sub.add_parser("config", help="print every config key with its value and meaning")
    config.set_defaults(func=cmd_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)      # as typed, for reports that quote it
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        overrides = parse_overrides(args.set)
        for flag, keys in getattr(args, "config_flags", {}).items():   # command flags that are config keys
            if getattr(args, flag) is not None:
                for key in (keys,) if isinstance(keys, str) else keys:
                    overrides[key] = getattr(args, flag)
        args.cfg = load_config(args.config, overrides)
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_demo(args) -> int:
    from .demo.session import Demo, DemoError, DemoOptions
    if args.fps <= 0 or args.image_period <= 0:
        raise ConfigError("--fps and --image-period must be positive")
    options = DemoOptions(camera=args.camera, video=args.video, images=args.images, mic=args.mic, wav=args.wav,
                          text=args.text, wav_out=args.wav_out, window=args.window, out=args.out,
                          push_to_talk=args.push_to_talk, max_fps=args.fps, image_period_s=args.image_period)
    try:
        demo = Demo(args.cfg, options)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("robot-brain demo: loading the models ...", flush=True)
    result = demo.run()
    print(result.account())
    return 0


def cmd_replay(args) -> int:
    from .bags import BagError
    if args.ros:
        return _replay_ros(args)
    if args.out is None:
        raise ConfigError("replay needs --out DIR (or --ros to publish into live topics)")
    from .replay import account, replay

    try:
        result = replay(args.bag, args.out, args.cfg, storage=args.storage, progress=not args.quiet)
    except BagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(account(result))
    return 1 if result.report.error and not result.events else 0


def _replay_ros(args) -> int:
    from .bags import BagError
    try:
        from .ros import player
    except ImportError as exc:
        print(f"error: replay --ros needs rclpy ({exc}). Source your ROS 2 Jazzy set-up, or use the wheels: "
              "bash scripts/setup_ros.sh, then .venv-ros/bin/python -m robot_brain replay ... --ros", file=sys.stderr)
        return 1
    speed = args.cfg.replay.speed
    try:
        result = player.play(args.bag, args.cfg, speed=speed, linger_s=args.linger, progress=not args.quiet)
    except BagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out is not None:
        player.write_heard(result, args.out / "ros_outputs.jsonl")
    if not args.quiet:
        print(player.account(result))
    return 0 if result.published else 1


def cmd_bench_pipeline(args) -> int:
    from .bench import bench_pipeline, write_json
    if args.frames < 1 or args.stages < 1:
        raise ConfigError("--frames and --stages must be at least 1")
    result = bench_pipeline(frames=args.frames, stages=args.stages)
    write_json(result, args.json)
    verdict = "meets" if result["per_frame_overhead_us"] < result["target_us"] else "MISSES"
    print(f"pipeline overhead: {result['per_frame_overhead_us']} µs per frame per stage (median, "
          f"p95 {result['per_frame_overhead_p95_us']} µs) over {result['frames']} frames x {result['stages']} "
          f"stages; streamed {result['stream_frames_per_s']:.0f} frames/s. {verdict} the "
          f"{result['target_us']:.0f} µs target.")
    return 0


def cmd_bench_speech(args) -> int:
    from tqdm import tqdm

    from .bench import write_json
    from .bench_speech import bench_speech
    if args.trials < 1:
        raise ConfigError("--trials must be at least 1")
    if not 0 <= args.load <= 64:
        raise ConfigError("--load must be between 0 and 64 busy processes")
    print("measuring ASR, VAD and TTS (building Whisper-shaped models on first use) ...", flush=True)
    with tqdm(total=args.trials, desc=f"stop trials (load {args.load})", unit="trial") as bar:
        result = bench_speech(args.trials, progress=lambda what, n, total: bar.update(n - bar.n),
                              config=args.cfg, load=args.load)
    write_json(result, args.json)
    r = result
    print(f"ASR (int8 CPU, 3 s utterance): tiny-shaped {r['asr_3s_tiny_s']:.3f} s (RTF {r['asr_rtf_tiny']}), "
          f"base-shaped {r['asr_3s_base_s']:.3f} s (RTF {r['asr_rtf_base']})")
    print(f"VAD: {100 * r['vad_rtf']:.2f} % of real time; TTS first audio: {1000 * r['tts_first_audio_s']:.0f} ms")
    print(f"stop: {r['stop_detected']}/{r['stop_trials']} spoken stops caught while the brain was busy (nice "
          f"{r['brain_nice']}), {r['load']} other busy processes ran and the robot talked; latency from the end of "
          f"the word p50 {1000 * r['stop_latency_p50_s']:.0f} ms, "
          f"p99 {1000 * r['stop_latency_p99_s']:.0f} ms; speech silenced {1000 * r['stop_to_silent_p50_s']:.0f} ms "
          f"(p50) after the Stop")
    misses = [k for k, ok in r["targets"].items() if not ok]
    print("targets: " + ("all met" if not misses else "MISSED " + ", ".join(misses)))
    return 0


def cmd_bench_e2e(args) -> int:
    import shlex

    from .bench import write_json
    from .bench_e2e import bench_e2e
    from .bench_report import plot, summary_text, write_report
    if args.repeats < 1 or args.max_new_tokens < 1:
        raise ConfigError("--repeats and --max-new-tokens must be at least 1")
    from .samples import bench_bag
    bags = args.bag or [bench_bag()]
    for bag in bags:
        if not Path(bag).is_dir():
            raise ConfigError(f"--bag {bag}: not a rosbag2 folder")
    print("building the models on first use (cached), then replaying in real time ...", flush=True)
    from .testing import tiny_idefics3_vlm, tiny_whisper
    if args.tiny:
        vlm, whisper, profile = tiny_idefics3_vlm(), tiny_whisper(), "tiny-random (test-shaped)"
    else:
        from .bench_e2e import real_whisper_tiny_en
        from .bench_vlm import smollm2_gguf, smolvlm_256m_shaped
        vlm, whisper = smolvlm_256m_shaped(), real_whisper_tiny_en() or tiny_whisper(shape="tiny")
        profile = ("SmolVLM-256M-shaped (SmolLM2-135M-Instruct's language model and tokenizer, random vision "
                   "encoder)" if smollm2_gguf() else "SmolVLM-256M-shaped (random weights)")
    result = bench_e2e(vlm=vlm, whisper=whisper, model_profile=profile, bags=bags, repeats=args.repeats,
                       device=args.device, max_new_tokens=args.max_new_tokens,
                       progress=lambda what: print(f"  {what}", flush=True))
    write_json(result, args.json)
    if args.plot:
        plot(result, args.plot)
    if args.report:
        command = "robot-brain " + " ".join(shlex.quote(a) for a in args.argv)
        write_report(result, args.report, json_path=str(args.json or "(not written)"),
                     plot_path=str(args.plot) if args.plot else None, command=command, gpu_json=args.gpu_json,
                     vlm_json=args.vlm_json)
    print(summary_text(result))
    return 0


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from .bench import write_json
    from .evaluate import evaluate, table
    if args.n < 1 or args.questions < 1 or args.signs < 0:
        raise ConfigError("--n and --questions must be at least 1, --signs at least 0")
    from transformers.utils import logging as transformers_logging
    transformers_logging.disable_progress_bar()          # one bar for the run, not a weight-loading bar a scene
    try:
        with tqdm(total=args.n + args.signs, desc="eval", unit="scene") as bar:
            result = evaluate(args.cfg, seed=args.seed, n=args.n, questions=args.questions, signs=args.signs,
                              progress=lambda done, total: bar.update(done - bar.n))
    finally:
        transformers_logging.enable_progress_bar()
    write_json(result, args.json)
    print(table(result))
    return 0


def cmd_bench_gate(args) -> int:
    from .bench import write_json
    from .bench_gate import bench_gate
    if args.intents < 1:
        raise ConfigError("--intents must be at least 1")
    result = bench_gate(args.intents)
    write_json(result, args.json)
    verdict = "meets" if result["targets"]["gate_us_per_intent<1000"] else "MISSES"
    print(f"gate: {result['gate_us_per_intent']} µs per intent (median, p99 {result['gate_us_p99']} µs) over "
          f"{result['intents']} mixed proposals; decisions {result['decisions']}. {verdict} the 1000 µs target.")
    return 0


def cmd_bench_stop(args) -> int:
    from .bench import write_json
    from .bench_stop import bench_stop
    if not args.folder.is_dir():
        raise ConfigError(f"{args.folder} is not a folder of WAV files")
    r = bench_stop(args.folder, args.cfg, all_negative=args.all_negative)
    write_json(r, args.json)
    pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"
    ms = lambda v: "-" if v is None else f"{1000 * v:.0f} ms"
    print(f"stop bench over {len(r['files'])} files: recall {pct(r['recall'])} ({r['hits']}/{r['positives']}), "
          f"false fires {pct(r['false_fires'])} ({r['false_fire_count']}/{r['negatives']}), latency from the end "
          f"of speech p50 {ms(r['latency_p50_s'])}, p99 {ms(r['latency_p99_s'])}; {r['cost_per_hop_ms']} ms per "
          f"{1000 * r['hop_s']:.0f} ms hop")
    return 0


def cmd_calibrate(args) -> int:
    from .vision.calibration import CalibrationError
    from .vision.chessboard import calibrate, camera_views, folder_views
    try:
        columns, rows = (int(x) for x in args.board.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--board {args.board!r}: give inner corners as COLSxROWS, e.g. 9x6") from None
    try:
        if args.images:
            views = folder_views(args.images)
        else:
            print(f"show the {columns}x{rows} board to camera {args.camera} from {args.views} different angles ...")
            views = camera_views(args.camera, args.views, columns, rows)
        result = calibrate(views, columns, rows, args.square, args.name,
                           progress=lambda label, found: print(f"  {label}: {'board found' if found else 'no board'}"))
    except CalibrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result.camera.to_yaml(args.out)
    k = result.camera.k
    print(f"calibrated from {len(result.used)} views ({len(result.skipped)} skipped): fx {k[0, 0]:.1f}, "
          f"fy {k[1, 1]:.1f}, cx {k[0, 2]:.1f}, cy {k[1, 2]:.1f} px; reprojection error {result.rms_px:.3f} px")
    print(f"wrote {args.out}; use it with --set gate.camera={args.out}")
    return 0


def cmd_models(args) -> int:
    from .brain.registry import (LOCK_FILE, RegistryError, check_folder, load_registry, local_folder, models_dir,
                                 pull)
    try:
        profiles = load_registry(args.registry)
        if args.action == "list":
            print(f"profiles (pulled into {models_dir()}):")
            for p in profiles.values():
                here = "shipped" if p.shipped else "pulled" if (local_folder(p) / LOCK_FILE).is_file() else "not pulled"
                print(f"  {p.name:24} {p.hub_id or '(in models/)':45} {p.params_m:>5} M  {', '.join(p.devices):35} "
                      f"{here}")
            return 0
        if not args.name:
            raise RegistryError(f"models {args.action} needs a profile name; profiles: {', '.join(profiles)}")
        if args.action == "pull":
            if args.name not in profiles:
                raise RegistryError(f"unknown model profile {args.name!r}; profiles: {', '.join(profiles)}")
            folder = pull(profiles[args.name], revision=args.revision)
            print(f"pulled {args.name} into {folder}")
            return 0
        profile = profiles.get(args.name)
        folder = local_folder(profile) if profile else Path(args.name)
        if profile is None and not folder.exists():
            raise RegistryError(f"{args.name!r} is neither a profile ({', '.join(profiles)}) nor a folder")
        problems = check_folder(folder, profile)
        lock = folder / LOCK_FILE
        pinned = f" (commit {json.loads(lock.read_text())['commit']})" if lock.is_file() else ""
        if problems:
            print(f"{folder}: cannot be loaded{pinned}:\n  " + "\n  ".join(problems), file=sys.stderr)
            if profile is not None and not profile.shipped:
                print(f"pull it with: robot-brain models pull {profile.name}", file=sys.stderr)
            return 1
        print(f"{folder}: looks loadable{pinned}")
        return 0
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_bench_vlm(args) -> int:
    from .bench import write_json
    from .bench_vlm import bench_vlm
    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1")
    from .brain.engines import ENGINES
    engines = None if args.engines == "all" else [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines or [] if e not in ENGINES]
    if unknown or engines == []:
        raise ConfigError(f"--engines: unknown {', '.join(unknown) or 'empty list'}; all, or of {', '.join(ENGINES)}")
    print("building the SmolVLM-256M-shaped model on first use, then timing each engine (minutes) ...", flush=True)
    r = bench_vlm(args.repeats, engines)
    write_json(r, args.json)
    for row in r["engines"]:
        print(f"  {row['engine']:<13} {row['decode_tok_s']:>7} tok/s  first token {row['ttft_s']} s "
              f"({row['ttft_cold_s']} s encoding the picture in the turn)  "
              f"peak RSS {row['peak_rss_mb']} MB  ceiling {row['ceiling_tok_s']} tok/s  ({row['quantisation']})")
    print(f"best: {r['engine']}; decode: {r['decode_tok_s']} tok/s ({r['quantisation']}) vs {r['baseline_decode_tok_s']} tok/s "
          f"({r['baseline']}); ceiling {r['ceiling_tok_s']} tok/s at {r['memory_bandwidth_gbs']} GB/s")
    print(f"first token: {r['ttft_s']} s vs {r['baseline_ttft_s']} s; peak RSS {r['peak_rss_mb']} MB "
          f"(baseline {r['baseline_peak_rss_mb']} MB); {r['prompt_tokens']} prompt tokens")
    misses = [k for k, ok in r["targets"].items() if not ok]
    print("targets: " + ("all met" if not misses else "MISSED " + ", ".join(misses)))
    return 0


def cmd_redteam(args) -> int:
    from .redteam import command
    return command(args.cases, args.cfg, json_path=args.json, only=args.only, verbose=args.verbose > 0)


def cmd_devices(args) -> int:
    from .devices import list_devices
    found = list_devices()
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for section, items in found.items():
        print(f"{section}:")
        for item in items:
            print(f"  {item}")
    return 0


def cmd_config(args) -> int:
    import dataclasses
    print(f"# effective configuration (from {args.cfg.source}{' + --set' if args.set else ''})")
    current = dataclasses.asdict(args.cfg)
    for key, default, help_text in describe():
        section, name = key.split(".", 1)
        print(f"{key} = {current[section][name]!r}    # {help_text}" + ("" if current[section][name] == default
                                                                        else f" (default {default!r})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
