"""Recording stand-ins for `launch` / `launch_ros` (not installable here): they load the real launch file
and turn each Node it would start into the argv `ros2 launch` gives that process.

Mirrors launch_ros: a Node's `arguments`, then `--ros-args`, `-r __node:=NAME`, `-r __ns:=/NS` (when a
namespace is set), one `--params-file` per parameter file, dict parameters written to a temporary YAML
file under `/**`, then the remappings.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchDescription(_Recorded):
    @property
    def entities(self):
        return self.args[0] if self.args else self.kwargs.get("initial_entities", [])


class DeclareLaunchArgument(_Recorded):
    @property
    def name(self):
        return self.args[0]


class OpaqueFunction(_Recorded):
    pass


class Node(_Recorded):
    pass


class LaunchConfiguration:
    def __init__(self, name, default=None):
        self.name, self.default = name, default

    def perform(self, context):
        value = context.launch_configurations.get(self.name, self.default)
        if value is None:
            raise KeyError(f"launch configuration {self.name!r} is not set")
        return value


@dataclass
class _Context:
    launch_configurations: dict = field(default_factory=dict)


@dataclass
class Process:
    package: str
    executable: str
    name: str
    namespace: str
    argv: list[str]
    parameters: dict            # every parameter the node is given, files and dicts merged in order


@contextlib.contextmanager
def _stand_ins():
    names = ["launch", "launch.actions", "launch.substitutions", "launch_ros", "launch_ros.actions"]
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}
    mods["launch"].LaunchDescription = LaunchDescription
    mods["launch.actions"].DeclareLaunchArgument = DeclareLaunchArgument
    mods["launch.actions"].OpaqueFunction = OpaqueFunction
    mods["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    mods["launch_ros.actions"].Node = Node
    sys.modules.update(mods)
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def declared_arguments(path: str | Path) -> dict[str, str]:
    with _stand_ins():
        description = _load(path).generate_launch_description()
    return {e.name: e.kwargs.get("default_value") for e in description.entities if isinstance(e, DeclareLaunchArgument)}


def processes(path: str | Path, launch_args: dict[str, str] | None = None,
              tmp_dir: str | Path | None = None) -> list[Process]:
    """The processes `ros2 launch PATH name:=value ...` would start."""
    launch_args = dict(launch_args or {})
    with _stand_ins():
        description = _load(path).generate_launch_description()
        declared = {e.name: e.kwargs.get("default_value") for e in description.entities
                    if isinstance(e, DeclareLaunchArgument)}
        unknown = set(launch_args) - set(declared)
        if unknown:
            raise KeyError(f"not declared by the launch file: {sorted(unknown)}")
        context = _Context({**declared, **launch_args})
        nodes = []
        for entity in description.entities:
            if isinstance(entity, OpaqueFunction):
                nodes += entity.kwargs["function"](context) or []
            elif isinstance(entity, Node):
                nodes.append(entity)
    return [_process(n, tmp_dir) for n in nodes if isinstance(n, Node)]


def _load(path):
    spec = importlib.util.spec_from_file_location("robot_brain_launch_under_test", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _process(node: Node, tmp_dir) -> Process:
    kw = node.kwargs
    argv = list(kw.get("arguments", [])) + ["--ros-args", "-r", f"__node:={kw['name']}"]
    namespace = (kw.get("namespace") or "").strip("/")
    if namespace:
        argv += ["-r", f"__ns:=/{namespace}"]
    merged: dict = {}
    for entry in kw.get("parameters", []):
        if isinstance(entry, dict):
            with tempfile.NamedTemporaryFile("w", prefix="launch_params_", suffix=".yaml", delete=False,
                                             dir=tmp_dir) as f:
                yaml.safe_dump({"/**": {"ros__parameters": entry}}, f)
            argv += ["--params-file", f.name]
            merged.update(entry)
        else:
            argv += ["--params-file", str(entry)]
            merged.update(_flatten(yaml.safe_load(Path(entry).read_text())["/**"]["ros__parameters"]))
    for source, target in kw.get("remappings", []):
        argv += ["-r", f"{source}:={target}"]
    return Process(kw["package"], kw["executable"], kw["name"], namespace, argv, merged)


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out
