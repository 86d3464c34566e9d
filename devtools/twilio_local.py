"""A local HTTP server speaking Twilio's Messages API, for the tests (Twilio itself cannot be reached here).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (the account SID and
auth token) and the form fields To, From, Body and StatusCallback answers 201 with the message as
JSON (``sid`` "SM..." and ``status`` "queued"), as Twilio does; a wrong login gets 401 with Twilio's
error 20003, a To that is not E.164 400 with error 21211. After it answers, it posts the delivery
report (MessageSid, MessageStatus "delivered", AccountSid, From, To) to the StatusCallback, signed
with X-Twilio-Signature as Twilio signs it. ``reply()`` posts a patient's incoming text to a webhook
the same way. Loopback only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode


def signature(token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def post_signed(token: str, url: str, params: dict[str, str], *, forged: bool = False) -> int:
    """POST ``params`` to ``url`` as Twilio does (form, X-Twilio-Signature); returns the HTTP status."""
    sign = signature("not-the-token" if forged else token, url, params)
    request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST",  # noqa: S310  # nosec B310
                                     headers={"X-Twilio-Signature": sign,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class LocalTwilio:
    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, str]] = []
        self.callbacks: list[int] = []  # the status each delivery report got back
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalTwilio:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reply(self, *, webhook: str, from_: str, body: str, forged: bool = False) -> int:
        params = {"MessageSid": f"SM{secrets.token_hex(16)}", "AccountSid": self.account_sid, "From": from_,
                  "To": "+447700900000", "Body": body, "NumMedia": "0"}
        return post_signed(self.auth_token, webhook, params, forged=forged)

    def _report(self, message: dict[str, str]) -> None:
        params = {"MessageSid": message["sid"], "MessageStatus": "delivered", "AccountSid": self.account_sid,
                  "From": message["from"], "To": message["to"]}
        self.callbacks.append(post_signed(self.auth_token, message["status_callback"], params))

    def _handler(self):
        twilio = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802  (the name http.server calls)
                if self.path != f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json":
                    return self._answer(404, {"code": 20404, "message": "The requested resource was not found",
                                              "status": 404})
                login = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {login}":
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")):
                    return self._answer(400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is "
                                                                        "not a valid phone number.", "status": 400})
                message = {"sid": f"SM{secrets.token_hex(16)}", "status": "queued", "to": form["To"],
                           "from": form.get("From", ""), "body": form.get("Body", ""),
                           "account_sid": twilio.account_sid, "status_callback": form.get("StatusCallback", "")}
                twilio.messages.append(message)
                self._answer(201, {key: value for key, value in message.items() if key != "status_callback"})
                if message["status_callback"]:
                    threading.Thread(target=twilio._report, args=(message,), daemon=True).start()

        return Handler
