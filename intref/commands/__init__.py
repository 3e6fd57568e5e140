"""Subcommands of ``intref``: each module has ``register(subparsers)``, which adds its parser and sets ``func``
(``func(args) -> exit status``). Add a command by writing a module and listing it here."""

from __future__ import annotations

from . import eval as eval_command
from . import inspect, keywords, models, quantize, tflite, transcribe, vectors
from ._common import common_options

COMMANDS = (transcribe, eval_command, models, inspect, vectors, quantize, tflite, keywords)

__all__ = ["COMMANDS", "common_options"]
