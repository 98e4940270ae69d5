"""Security notices by SMS to an account's verified phone (a password reset or change, a new
phone, new recovery codes, a raised level), so that a change the person did not make is noticed.
A notice that cannot be sent does not undo the change: it is audited as ``sms.failed``."""

from __future__ import annotations

from gateway.identity.audit import AuditLog
from gateway.identity.phones import masked
from gateway.identity.pii import PiiVault
from gateway.identity.sms import SmsFailed, SmsMessage, SmsSender
from gateway.identity.web import RequestFacts
from store.identities import IdentityStore
from store.records import AuditEvent

TEMPLATE = "notice"


class Notices:
    def __init__(
        self, sender: SmsSender, identities: IdentityStore, vault: PiiVault, audit: AuditLog
    ) -> None:
        self._sender = sender
        self._identities = identities
        self._vault = vault
        self._audit = audit

    async def verified_phone(self, account_id: str) -> str | None:
        for item in await self._identities.identifiers_of(account_id):
            if item.type == "phone" and item.verified:
                return self._vault.open("phone", item.value)
        return None

    async def send(
        self,
        account_id: str,
        event: str,
        text: str,
        request: RequestFacts | None = None,
        phone: str | None = None,
    ) -> bool:
        """Tell the holder of ``phone`` (default: the account's verified phone) that ``event``
        happened; False when there is no phone or the message was not accepted."""
        phone = phone or await self.verified_phone(account_id)
        if phone is None:
            return False
        details = {"phone": masked(phone), "backend": self._sender.name, "notice": event}
        try:
            await self._sender.send(SmsMessage(phone, TEMPLATE, "", text, {"event": event}))
        except SmsFailed as failure:
            await self._audit.record(
                AuditEvent(
                    "sms.failed",
                    outcome="failure",
                    target=account_id,
                    details={**details, "reason": failure.reason},
                ),
                request=request,
            )
            return False
        await self._audit.record(
            AuditEvent("sms.notice_sent", target=account_id, details=details), request=request
        )
        return True
