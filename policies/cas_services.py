"""Which service URLs a CAS app may register, and whether a requested ``service`` is one of them
(CAS Protocol 3.0 §2.1.1, §2.2.1). Pure.

An entry is an exact URL, or a prefix ending in ``*`` (never a regular expression). An exact
entry without a query also matches the same URL with a query: the app keeps its own state there
(django-cas-ng's ``next``), as an OAuth client keeps it in ``state``. A prefix reaches only paths
below its own on the same origin: a service whose path could climb out of it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from policies.redirect_uris import https_or_loopback_problem

PREFIX = "*"
MAX_SERVICE_URLS = 50
_CLIMB = re.compile(r"(^|/)\.\.?(/|$)")


def service_url_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be registered as a service URL, or None."""
    exact = entry[:-1] if entry.endswith(PREFIX) else entry
    if PREFIX in exact:
        return "may hold one * only, at its end (a prefix); regular expressions are not used"
    if problem := https_or_loopback_problem(exact):
        return problem
    parts = urlsplit(exact)
    if entry.endswith(PREFIX) and (not parts.path.endswith("/") or parts.query):
        return "as a prefix must end in a path ending with / before the *, with no query"
    if _climbs(parts.path):
        return "has . or .. path segments"
    return None


def service_urls_problem(entries: Sequence[str]) -> str | None:
    if not entries:
        return "a CAS app needs at least one service URL"
    if len(entries) > MAX_SERVICE_URLS:
        return f"at most {MAX_SERVICE_URLS} service URLs"
    for entry in entries:
        if problem := service_url_problem(entry):
            return f"{entry} {problem}"
    return None


def _climbs(path: str) -> bool:
    decoded = unquote(unquote(path)).replace("\\", "/")
    return bool(_CLIMB.search(decoded))


def service_matches(service: str, entries: Sequence[str]) -> bool:
    """Whether ``service`` is one of the registered ``entries`` (see the module's rules)."""
    if len(service) > 2000 or not service.isascii() or any(ord(c) <= 0x20 for c in service):
        return False
    try:
        wanted = urlsplit(service)
    except ValueError:
        return False
    if wanted.fragment or wanted.username is not None or wanted.password is not None:
        return False
    for entry in entries:
        if entry.endswith(PREFIX):
            prefix = entry[: -len(PREFIX)]
            if service.startswith(prefix) and not _climbs(wanted.path):
                return True
        elif service == entry or ("?" not in entry and service.split("?", 1)[0] == entry):
            return True
    return False


def service_hosts(entries: Sequence[str]) -> set[str]:
    """The hosts of the service URLs (the pairwise sector when none is registered)."""
    return {urlsplit(entry.rstrip(PREFIX)).hostname or entry for entry in entries}
