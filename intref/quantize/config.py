"""Bit configurations: which weight layers get 4-bit and which 8-bit weights.

A configuration is a default and an ordered list of rules ``(pattern, bits)``; the first rule whose shell-style
pattern (``fnmatch``, case-sensitive) matches a layer's name decides, else the default. As a JSON file::

    {"default": 8, "rules": [["b*.ffn*.fc*", 4], ["b*.conv.pw*", 4]]}

Resolving a configuration against a network gives the explicit ``{layer: bits}`` map that a recipe stores, so a
recipe never depends on how the patterns were written. A rule that matches no layer is an error (a typo would
otherwise silently leave layers at the default).
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntrefError

BITS = (4, 8)


class ConfigError(IntrefError, ValueError):
    """A bit configuration that cannot be used; the message says why."""


@dataclass(frozen=True)
class BitConfig:
    default: int = 8
    rules: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.default not in BITS:
            raise ConfigError(f"default bits must be one of {BITS}, got {self.default!r}")
        for rule in self.rules:
            if len(rule) != 2 or not isinstance(rule[0], str) or rule[1] not in BITS:
                raise ConfigError(f"a rule is [pattern, bits] with bits in {BITS}, got {rule!r}")

    def resolve(self, layers: Sequence[str]) -> dict[str, int]:
        """Bits per layer (sorted by name); raises if a rule matches nothing."""
        for pattern, _ in self.rules:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in layers):
                raise ConfigError(f"rule {pattern!r} matches no weight layer (layers: {', '.join(layers)})")
        out = {}
        for name in layers:
            bits = next((b for p, b in self.rules if fnmatch.fnmatchcase(name, p)), self.default)
            out[name] = bits
        return dict(sorted(out.items()))

    def to_json(self) -> dict:
        return {"default": self.default, "rules": [list(r) for r in self.rules]}


def parse_config(data) -> BitConfig:
    if not isinstance(data, dict):
        raise ConfigError("a bit configuration is a JSON object with 'default' and 'rules'")
    unknown = set(data) - {"default", "rules"}
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)} (known: default, rules)")
    rules = data.get("rules", [])
    if isinstance(rules, dict):  # {"pattern": bits} is accepted too, in its written order
        rules = list(rules.items())
    if not isinstance(rules, list):
        raise ConfigError("'rules' must be a list of [pattern, bits]")
    return BitConfig(int(data.get("default", 8)), tuple((str(p), b) for p, b in (tuple(r) for r in rules)))


def load_config(path: str | os.PathLike) -> BitConfig:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: cannot read the bit configuration: {exc}") from None
    try:
        return parse_config(data)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: {exc}") from None


def uniform(bits: int) -> BitConfig:
    return BitConfig(bits, ())


__all__ = ["BITS", "BitConfig", "ConfigError", "load_config", "parse_config", "uniform"]
