"""The per-token viewer cache: reused briefly, forgotten when the person's progress changes."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlmodel import col

from app.catalog.deps import VIEWERS
from app.core.config import Settings
from app.core.db import Database
from app.core.token_cache import TokenCache
from app.identity.auth import AUTHENTICATOR
from app.identity.models import User
from app.main import create_app
from app.progress.viewer import Viewers
from tests.conftest import Person, sign_in
from tests.progress.conftest import enroll

PROGRAM = "whole-leg-rehabilitation"


def statements_for(client: TestClient, database: Database, path: str, person: Person) -> int:
    seen: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2])
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert client.get(path, headers=person.headers).status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    return len(seen)


@pytest.mark.usefixtures("seeded")
def test_a_repeated_signed_in_read_reuses_the_viewer(
    remembering_client: TestClient, database: Database, member: Person
) -> None:
    path = f"/v1/programs/{PROGRAM}"
    assert statements_for(remembering_client, database, path, member) > 1
    # The version check at most.
    assert statements_for(remembering_client, database, path, member) <= 1


@pytest.mark.usefixtures("seeded")
def test_a_change_of_progress_through_the_api_is_seen_at_once(
    remembering_client: TestClient, database: Database, member: Person
) -> None:
    def stage_two_access() -> str:
        detail = remembering_client.get(f"/v1/programs/{PROGRAM}", headers=member.headers).json()
        access: str = detail["stages"][1]["exercises"][0]["exercise"]["lock"]["unlock_hint"]
        return access

    before = stage_two_access()
    enroll(remembering_client, member, PROGRAM)
    after = stage_two_access()
    assert before != after
    assert "7 more days" in after


@pytest.mark.usefixtures("seeded")
def test_logging_out_ends_the_cached_sign_in_at_once(
    remembering_client: TestClient, member: Person
) -> None:
    tokens = sign_in(remembering_client, member.email, member.password)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert remembering_client.get(f"/v1/programs/{PROGRAM}", headers=headers).status_code == 200
    assert remembering_client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert remembering_client.get(f"/v1/programs/{PROGRAM}", headers=headers).status_code == 401


@pytest.mark.usefixtures("seeded")
def test_a_disabled_account_is_refused_once_the_cache_expires(
    settings: Settings, database: Database, member: Person
) -> None:
    now = [0.0]
    app = create_app(settings.model_copy(update={"viewer_cache_seconds": 2}), database=database)
    # Both memories of the token (who it is, what they may see) on a clock the test moves.
    AUTHENTICATOR.of_app(app).remembered = TokenCache(2, clock=lambda: now[0])
    viewers = VIEWERS.of_app(app)
    assert isinstance(viewers, Viewers)
    viewers.cache = TokenCache(2, clock=lambda: now[0])
    with TestClient(app) as client:
        path = f"/v1/programs/{PROGRAM}"
        assert client.get(path, headers=member.headers).status_code == 200
        with database.write_session() as session:
            session.execute(update(User).where(col(User.id) == member.id).values(disabled=True))
        now[0] = 2.5
        assert client.get(path, headers=member.headers).status_code == 401


def test_the_cache_forgets_a_person_and_expires() -> None:
    now = [100.0]
    cache: TokenCache[str] = TokenCache(2, clock=lambda: now[0])
    cache.put("token-a", "user:1", "viewer of 1")
    cache.put("token-b", "user:2", "viewer of 2")
    assert cache.get("token-a") == "viewer of 1"
    cache.forget_owner("user:1")
    assert cache.get("token-a") is None
    assert cache.get("token-b") == "viewer of 2"
    now[0] = 102.5
    assert cache.get("token-b") is None


def test_a_zero_lifetime_caches_nothing() -> None:
    cache: TokenCache[str] = TokenCache(0)
    cache.put("token", "user:1", "viewer")
    assert cache.get("token") is None


def test_concurrent_misses_of_one_token_share_a_single_load() -> None:
    cache = TokenCache[str](30)
    calls: list[str] = []

    def load() -> str:
        calls.append("load")
        return "viewer"

    async def burst() -> list[str]:
        return await asyncio.gather(
            *(cache.get_or_load("token", load, lambda _: "user:7") for _ in range(8))
        )

    assert asyncio.run(burst()) == ["viewer"] * 8
    assert calls == ["load"]


def test_a_load_that_began_before_the_person_changed_is_not_kept() -> None:
    cache = TokenCache[str](30)
    loading = threading.Event()
    release = threading.Event()
    answers = iter(["before the change", "after the change"])

    def load() -> str:
        loading.set()
        release.wait(5)
        return next(answers)

    async def scenario() -> tuple[str, str, str]:
        early = asyncio.ensure_future(cache.get_or_load("token", load, lambda _: "user:7"))
        await asyncio.to_thread(loading.wait, 5)
        cache.forget_owner("user:7")  # the person logged a session meanwhile
        release.set()
        first = await early
        second = await cache.get_or_load("token", load, lambda _: "user:7")
        third = await cache.get_or_load("token", load, lambda _: "user:7")
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first == "before the change"  # the request that started it still gets an answer
    assert second == third == "after the change"  # but it was never kept for later ones
