"""Small bar charts drawn on the server as SVG geometry (the template writes the elements):
no script, readable without colour (each chart has its numbers in a table beside it)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.admin.overview import SIGN_INS, Day

COLOURS = {"login.succeeded": "#1f5fb3", "login.failed": "#b3001b", "login.locked": "#8a6d00"}
HEIGHT = 160  # the plot's height in SVG units
BAR = 22
GROUP = 96


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    colour: str
    value: int


@dataclass(frozen=True)
class Group:
    x: float  # the label's centre
    label: str
    bars: list[Bar]


def sign_in_chart(days: list[Day]) -> tuple[list[Group], int, int]:
    """Bars per day (one per event), the chart's width, and the scale's top value."""
    top = max([1, *(count for day in days for count in day.counts.values())])
    groups = []
    for i, day in enumerate(days):
        left = 40 + i * GROUP
        bars = []
        for j, event in enumerate(SIGN_INS):
            value = day.counts[event]
            height = HEIGHT * value / top
            bars.append(
                Bar(left + j * (BAR + 2), 10 + HEIGHT - height, height, COLOURS[event], value)
            )
        groups.append(Group(left + 1.5 * BAR + 2, day.date[5:], bars))
    return groups, 40 + len(days) * GROUP, top
