"""Post-training quantisation: float network descriptions, calibration, weight and activation quantisation, lookup
tables, bit configurations, recipes, synthetic calibration data, and lowering to integer intref graphs."""

from .calibrate import Calibration, choose_ranges, collect
from .config import BitConfig, ConfigError, load_config, parse_config, uniform
from .fgraph import FGraph, FNode
from .lower import QType, lower, qtypes
from .ptq import build, make_recipe
from .recipe import Recipe, RecipeError

__all__ = [
    "BitConfig",
    "Calibration",
    "ConfigError",
    "FGraph",
    "FNode",
    "QType",
    "Recipe",
    "RecipeError",
    "build",
    "choose_ranges",
    "collect",
    "load_config",
    "lower",
    "make_recipe",
    "parse_config",
    "qtypes",
    "uniform",
]
