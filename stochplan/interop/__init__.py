"""stochplan cases in other tools' terms (mpi-sppy)."""
