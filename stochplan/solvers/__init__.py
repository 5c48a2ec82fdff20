"""The small door behind which the solvers sit: Clarabel (conic, via cvxpy) and HiGHS (MILP, via Pyomo)."""
from .conic import KeptSolver, solve_conic

__all__ = ["KeptSolver", "solve_conic"]
