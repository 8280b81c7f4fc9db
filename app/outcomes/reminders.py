"""Reminders: `reminder.due` once at each local time, skipping days already done.

Occurrences are worked out per local date with `zoneinfo`: each date gives one
moment, so a clock change neither doubles a reminder nor drops one. A local
time the spring change skips (02:30 on that night) comes at the same wall-clock
distance after the change (03:30); one the autumn change repeats comes the
first time. The sweep (`send_due`, run every 30 s by whatever sends the outbox,
see `app.outcomes.sweeps`, or with any `now` in the tests) takes the reminders
whose moment has come; one more than an hour late (the sweep was down) is
skipped rather than sent out of time.
A reminder goes to the person's address through the mail outbox, written in
the same transaction that moves it on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from app.core.errors import InvalidInputError, NotFoundError
from app.core.models import as_utc
from app.identity.models import User
from app.outbox.mail import Mail, enqueue_mail
from app.outcomes.models import Reminder
from app.outcomes.schemas import ReminderIn
from app.progress.models import SessionLog

MAX_REMINDERS = 10
LATE = timedelta(hours=1)
KIND = "reminder.due"


def next_occurrence(*, at: time, weekdays: list[int], zone: ZoneInfo, after: datetime) -> datetime:
    """The first moment after `after` when it is `at` on one of `weekdays` in `zone`."""
    first = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(9):
        day = first + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if moment > after:
            return moment
    raise ValueError("no weekday given")  # ReminderIn requires at least one


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError.for_field("body.timezone", f"Unknown time zone '{name}'.") from exc


def _parts(reminder: Reminder) -> tuple[time, ZoneInfo]:
    return time.fromisoformat(reminder.local_time), ZoneInfo(reminder.timezone)


def create(session: Session, *, user_id: int, body: ReminderIn, now: datetime) -> Reminder:
    zone = _zone(body.timezone)
    count = len(session.exec(select(Reminder.id).where(col(Reminder.user_id) == user_id)).all())
    if count >= MAX_REMINDERS:
        raise InvalidInputError.for_field("body", f"At most {MAX_REMINDERS} reminders.")
    weekdays = sorted(set(body.weekdays))
    reminder = Reminder(
        user_id=user_id,
        local_time=body.local_time,
        weekdays=weekdays,
        timezone=body.timezone,
        next_due_at=next_occurrence(
            at=time.fromisoformat(body.local_time), weekdays=weekdays, zone=zone, after=now
        ),
        created_at=now,
    )
    session.add(reminder)
    session.flush()
    return reminder


def of_person(session: Session, user_id: int) -> list[Reminder]:
    return list(
        session.exec(
            select(Reminder).where(col(Reminder.user_id) == user_id).order_by(col(Reminder.id))
        ).all()
    )


def delete(session: Session, *, user_id: int, reminder_id: int) -> None:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.user_id != user_id:
        raise NotFoundError("No such reminder.")
    session.delete(reminder)


def send_due(session: Session, *, now: datetime) -> int:
    """Queue every reminder whose moment has come; returns how many were queued."""
    sent = 0
    due = session.exec(
        select(Reminder, User)
        .join(User, col(User.id) == Reminder.user_id)
        .where(col(Reminder.next_due_at) <= now)
        .order_by(col(Reminder.next_due_at), col(Reminder.id))
        .with_for_update(of=Reminder, skip_locked=True)  # one sweep per reminder
    ).all()
    for reminder, user in due:
        at, zone = _parts(reminder)
        moment = as_utc(reminder.next_due_at)
        local_day = moment.astimezone(zone).date()
        if now - moment <= LATE and not _done_on(session, user.id, local_day, zone):
            enqueue_mail(session, mail=_mail(user, reminder), user_id=user.id, now=now)
            sent += 1
        reminder.next_due_at = next_occurrence(
            at=at, weekdays=reminder.weekdays, zone=zone, after=max(moment, now)
        )
        session.add(reminder)
    return sent


def _done_on(session: Session, user_id: int | None, day: date, zone: ZoneInfo) -> bool:
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    found = session.exec(
        select(SessionLog.id)
        .where(
            col(SessionLog.user_id) == user_id,
            col(SessionLog.deleted_at).is_(None),
            col(SessionLog.performed_at) >= start,
            col(SessionLog.performed_at) < end,
        )
        .limit(1)
    ).first()
    return found is not None


def _mail(user: User, reminder: Reminder) -> Mail:
    text = (
        f"Hello {user.display_name},\n\nIt is {reminder.local_time}: time for today's "
        "exercises. Open the app to see what today holds.\n"
    )
    return Mail(
        to=user.email,
        subject="Time for today's exercises",
        text=text,
        html="<p>" + escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>",
        kind=KIND,
    )
