"""Request pieces shared by the content management routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1000,
        description="The ETag of the document as you read it (required; 428 without, "
        "412 when it changed since).",
    ),
]
