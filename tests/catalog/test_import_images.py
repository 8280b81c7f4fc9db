"""Imported exercises link a thumbnail only when the image can be served.

free-exercise-db records name image files; without the library's image
folder those links answer 404, so an exercise gets a thumbnail only when its
image was copied into the media folder.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.authoring.importer import ImageFolder, import_free_exercise_db
from app.core.config import Settings
from app.core.db import Database
from tests.catalog.test_importer import fedb_record, write_library

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


def image_folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "exercises"
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(JPEG)
    return folder


def run_import(database: Database, library: Path, images: ImageFolder | None) -> None:
    with database.write_session() as session:
        import_free_exercise_db(session, library, images=images)


def test_an_image_in_the_folder_becomes_a_thumbnail_anyone_can_fetch(
    client: TestClient, database: Database, settings: Settings, tmp_path: Path
) -> None:
    library = write_library(tmp_path, [fedb_record("Good_Morning"), fedb_record("Plank")])
    folder = ImageFolder(image_folder(tmp_path, "Good_Morning/0.jpg"), settings.media_dir)

    run_import(database, library, folder)

    items = {
        item["slug"]: item
        for item in client.get("/v1/exercises", params={"source": "imported"}).json()["items"]
    }
    assert items["fedb-plank"]["thumbnail_url"] is None  # its image is not in the folder
    url = items["fedb-good-morning"]["thumbnail_url"]
    assert url.endswith("/media/free-exercise-db/Good_Morning/0.jpg")
    image = client.get(url)
    assert image.status_code == 200
    assert image.content == JPEG


def test_every_thumbnail_link_of_an_import_without_images_is_absent(
    client: TestClient, database: Database, tmp_path: Path
) -> None:
    library = write_library(tmp_path, [fedb_record(f"Move_{n}") for n in range(3)])

    run_import(database, library, None)

    items = client.get("/v1/exercises", params={"source": "imported"}).json()["items"]
    assert len(items) == 3
    assert [item["thumbnail_url"] for item in items] == [None, None, None]


def test_reimporting_with_the_images_adds_the_thumbnails_in_place(
    client: TestClient, database: Database, settings: Settings, tmp_path: Path
) -> None:
    library = write_library(tmp_path, [fedb_record("Plank")])
    run_import(database, library, None)

    run_import(
        database, library, ImageFolder(image_folder(tmp_path, "Plank/0.jpg"), settings.media_dir)
    )

    [item] = client.get("/v1/exercises", params={"source": "imported"}).json()["items"]
    assert item["slug"] == "fedb-plank"
    assert client.get(item["thumbnail_url"]).status_code == 200


def test_an_image_name_that_leaves_the_folder_is_not_copied(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "secret.jpg").write_bytes(JPEG)
    folder = ImageFolder(image_folder(tmp_path), settings.media_dir)

    assert folder.thumbnail("../secret.jpg") is None
    assert folder.thumbnail("exercises/../../secret.jpg") is None
    assert folder.thumbnail("/etc/passwd") is None
    assert not (settings.media_dir / "secret.jpg").exists()
