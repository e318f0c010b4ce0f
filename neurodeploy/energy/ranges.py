"""Figures with their uncertainty: a nominal value and the low-high range the spread of its sources gives.

A chip spec gives each cost constant a nominal value (``energy_pj.synaptic_op_dense``) and, under the group's
``_range`` twin (``energy_pj_range.synaptic_op_dense: [low, high]``), the lowest and highest value its sources
support. Estimates carry :class:`Span` values through their sums and products (all costs and counts are
non-negative), so the low end of a total uses every constant's low end: a deliberately wide envelope.
"""
from __future__ import annotations

from dataclasses import dataclass

from neurodeploy.errors import SpecError


@dataclass(frozen=True)
class Span:
    value: float
    low: float
    high: float

    @staticmethod
    def exact(value: float) -> "Span":
        return Span(float(value), float(value), float(value))

    def __add__(self, other) -> "Span":
        other = other if isinstance(other, Span) else Span.exact(other)
        return Span(self.value + other.value, self.low + other.low, self.high + other.high)

    __radd__ = __add__

    def __mul__(self, other) -> "Span":
        other = other if isinstance(other, Span) else Span.exact(other)
        return Span(self.value * other.value, self.low * other.low, self.high * other.high)

    __rmul__ = __mul__

    def __truediv__(self, k: float) -> "Span":
        return Span(self.value / k, self.low / k, self.high / k)

    def maximum(self, other: "Span") -> "Span":
        return Span(max(self.value, other.value), max(self.low, other.low), max(self.high, other.high))

    def as_range(self) -> list[float]:
        return [self.low, self.high]


def span_sum(spans) -> Span:
    total = Span.exact(0.0)
    for s in spans:
        total = total + s
    return total


def range_key(dotted: str) -> str:
    """'energy_pj.synaptic_op_dense' -> 'energy_pj_range.synaptic_op_dense'; 'static_power_mw' -> '..._range'."""
    head, dot, tail = dotted.partition(".")
    return f"{head}_range{dot}{tail}"


def spec_span(spec, dotted: str) -> Span:
    """The constant at ``dotted`` with its sourced range; SpecError when the range is missing, malformed or does not
    hold the nominal value."""
    value = float(spec.value(dotted))
    spread = spec.value(range_key(dotted))
    if not (isinstance(spread, list) and len(spread) == 2 and all(isinstance(v, (int, float)) for v in spread)):
        raise SpecError(f"spec '{spec.name}': {range_key(dotted)} must be [low, high], got {spread!r}")
    low, high = float(spread[0]), float(spread[1])
    if not low <= value <= high:
        raise SpecError(f"spec '{spec.name}': {dotted} = {value:g} lies outside its range {range_key(dotted)} "
                        f"[{low:g}, {high:g}]")
    return Span(value, low, high)


def range_name(key: str) -> str:
    """The report key of a figure's [low, high] range: the unit suffix stays last (energy_uj -> energy_range_uj)."""
    stem, _, unit = key.rpartition("_")
    return f"{stem}_range_{unit}"


def figure(name: str, span: Span, scale: float = 1.0) -> dict:
    """``{name: value, range_name(name): [low, high]}``."""
    return {name: span.value * scale, range_name(name): [span.low * scale, span.high * scale]}
