"""One exception tree for the durable store."""


class StoreError(Exception):
    """The durable store failed or refused an operation."""


class Conflict(StoreError):
    """A unique value (username, client id, ...) is taken already."""
