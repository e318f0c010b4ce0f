"""Bounds on user-given sizes that no real use reaches, so a typo fails at once instead of after hours or an
out-of-memory kill. The memory actually available gives the tighter bound where it is known (compile.check_steps_fit).
"""
MAX_STEPS = 1_000_000  # time steps of one inference
MAX_INPUT_ELEMENTS = 50_000_000  # values per input sample: 200 MB of float32 before a single layer runs
