"""A real SMTP server (aiosmtpd) for herald's tests: it stores every message it accepts as
an .eml file and answers some recipients with the failures a relay gives.

    python smtp_server.py --port 2525 --dir /tmp/mail [--auth user:password]
        [--tls starttls|implicit --cert server.pem --key server.key]

Recipients whose local part starts with
- `defer451`: 451 once per address, then accepted (a greylisting relay);
- `reject550`: 550 every time (no such mailbox).
Prints `ready` on stdout once it listens; stops on SIGTERM or when stdin closes. The number
of client connections that sent mail is kept in `connections.txt` in the directory.
"""

import argparse
import pathlib
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.deferred = set()
        self.count = 0
        self.peers = set()
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            if session.peer not in self.peers:
                self.peers.add(session.peer)
                (self.directory / "connections.txt").write_text(str(len(self.peers)))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject550"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("defer451"):
            with self.lock:
                first = address not in self.deferred
                self.deferred.add(address)
            if first:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        path = self.directory / f"{number:06d}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(path)  # whole files only: a reader never sees half a message
        return "250 OK: queued"


def authenticator(expected_user: str, expected_password: str):
    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            ok = auth_data.login.decode() == expected_user and auth_data.password.decode() == expected_password
            # handled=False: aiosmtpd answers itself (235, or 535 on a failure).
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    return check


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=pathlib.Path, required=True)
    parser.add_argument("--auth", help="user:password; AUTH is then required")
    parser.add_argument("--tls", choices=["starttls", "implicit"], help="STARTTLS required, or TLS from the start")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)

    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options = {
            "authenticator": authenticator(user, password),
            "auth_required": True,
            "auth_require_tls": False,
        }
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(ssl_context=context)
    controller = Controller(Handler(args.dir), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
