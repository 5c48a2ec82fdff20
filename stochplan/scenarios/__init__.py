"""Scenario days: per-step load, PV availability, prices, carbon and EV station profiles, with weights."""
from .days import Day, Year, build_days, days_of_year, year_of_days

__all__ = ["Day", "Year", "build_days", "days_of_year", "year_of_days"]
