"""Domain events: attrs classes registered with a stable type name and a version.

::

    @domain_event("transfer.completed", version=1, key="source")
    @attrs.frozen
    class TransferCompleted:
        transfer_id: str
        source: str
        amount: int

A module that may not import this layer (a pure domain package) declares the same on the
class instead, and the class is registered the first time one of its events is
published (or by ``EVENT_TYPES.register(cls)``, which a consumer process calls)::

    @attrs.frozen
    class TransferCompleted:
        __event_name__ = "transfer.completed"
        __event_version__ = 1
        __event_key__ = "source"
        ...

The type name and version are what the outbox stores with each event's payload, so a
class may be renamed or moved without breaking stored events.  ``key`` names the field
whose value orders the event (its aggregate: events with the same key are delivered in
commit order); ``upgrade`` maps an older stored version to a function turning that
version's payload into the next version's, so old events still load after a change.

Pure: imports neither MongoEngine nor PyMongo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import attrs

from persistence.codec import from_dict, to_dict

__all__ = [
    "EVENT_TYPES",
    "EventType",
    "EventTypes",
    "UnknownEvent",
    "domain_event",
    "event_type_of",
]

C = TypeVar("C", bound=type)

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEvent(LookupError):
    """A stored event whose type name or version no registered class can read."""


@attrs.frozen
class EventType:
    """What is stored about an event class: its name, version, key field and upgrades."""

    name: str
    version: int
    cls: type[Any]
    key: str | None = None
    upgrade: Mapping[int, Upgrade] = attrs.field(factory=dict)

    def key_of(self, event: Any) -> str | None:
        """The ordering key of ``event`` (its ``key`` field as a string), or None."""
        if self.key is None:
            return None
        value = getattr(event, self.key)
        return None if value is None else str(value)

    def payload(self, event: Any) -> dict[str, Any]:
        """The event's fields as plain values (the registry's codec)."""
        return to_dict(event)

    def load(self, version: int, payload: Mapping[str, Any]) -> Any:
        """The event stored at ``version`` with ``payload``, upgraded to this version."""
        data = dict(payload)
        while version < self.version:
            step = self.upgrade.get(version)
            if step is None:
                raise UnknownEvent(
                    f"event {self.name!r} stored at version {version} cannot be read by "
                    f"{self.cls.__name__} (version {self.version}): give "
                    f"domain_event(..., upgrade={{{version}: ...}}) a function that turns a "
                    f"version {version} payload into version {version + 1}"
                )
            data = step(data)
            version += 1
        if version > self.version:
            raise UnknownEvent(
                f"event {self.name!r} stored at version {version} is newer than "
                f"{self.cls.__name__} (version {self.version}): deploy the newer class"
            )
        return from_dict(self.cls, data)


class EventTypes:
    """Event classes by type name (and by class)."""

    def __init__(self) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_cls: dict[type[Any], EventType] = {}

    def add(self, event_type: EventType) -> None:
        """Register ``event_type`` (``ValueError`` if its name or class is taken)."""
        known = self._by_name.get(event_type.name)
        if known is not None and known.cls is not event_type.cls:
            if (known.cls.__module__, known.cls.__qualname__) != (
                event_type.cls.__module__,
                event_type.cls.__qualname__,
            ):
                raise ValueError(
                    f"event type name {event_type.name!r} is already used by "
                    f"{known.cls.__qualname__}: give {event_type.cls.__qualname__} its own name"
                )
        self._by_name[event_type.name] = event_type
        self._by_cls[event_type.cls] = event_type

    def register(self, cls: type[Any]) -> EventType:
        """Register an attrs class that declares ``__event_name__`` (and optionally
        ``__event_version__``, ``__event_key__``, ``__event_upgrade__``) on itself."""
        found = self._by_cls.get(cls)
        if found is not None:
            return found
        name = getattr(cls, "__event_name__", None)
        if name is None:
            raise TypeError(
                f"{cls.__qualname__} is not a domain event: decorate its attrs class with "
                "@domain_event('a.stable.name', version=1) or declare __event_name__ on it"
            )
        domain_event(
            name,
            version=getattr(cls, "__event_version__", 1),
            key=getattr(cls, "__event_key__", None),
            upgrade=getattr(cls, "__event_upgrade__", None),
            types=self,
        )(cls)
        return self._by_cls[cls]

    def of(self, event: Any) -> EventType:
        """The registered type of the event instance ``event`` (``TypeError`` if none)."""
        found = self._by_cls.get(type(event))
        if found is None and hasattr(type(event), "__event_name__"):
            return self.register(type(event))
        if found is None:
            raise TypeError(
                f"{type(event).__qualname__} is not a domain event: decorate its attrs class "
                "with @domain_event('a.stable.name', version=1)"
            )
        return found

    def named(self, name: str) -> EventType:
        """The registered type named ``name`` (``UnknownEvent`` if none)."""
        found = self._by_name.get(name)
        if found is None:
            raise UnknownEvent(
                f"no event class is registered as {name!r}: import the module that "
                "declares it before consuming"
            )
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


EVENT_TYPES = EventTypes()
"""The process-wide catalogue :func:`domain_event` registers in."""


def domain_event(
    name: str,
    *,
    version: int = 1,
    key: str | None = None,
    upgrade: Mapping[int, Upgrade] | None = None,
    types: EventTypes = EVENT_TYPES,
) -> Callable[[C], C]:
    """Register an attrs class as the domain event ``name`` at ``version``.

    ``key``: the field ordering the event (its aggregate's id); ``upgrade``: functions
    from an older version's payload to the next version's."""
    if not name or not isinstance(name, str):
        raise ValueError("a domain event needs a non-empty type name")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"event {name!r}: version must be an int >= 1, not {version!r}")

    def register(cls: C) -> C:
        if not attrs.has(cast(Any, cls)):
            raise TypeError(f"@domain_event({name!r}) needs an attrs class, not {cls!r}")
        if key is not None and key not in attrs.fields_dict(cast(Any, cls)):
            raise ValueError(f"event {name!r}: key {key!r} is not a field of {cls.__qualname__}")
        types.add(EventType(name, version, cls, key, dict(upgrade or {})))
        return cls

    return register


def event_type_of(event: Any, types: EventTypes = EVENT_TYPES) -> EventType:
    """The registered type of ``event`` (``TypeError`` naming the class if none)."""
    return types.of(event)
