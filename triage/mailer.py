"""Send a digest by SMTP as multipart/alternative (text and HTML); TLS verified by default."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from triage.config import SmtpConfig
from triage.credentials import CredentialError, SecretSource


class MailerError(Exception):
    """The digest could not be sent; the message says what to check."""


def build_message(sender: str, recipients: Sequence[str], subject: str, text: str, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "triage.invalid")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to the digest
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(smtp: SmtpConfig, message: EmailMessage) -> None:
    where = f"SMTP {smtp.host}:{smtp.port}"
    context = ssl.create_default_context(cafile=str(smtp.tls_ca_file) if smtp.tls_ca_file else None)
    if not smtp.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username:
                password = SecretSource("[smtp]", smtp.password_env, smtp.password_file, smtp.password_command).read()
                client.login(smtp.username, password.value)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailerError(f"{where}: login refused for {smtp.username!r}; check the [smtp] password source") from None
    except CredentialError as exc:
        raise MailerError(f"{where}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise MailerError(f"{where}: TLS certificate not trusted: {exc.verify_message}; set tls_ca_file") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailerError(f"{where}: sending failed: {exc}") from None
