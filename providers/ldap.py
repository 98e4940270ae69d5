"""LDAP and Active Directory departments: search with a service account, then bind as the user
(ldap3, in a worker thread, every call under the configured timeout)."""

from __future__ import annotations

import contextlib
import math
import ssl
from typing import Any, Literal

import anyio.to_thread
from pydantic import Field, field_validator

from providers.base import (
    AccountLocked,
    Identity,
    ProviderConfig,
    ProviderUnavailable,
    identity_mapping,
)

try:
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "LDAP providers need the ldap extra: pip install 'yihaotong[ldap]'"
    ) from error

# Bind results that mean "this account may not sign in", not "wrong password".
_LOCKED_MESSAGES = ("account locked", "account is locked", "password expired", "data 775")


class LdapConfig(ProviderConfig):
    type: Literal["ldap"] = "ldap"
    url: str = Field(description="ldap://host:389 or ldaps://host:636")
    start_tls: bool = Field(False, description="Upgrade an ldap:// connection with StartTLS.")
    ca_file: str | None = Field(None, description="CA bundle for LDAPS/StartTLS.")
    bind_dn: str | None = Field(None, description="Service account used for searches.")
    bind_password: str | None = None
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
        return value

    @field_validator("attributes")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
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
        if self.config.enabled_filter:
            search = f"(&{search}{self.config.enabled_filter})"  # a disabled user is no user
        service.search(
            self.config.user_base,
            search,
            attributes=wanted,
            size_limit=2,
        )
        entries = service.response or []
        users = [e for e in entries if e.get("type") == "searchResEntry"]
        return users[0] if len(users) == 1 else None  # none, or ambiguous: no sign-in

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
            user = self._connection(dn, password)
            try:
                if not user.bind():
                    message = (user.result or {}).get("message", "").lower()
                    if any(locked in message for locked in _LOCKED_MESSAGES):
                        raise AccountLocked(self.config.name)
                    return None
            finally:
                _close(user)
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
