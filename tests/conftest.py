"""Test fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
cleaned before every test, and an app wired to it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from app.access.policy import Role
from app.authoring.content import apply_content
from app.authoring.report import ContentReport
from app.authoring.seed import read_content_dir
from app.catalog.schemas import ContentBundle
from app.core.config import PROJECT_ROOT, Environment, Settings
from app.core.db import Database, create_db_engine
from app.core.migrations import upgrade_to_head
from app.core.models import utcnow
from app.identity import passwords
from app.identity.schemas import RegisterIn
from app.identity.service import register
from app.main import OUTBOX_WORKER, create_app
from app.models import metadata
from tests.mailbox import Mailbox

TEST_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _worker_database(Settings(database_url=url).resolved_database_url, worker_id)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _worker_database(url: str, worker_id: str) -> str:
    """Under pytest-xdist each worker gets a database of its own (`test_gw0`, ...), made
    beside the one named, so workers never empty each other's tables."""
    if worker_id == "master":
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker_id}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        data_dir=data_dir,
        media_dir=data_dir / "media",
        secret_key=TEST_SECRET,
        seed_dir=PROJECT_ROOT / "seed",
        content_poll_seconds=0,
        # tests/scale/ start the relay between instances to test it.
        change_relay="off",
        # Tests drive the webhook worker themselves, step by step.
        webhook_worker=False,
        # Tests change the database behind the API's back; tests/access/test_viewer_cache.py
        # turns the cache on to test it.
        viewer_cache_seconds=0,
        # tests/identity/test_mfa.py turns it on to test it.
        mfa_required_for_staff=False,
    )


def _reset_schema(url: str) -> None:
    """Start every run from an empty database, then migrate it the way production does."""
    engine = create_db_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    _reset_schema(settings.resolved_database_url)
    upgrade_to_head(settings)
    db = Database.from_settings(settings)
    yield db
    db.dispose()


@pytest.fixture
def commits(database: Database) -> Iterator[list[int]]:
    """Every COMMIT the engine sends, as it happens."""
    seen: list[int] = []

    def on_commit(_connection: Any) -> None:
        seen.append(1)

    event.listen(database.engine, "commit", on_commit)
    yield seen
    event.remove(database.engine, "commit", on_commit)


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Empty every table before a test that touches the database."""
    if "database" not in request.fixturenames:
        return
    db: Database = request.getfixturevalue("database")
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            joined = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 (our table names)


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


@pytest.fixture
def remembering_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """An app that remembers a checked viewer for 30 s, as production does for a moment."""
    app = create_app(settings.model_copy(update={"viewer_cache_seconds": 30}), database=database)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def seed_bundle(settings: Settings) -> ContentBundle:
    return read_content_dir(settings.seed_dir)


@pytest.fixture
def seeded(database: Database, seed_bundle: ContentBundle) -> ContentReport:
    """The authored content, loaded as `rehab seed` loads it."""
    with database.write_session() as session:
        return apply_content(session, seed_bundle)


# ---------------------------------------------------------------------------
# People


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """argon2id at test strength: the same algorithm, far less memory and time."""
    original = passwords._hasher
    passwords._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    yield
    passwords._hasher = original


@dataclass
class Person:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_in(client: TestClient | httpx.Client, email: str, password: str) -> dict[str, Any]:
    response = client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


PersonFactory = Callable[..., Person]


@pytest.fixture
def make_person(client: TestClient, database: Database) -> PersonFactory:
    """Create an account with a role, sign it in, and return its tokens."""
    counter = iter(range(1, 1_000_000))

    def make(
        role: Role = Role.MEMBER, *, email: str | None = None, verified: bool = True
    ) -> Person:
        email = email or f"person{next(counter)}@example.com"
        password = "a sturdy passphrase 42"
        with database.write_session() as session:
            user = register(
                session,
                RegisterIn(email=email, password=password, display_name=email.split("@")[0]),
                role=role,
            )
            if verified:
                user.email_verified_at = utcnow()
            assert user.id is not None
            user_id = user.id
        tokens = sign_in(client, email, password)
        return Person(user_id, email, password, tokens["access_token"], tokens["refresh_token"])

    return make


@pytest.fixture
def member(make_person: PersonFactory) -> Person:
    return make_person(Role.MEMBER)


# ---------------------------------------------------------------------------
# Clinics


@dataclass
class ClinicSetup:
    id: int
    owner: Person

    def path(self, suffix: str = "") -> str:
        return f"/v1/clinics/{self.id}{suffix}"


@pytest.fixture
def admin(make_person: PersonFactory) -> Person:
    return make_person(Role.ADMIN)


ClinicFactory = Callable[..., ClinicSetup]


def add_staff(
    client: TestClient,
    clinic_id: int,
    inviter: dict[str, str],
    person: Person,
    role: str = "clinician",
) -> None:
    """`inviter` invites `person` to the clinic's staff, and `person` accepts."""
    invited = client.post(
        f"/v1/clinics/{clinic_id}/staff-invitations",
        headers=inviter,
        json={"email": person.email, "role": role},
    )
    assert invited.status_code == 201, invited.text
    accepted = client.post(
        "/v1/me/staff-invitations", headers=person.headers, json={"code": invited.json()["code"]}
    )
    assert accepted.status_code == 201, accepted.text


@pytest.fixture
def make_clinic(client: TestClient, admin: Person, make_person: PersonFactory) -> ClinicFactory:
    """A clinic made by the admin, with a freshly registered owner."""

    def make(name: str = "Hip Clinic") -> ClinicSetup:
        created = client.post("/v1/clinics", headers=admin.headers, json={"name": name})
        assert created.status_code == 201, created.text
        owner = make_person()
        add_staff(client, created.json()["id"], admin.headers, owner, "owner")
        return ClinicSetup(id=created.json()["id"], owner=owner)

    return make


@pytest.fixture
def clinic(make_clinic: ClinicFactory) -> ClinicSetup:
    return make_clinic()


def invite(client: TestClient, clinic: ClinicSetup) -> str:
    response = client.post(clinic.path("/invitations"), headers=clinic.owner.headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def link(client: TestClient, clinic: ClinicSetup, patient: Person) -> None:
    response = client.post(
        "/v1/me/clinic-links", headers=patient.headers, json={"code": invite(client, clinic)}
    )
    assert response.status_code == 201, response.text


LinkedPatientFactory = Callable[[ClinicSetup], Person]


@pytest.fixture
def make_linked_patient(client: TestClient, make_person: PersonFactory) -> LinkedPatientFactory:
    def make(clinic: ClinicSetup) -> Person:
        patient = make_person()
        link(client, clinic, patient)
        return patient

    return make


def create_api_client(
    client: TestClient, clinic: ClinicSetup, scopes: list[str]
) -> tuple[int, dict[str, str]]:
    """Create an API client with `scopes`; return its id and bearer headers for its token."""
    created = client.post(
        clinic.path("/api-clients"),
        headers=clinic.owner.headers,
        json={"name": "Practice system", "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    token = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    api_client_id: int = body["id"]
    return api_client_id, {"Authorization": f"Bearer {token.json()['access_token']}"}


def api_client_token(client: TestClient, clinic: ClinicSetup, scopes: list[str]) -> dict[str, str]:
    """Bearer headers for a new API client of `clinic` with `scopes`."""
    return create_api_client(client, clinic, scopes)[1]


# ---------------------------------------------------------------------------
# Mail: a real SMTP server, and an app that sends its outbox to it


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@dataclass
class MailApp:
    """An app whose mail goes over SMTP to `mailbox`; `deliver()` runs its outbox worker."""

    client: TestClient
    mailbox: Mailbox

    def deliver(self) -> int:
        return OUTBOX_WORKER.of_app(self.client.app).run_once()


@pytest.fixture
def mail_app(settings: Settings, database: Database, mailbox: Mailbox) -> Iterator[MailApp]:
    smtp = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_security": "none",
            "app_name": "Rehab",
            "app_link_base": "https://app.example.com/open",
        }
    )
    with TestClient(create_app(smtp, database=database)) as test_client:
        yield MailApp(test_client, mailbox)
