"""Scenario days: per-step load, PV availability, prices, carbon and EV station profiles, with weights."""
from .days import Day, build_days

__all__ = ["Day", "build_days"]
