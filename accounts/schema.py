"""OpenAPI description of the personal API key and JWT authentications (loaded by AccountsConfig.ready)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key from /api/v1/auth/keys: `Authorization: Bearer zk_...`.",
        }


class JWTAuthenticationScheme(SimpleJWTScheme):
    """simplejwt's scheme for our subclass (it only adds the revocation check)."""

    target_class = "accounts.authentication.JWTAuthentication"
