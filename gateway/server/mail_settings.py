"""The settings of e-mail: the SMTP server that carries notices (a new device in a new
province) to an account's verified address. Unset: notices go by SMS only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from gateway.identity.mail import SmtpConfig


class MailSettings(BaseSettings):
    smtp_host: str | None = Field(
        None,
        description="The SMTP server for e-mail notices; with `MAIL_FROM`, a sign-in from a new "
        "device in a new province is told by e-mail to an account with a verified address "
        "(else by SMS). Unset: no e-mail.",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="`starttls` (port 587), `tls` (implicit TLS, port 465) or `none` (a relay "
        "on the same host or network only). The server's certificate is always verified.",
    )
    smtp_username: str | None = Field(None, description="SMTP login, when the server asks one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that sign the SMTP server's certificate, when it is "
        "not signed by a public CA; unset: the system's.",
    )
    mail_from: str | None = Field(
        None, description="The From address of e-mail notices (`一号通 <noreply@example.gov.cn>`)."
    )

    def smtp_config(self) -> SmtpConfig | None:
        if not self.smtp_host or not self.mail_from:
            return None
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            sender=self.mail_from,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            ca_file=self.smtp_ca_file,
        )
