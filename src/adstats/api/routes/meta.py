"""GET /api: the service's name and version."""

from fastapi import APIRouter
from starlette.responses import Response

from adstats import NAME, __version__
from adstats.api.encoding import json_response
from adstats.api.schemas import ServiceInfo

router = APIRouter(tags=["service"])


@router.get("/api", responses={200: {"model": ServiceInfo}}, response_class=Response)
def service_info() -> Response:
    """The service's name and version; needs no key."""
    return json_response({"name": NAME, "version": __version__})
