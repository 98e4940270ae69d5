"""The gateway's own exception tree (protocol errors are Authlib's OAuth2Error)."""


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class InvalidInput(GatewayError):
    """A value given by an operator or admin is not acceptable; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AlreadyExists(GatewayError):
    """A unique value is taken."""
