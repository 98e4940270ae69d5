"""LDAP and Active Directory departments: search with a service account, then bind as the user
(ldap3, in a worker thread, every call under the configured timeout)."""

from __future__ import annotations

import contextlib
import math
import re
import ssl
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio.to_thread
from pydantic import Field, ValidationInfo, field_validator

from providers.base import (
    AccountLocked,
    Identity,
    ProviderConfig,
    ProviderUnavailable,
    identity_mapping,
    text,
)

try:
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.operation.search import parse_filter
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import parse_dn

    from providers import ppolicy
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "LDAP providers need the ldap extra: pip install 'yihaotong[ldap]'"
    ) from error

# Bind results that mean "this account may not sign in", not "wrong password".
_LOCKED_MESSAGES = ("account locked", "account is locked", "data 775")
_EXPIRED_MESSAGES = ("password expired",)
# An attribute description (RFC 4512 §2.5): a name or an OID, with options.
_ATTRIBUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*$")


def _ldap_filter(value: str, placeholder: str | None) -> str:
    """A search filter that parses (RFC 4515), once ``{placeholder}`` is filled in."""
    try:
        filled = value.format(**{placeholder: "x"}) if placeholder else value
    except (KeyError, IndexError, ValueError, AttributeError):
        where = f"only {{{placeholder}}}" if placeholder else "no"
        raise ValueError(f"may hold {where} placeholder (write other braces doubled)") from None
    if placeholder and f"{{{placeholder}}}" not in value:
        raise ValueError(f"must hold {{{placeholder}}}")
    try:
        parse_filter(filled, None, True, True, None, False)
    except LDAPException as error:
        raise ValueError(f"is not an LDAP filter ({error})") from None
    return value


def _dn(value: str) -> str:
    try:
        parse_dn(text(value))
    except LDAPException as error:
        raise ValueError(f"is not a DN ({error})") from None
    return value


def _attribute(value: str) -> str:
    if not _ATTRIBUTE.match(value):
        raise ValueError(f"{value!r} is not an attribute name")
    return value


def _certificates(path: str) -> str:
    """A readable file that holds at least one certificate (PEM)."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except ssl.SSLError:  # before OSError, of which it is one
        raise ValueError(f"{path} holds no certificates (a PEM CA bundle is needed)") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read ({error.strerror or error})") from None
    return path


class LdapConfig(ProviderConfig):
    type: Literal["ldap"] = "ldap"
    url: str = Field(description="ldap://host:389 or ldaps://host:636")
    start_tls: bool = Field(False, description="Upgrade an ldap:// connection with StartTLS.")
    ca_file: str | None = Field(None, description="CA bundle for LDAPS/StartTLS.")
    bind_dn: str | None = Field(None, description="Service account used for searches.")
    bind_password: str | None = Field(None, validate_default=True)
    user_base: str
    user_filter: str = Field(
        "(uid={username})", description="Search filter; {username} is escaped (RFC 4515)."
    )
    subject_attribute: str = Field("entryUUID", description="Stable unique id of a user.")
    attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "username": "uid",
            "name": "cn",
            "email": "mail",
            "phone": "mobile",
        },
        description="Identity field -> LDAP attribute.",
    )
    enabled_filter: str | None = Field(
        None, description="Users must also match this to be enabled, e.g. (!(employeeType=left))."
    )
    group_base: str | None = None
    group_filter: str = Field("(member={dn})", description="{dn} is the user's escaped DN.")
    group_name_attribute: str = "cn"

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not value.startswith(("ldap://", "ldaps://")):
            raise ValueError("url must start with ldap:// or ldaps://")
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise ValueError("url has an invalid port") from None
        if not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("url must name a host, e.g. ldap://ldap.dept.gov.cn:389")
        if parts.username is not None or parts.path not in ("", "/"):
            raise ValueError("url is only scheme, host and port (the bind DN is bind_dn)")
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            raise ValueError("url is only scheme, host and port")
        return value

    @field_validator("start_tls")
    @classmethod
    def _start_tls(cls, value: bool, info: ValidationInfo) -> bool:
        if value and str(info.data.get("url", "")).startswith("ldaps://"):
            raise ValueError("an ldaps:// connection is TLS already; use one or the other")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        url = str(info.data.get("url", ""))
        if not (url.startswith("ldaps://") or info.data.get("start_tls")):
            raise ValueError("is used only with an ldaps:// url or start_tls")
        return _certificates(value)

    @field_validator("bind_dn", "user_base", "group_base")
    @classmethod
    def _dns(cls, value: str | None) -> str | None:
        return None if value is None else _dn(value)

    @field_validator("bind_password")
    @classmethod
    def _password(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "":
            raise ValueError("must not be empty (an empty password is an anonymous bind)")
        if "bind_dn" in info.data and (info.data["bind_dn"] is None) != (value is None):
            raise ValueError("give bind_dn and bind_password both, or neither (anonymous)")
        return value

    @field_validator("user_filter")
    @classmethod
    def _user_filter(cls, value: str) -> str:
        return _ldap_filter(value, "username")

    @field_validator("group_filter")
    @classmethod
    def _group_filter(cls, value: str) -> str:
        return _ldap_filter(value, "dn")

    @field_validator("enabled_filter")
    @classmethod
    def _enabled_filter(cls, value: str | None) -> str | None:
        return None if value is None else _ldap_filter(value, None)

    @field_validator("subject_attribute", "group_name_attribute")
    @classmethod
    def _attribute_name(cls, value: str) -> str:
        return _attribute(value)

    @field_validator("attributes")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            _attribute(name)
        return identity_mapping(value)

    def open(self, provider_id: str) -> LdapProvider:
        return LdapProvider(provider_id, self)


def _close(connection: ldap3.Connection) -> None:
    """Unbind, and close the socket even when ldap3 leaves it open (after a refused bind)."""
    with contextlib.suppress(LDAPException):
        connection.unbind()
    sock = getattr(connection, "socket", None)
    if sock is not None:
        sock.close()


def _first(entry: Any, attribute: str) -> str | None:
    values = entry.get(attribute) or []
    if isinstance(values, list | tuple):
        values = values[0] if values else None
    if isinstance(values, bytes):
        values = values.decode("utf-8", "replace")
    return None if values in (None, "") else str(values)


class LdapProvider:
    def __init__(self, provider_id: str, config: LdapConfig) -> None:
        self.id = provider_id
        self.config = config
        # ldap3 packs the receive timeout into a socket option that takes whole seconds.
        self._timeout = max(1, math.ceil(config.timeout_seconds))
        tls = None
        if config.url.startswith("ldaps://") or config.start_tls:
            tls = ldap3.Tls(ca_certs_file=config.ca_file, validate=ssl.CERT_REQUIRED)
        self._server = ldap3.Server(
            config.url,
            use_ssl=config.url.startswith("ldaps://"),
            tls=tls,
            connect_timeout=config.timeout_seconds,
            get_info=ldap3.NONE,
        )

    def _connection(self, user: str | None, password: str | None) -> ldap3.Connection:
        connection = ldap3.Connection(
            self._server,
            user=user,
            password=password,
            receive_timeout=self._timeout,
            auto_bind=ldap3.AUTO_BIND_NONE,
            read_only=True,
            raise_exceptions=False,
        )
        try:
            connection.open()
            if self.config.start_tls:
                connection.start_tls()
        except LDAPException:
            _close(connection)  # ldap3 keeps the socket of a refused connection open
            raise
        return connection

    def _find_user(self, service: ldap3.Connection, username: str) -> Any | None:
        wanted = [self.config.subject_attribute, *self.config.attributes.values()]
        search = self.config.user_filter.format(username=escape_filter_chars(username))
        service.search(
            self.config.user_base,
            search,
            attributes=wanted,
            size_limit=2,
        )
        entries = service.response or []
        users = [e for e in entries if e.get("type") == "searchResEntry"]
        return users[0] if len(users) == 1 else None  # none, or ambiguous: no sign-in

    def _enabled(self, service: ldap3.Connection, dn: str) -> bool:
        if not self.config.enabled_filter:
            return True
        service.search(dn, self.config.enabled_filter, search_scope=ldap3.BASE, attributes=[])
        return any(e.get("type") == "searchResEntry" for e in service.response or [])

    def _bind_user(self, dn: str, password: str) -> bool:
        """Bind as the user, asking for the password policy control: is the password right?
        Raises AccountLocked when the directory says the account may not sign in."""
        user = self._connection(dn, password)
        try:
            bound = user.bind(controls=[ppolicy.REQUEST])
            refusal = ppolicy.bind_refusal(user.result)
        finally:
            _close(user)
        if refusal is not None:  # locked whatever the password; expired or reset after a bind
            raise AccountLocked(self.config.name, refusal)
        if not bound:
            message = str((user.result or {}).get("message") or "").lower()
            if any(locked in message for locked in _LOCKED_MESSAGES):
                raise AccountLocked(self.config.name, "locked")
            if any(expired in message for expired in _EXPIRED_MESSAGES):
                raise AccountLocked(self.config.name, "expired")
        return bound

    def _groups(self, service: ldap3.Connection, dn: str) -> tuple[str, ...]:
        if not self.config.group_base:
            return ()
        service.search(
            self.config.group_base,
            self.config.group_filter.format(dn=escape_filter_chars(dn)),
            attributes=[self.config.group_name_attribute],
        )
        names = [
            _first(e["attributes"], self.config.group_name_attribute)
            for e in service.response or []
            if e.get("type") == "searchResEntry"
        ]
        return tuple(sorted(n for n in names if n))

    def _login_sync(self, username: str, password: str) -> Identity | None:
        service = self._connection(self.config.bind_dn, self.config.bind_password)
        try:
            if not service.bind():
                raise ProviderUnavailable(self.config.name, "the service account cannot bind")
            entry = self._find_user(service, username)
            if entry is None:
                return None
            dn = entry["dn"]
            if not self._bind_user(dn, password):
                return None
            # Told only to whom knows the password: a stranger learns nothing of the account.
            if not self._enabled(service, dn):
                raise AccountLocked(self.config.name, "disabled")
            attributes = entry["attributes"]
            subject = _first(attributes, self.config.subject_attribute) or dn
            fields = {f: _first(attributes, a) for f, a in self.config.attributes.items()}
            return Identity(
                provider_id=self.id,
                subject=subject,
                groups=self._groups(service, dn),
                verified=frozenset(f for f in self.config.verified if fields.get(f)),
                raw={"dn": dn},
                **fields,
            )
        finally:
            _close(service)

    def _check_sync(self) -> str:
        service = self._connection(self.config.bind_dn, self.config.bind_password)
        try:
            if not service.bind():
                raise ProviderUnavailable(self.config.name, "the service account cannot bind")
            service.search(self.config.user_base, "(objectClass=*)", attributes=[], size_limit=1000)
            found = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
            return (
                f"bound as the service account; {len(found)} entries under {self.config.user_base}"
            )
        finally:
            _close(service)

    def _still_enabled_sync(self, subject: str) -> bool:
        service = self._connection(self.config.bind_dn, self.config.bind_password)
        try:
            if not service.bind():
                raise ProviderUnavailable(self.config.name, "the service account cannot bind")
            enabled = self.config.enabled_filter or "(objectClass=*)"
            if "=" in subject and "," in subject:  # no subject attribute: the subject is the DN
                service.search(subject, enabled, search_scope=ldap3.BASE, attributes=[])
            else:
                by_subject = f"({self.config.subject_attribute}={escape_filter_chars(subject)})"
                service.search(
                    self.config.user_base, f"(&{by_subject}{enabled})", attributes=[], size_limit=2
                )
            found = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
            return len(found) == 1
        finally:
            _close(service)

    async def refresh(self, identity: Identity) -> bool:
        """Is the directory account still there (and enabled)?"""
        try:
            return await anyio.to_thread.run_sync(self._still_enabled_sync, identity.subject)
        except LDAPException as error:
            raise ProviderUnavailable(
                self.config.name, f"directory unreachable ({type(error).__name__})"
            ) from error

    async def check(self) -> str:
        """Can the directory be reached and searched? A line saying what was found."""
        try:
            return await anyio.to_thread.run_sync(self._check_sync)
        except LDAPException as error:
            raise ProviderUnavailable(
                self.config.name, f"directory unreachable ({type(error).__name__})"
            ) from error

    async def login(self, username: str, password: str) -> Identity | None:
        # An empty password would be an anonymous ("unauthenticated") bind, which LDAP
        # servers accept (RFC 4513 §5.1.2): never let it through.
        if not username or not password:
            return None
        try:
            return await anyio.to_thread.run_sync(self._login_sync, username, password)
        except LDAPException as error:
            raise ProviderUnavailable(
                self.config.name, f"directory unreachable ({type(error).__name__})"
            ) from error
