"""The classic page: ``GET /`` counts its own hits."""

from __future__ import annotations

from flask import Blueprint, Response

from .state import get_store

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> Response:
    """Increment ``hits`` and say how many times the page was seen."""
    hits = get_store().hit()
    return Response(f"Hello! I have been seen {hits} times.\n", mimetype="text/html")
