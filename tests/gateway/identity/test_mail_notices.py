"""E-mail notices through a real SMTP server (aiosmtpd) with STARTTLS and a login: the sender
verifies the server's certificate and logs in; a sign-in from a new device in a new province is
told by e-mail when the account has a verified address, by SMS otherwise, and neither the logs
nor the audit entry hold the address."""

from __future__ import annotations

import datetime
import email
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.identity.mail import MailFailed, MailMessage, SmtpConfig, SmtpSender
from gateway.identity.pii import PiiVault
from store.identities import IdentityStore
from store.records import AccountIdentifier
from tests.conftest import running_gateway
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_sign_in_places import BEIJING, SHENZHEN, notices, sign_in
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sso import CALLBACK, PASSWORD
from tests.support import free_port

USER, SECRET = "gateway", "smtp-secret-123"
ADDRESS = "wang.xiaoming@example.gov.cn"


@dataclass
class Mailbox:
    port: int
    ca_file: Path
    messages: list[email.message.Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            SECRET.encode(),
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    cert_file, key_file = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    box = Mailbox(free_port(), cert_file)
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        tls_context=context,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def _config(box: Mailbox, **changes: Any) -> SmtpConfig:
    fields = {
        "host": "127.0.0.1",
        "port": box.port,
        "security": "starttls",
        "sender": "一号通 <noreply@example.gov.cn>",
        "username": USER,
        "password": SECRET,
        "ca_file": box.ca_file,
    }
    return SmtpConfig(**(fields | changes))


def _subject(message: email.message.Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


async def test_a_message_goes_out_over_starttls_after_a_login(mailbox: Mailbox) -> None:
    sender = SmtpSender(_config(mailbox))
    await sender.send(MailMessage(ADDRESS, "新设备登录提醒", "您的账号在新设备上登录。"))
    [message] = mailbox.messages
    assert mailbox.logins == [USER]
    assert message["To"] == ADDRESS and "noreply@example.gov.cn" in message["From"]
    assert _subject(message) == "新设备登录提醒" and message["Message-ID"]
    assert message.get_payload(decode=True).decode().rstrip() == "您的账号在新设备上登录。"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        # aiosmtpd answers 535 to each mechanism smtplib tries, then hangs up.
        ({"password": "wrong"}, "SMTPServerDisconnected"),
        ({"ca_file": None}, "SSLCertVerificationError"),  # a certificate nobody vouched for
        ({"security": "none", "username": None}, "SMTPSenderRefused"),  # STARTTLS required
    ],
)
async def test_failures_name_their_kind_and_send_nothing(
    mailbox: Mailbox, changes: dict, reason: str
) -> None:
    with pytest.raises(MailFailed) as failed:
        await SmtpSender(_config(mailbox, **changes)).send(MailMessage(ADDRESS, "s", "t"))
    assert failed.value.reason == reason and ADDRESS not in str(failed.value)
    assert mailbox.messages == []


async def _give_email(admin, account_id: str) -> None:
    vault = PiiVault(admin.master_key)
    identifier = AccountIdentifier(
        account_id=account_id,
        type="email",
        blind_index=vault.blind_index("email", ADDRESS),
        value=vault.seal("email", ADDRESS),
        verified=True,
        created_at=admin.clock.now(),
    )
    await IdentityStore(admin.database).add_identifiers([identifier])


@pytest.mark.parametrize("verified_email", [True, False])
async def test_a_new_place_is_told_by_email_where_configured(
    settings_for, mailbox: Mailbox, caplog: pytest.LogCaptureFixture, verified_email: bool
) -> None:
    smtp = {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_username": USER,
        "smtp_password": SECRET,
        "smtp_ca_file": str(mailbox.ca_file),
        "mail_from": "noreply@example.gov.cn",
    }
    caplog.set_level(logging.DEBUG)
    with running_gateway(settings_for, **smtp) as live:
        async with second_instance(live.settings) as admin:
            account = await admin.accounts.create_local(username="wang", password=PASSWORD)
            app = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
            await give_phone(admin, account.id, "13800138000")
            if verified_email:
                await _give_email(admin, account.id)
        await (await sign_in(live, app.client.client_id, SHENZHEN)).close()
        await (await sign_in(live, app.client.client_id, BEIJING)).close()
        async with second_instance(live.settings) as admin:
            mailed = await admin.audit.query(event="mail.notice_sent")
            told = await admin.audit.query(event="login.new_place")
        sms = notices(live)
    assert told[0].details["notice_sent"] is True
    if not verified_email:  # SMS as before
        assert mailbox.messages == [] and mailed == [] and len(sms) == 1
        return
    [message] = mailbox.messages
    assert message["To"] == ADDRESS and _subject(message) == "【一号通】新设备登录提醒"
    assert "北京" in message.get_payload(decode=True).decode()
    assert sms == [], "one notice, by e-mail"
    [entry] = mailed
    assert entry.details["notice"] == "new_place" and entry.details["email"] != ADDRESS
    ours = [r.getMessage() + str(vars(r)) for r in caplog.records if r.name != "mail.log"]
    assert ours and not any("wang.xiaoming" in line for line in ours)
