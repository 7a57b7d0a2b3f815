"""Per-application objects kept in ``app.extensions["counter"]``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from .config import Settings
from .metrics import Metrics
from .store import CounterStore

EXTENSION_KEY = "counter"


@dataclass
class AppState:
    """What the blueprints need: settings, the Redis-backed store, metrics."""

    settings: Settings
    store: CounterStore
    metrics: Metrics
    hostname: str


def get_state(app: Flask | None = None) -> AppState:
    """Return the state of *app* (default: the current app)."""
    target = current_app if app is None else app
    state: AppState = target.extensions[EXTENSION_KEY]
    return state


def get_store() -> CounterStore:
    """Return the counter store of the current app."""
    return get_state().store
