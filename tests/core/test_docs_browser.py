"""/docs in a real browser: sign in with Authorize, call GET /v1/me, see 200, offline.

Runs headless Chromium (Debian's `chromium`) through Playwright against the app served by
uvicorn on a free port; skipped when no Chromium is installed."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import PROJECT_ROOT, Environment, Settings
from app.core.db import Database
from app.core.migrations import upgrade_to_head
from app.main import create_app
from tests.conftest import TEST_SECRET

CHROMIUM = shutil.which("chromium")
# The machine's network refuses background connections: keep Chromium from making any.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
EMAIL = "sam@example.com"
PASSWORD = "a sturdy passphrase 42"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` executable on PATH (apt-get install chromium)"
)


@pytest.fixture
def live_server(tmp_path: Path, seed_bundle: ContentBundle) -> Iterator[str]:
    """The app on a free local port, with its own migrated and seeded SQLite file."""
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{tmp_path / 'docs.db'}",
        data_dir=tmp_path,
        media_dir=tmp_path / "media",
        secret_key=TEST_SECRET,
        seed_dir=PROJECT_ROOT / "seed",
        content_poll_seconds=0,
        webhook_worker=False,
    )
    upgrade_to_head(settings)
    database = Database.from_settings(settings)
    with database.write_session() as session:
        apply_content(session, seed_bundle)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database=database), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, server)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        database.dispose()


def _wait_until_ready(base_url: str, server: uvicorn.Server) -> None:
    # A busy machine may be slow to answer the first request: wait, do not fail on it.
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if server.started and client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


@pytest.fixture
def account(live_server: str) -> str:
    """A real account, registered through the API the way an app does it."""
    response = httpx.post(
        f"{live_server}/v1/auth/register",
        json={"email": EMAIL, "password": PASSWORD, "display_name": "Sam"},
        timeout=30,  # a password hash on a busy machine
    )
    assert response.status_code == 201, response.text
    return EMAIL


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _authorize(page: Page, email: str, password: str) -> None:
    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux")
    # One form per OAuth2 flow: the password flow's is the one with a username.
    forms = dialog.locator(".auth-container")
    expect(forms.first).to_be_visible()
    form = next(
        forms.nth(index)
        for index in range(forms.count())
        if forms.nth(index).locator("#oauth_username").count() == 1
    )
    form.locator("#oauth_username").fill(email)
    form.locator("#oauth_password").fill(password)
    form.locator("button.modal-btn.authorize").click()
    # Swagger UI swaps the form for a "Logout" button once the token request succeeded.
    expect(form.locator("button.modal-btn", has_text="Logout")).to_be_visible()
    dialog.locator("button.btn-done").first.click()


def _try_get_me(page: Page) -> str:
    operation = page.locator("#operations-me-get_me")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(status).to_have_text("200")
    return operation.locator(".live-responses-table tr.response .microlight").first.inner_text()


def test_signed_in_person_tries_get_me_from_the_docs(
    live_server: str, account: str, page: Page
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server}/docs")
    _authorize(page, account, PASSWORD)
    body = _try_get_me(page)

    assert account in body
    assert any(urlsplit(url).path == "/v1/auth/token" for url in requested)
    assert any(urlsplit(url).path == "/v1/me" for url in requested)
    elsewhere = [url for url in requested if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert elsewhere == []
