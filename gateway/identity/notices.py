"""Security notices by SMS to an account's verified phone (a password reset or change, a new
phone, new recovery codes, a raised level), so that a change the person did not make is noticed;
a sign-in from a new place by e-mail instead where e-mail is configured and the account has a
verified address. A notice that cannot be sent does not undo the change: it is audited as
``sms.failed`` (``mail.failed``)."""

from __future__ import annotations

from gateway.identity.audit import AuditLog
from gateway.identity.mail import MailFailed, MailMessage, SmtpSender
from gateway.identity.phones import masked
from gateway.identity.pii import PiiVault
from gateway.identity.sms import SmsFailed, SmsMessage, SmsSender
from gateway.identity.web import RequestFacts
from store.identities import IdentityStore
from store.records import AuditEvent

TEMPLATE = "notice"


class Notices:
    def __init__(
        self,
        sender: SmsSender,
        identities: IdentityStore,
        vault: PiiVault,
        audit: AuditLog,
        mail: SmtpSender | None = None,
    ) -> None:
        self._sender = sender
        self._mail = mail
        self._identities = identities
        self._vault = vault
        self._audit = audit

    async def verified_phone(self, account_id: str) -> str | None:
        return await self._verified(account_id, "phone")

    async def _verified(self, account_id: str, kind: str) -> str | None:
        for item in await self._identities.identifiers_of(account_id):
            if item.type == kind and item.verified:
                return self._vault.open(kind, item.value)
        return None

    async def send_preferring_mail(
        self, account_id: str, event: str, subject: str, text: str, request: RequestFacts | None
    ) -> bool:
        """By e-mail to the account's verified address when e-mail is configured and there is
        one, else by SMS (``send``); False when the notice went nowhere."""
        address = await self._verified(account_id, "email") if self._mail else None
        if self._mail is None or address is None:
            return await self.send(account_id, event, text, request)
        details = {"email": address, "backend": self._mail.name, "notice": event}
        try:
            await self._mail.send(MailMessage(address, subject, text))
        except MailFailed as failure:
            failed = {**details, "reason": failure.reason}
            await self._audit.record(
                AuditEvent("mail.failed", outcome="failure", target=account_id, details=failed),
                request=request,
            )
            return False
        await self._audit.record(
            AuditEvent("mail.notice_sent", target=account_id, details=details), request=request
        )
        return True

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
