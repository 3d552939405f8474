import secrets

from .models import User

ADMIN_EMAIL = "admin@zimage.local"


def ensure_admin(email: str = ADMIN_EMAIL) -> str | None:
    """Create the first superuser with a random password; returns it once, None if one exists."""
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(email=email, password=password)
    return password
