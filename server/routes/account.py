"""The signed-in user's account as a whole: deleting it (``DELETE /v1/me``)
and exporting its data (``GET /v1/me/export``). Both need a token; deletion
also needs the password (checked under the per-user password-check limit),
and export is limited per user (``FABULA_RATE_EXPORT``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import delete, get
from litestar.params import JSONBody
from litestar.response import Stream

from accounts import credentials, passwords
from core import rate_limit
from server.account_deletion import delete_account
from server.account_export import export_zip, stored_media
from server.auth import AUTH, UserDep
from server.media import guarded, media_store
from server.openapi import errors
from server.state import SettingsDep, StoresDep


class AccountDeletion(msgspec.Struct, forbid_unknown_fields=True):
    """The account's password, to confirm."""

    password: Annotated[str, msgspec.Meta(max_length=passwords.MAX_LENGTH)]


@delete("/v1/me", status_code=204, tags=["users"], dependencies=AUTH, responses=errors(401, 403, 429, 503))
async def delete_me(data: JSONBody[AccountDeletion], stores: StoresDep, settings: SettingsDep, user: UserDep) -> None:
    """Delete the signed-in user's account for good: their posts, videos and
    media, likes, comments, shares, follows and blocks, notifications, cameos,
    and every token (their WebSockets close with 4401). Needs the password
    (403 ``wrong_password``); checks are limited per user (429)."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).password_check, user.id, message="too many password checks; try again later")
    await credentials.check_password(stores, user, data.password)
    await delete_account(stores, settings, user)


@get(
    "/v1/me/export",
    tags=["users"],
    dependencies=AUTH,
    media_type="application/zip",
    responses=errors(401, 429, 503),
    response_description="a zip: one JSON file per kind of the user's documents, and their videos",
)
async def export_me(stores: StoresDep, settings: SettingsDep, user: UserDep) -> Stream:
    """A zip of the signed-in user's own data (profile, posts, videos and
    their documents, likes, comments, shares, follows, blocks, notifications,
    cameos, grants, appearances: one JSON file each) and their finished
    videos, streamed. Limited per user (429 with Retry-After). A media store
    that cannot be read is a 503 ``media_unavailable`` before the zip starts."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).export, user.id, message="too many exports; try again later")
    media = media_store(settings)
    files = await guarded("read", stored_media(stores, media, user.id))
    return Stream(
        export_zip(stores, media, user, files),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="fabula-{user.handle}.zip"'},
    )


ROUTES = [delete_me, export_me]
