"""The model file, the graph and its interpreter.

``load(path)`` reads an ``.intref`` file (see docs/FORMAT.md) into a :class:`Model`; ``model.run(inputs)`` runs it
on a backend; :class:`ModelBuilder` makes one in Python; node kinds are registered by op name
(:func:`register`), so later ops plug in without touching the interpreter.
"""

from .builder import ModelBuilder
from .ir import FORMAT_VERSION, GraphSpec, NodeSpec, TensorSpec
from .model import Model, load, loads
from .registry import Attr, BoundNode, NodeKind, get_kind, kinds, register
from .tracer import NodeRecord, Tracer

__all__ = [
    "FORMAT_VERSION",
    "Attr",
    "BoundNode",
    "GraphSpec",
    "Model",
    "ModelBuilder",
    "NodeKind",
    "NodeRecord",
    "NodeSpec",
    "TensorSpec",
    "Tracer",
    "get_kind",
    "kinds",
    "load",
    "loads",
    "register",
]
