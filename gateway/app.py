"""The uvicorn factory's stable name (``gateway.app:create_app_from_environment``), used by
``yihaotong serve``, the bench and deployments; the app lives in ``gateway.server.app``."""

from gateway.server.app import create_app, create_app_from_environment

__all__ = ["create_app", "create_app_from_environment"]
