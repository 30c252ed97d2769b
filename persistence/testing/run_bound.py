"""``python -m persistence.testing.run_bound COMMAND [ARG...]``: run COMMAND in place of
this process, receiving ``SIGTERM`` when the process that started it dies (Linux; see
:mod:`.bound_processes`).  ``.ci/run`` starts the tests this way, so killing it outright
ends them too."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from persistence.testing.bound_processes import end_with_parent

__all__ = ["main"]


def main(argv: Sequence[str]) -> None:
    """Replace this process by ``argv``, bound to our parent."""
    if not argv:
        sys.exit("usage: python -m persistence.testing.run_bound COMMAND [ARG...]")
    end_with_parent(signal.SIGTERM)
    os.execvp(argv[0], list(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
