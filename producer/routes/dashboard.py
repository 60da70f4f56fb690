"""The dashboard: one HTML page and its plain CSS and JavaScript, served by the producer."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from producer.request_body import StrictJsonRoute

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["dashboard"], route_class=StrictJsonRoute)


@router.get("/", include_in_schema=False)
def get_dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
