"""A small SMTP server on 127.0.0.1 that speaks enough of RFC 5321 for Django's SMTP backend.

Not a mock: Django's real `smtp.EmailBackend` talks to it over a socket. It can be told to
stop answering at one step, which is how an uncertain send looks from our side:

    with FakeSmtp() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        smtp.hang_after = "greeting"   # never greets: nothing can have been sent
        smtp.hang_after = "data"       # takes the whole message, then never answers
        smtp.received                  # the messages it took (raw text)
"""

from __future__ import annotations

import socketserver
import threading
import time


class FakeSmtp:
    def __init__(self, *, hang_seconds: float = 5.0):
        self.hang_after = ""
        self.hang_seconds = hang_seconds
        self.received: list[str] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())
                self.wfile.flush()

            def handle(self) -> None:
                if fake.hang_after == "greeting":
                    time.sleep(fake.hang_seconds)
                    return
                self.reply("220 fake.invalid ESMTP")
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        self.reply("250 fake.invalid")
                    elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                        self.reply("250 OK")
                    elif command == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        body = []
                        while (part := self.rfile.readline()) not in (b".\r\n", b""):
                            body.append(part.decode(errors="replace"))
                        fake.received.append("".join(body))
                        if fake.hang_after == "data":
                            time.sleep(fake.hang_seconds)
                            return
                        self.reply("250 OK queued")
                    elif command == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> FakeSmtp:
        threading.Thread(target=self._server.serve_forever, name="fake-smtp", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
