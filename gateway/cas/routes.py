"""The CAS server's endpoints under ``ISSUER/cas/`` (CAS 3.0 §2), and what the application
holds open for them."""

from __future__ import annotations

from starlette.routing import Route

from gateway.cas import login, logout, proxy, single_logout, validate
from gateway.cas.apps import CasApps
from gateway.endpoints.end_session import LogoutChannel

ROUTES = [
    Route(login.LOGIN_PATH, login.login_endpoint, methods=["GET"]),
    Route(login.RESUME_PATH, login.resume_endpoint, methods=["GET"]),
    Route("/cas/logout", logout.logout_endpoint, methods=["GET"]),
    Route("/cas/validate", validate.validate_v1, methods=["GET"]),
    Route("/cas/serviceValidate", validate.service_validate, methods=["GET"]),
    Route("/cas/proxyValidate", validate.proxy_validate, methods=["GET"]),
    Route("/cas/p3/serviceValidate", validate.service_validate, methods=["GET"]),
    Route("/cas/p3/proxyValidate", validate.proxy_validate, methods=["GET"]),
    Route("/cas/proxy", proxy.proxy_endpoint, methods=["GET"]),
]

# Single logout by protocol, for apps that are not OIDC (which end_session handles itself).
LOGOUT_CHANNELS: dict[str, LogoutChannel] = {"cas": single_logout.notify}

__all__ = ["LOGOUT_CHANNELS", "ROUTES", "CasApps"]
