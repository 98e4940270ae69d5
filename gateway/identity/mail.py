"""E-mail over SMTP (the standard library's ``smtplib``, in a thread: it blocks), for notices
to an account's verified address. Failures name the error's type only, never the address."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str


class MailFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    sender: str  # the From address
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0


class SmtpSender:
    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send, self._compose(message))

    def _compose(self, message: MailMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._config.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self._config.sender.rpartition("@")[2] or None)
        mail.set_content(message.text)
        return mail

    def _send(self, mail: EmailMessage) -> None:
        config = self._config
        context = ssl.create_default_context(cafile=config.ca_file)
        try:
            if config.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                if config.security == "starttls":
                    smtp.starttls(context=context)
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            raise MailFailed(type(error).__name__) from error
