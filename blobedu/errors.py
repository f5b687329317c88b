"""The one exception type a reader can cause (bad fault spec, unknown version, out-of-range value)."""


class BlobeduError(ValueError):
    """Raised for input a reader can get wrong; the message says what was wrong and what is allowed."""
