"""An SMTP sink for Portico's mail tests: accepts messages on 127.0.0.1 and writes each as an
.eml file (the raw message) next to a .json file: the envelope (sender, recipients) and the
message as Python's email package reads it (decoded headers, text and HTML parts), so the tests
check the MIME with a parser Portico did not write.

Recipients whose local part is "refused" get 550 (permanent), "busy" gets 451 (try later).

    python smtp_sink.py DIR [--lifetime SECONDS]

Binds a free loopback port and prints "PORT <n>" on its first line. Exits by itself after
--lifetime seconds (default 60), when its standard input closes (the test process ended), or
when killed. Needs aiosmtpd (scripts/test-all installs it into target/test-venv).
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import sys
import threading

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "refused":
            return "550 5.1.1 No such user here"
        if local == "busy":
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, "%04d" % self.count)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                # Line ends as a reader sees them (SMTP carries CRLF).
                parts.setdefault(part.get_content_type(), part.get_content().replace("\r\n", "\n"))
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": {k: str(v) for k, v in msg.items()},
            "content_type": msg.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f)
        os.replace(base + ".json.tmp", base + ".json")
        # The .eml appears last and whole: a reader that sees it may read both files.
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.replace(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.call_later(args.lifetime, done.set)
    sink = Sink(args.directory)
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.localhost"), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    await done.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
