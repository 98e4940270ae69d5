"""Which URIs a client may register, and when a requested redirect URI matches a registered one.

RFC 9700 §2.1 (exact matching), RFC 8252 §7 (native apps: loopback with any port, private-use
schemes), OIDC Back-Channel Logout §2.2.
"""

from __future__ import annotations

import re
from ipaddress import ip_address
from urllib.parse import urlsplit

# RFC 8252 §7.1: a private-use scheme is a reversed domain name, so it contains a dot.
_PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*\.[a-z0-9+.\-]+$")
_MAX_URI_LENGTH = 2000


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _text_problem(uri: str) -> str | None:
    if len(uri) > _MAX_URI_LENGTH:
        return f"longer than {_MAX_URI_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 for ch in uri):
        return "contains whitespace or control characters"
    if not uri.isascii():
        return "contains non-ASCII characters (percent-encode them; use the IDNA form of a host)"
    return None


def redirect_uri_problem(
    uri: str, *, allow_private_use_scheme: bool = True, native: bool = False
) -> str | None:
    """Why ``uri`` cannot be registered as a redirect (or post-logout) URI, or None. A
    ``native`` app's redirect URIs follow RFC 8252 §7 and §8.3 strictly: loopback by IP
    literal (never ``localhost``), private-use schemes without an authority."""
    if problem := _text_problem(uri):
        return problem
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "is not a valid URI"
    if parts.username is not None or parts.password is not None:
        return "has user information before the host"
    if "*" in uri:
        return "contains a wildcard; redirect URIs are matched exactly"
    if parts.fragment or uri.endswith("#"):
        return "has a fragment (RFC 6749 §3.1.2)"
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if host and "" in host.split("."):
        # "host." is the host itself to DNS and browsers, but another string to every check
        # that compares hosts (sectors, CAS service URLs of other departments' apps).
        return "has an empty label in its host (a trailing dot?); register the host without it"
    if scheme == "https":
        return None if parts.hostname else "has no host"
    if scheme == "http":
        if native and (parts.hostname or "").lower() == "localhost":
            return "uses localhost; a native app listens on 127.0.0.1 or [::1] (RFC 8252 §8.3)"
        if is_loopback_host(parts.hostname):
            return None
        return "uses http with a host other than loopback; use https"
    if not scheme:
        return "is not an absolute URI"
    if allow_private_use_scheme and _PRIVATE_USE_SCHEME.match(scheme) and port is None:
        if native and uri[len(scheme) + 1 :].startswith("//"):
            # RFC 8252 §7.1: no naming authority, so a single slash after the scheme.
            return "has an authority; a private-use scheme URI is like cn.gov.city.app:/callback"
        return None
    return f"uses the scheme {scheme!r}; use https, http on loopback, or a reverse-domain scheme"


def https_or_loopback_problem(uri: str) -> str | None:
    """For server-to-server URIs such as the back-channel logout URI."""
    return redirect_uri_problem(uri, allow_private_use_scheme=False)


def redirect_uri_matches(requested: str, registered: tuple[str, ...], *, native: bool) -> bool:
    """Exact string match; for a ``native`` (public) app also a loopback IP URI on another port
    (RFC 8252 §7.3: it binds an ephemeral port), never for a web client, whose server listens on
    the port it registered. ``localhost`` always matches exactly (RFC 8252 §8.3)."""
    if requested in registered:
        return True
    if not native:
        return False
    if not requested.isascii():
        return False
    try:
        wanted = urlsplit(requested)
        if wanted.scheme != "http" or not _is_loopback_ip(wanted.hostname):
            return False
        wanted_port = wanted.port
    except ValueError:
        return False
    if wanted.username is not None or wanted.password is not None or wanted.fragment:
        return False  # only the port may differ
    for candidate in registered:
        have = urlsplit(candidate)
        if (
            have.scheme == "http"
            and _is_loopback_ip(have.hostname)
            and have.hostname == wanted.hostname
            and have.path == wanted.path
            and have.query == wanted.query
            and wanted_port is not None
        ):
            return True
    return False


def _is_loopback_ip(host: str | None) -> bool:
    return host is not None and host.lower() != "localhost" and is_loopback_host(host)
