"""EV sessions → each EV's feasible set (fleet.py) → a station's region (regions.py: envelope, interval,
individual) and the split of an aggregate back into EV schedules (disaggregation.py)."""
from .envelope import StationProfiles, station_profiles
from .sessions import Sessions, sample_sessions

__all__ = ["Sessions", "StationProfiles", "sample_sessions", "station_profiles"]
