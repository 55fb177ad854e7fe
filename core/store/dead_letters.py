"""Messages an event source gave up on: they kept failing before anything of them was recorded (a bad event,
an unknown company). Kept whole, append-only, for someone to read and publish again once fixed."""

from __future__ import annotations

from typing import Any

from .sql import select


class MessageDeadLetters:
    """The message_dead_letters table."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def insert(
        self,
        source: str,
        subject: str,
        message_id: str | None,
        company: str | None,
        deliveries: int,
        error: str,
        payload: bytes,
        at: str,
    ) -> None:
        self.conn.execute(
            "INSERT INTO message_dead_letters (source, subject, message_id, company, deliveries, error, payload, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (source, subject, message_id, company, deliveries, error, payload, at),
        )

    def all(self) -> list[Any]:
        return select(self.conn, "SELECT * FROM message_dead_letters ORDER BY seq")

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM message_dead_letters").fetchone()[0])
