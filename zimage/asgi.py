"""HTTP and WebSocket entry point served by daphne."""

import os
import sys

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")


def use_a_connection_pool() -> None:
    """Requests borrow PostgreSQL connections from a per-process pool (this process only, not the workers).

    Left alone inside pytest, which imports this module for in-process WebSocket tests and manages its own
    test-database connection; the daphne processes that end-to-end tests start do use the pool.
    """
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("postgresql") or "pytest" in sys.modules:
        return
    database["CONN_MAX_AGE"] = 0  # a connection per request thread must not outlive its request
    if settings.WEB_DB_POOL_SIZE:
        pool = {"min_size": 2, "max_size": settings.WEB_DB_POOL_SIZE, "timeout": 10}
        database["OPTIONS"] = {**database.get("OPTIONS", {}), "pool": pool}


use_a_connection_pool()
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.request_id import WebSocketRequestId  # noqa: E402
from generation.routing import websocket_urlpatterns  # noqa: E402
from generation.ws_auth import OriginValidatorUnlessToken, TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketRequestId(
            OriginValidatorUnlessToken(AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)
