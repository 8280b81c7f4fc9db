"""The reference ceiling: the smallest FastAPI app, served exactly like the API.

Targets are ratios to this app measured in the same run, so a slow or busy
machine moves both sides of the ratio alike.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
