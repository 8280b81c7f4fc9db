"""Exercise media uploads: streamed to disk, sized and sniffed by content, stored by hash.

A `multipart/form-data` body with one `file` part is parsed as it arrives:
the file's bytes go straight to a temporary file under `MEDIA_DIR` while
being hashed, and reading stops with 413 the moment they pass the limit for
the kind of media, so an oversized upload never lands whole on disk. The type
is decided by the file's first bytes (its magic number), never by its name or
its declared content type. The stored key is `videos/<sha256>.<ext>` (or
`thumbnails/...`): the same bytes always get the same key, so re-uploading
them writes nothing, and a file under a key never changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anyio import to_thread
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError

SNIFF_BYTES = 64
FILE_PART = "file"


@dataclass(frozen=True, slots=True)
class SniffedType:
    extension: str
    media_type: str


def sniff(head: bytes) -> SniffedType | None:
    """The file's real type from its first bytes, or None when it is none we accept."""
    if head[4:8] == b"ftyp" and head[8:12] not in IMAGE_BRANDS:
        return SniffedType("mp4", "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return SniffedType("webm", "video/webm")
    if head.startswith(b"\xff\xd8\xff"):
        return SniffedType("jpg", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SniffedType("png", "image/png")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return SniffedType("webp", "image/webp")
    return None


# ISO media files that are still images (HEIF, AVIF) share MP4's `ftyp` box.
IMAGE_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"})


@dataclass(frozen=True, slots=True)
class MediaRule:
    """What one exercise field accepts: where it is stored, which types, how large."""

    field: str  # the exercise column: "video" or "thumbnail"
    folder: str
    media_types: frozenset[str]
    max_bytes: int

    @property
    def described_types(self) -> str:
        return ", ".join(sorted(self.media_types))


def video_rule(max_bytes: int) -> MediaRule:
    return MediaRule("video", "videos", frozenset({"video/mp4", "video/webm"}), max_bytes)


def thumbnail_rule(max_bytes: int) -> MediaRule:
    types = frozenset({"image/jpeg", "image/png", "image/webp"})
    return MediaRule("thumbnail", "thumbnails", types, max_bytes)


@dataclass
class ReceivedFile:
    """An upload on disk, not yet in place: `store` moves it, `discard` removes it."""

    path: Path
    size: int
    sha256: str
    head: bytes


class _TooLargeError(Exception):
    """Raised from inside the parser to stop reading the body."""


@dataclass
class _FilePartSink:
    """python-multipart callbacks: the `file` part's bytes to `out`, hashed and counted."""

    out: IO[bytes]
    limit: int
    part_names: list[str] = field(default_factory=list)
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    _field: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)
    _headers: dict[str, bytes] = field(default_factory=dict)
    _writing: bool = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        # Only the first `file` part is kept; any other part is refused once parsed.
        self._writing = name == FILE_PART and FILE_PART not in self.part_names
        self.part_names.append(name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing:
            return
        chunk = data[start:end]
        self.size += len(chunk)
        if self.size > self.limit:
            raise _TooLargeError
        if len(self.head) < SNIFF_BYTES:
            self.head.extend(chunk[: SNIFF_BYTES - len(self.head)])
        self.digest.update(chunk)
        self.out.write(chunk)

    def _part_end(self) -> None:
        self._writing = False


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data body; 415 for any other kind of body."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaTypeError(
            f"Send the file as multipart/form-data with one part named '{FILE_PART}'."
        )
    return boundary


def incoming_dir(media_dir: Path) -> Path:
    """Uploads in progress sit next to the media, so moving one into place is a rename."""
    folder = media_dir / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def receive(
    chunks: AsyncIterator[bytes], *, content_type: str | None, media_dir: Path, rule: MediaRule
) -> ReceivedFile:
    """Stream the body's `file` part to a temporary file, stopping at the rule's limit."""
    boundary = multipart_boundary(content_type)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept past this block on success)
        dir=incoming_dir(media_dir), prefix="upload-", delete=False
    )
    path = Path(handle.name)
    sink = _FilePartSink(out=handle, limit=rule.max_bytes)
    parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
    try:
        with handle:
            async for chunk in chunks:
                # Parsing and writing run off the event loop; the parser stops the
                # upload (raising) as soon as the file passes its limit.
                await to_thread.run_sync(parser.write, chunk)
            parser.finalize()
    except _TooLargeError as exc:
        _remove(path)
        raise PayloadTooLargeError(
            f"The {rule.field} is larger than the {rule.max_bytes} bytes allowed.",
            extra={"limit_bytes": rule.max_bytes},
        ) from exc
    except BaseException:
        _remove(path)
        raise
    if sink.part_names != [FILE_PART]:
        _remove(path)
        raise InvalidInputError.for_field(
            f"body.{FILE_PART}",
            f"Send exactly one part, named '{FILE_PART}' (got: {sink.part_names or 'none'}).",
            "missing" if FILE_PART not in sink.part_names else "value_error",
        )
    return ReceivedFile(
        path=path, size=sink.size, sha256=sink.digest.hexdigest(), head=bytes(sink.head)
    )


def check_type(received: ReceivedFile, rule: MediaRule) -> SniffedType:
    """The upload's type by its content: 415 unless the rule accepts it."""
    sniffed = sniff(received.head)
    if sniffed is None or sniffed.media_type not in rule.media_types:
        found = sniffed.media_type if sniffed else "not a recognised media file"
        raise UnsupportedMediaTypeError(
            f"The {rule.field} must be {rule.described_types} (judged by the file's "
            f"content, not its name or declared type); this file is {found}.",
            extra={"accepted": sorted(rule.media_types)},
        )
    return sniffed


def store(received: ReceivedFile, sniffed: SniffedType, *, media_dir: Path, folder: str) -> str:
    """Move the upload into place under its content-addressed key; return the key.

    The rename is atomic, so a reader never sees half a file; when the key
    already exists those exact bytes are there and the upload is dropped.
    """
    key = f"{folder}/{received.sha256}.{sniffed.extension}"
    target = media_dir / key
    if target.is_file():
        discard(received)
        return key
    target.parent.mkdir(parents=True, exist_ok=True)
    received.path.chmod(0o644)  # temporary files start private; media are served
    os.replace(received.path, target)
    return key


def discard(received: ReceivedFile) -> None:
    _remove(received.path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
