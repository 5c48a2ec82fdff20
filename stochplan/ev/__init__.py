"""EV sessions → per-station aggregate regions (here: the envelope, a first-order Minkowski-sum bound)."""
from .envelope import StationProfiles, station_profiles
from .sessions import Sessions, sample_sessions

__all__ = ["Sessions", "StationProfiles", "sample_sessions", "station_profiles"]
