"""Settings for mypy's django-stubs plugin, which loads the settings and every app's models while it checks.

It needs no running service and starts none: tests/settings.py would probe the ports and, with no Redis on
6379, start an embedded redis-server inside mypy. A set SECRET_KEY keeps zimage.settings from writing a key file.
"""

import os

os.environ.setdefault("SECRET_KEY", "typecheck-only-never-served")

from zimage.settings import *  # noqa: F403
