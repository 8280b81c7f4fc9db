"""Typed application state: each piece the app holds is reached through a typed key.

Starlette's `app.state` is an untyped bag. A `StateKey[T]` names one thing in it
and knows its type, so a route, a dependency or a middleware reads exactly what
was put there, checked by mypy, and the one `cast` lives here.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from starlette.requests import HTTPConnection
from starlette.types import Scope

T = TypeVar("T")


class StateKey(Generic[T]):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def put(self, app: Any, value: T) -> None:
        """Store `value` on `app` (a FastAPI or Starlette application)."""
        setattr(app.state, self.name, value)

    def of_app(self, app: Any) -> T:
        return cast(T, getattr(app.state, self.name))

    def of(self, connection: HTTPConnection) -> T:
        """The value for the app serving this request."""
        return self.of_app(connection.app)

    def of_scope(self, scope: Scope) -> T:
        """The value for the app serving this ASGI scope (for pure ASGI middleware)."""
        return self.of_app(scope["app"])

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"
