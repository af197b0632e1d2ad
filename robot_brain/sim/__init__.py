"""A synthetic table-top world (scenes with ground truth) and spoken turns about it, with the right answers."""
from .dialogue import Exchange, exchanges
from .world import Scene, SceneObject, make_scene

__all__ = ["Exchange", "Scene", "SceneObject", "exchanges", "make_scene"]
