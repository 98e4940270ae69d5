"""Sending a code by SMS from a page, under the limits and challenge of 短信登录 (per number,
address and browser; a proof-of-work after repeated sends): one way for every page that sends
codes, so that none of them is a cheaper way to send messages than another."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.endpoints.authorize import Transaction, update_transaction
from gateway.identity import phones, proof_of_work
from gateway.identity.sms import SmsFailed, SmsMessage
from gateway.identity.sms_limits import SmsLimits
from gateway.server.services import Services
from store.records import AuditEvent


@dataclass(frozen=True)
class Sent:
    """``error`` names the message key to show when nothing was sent (with ``status``)."""

    error: str | None = None
    status: int = 200
    retry_after: int = 0
    minutes: int = 0


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def challenge_of(tx: Transaction) -> proof_of_work.Challenge | None:
    raw = tx.extra.get("sms_challenge")
    return proof_of_work.Challenge(**raw) if raw else None


def _new_challenge(services: Services, tx: Transaction, now: float) -> None:
    settings = services.settings
    fresh = proof_of_work.new(settings.sms_challenge_bits, settings.sms_challenge_wait_seconds, now)
    tx.extra["sms_challenge"] = fresh.as_dict()


async def send_code(
    request: Request,
    tx_id: str,
    tx: Transaction,
    phone: str,
    *,
    binding: str,
    template: str,
    text: str,
    pow_nonce: str,
    deliver: bool = True,
    wait: bool = True,
    tx_changed: bool = True,
    seen: list[int] | None = None,
) -> Sent:
    """Count a send to ``phone`` and send a new code bound to ``binding``. ``text`` holds
    ``{code}``. ``deliver`` False: count, challenge and issue exactly as for a real send, but
    send nothing (a number that must not learn whether it has an account). ``wait`` False: send
    after answering (``SmsDeliveries``), so that a slow or failing vendor shows in no answer.
    ``tx_changed`` False: the caller changed nothing in ``tx``, which is then written only when
    its challenge changes. ``seen``: the caller counted the send already (``count_steps``)."""
    services: Services = request.app.state.services
    now = services.clock.now()
    challenge = challenge_of(tx)
    solved = challenge is not None and proof_of_work.met(challenge, pow_nonce, now)
    number = services.phone_accounts.blind_index(phone)
    limits = SmsLimits(services.expiring)
    if seen is None:
        counted = await limits.count(number, client_ip(request), tx.browser, solved=solved)
    else:
        counted = await limits.judge(number, client_ip(request), tx.browser, seen, solved=solved)
    details = {"phone": phones.masked(phone), "purpose": template}
    client_id = tx.params.get("client_id")
    if counted.refused_by is not None:
        await services.audit.record(
            AuditEvent(
                "sms.refused",
                outcome="failure",
                client_id=client_id,
                details={**details, "by": counted.refused_by},
            ),
            request=request,
        )
        minutes = max(1, -(-counted.retry_after // 60))
        return Sent("sms_too_many", 429, counted.retry_after, minutes)
    if counted.challenge_now:
        _new_challenge(services, tx, now)
        await update_transaction(services, tx_id, tx)
        return Sent("sms_challenge_failed" if challenge else "sms_challenge_needed", 400)
    code = await services.sms_codes.issue(binding, phone)
    if deliver:
        message = SmsMessage(phone, template, code, text.format(code=code), {"code": code})
        delivery = _deliver(request, message, binding, number, tx.browser, details, client_id)
        if wait:
            if not await delivery:
                return Sent("sms_send_failed", 502)
        else:
            request.app.state.sms_deliveries.start(delivery)
    answered = tx.extra.pop("sms_challenge", None) is not None
    if counted.challenge_next:
        _new_challenge(services, tx, now)
    if tx_changed or answered or counted.challenge_next:
        await update_transaction(services, tx_id, tx)
    return Sent()


async def _deliver(
    request: Request,
    message: SmsMessage,
    binding: str,
    number: str,
    browser: str,
    details: dict[str, str],
    client_id: str | None,
) -> bool:
    """Send ``message`` and audit the outcome; a failed send withdraws its code and is not
    counted against the limits (nothing was sent)."""
    services: Services = request.app.state.services
    try:
        await services.sms.send(message)
    except SmsFailed as failure:
        await services.sms_codes.withdraw(binding)
        await SmsLimits(services.expiring).take_back(number, client_ip(request), browser)
        await services.audit.record(
            AuditEvent(
                "sms.failed",
                outcome="failure",
                client_id=client_id,
                details={**details, "backend": services.sms.name, "reason": failure.reason},
            ),
            request=request,
        )
        return False
    # Queued like token issuance (spooled locally before the answer): a send is no decision.
    services.audit.queue(
        AuditEvent(
            "sms.sent", client_id=client_id, details={**details, "backend": services.sms.name}
        ),
        request=request,
    )
    return True
