"""Every robot_brain config key as a declared ROS parameter (SECTION.KEY, with its description).

Order of precedence, lowest first: the packaged defaults, the YAML file in the `config_file` parameter,
then parameters given to the node (params file, launch arguments, `-p`). Values are checked by the
same rules as the YAML config, so a bad one is a configure failure that names the key.
"""
from __future__ import annotations

from typing import Any

from ..config import Config, ConfigError, describe, load_config

CONFIG_FILE = "config_file"


def _ros_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def declare_config_parameters(node, record_dir: str | None = None) -> str:
    """Declare `config_file` and one parameter per config key; returns a config-file error, or ""."""
    from rcl_interfaces.msg import ParameterDescriptor
    node.declare_parameter(CONFIG_FILE, "", ParameterDescriptor(
        description="robot_brain YAML config (robot-brain config shows every key); parameters given to the node "
                    "override it. Read at start-up."))
    path = node.get_parameter(CONFIG_FILE).value or None
    error = ""
    try:
        base = load_config(path)
    except ConfigError as exc:
        base, error = Config(), str(exc)
    node._robot_brain_config_base = base
    for key, _default, help_text in describe():
        if key.startswith("replay."):
            continue
        value = _lookup(base, key)
        if key == "ros.record_dir" and record_dir:
            value = record_dir
        node.declare_parameter(key, _ros_value(value),
                               ParameterDescriptor(description=help_text, dynamic_typing=True))
    return error


def config_from_node(node) -> Config:
    """The node's parameters as a validated Config (raises ConfigError naming the parameter)."""
    base: Config = node._robot_brain_config_base
    overrides = {}
    for key, _default, _help in describe():
        if key.startswith("replay."):
            continue
        value = node.get_parameter(key).value
        if value != _ros_value(_lookup(base, key)):
            overrides[key] = value
    path = node.get_parameter(CONFIG_FILE).value or None
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        raise ConfigError(f"parameter {exc}") from None


def _lookup(config: Config, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(config, section), name)
