"""The authored content and `apply_content`: complete, idempotent, validated whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.authoring.content import apply_content
from app.authoring.report import ContentError, ContentReport
from app.authoring.seed import read_content_dir
from app.catalog.loading import read_content_version
from app.catalog.models import Exercise, Program, Stage, StageExercise
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from tests.factories import condition, exercise, program


def apply(database: Database, bundle: ContentBundle) -> ContentReport:
    with database.write_session() as session:
        return apply_content(session, bundle)


def bundle_of(**parts: list[dict[str, object]]) -> ContentBundle:
    return ContentBundle.model_validate(parts)


class TestAuthoredContent:
    def test_has_at_least_forty_distinct_fully_written_exercises(
        self, seed_bundle: ContentBundle
    ) -> None:
        assert len({e.slug for e in seed_bundle.exercises}) >= 40
        for item in seed_bundle.exercises:
            for field in ("instructions", "cues", "mistakes", "precautions"):
                assert getattr(item, field), f"{item.slug} has no {field}"
            assert item.video, item.slug
            assert item.thumbnail, item.slug

    def test_every_exercise_is_used_by_a_program(self, seed_bundle: ContentBundle) -> None:
        used = {i.exercise for p in seed_bundle.programs for s in p.stages for i in s.exercises}
        assert {e.slug for e in seed_bundle.exercises} == used

    def test_every_condition_has_a_disclaimer(self, seed_bundle: ContentBundle) -> None:
        assert all(c.disclaimer for c in seed_bundle.conditions)


class TestIdempotence:
    def test_applying_unchanged_content_writes_nothing(
        self, database: Database, seed_bundle: ContentBundle, seeded: ContentReport
    ) -> None:
        assert seeded.changed
        with database.read_session() as session:
            version = read_content_version(session)
            stamps = {e.slug: e.updated_at for e in session.exec(select(Exercise))}
        again = apply(database, seed_bundle)
        assert not again.changed
        assert sum(again.unchanged.values()) == sum(seeded.unchanged.values()) + sum(
            len(v) for v in seeded.created.values()
        )
        with database.read_session() as session:
            assert read_content_version(session) == version
            assert {e.slug: e.updated_at for e in session.exec(select(Exercise))} == stamps

    def test_editing_content_updates_in_place_and_bumps_the_version(
        self, database: Database, client: TestClient
    ) -> None:
        apply(database, bundle_of(exercises=[exercise("bridge")]))
        with database.read_session() as session:
            before = session.exec(select(Exercise)).one()
            version = read_content_version(session)
        report = apply(database, bundle_of(exercises=[exercise("bridge", name="Better Bridge")]))
        assert report.updated["exercise"] == ["bridge"]
        with database.read_session() as session:
            after = session.exec(select(Exercise)).one()
            assert read_content_version(session) == version + 1
        assert (after.id, after.name) == (before.id, "Better Bridge")
        assert client.get("/v1/exercises/bridge").json()["name"] == "Better Bridge"

    def test_changing_a_stage_keeps_the_stage_row_and_replaces_its_dosage(
        self, database: Database
    ) -> None:
        exercises = [exercise("a"), exercise("b"), exercise("c")]
        conditions = [condition("hip")]
        apply(
            database,
            bundle_of(
                exercises=exercises,
                conditions=conditions,
                programs=[program("p", ["hip"], [["a"], ["b"]])],
            ),
        )
        with database.read_session() as session:
            stage_ids = session.exec(select(Stage.id).order_by(col(Stage.position))).all()
        report = apply(
            database,
            bundle_of(
                exercises=exercises,
                conditions=conditions,
                programs=[program("p", ["hip"], [["a", "c"], ["b"]])],
            ),
        )
        assert report.updated["program"] == ["p"]
        with database.read_session() as session:
            assert session.exec(select(Stage.id).order_by(col(Stage.position))).all() == stage_ids
            first_stage = session.exec(
                select(StageExercise).where(StageExercise.stage_id == stage_ids[0])
            ).all()
            assert len(first_stage) == 2

    def test_dropping_a_stage_removes_it(self, database: Database) -> None:
        parts: dict[str, list[dict[str, object]]] = {
            "exercises": [exercise("a"), exercise("b")],
            "conditions": [condition("hip")],
        }
        apply(database, bundle_of(**parts, programs=[program("p", ["hip"], [["a"], ["b"]])]))
        apply(database, bundle_of(**parts, programs=[program("p", ["hip"], [["a"]])]))
        with database.read_session() as session:
            assert len(session.exec(select(Stage)).all()) == 1


class TestValidation:
    def test_missing_references_are_all_reported_and_nothing_is_written(
        self, database: Database
    ) -> None:
        bad = bundle_of(
            exercises=[exercise("a")],
            conditions=[condition("hip", related=["ghost-condition"])],
            programs=[program("p", ["hip", "other-ghost"], [["a", "ghost-exercise"]])],
        )
        with pytest.raises(ContentError) as caught:
            apply(database, bad)
        text = "\n".join(caught.value.problems)
        for missing in ("ghost-condition", "other-ghost", "ghost-exercise"):
            assert missing in text
        with database.read_session() as session:
            assert session.exec(select(Exercise)).all() == []
            assert session.exec(select(Program)).all() == []

    def test_a_slug_defined_twice_is_refused(self, database: Database) -> None:
        with pytest.raises(ContentError, match="more than once"):
            apply(database, bundle_of(exercises=[exercise("a"), exercise("a")]))

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"slug": "Not A Slug"}, "slug"),
            ({"difficulty": "heroic"}, "difficulty"),
            ({"body_regions": []}, "body_regions"),
            ({"surprise": "field"}, "surprise"),
        ],
    )
    def test_invalid_exercise_fields_are_refused(
        self, overrides: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            bundle_of(exercises=[exercise("a") | overrides])

    def test_stage_positions_must_be_contiguous(self) -> None:
        raw = program("p", ["hip"], [["a"], ["b"]])
        raw["stages"][1]["position"] = 3
        with pytest.raises(ValueError, match="stage positions"):
            bundle_of(programs=[raw])


class TestContentFiles:
    def test_a_broken_file_names_the_file_and_field(self, tmp_path: Path) -> None:
        shutil.copytree(Path(__file__).parents[2] / "seed", tmp_path / "seed")
        target = tmp_path / "seed" / "exercises" / "core.yaml"
        data = yaml.safe_load(target.read_text())
        data["exercises"][0]["difficulty"] = "heroic"
        target.write_text(yaml.safe_dump(data))
        with pytest.raises(ContentError) as caught:
            read_content_dir(tmp_path / "seed")
        assert any("exercises/core.yaml" in p and "difficulty" in p for p in caught.value.problems)

    def test_a_missing_folder_is_reported(self, tmp_path: Path) -> None:
        with pytest.raises(ContentError, match="no such content folder"):
            read_content_dir(tmp_path / "nowhere")


class TestDrafts:
    def test_draft_content_is_invisible_on_every_read_path(
        self, database: Database, client: TestClient
    ) -> None:
        apply(
            database,
            bundle_of(
                exercises=[exercise("public-one"), exercise("secret-one", status="draft")],
                conditions=[condition("hip"), condition("draft-cond", status="draft")],
                programs=[
                    program("p", ["hip", "draft-cond"], [["public-one", "secret-one"]]),
                    program("draft-prog", ["hip"], [["public-one"]], status="draft"),
                ],
            ),
        )
        assert client.get("/v1/exercises/secret-one").status_code == 404
        assert client.get("/v1/conditions/draft-cond").status_code == 404
        assert client.get("/v1/programs/draft-prog").status_code == 404
        listed = client.get("/v1/exercises").json()["items"]
        assert [e["slug"] for e in listed] == ["public-one"]
        assert [c["slug"] for c in client.get("/v1/conditions").json()["items"]] == ["hip"]
        assert [p["slug"] for p in client.get("/v1/programs").json()["items"]] == ["p"]
        detail = client.get("/v1/programs/p").json()
        assert detail["conditions"] == ["hip"]
        assert [i["exercise"]["slug"] for i in detail["stages"][0]["exercises"]] == ["public-one"]
        hip = client.get("/v1/conditions/hip").json()
        assert [p["slug"] for p in hip["programs"]] == ["p"]
