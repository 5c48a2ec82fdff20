"""What each command computes: solve, check, and hand back result objects (tables, solutions, dicts).

Between `cli.py`, which reads arguments and owns the output directory, and `report/`, which turns what these
functions return into files and figures and never solves anything.
"""
