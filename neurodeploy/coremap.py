"""Core maps: where a build's layers sit on a chip's cores, as plain data a report can draw (``estimate.core_map``).

Two kinds: ``layers`` (every used core is one cell coloured by the layer it holds; ``labels`` is the legend) and
``counts`` (one cell per chip holding a number, e.g. the cores used on each SpiNNaker chip). A cell is
``[chip, row, column, value]``; each chip is drawn as a ``rows`` x ``columns`` grid. Only the first
``CHIPS_SHOWN`` chips are kept, so that a network spread over hundreds of chips gives a report of bounded size
(``chips`` says how many there are).
"""
from __future__ import annotations

CHIPS_SHOWN = 4


def core_map(kind: str, title: str, rows: int, columns: int, chips: int, cells: list, labels=(),
             value_label: str | None = None) -> dict:
    """The core map dict (fields: the module docstring); a ``layers`` map keeps the cells of the first
    CHIPS_SHOWN chips."""
    shown = min(chips, CHIPS_SHOWN) if kind == "layers" else chips
    return {"kind": kind, "title": title, "chips": int(chips), "chips_shown": int(shown), "rows": int(rows),
            "columns": int(columns), "labels": list(labels), "value_label": value_label,
            "cells": [[int(v) for v in cell] for cell in cells if kind != "layers" or cell[0] < shown]}
