"""Feeders: load (pandapower), validate (radial, ratings, impedances), convert once to a per-unit `Ref`."""
from .feeders import load_net
from .ref import Ref, build_ref

__all__ = ["Ref", "build_ref", "load_net"]
