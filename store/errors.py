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
