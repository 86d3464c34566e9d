"""A local SMTP server that keeps every message it receives as a .eml file.

`make run` starts it so a person trying the demo can read what patients would get
(`.data/mail/`, one file a message, openable in any mail program). The test suite uses the
same server to receive the mail it checks. Never used in production, where EMAIL_HOST points
at the clinic's real SMTP relay.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

_counter = itertools.count()


class MailFolder:
    """aiosmtpd handler: writes each received message to ``folder`` as ``<time>-<n>.eml``.

    Tests can make it misbehave like a real relay: ``temporary_failures`` answers the next N
    messages with 451 (try again later), ``refused_recipients`` answers 550 for those addresses,
    and ``hold_seconds`` keeps the 250 reply back after a message is stored (``holding`` then
    names the client's (host, port)), as a slow server would. ``reply_delay`` (seconds) waits before
    each answer to EHLO, MAIL, RCPT and the end of DATA, as a relay across a network does.
    """

    def __init__(self, folder: Path, reply_delay: float = 0.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.reply_delay = reply_delay
        self.temporary_failures = 0
        self.refused_recipients: set[str] = set()
        self.hold_seconds = 0.0
        self.holding: tuple[str, int] | None = None

    async def _wait(self) -> None:
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)

    async def handle_EHLO(self, server, session, envelope: Envelope, hostname: str, responses: list[str]):
        await self._wait()
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope: Envelope, address: str, mail_options) -> str:
        await self._wait()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope: Envelope, address: str, rcpt_options) -> str:
        await self._wait()
        if address.lower() in self.refused_recipients:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:
        await self._wait()
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 Temporary failure, try again later"
        name = f"{time.time_ns()}-{next(_counter):06d}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(self.folder / name)  # readers never see half a message
        if self.hold_seconds:
            self.holding = tuple(session.peer[:2])
            await asyncio.sleep(self.hold_seconds)
            self.holding = None
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(self.folder.glob("*.eml"))
        ]


def start(folder: Path, host: str = "127.0.0.1", port: int = 1025, reply_delay: float = 0.0) -> Controller:
    controller = Controller(MailFolder(folder, reply_delay), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--reply-delay", type=float, default=0.0, help="seconds to wait before each answer")
    args = parser.parse_args()
    controller = start(args.dir, args.host, args.port, args.reply_delay)
    print(f"mail catcher: smtp://{args.host}:{args.port} -> {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
