"""Lookup tables of int8 -> int8 activations (GELU, SiLU, sigmoid), computed so that every machine gets the same bytes.

Entry ``i`` of a table maps the input code ``q = i - 128`` (real value ``x = s_in * (q - zp_in)``) to
``clamp(round(f(x) / s_out) + zp_out, -128, 127)``. ``f`` is evaluated in 50-digit decimal arithmetic from the
exact value of the float64 scales, so the rounding decision never depends on a platform's ``exp``; the distance of
every entry to the nearest rounding tie is reported (``min_tie_distance``, in output steps) and a table with an
entry within 1e-9 of a tie is refused (:class:`NearTieError`): a float64 evaluation elsewhere could round it the
other way. :func:`build_table_avoiding_ties` then widens the output scale by 2^-20 until no entry is that close.
(Beyond |x| = 7 erf is taken as +-1, which moves GELU by less than 1e-22.)

The functions are the ones the hama models compute: SiLU ``x * sigmoid(x)``; GELU
``0.5 x (1 + erf(x / 1.4140625))`` (the acoustic runtime divides by sqrt(2) rounded to float16; its erf
approximation differs from erf by < 1.5e-7, far below one output step); ``gelu_erf``, GELU with the exact sqrt(2)
(the P2G model); and the gates ``sigmoid``, ``gelu_gate(x) = 0.5 (1 + erf(x / 1.4140625))`` and ``gelu_erf_gate``
of ``SiLU(x) = x sigmoid(x)``, ``GELU(x) = x gelu_gate(x)`` and ``gelu_erf(x) = x gelu_erf_gate(x)``, for
activations computed as a product.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

import numpy as np

PRECISION = 50
TIE_GUARD = Decimal("1e-9")
GELU_DIVISOR = Decimal("1.4140625")
ERF_CUTOFF = Decimal(7)  # erf(7) = 1 - 4e-23: beyond it erf is +-1 at far more than the tie guard's precision
FUNCTION_NAMES = ("gelu", "silu", "sigmoid", "gelu_gate", "gelu_erf", "gelu_erf_gate")


def _exp(x: Decimal) -> Decimal:
    return x.exp()


def _sigmoid(x: Decimal) -> Decimal:
    return 1 / (1 + _exp(-x))


# pi to 100 digits: a constant of the erf series.
PI = Decimal("3.1415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679")


def _erf(x: Decimal) -> Decimal:
    """erf by its Maclaurin series (exact to the context precision for |x| < 7), +-1 beyond."""
    if abs(x) >= ERF_CUTOFF:
        return Decimal(1) if x > 0 else Decimal(-1)
    with localcontext() as ctx:
        ctx.prec = PRECISION + 30  # the alternating series cancels terms up to e^(x^2) ~ 1e21
        x2 = x * x
        term = x
        total = x
        eps = Decimal(10) ** (-(PRECISION + 5))
        n = 0
        while True:
            n += 1
            term = -term * x2 / n
            add = term / (2 * n + 1)
            total += add
            if abs(add) < eps:
                break
        return total * 2 / PI.sqrt()


def function_value(fn: str, x: Decimal) -> Decimal:
    """f(x) in decimal arithmetic at the module's precision."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if fn == "sigmoid":
            return _sigmoid(x)
        if fn == "silu":
            return x * _sigmoid(x)
        if fn == "gelu":
            return x * (1 + _erf(x / GELU_DIVISOR)) / 2
        if fn == "gelu_gate":  # GELU(x) = x * gelu_gate(x)
            return (1 + _erf(x / GELU_DIVISOR)) / 2
        if fn == "gelu_erf":
            return x * (1 + _erf(x / Decimal(2).sqrt())) / 2
        if fn == "gelu_erf_gate":
            return (1 + _erf(x / Decimal(2).sqrt())) / 2
    raise ValueError(f"unknown LUT function {fn!r} (known: {', '.join(FUNCTION_NAMES)})")


def input_grid(scale: float, zero_point: int) -> list[Decimal]:
    """The exact real values of the 256 int8 codes -128..127."""
    s = Decimal(float(scale))  # exact: every float64 is a finite decimal
    return [s * (q - int(zero_point)) for q in range(-128, 128)]


def image(fn: str, scale: float, zero_point: int) -> tuple[float, float]:
    """min and max of f over the input grid, as float64 (correctly rounded from the decimal values)."""
    values = [function_value(fn, x) for x in input_grid(scale, zero_point)]
    return float(min(values)), float(max(values))


@dataclass(frozen=True)
class Table:
    values: np.ndarray  # int8 [256]
    min_tie_distance: float  # smallest |frac(f(x)/s_out) - 0.5| over the entries, in output steps


def build_table(
    fn: str, in_scale: float, in_zp: int, out_scale: float, out_zp: int, lo: int = -128, hi: int = 127
) -> Table:
    """The 256-entry int8 table of ``fn`` from the input to the output quantisation (see the module docstring)."""
    if not (in_scale > 0 and out_scale > 0):
        raise ValueError(f"LUT {fn}: scales must be positive, got {in_scale}, {out_scale}")
    s_out = Decimal(float(out_scale))
    entries = []
    closest = Decimal(1)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for x in input_grid(in_scale, in_zp):
            v = function_value(fn, x) / s_out
            floor = v.to_integral_value(rounding=ROUND_FLOOR)
            frac = v - floor
            distance = abs(frac - Decimal("0.5"))
            if distance < TIE_GUARD:
                raise NearTieError(
                    f"LUT {fn}: entry for x = {x} lies within {float(distance):.3g} of a rounding tie; "
                    "choose slightly different scales"
                )
            closest = min(closest, distance)
            r = floor + 1 if frac > Decimal("0.5") else floor
            entries.append(min(max(int(r) + int(out_zp), lo), hi))
    return Table(np.array(entries, dtype=np.int8), float(closest))


class NearTieError(ValueError):
    """A table entry lies within the tie guard of a rounding tie (and is not an exact tie)."""


NUDGE = 1.0 + 2.0**-20  # relative change of the output scale when a table would hold a near tie
MAX_NUDGES = 8


def build_table_avoiding_ties(
    fn: str, in_scale: float, in_zp: int, out_scale: float, out_zp: int, lo: int = -128, hi: int = 127
) -> tuple[Table, float]:
    """:func:`build_table`, widening the output scale by 2^-20 (relative) while an entry would be a near tie.

    Returns the table and the output scale it was built for. The decision is made in decimal arithmetic, so it is
    the same everywhere; the nudge is far below any quantisation step.
    """
    scale = float(out_scale)
    for _ in range(MAX_NUDGES):
        try:
            return build_table(fn, in_scale, in_zp, scale, out_zp, lo, hi), scale
        except NearTieError:
            scale = scale * NUDGE
    return build_table(fn, in_scale, in_zp, scale, out_zp, lo, hi), scale


__all__ = [
    "FUNCTION_NAMES",
    "NearTieError",
    "Table",
    "build_table",
    "build_table_avoiding_ties",
    "function_value",
    "image",
    "input_grid",
]
