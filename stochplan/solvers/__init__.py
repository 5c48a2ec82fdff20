"""The small door behind which the solvers sit: Clarabel (conic, via cvxpy) and HiGHS (MILP, via Pyomo)."""
from .conic import solve_conic

__all__ = ["solve_conic"]
