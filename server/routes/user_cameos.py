"""A user's cameos, as others see them: what a profile's cameos tab lists,
and where the app finds a cameo to ask for or to mention."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath

from accounts import users
from accounts.graph import is_blocked_between
from cameos import store
from server.auth import AUTH, UserDep
from server.cameo_views import CameoList, cameo_views
from server.openapi import errors
from server.state import StoresDep


@get("/v1/users/{handle:str}/cameos", dependencies=AUTH, responses=errors(401, 404), tags=["cameos"])
async def user_cameos(handle: FromPath[str], stores: StoresDep, user: UserDep) -> CameoList:
    """The user's cameo and characters, oldest first, each with ``my_grant`` (where my
    request stands); 404 for an unknown handle and across a block. The owner's
    preferences are shown to the owner only, as ``GET /v1/cameos/{id}`` does."""
    target = await users.get_by_handle(stores, handle)
    if target is None or (target.id != user.id and await is_blocked_between(stores, user.id, target.id)):
        raise users.no_such_user()
    return CameoList(data=await cameo_views(stores, await store.list_owned(stores, target.id), user.id))


ROUTES = [user_cameos]
