"""pytest plugin: activate the async add-on (``import persistence``) before the suite runs."""

import persistence  # noqa: F401
