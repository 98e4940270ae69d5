"""One exception tree for the durable store."""


class StoreError(Exception):
    """The durable store failed or refused an operation."""


class Conflict(StoreError):
    """A unique value (username, client id, ...) is taken already."""


class NotFound(StoreError):
    """The record does not exist (or no longer does)."""


class StaleVersion(StoreError):
    """The record changed since the version the caller read (an ETag that no longer matches)."""


class InUse(StoreError):
    """The record is still referred to (a department with children or members, ...)."""


class Unavailable(StoreError):
    """The database cannot answer now (stopped, restarting, refusing connections, failing over,
    out of connections, read-only): nothing was done that the caller can rely on, and asking
    again later may work. ``connection_lost``: a pooled connection turned out dropped (the
    pool has been replaced since), so a read may be asked again at once."""

    def __init__(self, reason: str, *, connection_lost: bool = False) -> None:
        super().__init__(reason)
        self.connection_lost = connection_lost
