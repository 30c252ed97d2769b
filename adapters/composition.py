"""Nested blocks and retried blocks, the same for every unit of work.

A nested ``async with uow:`` joins the block already open: only the outermost
``commit()`` commits; a nested ``commit()`` just marks the nested block done.  A nested
block left by an exception, or without its ``commit()``, or rolled back, makes the whole
unit rollback-only (its work cannot be undone alone).  ``run(work)`` runs ``work(uow)``
in a block and commits, re-running it all on a write conflict as the unit's
``retry_policy`` allows (:mod:`.retry_policy`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from domain.errors import UnitOfWorkError

from .retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy

__all__ = ["Composition"]

T = TypeVar("T")
U = TypeVar("U", bound="Composition")


class Composition:
    """Mixed into a unit of work that has ``_active``, ``_failed`` and ``doom``."""

    _active: bool
    _failed: BaseException | None
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY

    def doom(self, error: Any) -> Any:  # pragma: no cover - provided by the unit of work
        raise NotImplementedError

    def _nesting(self) -> list[bool]:
        """Per open nested block: whether it committed."""
        levels: list[bool] | None = self.__dict__.get("_levels")
        if levels is None:
            levels = self.__dict__["_levels"] = []
        return levels

    @property
    def depth(self) -> int:
        """How many blocks are open (0 outside, 1 in the outermost)."""
        return len(self._nesting()) + (1 if self._active else 0)

    def _enter_nested(self) -> bool:
        if not self._active:
            return False
        self._nesting().append(False)
        return True

    def _exit_nested(self, exc: BaseException | None) -> bool:
        levels = self._nesting()
        if not levels:
            return False
        committed = levels.pop()
        if self._failed is None:
            if exc is not None:
                self.doom(exc)
            elif not committed:
                self.doom(UnitOfWorkError("a nested block ended without commit()"))
        return True

    def _commit_nested(self) -> bool:
        levels = self._nesting()
        if not levels:
            return False
        if self._failed is not None:
            raise UnitOfWorkError(
                f"the unit of work is rollback-only after an earlier error: {self._failed}"
            ) from self._failed
        levels[-1] = True
        return True

    def _rollback_nested(self) -> bool:
        if not self._nesting():
            return False
        if self._failed is None:
            self.doom(UnitOfWorkError("a nested block rolled back"))
        return True

    async def run(
        self: U, work: Callable[[U], Awaitable[T]], *, policy: RetryPolicy | None = None
    ) -> T:
        """``work(uow)`` in a block, then commit; on a write conflict the whole block
        runs again while ``policy`` (default: the unit's ``retry_policy``, 120 s of
        jittered backoff) allows.  Inside an open block it joins it and is not retried."""

        async def attempt() -> T:
            async with self:  # type: ignore[attr-defined]
                result = await work(self)
                await self.commit()  # type: ignore[attr-defined]
            return result

        if self._active:
            return await attempt()
        return await (policy or self.retry_policy).run(attempt)
