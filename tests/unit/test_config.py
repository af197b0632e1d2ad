import pytest

from robot_brain.config import Config, ConfigError, describe, load_config, parse_overrides


def test_packaged_defaults_match_the_dataclass_defaults():
    assert load_config() == Config()


def test_user_file_and_overrides_layer_on_the_defaults(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("pipeline:\n  queue_size: 8\ntopics:\n  audio: /mic\n")
    config = load_config(path, parse_overrides(["pipeline.queue_size=16", "replay.pace=realtime"]))
    assert config.pipeline.queue_size == 16
    assert config.topics.audio == "/mic"
    assert config.replay.pace == "realtime"
    assert config.pipeline.max_consecutive_errors == 5
    assert config.source == str(path)


@pytest.mark.parametrize("text, expected", [
    ("pipeline:\n  queue_sise: 8\n", ["robot.yaml", "pipeline.queue_sise", "queue_size"]),
    ("pipeline:\n  queue_size: 0\n", ["robot.yaml", "pipeline.queue_size", "at least 1"]),
    ("pipeline:\n  queue_size: lots\n", ["pipeline.queue_size", "an integer", "'lots'"]),
    ("replay:\n  pace: fast\n", ["replay.pace", "allowed values: bag, realtime"]),
    ("replay:\n  speed: .nan\n", ["replay.speed", "a number"]),
    ("audio: 16000\n", ["'audio' must be a mapping"]),
    ("camera:\n  fps: 30\n", ["unknown key 'camera'", "pipeline"]),
    ("pipeline: [\n", ["robot.yaml", "not valid YAML", "line"]),
    ("- a\n- b\n", ["top level must be a mapping"]),
])
def test_bad_config_names_file_key_and_what_is_allowed(tmp_path, text, expected):
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for part in expected:
        assert part in str(err.value)


def test_missing_file_and_bad_override_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        parse_overrides(["queue_size"])
    with pytest.raises(ConfigError, match="allowed keys in audio"):
        load_config(overrides={"audio.rate": 8000})


def test_every_setting_is_documented():
    rows = describe()
    assert ("pipeline.queue_size", 64, rows[0][2]) == rows[0]
    assert all(help_text for _, _, help_text in rows)
