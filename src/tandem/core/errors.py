"""Field-level problems, shared by every service that checks input (web pages and the API)."""


class Invalid(Exception):
    """Problems as a list of {"loc": [...], "msg": "..."} (the FastAPI/ninja shape), one entry
    per field, so an API client learns every problem at once."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors)
        self.errors = errors
