"""The space web app: `/space/{spaceId}` (one HTML page) and its ES modules under `/static/app/`.

No build step: the browser loads plain ES modules from `static/` and calls the `/v1` API with the
token the page was opened with (`?token=…`, kept in sessionStorage and dropped from the URL).
`GET /space/{spaceId}/session` tells the page who the token is (kind, role, whether it may edit)
so a viewer gets a read-only grid. None of these routes is part of the `/v1` OpenAPI document.
"""

from gateway_service.web.routes import ROUTES

__all__ = ["ROUTES"]
