"""pytest plugin: activate the async add-on (``import persistence.engine``) first."""

import persistence.engine  # noqa: F401
