"""Benders loop: master ↔ day subproblems, cuts, bounds, stopping."""
from .benders import PlanResult, solve_benders

__all__ = ["PlanResult", "solve_benders"]
