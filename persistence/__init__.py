"""The MongoEngine side of the persistence layer.

Importing this package activates the async API on MongoEngine (``connect_async``,
``async_save``, ``async for doc in queryset``, ``async_run_in_transaction``...), so the
spec's ``from mongoengine import connect_async`` works afterwards.
"""

from .engine import graft as _graft

_graft.activate()

from .engine import *  # noqa: E402,F403
from .engine import __all__ as __all__  # noqa: E402
