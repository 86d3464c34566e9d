"""Django's SMTP email backend, telling whether a failed message had reached DATA.

A failure before DATA (a refused connection, a 4xx to MAIL or RCPT, a dropped connection) left
nothing at the server: sending again is safe. Once the message's DATA has begun, a dropped
connection or a reply slower than EMAIL_TIMEOUT leaves it unknown whether the server kept the
message: the patient may have it, and the outbox does not send it again (at most once).
"""

from __future__ import annotations

import smtplib

from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend


class _NotesData:
    """smtplib's client, noting when a message's DATA command has started (reset by MAIL)."""

    data_started = False

    def mail(self, sender, options=()):
        self.data_started = False
        return super().mail(sender, options)

    def data(self, msg):
        self.data_started = True
        return super().data(msg)


class _SMTP(_NotesData, smtplib.SMTP):
    pass


class _SMTPOverSSL(_NotesData, smtplib.SMTP_SSL):
    pass


class EmailBackend(DjangoSMTPBackend):
    """EMAIL_BACKEND for Ionto: Django's, with ``data_started()`` for the last message sent."""

    @property
    def connection_class(self):
        return _SMTPOverSSL if self.use_ssl else _SMTP

    def data_started(self) -> bool:
        """Whether the last message got as far as DATA (False when no connection was made)."""
        return self.connection is not None and self.connection.data_started
