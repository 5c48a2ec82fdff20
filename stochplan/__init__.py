"""stochplan: two-stage stochastic planning of storage and EV charging on radial feeders."""

__version__ = "0.1.0"
