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
_DOT_SEGMENT = re.compile(r"\.\.?(;.*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20]")
_MAX_DECODINGS = 8


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
    """Whether ``path`` could leave its prefix on some server: a segment that is ``.`` or ``..``
    (with or without ``;params``, the Tomcat ``..;`` trick) once decoded as often as it decodes,
    or a control character (``..%00``) anywhere in it."""
    decoded = path
    for _ in range(_MAX_DECODINGS):
        if _CONTROL.search(decoded):
            return True
        segments = decoded.replace("\\", "/").split("/")
        if any(_DOT_SEGMENT.fullmatch(segment) for segment in segments):
            return True
        once = unquote(decoded)
        if once == decoded:
            return False
        decoded = once
    return True  # still decoding after that many rounds: not a path anyone means


def entries_overlap(first: str, second: str) -> bool:
    """Whether some service would match both registered entries, so that two apps holding them
    would both answer for it."""
    if first.endswith(PREFIX) and second.endswith(PREFIX):
        one, other = first[: -len(PREFIX)], second[: -len(PREFIX)]
        return one.startswith(other) or other.startswith(one)
    if first.endswith(PREFIX) or second.endswith(PREFIX):
        prefix, exact = (first, second) if first.endswith(PREFIX) else (second, first)
        return exact.startswith(prefix[: -len(PREFIX)])
    if first == second:
        return True
    # An exact entry without a query also takes the same URL with any query.
    return ("?" not in first and second.split("?", 1)[0] == first) or (
        "?" not in second and first.split("?", 1)[0] == second
    )


def service_matches(service: str, entries: Sequence[str]) -> bool:
    """Whether ``service`` is one of the registered ``entries`` (see the module's rules)."""
    if len(service) > 2000 or not service.isascii() or _SPACE_OR_CONTROL.search(service):
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
