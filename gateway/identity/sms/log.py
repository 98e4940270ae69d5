"""The development backend: a masked line in the log, the whole message in an outbox file
(``DATA_DIR/sms-outbox.jsonl``, one JSON object a line). Never for production."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from gateway.identity.phones import masked
from gateway.identity.sms import SmsFailed, SmsMessage

log = logging.getLogger("yihaotong.sms")
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT


class LogSender:
    name = "log"

    def __init__(self, outbox: str | Path, now: Callable[[], float]) -> None:
        self._outbox = Path(outbox)
        self._path = os.fspath(outbox)
        self._now = now

    def _append(self, line: bytes) -> None:
        # One O_APPEND write: whole lines from any number of workers, no buffer to flush.
        try:
            fd = os.open(self._path, _APPEND)
        except FileNotFoundError:
            self._outbox.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, _APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    async def send(self, message: SmsMessage) -> None:
        record = {
            "time": datetime.fromtimestamp(self._now(), UTC).isoformat(),
            "phone": message.phone,
            "template": message.template,
            "code": message.code,
            "text": message.text,
        }
        try:
            # One short append, as the audit spool makes on the loop: a thread's hand-over
            # costs more than the write.
            self._append(orjson.dumps(record) + b"\n")
        except OSError as error:
            raise SmsFailed(f"outbox not writable: {error.strerror}") from error
        log.info(
            "sms.sent",
            extra={
                "fields": {
                    "backend": self.name,
                    "phone": masked(message.phone),
                    "template": message.template,
                }
            },
        )
