"""Models: the second-stage day (cvxpy), the first-stage master (Pyomo), the extensive form (cvxpy)."""
