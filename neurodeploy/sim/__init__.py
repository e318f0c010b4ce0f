"""Simulation drivers: batched evaluation of graphs over data sets."""
