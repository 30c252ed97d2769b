"""The reference service's own domain errors, beside the layer's (``persistence.errors``)."""

from __future__ import annotations

from persistence.errors import DomainError

__all__ = ["InsufficientFunds"]


class InsufficientFunds(DomainError):
    """A transfer would take an account below zero; nothing moved."""
