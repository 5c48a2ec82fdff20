"""The small door behind which the conic solver sits: Clarabel, through cvxpy or kept between solves (the master
drives HiGHS itself through highspy: formulations/master.py)."""
from .conic import KeptSolver, solve_conic

__all__ = ["KeptSolver", "solve_conic"]
