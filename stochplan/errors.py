"""The two failures a user can meet: bad input (their fix) and a solver that did not reach optimality."""


class InputError(ValueError):
    """Bad user input, found before any solve. `field` names where it is; the message says the fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class SolverError(RuntimeError):
    """A solve that did not end `optimal`, with the solver's own status."""

    def __init__(self, what: str, status: str, detail: str = ""):
        super().__init__(f"{what}: solver status '{status}'" + (f" ({detail})" if detail else ""))
        self.status = status
