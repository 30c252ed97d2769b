"""A command listener for tests that count what is sent on the wire."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class Commands(monitoring.CommandListener):
    """Every command sent on the test's alias, in order: its name and its body."""

    def __init__(self) -> None:
        self.started_commands: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.started_commands.append((event.command_name, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...

    def clear(self) -> None:
        self.started_commands.clear()

    @property
    def sent(self) -> list[tuple[str, bool]]:
        """(name, whether it belongs to a transaction) of every command."""
        return [
            (name, "txnNumber" in body or "startTransaction" in body)
            for name, body in self.started_commands
        ]

    @property
    def find_collections(self) -> list[str]:
        """The collection of every ``find``."""
        return [body["find"] for name, body in self.started_commands if name == "find"]
