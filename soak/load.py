"""`python -m soak.load PLAN`: mixed traffic from a process of its own.

One asyncio worker per connection picks an action at random each turn:
catalogue reads, a member's own reads, clinician reads, new sessions,
replacements and identical replays of its own sessions, sync batches, and
an advance/reset cycle. Every write goes into the record before it is sent
and again when it is acknowledged (see `soak.record`). A transport error (the
server was killed) is counted and ends that worker: its outcome is unknown.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from soak.plan import ADVANCE_PROGRAM, CATALOGUE_PATHS, SESSION_PROGRAM, Member, Plan
from soak.record import Recorder

KEEPALIVE_SECONDS = 1.0
REQUEST_TIMEOUT = 60.0  # longer than the server's own waits, so they show as statuses
RATINGS = ("easy", "moderate", "hard")
Body = dict[str, Any]


@dataclass
class Stats:
    """Answers by action and status; `transport` are requests with no answer at all."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport: Counter[str] = field(default_factory=Counter)
    rejected_items: int = 0

    def as_json(self, *, round_name: str, seconds: float) -> dict[str, Any]:
        by_action: dict[str, dict[str, int]] = {}
        for (action, status), count in sorted(self.statuses.items()):
            by_action.setdefault(action, {})[str(status)] = count
        return {
            "round": round_name,
            "seconds": round(seconds, 2),
            "by_action": by_action,
            "transport_errors": dict(self.transport),
            "rejected_items": self.rejected_items,
        }


@dataclass
class OwnSession:
    """A session this worker created: its id and the last body the server acknowledged."""

    id: str
    version: int
    body: Body


class Worker:
    """One connection's worth of traffic, acting as one member (and as the clinician)."""

    def __init__(
        self,
        plan: Plan,
        member: Member,
        *,
        owns_stage: bool,
        client: httpx.AsyncClient,
        recorder: Recorder,
        stats: Stats,
        rng: random.Random,
    ) -> None:
        self.plan = plan
        self.member = member
        self.owns_stage = owns_stage  # only one worker per member advances: their order is known
        self.client = client
        self.recorder = recorder
        self.stats = stats
        self.rng = rng
        self.sessions: list[OwnSession] = []
        self.completed = False
        self.cut_off = False
        self.member_auth = {"Authorization": f"Bearer {member.token}"}
        self.clinician_auth = {"Authorization": f"Bearer {plan.clinician_token}"}

    async def run(self, deadline: float) -> None:
        actions: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (self.catalogue_read, 30),
            (self.member_read, 10),
            (self.clinician_read, 10),
            (self.put_new, 20),
            (self.put_replacement, 6),
            (self.put_replay, 4),
            (self.sync, 8),
            (self.stage_cycle, 8 if self.owns_stage else 0),
        ]
        moves, weights = zip(*actions, strict=True)
        while time.monotonic() < deadline and not self.cut_off:
            await self.rng.choices(moves, weights=weights)[0]()

    async def call(
        self, action: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            # The server is gone (killed): this worker stops, as a phone that lost its
            # connection queues its writes; what it had in flight is the unknown outcome.
            self.stats.transport[f"{action}: {type(exc).__name__}"] += 1
            self.cut_off = True
            return None
        self.stats.statuses[(action, response.status_code)] += 1
        return response

    # -- reads -----------------------------------------------------------

    async def catalogue_read(self) -> None:
        signed_in = self.rng.random() < 0.5
        await self.call(
            "catalogue",
            "GET",
            self.rng.choice(CATALOGUE_PATHS),
            headers=self.member_auth if signed_in else {},
        )

    async def member_read(self) -> None:
        path = self.rng.choice(("/v1/me/progress", "/v1/me/sessions?limit=20", "/v1/me"))
        await self.call("member_read", "GET", path, headers=self.member_auth)

    async def clinician_read(self) -> None:
        patient = f"/v1/clinics/{self.plan.clinic_id}/patients/{self.member.user_id}"
        path = self.rng.choice(
            (
                f"/v1/clinics/{self.plan.clinic_id}/patients",
                patient,
                f"{patient}/sessions",
                f"{patient}/progress",
            )
        )
        await self.call("clinician_read", "GET", path, headers=self.clinician_auth)

    # -- sessions --------------------------------------------------------

    def new_body(self, version: int) -> Body:
        count = self.rng.randint(1, len(self.plan.stage1_exercises))
        flare_up = self.rng.random() < 0.1  # a few reports at or above the limit
        low, high = (self.plan.pain_limit, 8) if flare_up else (0, self.plan.pain_limit - 2)
        performed = datetime.now(UTC) - timedelta(minutes=self.rng.randint(0, 600))
        return {
            "program": SESSION_PROGRAM,
            "stage": 1,
            "performed_at": performed.isoformat(timespec="seconds"),
            "note": f"version {version}",  # every version differs from the one before
            "entries": [
                {
                    "exercise": slug,
                    "sets_done": self.rng.randint(1, 4),
                    "reps_done": self.rng.randint(5, 15),
                    "difficulty": self.rng.choice(RATINGS),
                    "pain": self.rng.randint(low, high),
                }
                for slug in self.rng.sample(self.plan.stage1_exercises, count)
            ],
        }

    def record(self, phase: str, session_id: str, version: int, body: Body, emits: bool) -> None:
        self.recorder.session(
            "ack" if phase == "ack" else "sent",
            session_id=session_id,
            user_id=self.member.user_id,
            version=version,
            entries=len(body["entries"]),
            pain=max(entry["pain"] for entry in body["entries"]),
            emits=emits,
            body=body if phase == "sent" else None,
        )

    async def put(self, action: str, session_id: str, version: int, body: Body) -> int | None:
        """PUT one version; its status when acknowledged, None otherwise."""
        self.record("sent", session_id, version, body, emits=False)
        response = await self.call(
            action, "PUT", f"/v1/me/sessions/{session_id}", json=body, headers=self.member_auth
        )
        if response is None or not response.is_success:
            return None
        # A new or different body queues session.logged; an identical replay does not.
        emits = response.status_code == 201 or action == "put_replacement"
        self.record("ack", session_id, version, body, emits=emits)
        return response.status_code

    async def put_new(self) -> None:
        session_id, body = str(uuid.uuid4()), self.new_body(1)
        if await self.put("put_new", session_id, 1, body) is not None:
            self.sessions.append(OwnSession(session_id, 1, body))

    async def put_replacement(self) -> None:
        if not self.sessions:
            return await self.put_new()
        own = self.rng.choice(self.sessions)
        body = self.new_body(own.version + 1)
        if await self.put("put_replacement", own.id, own.version + 1, body) is not None:
            own.version, own.body = own.version + 1, body
        return None

    async def put_replay(self) -> None:
        """The same body again, as a phone retrying after a lost answer: never a duplicate."""
        if not self.sessions:
            return await self.put_new()
        own = self.rng.choice(self.sessions)
        await self.put("put_replay", own.id, own.version, own.body)
        return None

    async def sync(self) -> None:
        batch = [(str(uuid.uuid4()), self.new_body(1)) for _ in range(self.rng.randint(2, 5))]
        for session_id, body in batch:
            self.record("sent", session_id, 1, body, emits=False)
        response = await self.call(
            "sync",
            "POST",
            "/v1/me/sessions/sync",
            json={"sessions": [{"id": sid, **body} for sid, body in batch]},
            headers=self.member_auth,
        )
        if response is None or not response.is_success:
            return
        bodies = dict(batch)
        for result in response.json()["results"]:
            if result["status"] == "rejected":
                self.stats.rejected_items += 1
                continue
            body = bodies[result["id"]]
            self.record("ack", result["id"], 1, body, emits=result["status"] != "unchanged")
            self.sessions.append(OwnSession(result["id"], 1, body))

    # -- stages ----------------------------------------------------------

    async def stage_cycle(self) -> None:
        """Advance (one stage, no time rule: it completes), then the clinician resets it."""
        if self.completed:
            await self.reset()
        else:
            await self.advance()

    async def advance(self) -> None:
        user_id = self.member.user_id
        self.recorder.stage("sent", user_id=user_id, program=ADVANCE_PROGRAM, action="advance")
        response = await self.call(
            "advance",
            "POST",
            f"/v1/me/enrollments/{ADVANCE_PROGRAM}/advance",
            headers=self.member_auth,
        )
        if response is None:
            return
        if response.status_code == 409:  # already completed (a previous round's advance)
            self.completed = True
        elif response.is_success:
            self.recorder.stage("ack", user_id=user_id, program=ADVANCE_PROGRAM, action="advance")
            self.completed = True

    async def reset(self) -> None:
        user_id = self.member.user_id
        self.recorder.stage("sent", user_id=user_id, program=ADVANCE_PROGRAM, action="reset")
        response = await self.call(
            "reset_stage",
            "PUT",
            f"/v1/clinics/{self.plan.clinic_id}/patients/{user_id}/enrollments/"
            f"{ADVANCE_PROGRAM}/stage",
            json={"stage": 1, "reason": "Starting the stretches again."},
            headers=self.clinician_auth,
        )
        if response is not None and response.is_success:
            self.recorder.stage("ack", user_id=user_id, program=ADVANCE_PROGRAM, action="reset")
            self.completed = False


async def drive(plan: Plan, recorder: Recorder) -> Stats:
    stats = Stats()
    connections = plan.connections
    # An idle connection is dropped well before uvicorn's keep-alive timeout (5 s), or a
    # request sent just as the server closes it would fail for the client's reasons.
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    seed = plan.extra.get("seed", 0)
    async with httpx.AsyncClient(
        base_url=plan.base_url, limits=limits, timeout=REQUEST_TIMEOUT
    ) as client:
        members = plan.members
        workers = [
            Worker(
                plan,
                members[i % len(members)],
                owns_stage=i < len(members),
                client=client,
                recorder=recorder,
                stats=stats,
                rng=random.Random(f"{seed}-{plan.round_name}-{i}"),  # noqa: S311 (test traffic)
            )
            for i in range(connections)
        ]
        deadline = time.monotonic() + plan.seconds
        await asyncio.gather(*(worker.run(deadline) for worker in workers))
    return stats


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m soak.load PLAN.json", file=sys.stderr)
        return 2
    plan = Plan.read(Path(args[0]))
    started = time.monotonic()
    # The record is appended to with plain writes: each line is flushed before the next request.
    with Path(plan.record_file).open("a", encoding="utf-8") as handle:
        stats = asyncio.run(drive(plan, Recorder(handle)))
    summary = stats.as_json(round_name=plan.round_name, seconds=time.monotonic() - started)
    Path(plan.summary_file).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
