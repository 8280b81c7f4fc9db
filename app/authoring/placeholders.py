"""Stand-in media files for local development.

Authored content names its media by key; the real files come from the
content team (or a CDN via MEDIA_BASE_URL). So that signed links can be tried
end to end on a fresh clone, `rehab seed --placeholder-media` writes a small
labelled stand-in for every key that has no file yet. It never overwrites.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from app.catalog.schemas import ContentBundle


def _png(width: int = 16, height: int = 9, rgb: tuple[int, int, int] = (46, 125, 110)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _video_stub(key: str) -> bytes:
    # An ISO base media `ftyp` box, then a note: enough to identify, not to play.
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0, b"isom", b"mp42")
    return ftyp + f"placeholder for {key}: replace with the real video\n".encode()


def placeholder_for(key: str) -> bytes:
    return _video_stub(key) if key.endswith((".mp4", ".mov", ".webm")) else _png()


def write_placeholder_media(bundle: ContentBundle, media_dir: Path) -> int:
    """Write a stand-in for each media key without a file; return how many were written."""
    written = 0
    root = media_dir.resolve()
    for item in bundle.exercises:
        for key in (item.thumbnail, item.video):
            if key is None:
                continue
            path = (root / key).resolve()
            if not path.is_relative_to(root) or path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(placeholder_for(key))
            written += 1
    return written
