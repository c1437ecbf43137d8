"""Cameos over HTTP: liveness challenges, recording a cameo, its settings,
requests and grants, appearances, and the OpenAI Videos API's characters.

Who may do what:

- anyone signed in may ask for challenges, record their own cameo and
  characters, read a cameo (404 when it does not exist or a block stands
  between them and its owner) and ask to use it;
- only the owner may change or delete a cameo, list and answer its requests
  and grants, and list or remove its appearances (403 ``not_cameo_owner``
  otherwise).

Uploads (``POST /v1/cameos``, ``POST /v1/videos/characters``) are
multipart/form-data read as they arrive into a temporary file
(``server.streamed_form``): past ``FABULA_CAMEO_MAX_UPLOAD_BYTES`` (50 MB)
the answer is 413 before the rest is read; the file is gone when the
request ends, and only what the cameo needs is kept. The checks themselves
run in a process pool (``cameos.verification``), off the event loop. Before
any of it, every attempt counts against ``FABULA_RATE_CAMEO_UPLOADS`` and one
user has at most ``UPLOADS_AT_ONCE`` recordings in flight (``_upload_slot``).

A used or expired challenge is 410 (``challenge_used`` /
``challenge_expired``): the request was well formed, the challenge is gone
for good, and the client's next step is a new challenge. A face that is
another account's cameo is 409 ``likeness_taken``: it conflicts with an
existing cameo (the attempt is logged for review).

The requester hears of answers and the owner of requests and uses through
notifications (``feed.social.notifications``, pushed live on the WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal

from litestar import Request, delete, get, patch, post
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from accounts import minors
from accounts.users import User
from cameos import appearances, challenges, deletion, grants, onboarding, store
from cameos.challenges import Challenge
from cameos.errors import cameo_not_found, invalid_recording, not_owner
from core import rate_limit
from core.errors import Forbidden, NotFound, PolicyViolation, RateLimited
from core.settings import Settings
from core.stores import Stores
from core.text import LINE_SCHEMA
from feed import audit, publishing
from feed.social import notifications
from feed.social import posts as feed_posts
from feed.social.authors import authors
from gen import jobs, previews
from gen.cancel import cancel_job
from policy.prompt import moderate_prompt
from server.auth import AUTH, UserDep
from server.cameo_views import (
    AppearancePage,
    AppearanceRemoved,
    AppearanceView,
    CameoChanges,
    CameoDeleted,
    CameoList,
    CameoView,
    CharacterObject,
    GrantPage,
    GrantView,
    cameo_view,
    cameo_views,
    character_object,
    check_line,
    grant_views,
    owned_cameo,
    visible_cameo,
)
from server.media import guarded, media_store
from server.body import field_error
from server.openapi import errors, openai_errors
from server.state import SettingsDep, StoresDep
from server.streamed_form import streamed_form

Limit = Annotated[int, Parameter(ge=1, le=100, description="page size, 1 to 100")]
Cursor = Annotated[str | None, Parameter(max_length=64, description="next_cursor of the previous page")]
StateFilter = Annotated[
    str | None,
    QueryParameter(name="state", pattern="^(requested|approved|declined|revoked)$", description="only grants in this state"),
]
Direction = Annotated[str, Parameter(pattern="^(incoming|outgoing)$", description="incoming: requests for my cameos; outgoing: mine")]

UPLOAD_FILES = ("video",)


def _form_operation(properties: dict[str, Schema], required: list[str]) -> type[Operation]:
    schema = Schema(type="object", required=required, properties=properties)

    @dataclass
    class FormOperation(Operation):
        # a dataclass again, so that its __init__ calls __post_init__ (Operation's does not)
        def __post_init__(self) -> None:
            self.request_body = RequestBody(required=True, content={"multipart/form-data": OpenAPIMediaType(schema=schema)})

    return FormOperation


_VIDEO = Schema(type="string", format="binary", description="a WebM or MP4 recording with sound, at most 30 s and 50 MB")
_CHALLENGE = Schema(type="string", description="the id of a challenge from POST /v1/cameos/challenges")
CreateCameoOperation = _form_operation(
    {"challenge_id": _CHALLENGE, "name": Schema(type="string", description="1 to 50 characters, one line; my handle if left out", pattern=LINE_SCHEMA["pattern"], min_length=1, max_length=store.NAME_MAX), "video": _VIDEO},
    ["challenge_id", "video"],
)
CreateCharacterOperation = _form_operation(
    {
        "name": Schema(
            type="string", description="1 to 50 characters, one line; its mention name is made from it",
            pattern=LINE_SCHEMA["pattern"], min_length=1, max_length=store.NAME_MAX,
        ),
        "video": Schema(type="string", format="binary", description="a video of the character, at most 30 s and 50 MB"),
        "challenge_id": Schema(type="string", description="required when the video shows a human face: a liveness challenge it was recorded with"),
    },
    ["name", "video"],
)


def _name(form_fields: dict[str, str], default: str | None = None) -> str:
    name = form_fields.get("name", default)
    if name is None:
        raise field_error("name", "give the cameo a name")
    name = name.strip()
    try:
        check_line("name", name)
    except ValueError as exc:
        raise field_error("name", str(exc).removeprefix("name: ")) from None
    if len(name) > store.NAME_MAX:
        raise field_error("name", f"must be at most {store.NAME_MAX} characters")
    return name


def _upload(form, field: str = "video"):
    upload = form.files.get(field)
    if upload is None:
        raise field_error(field, "send the recording as this file field")
    if upload.size == 0:  # sent, but nothing in it: no video to read
        raise invalid_recording("the file is empty")
    return upload


# --- challenges and recording --------------------------------------------------------------


@post("/v1/cameos/challenges", dependencies=AUTH, status_code=201, responses=errors(401, 429), tags=["cameos"])
async def new_challenge(stores: StoresDep, user: UserDep) -> Challenge:
    """A one-time liveness challenge: say ``digits`` out loud and turn your head
    through ``moves`` (your own left and right, in that order) while you record.
    It can be used once, within 3 minutes (``expires_at``, unix seconds)."""
    return await challenges.new_challenge(stores, user.id)


UPLOADS_AT_ONCE = 2  # recordings of one user being received or checked at once, per api process
_uploading: dict[str, int] = {}


@asynccontextmanager
async def _upload_slot(stores: Stores, user: User) -> AsyncIterator[None]:
    """Every recording sent counts (``FABULA_RATE_CAMEO_UPLOADS``, 429 ``rate_limited``), before its
    body is read, and one user has at most ``UPLOADS_AT_ONCE`` in flight (429
    ``recording_in_progress``): the checks share one process pool, and one person's flood must not
    leave everyone else ``cameos_busy``."""
    if _uploading.get(user.id, 0) >= UPLOADS_AT_ONCE:
        raise RateLimited(
            f"{UPLOADS_AT_ONCE} of your recordings are being checked; wait for their answers",
            code="recording_in_progress",
            headers={"Retry-After": "5"},
        )
    _uploading[user.id] = _uploading.get(user.id, 0) + 1
    try:
        await rate_limit.enforce(
            stores, rate_limit.rules(stores.settings).cameo_uploads, user.id, message="too many recordings; try again later"
        )
        yield
    finally:
        left = _uploading.pop(user.id) - 1
        if left:
            _uploading[user.id] = left


@asynccontextmanager
async def _audited_upload(stores: Stores, user: User) -> AsyncIterator[None]:
    """A recording that moderation refuses (422 ``moderation_blocked``) leaves an audit entry."""
    try:
        yield
    except PolicyViolation as exc:
        if exc.code == "moderation_blocked":
            details = exc.details if isinstance(exc.details, dict) else {}
            await audit.upload_refused(stores, user.id, details.get("category"), exc.message, str(details.get("field") or "video"))
        raise


@post(
    "/v1/cameos",
    dependencies=AUTH,
    status_code=201,
    operation_class=CreateCameoOperation,
    responses=errors(401, 409, 410, 413, 415, 422, 429, 503),
    tags=["cameos"],
    request_max_body_size=None,  # streamed_form applies the upload limit
)
async def create_cameo(request: Request, stores: StoresDep, settings: SettingsDep, user: UserDep) -> CameoView:
    """Record my cameo: a recording of me answering a challenge, checked live
    (digits heard, head turns seen in order, one live face whose lips move
    with the speech, the same person throughout) and against every other
    account's cameo. 422 ``liveness_failed`` says in ``details`` what was seen."""
    async with _upload_slot(stores, user), streamed_form(request, files=UPLOAD_FILES, max_file_bytes=settings.cameo_max_upload_bytes) as form:
        name = _name(form.fields, default=user.handle)
        challenge_id = form.fields.get("challenge_id")
        if not challenge_id:
            raise field_error("challenge_id", "send the challenge_id the recording answers")
        upload = _upload(form)
        async with _audited_upload(stores, user):
            cameo = await onboarding.create_human_cameo(
                stores, media_store(settings), settings, user_id=user.id, name=name, challenge_id=challenge_id, path=str(upload.path)
            )
    return await cameo_view(stores, cameo, user.id)


@post(
    "/v1/videos/characters",
    dependencies=AUTH,
    status_code=200,
    operation_class=CreateCharacterOperation,
    responses=openai_errors(401, 409, 410, 413, 415, 422, 429, 503),
    tags=["videos", "cameos"],
    request_max_body_size=None,
)
async def create_character(request: Request, stores: StoresDep, settings: SettingsDep, user: UserDep) -> CharacterObject:
    """A character from a video (the OpenAI SDK's ``create_character``). A video
    that shows a human face must answer a liveness challenge (send its
    ``challenge_id``; 422 ``liveness_required`` without one); a video without a
    face (a pet, a toy, a drawn figure) is checked to show none and kept as it is.
    Prompts name it ``@handle.<name>``."""
    async with _upload_slot(stores, user), streamed_form(request, files=UPLOAD_FILES, max_file_bytes=settings.cameo_max_upload_bytes) as form:
        name = _name(form.fields)
        upload = _upload(form)
        async with _audited_upload(stores, user):
            cameo = await onboarding.create_character(
                stores,
                media_store(settings),
                settings,
                user_id=user.id,
                name=name,
                path=str(upload.path),
                challenge_id=form.fields.get("challenge_id") or None,
            )
    return character_object(cameo, user.handle)


@get(
    "/v1/videos/characters/{character_id:str}",
    dependencies=AUTH,
    responses=openai_errors(401, 404),
    tags=["videos", "cameos"],
)
async def get_character(character_id: FromPath[str], stores: StoresDep, user: UserDep) -> CharacterObject:
    """A character (the OpenAI SDK's ``get_character``): any cameo I can see."""
    cameo = await visible_cameo(stores, character_id, user)
    found = await authors(stores, [cameo.owner_id])
    owner = found.get(cameo.owner_id)
    return character_object(cameo, owner.handle if owner else None)


# --- a cameo and its settings ----------------------------------------------------------------


@get("/v1/cameos/{cameo_id:str}", dependencies=AUTH, responses=errors(401, 404), tags=["cameos"])
async def read_cameo(cameo_id: FromPath[str], stores: StoresDep, user: UserDep) -> CameoView:
    """A cameo: all of it to its owner; to others without the owner's preferences,
    with ``my_grant`` saying where my request stands."""
    return await cameo_view(stores, await visible_cameo(stores, cameo_id, user), user.id)


@get("/v1/me/cameos", dependencies=AUTH, responses=errors(401), tags=["cameos"])
async def my_cameos(stores: StoresDep, user: UserDep) -> CameoList:
    """My cameo and my characters, oldest first."""
    return CameoList(data=await cameo_views(stores, await store.list_owned(stores, user.id), user.id))


@patch("/v1/cameos/{cameo_id:str}", dependencies=AUTH, responses=errors(401, 403, 404, 422, 429), tags=["cameos"])
async def change_cameo(cameo_id: FromPath[str], data: JSONBody[CameoChanges], stores: StoresDep, user: UserDep) -> CameoView:
    """Change my cameo: ``permission`` (only_me, approved, mutuals, everyone),
    ``paused`` (no new uses, mine included), ``preferences`` (up to 5
    instructions added to every prompt that uses it), ``restrictions``
    (topics it must never appear in, checked against every prompt of others),
    ``name``. A change applies to the next use, queued videos included.
    An account under 18 cannot choose ``everyone`` (403 ``cameo_level_not_allowed``)
    and its preferences are moderated with the strict thresholds.
    ``FABULA_RATE_CAMEO_EDITS`` limits the changes (429)."""
    await rate_limit.enforce(
        stores, rate_limit.rules(stores.settings).cameo_edits, user.id, message="too many cameo changes; try again later"
    )
    await owned_cameo(stores, cameo_id, user)
    changes = data.changes()
    minor = await minors.is_minor_user(stores, user.id)
    if minor and changes.get("permission") == "everyone":
        raise Forbidden(
            "an account under 18 cannot open its cameos to everyone; choose only_me, approved or mutuals",
            code="cameo_level_not_allowed",
            details={"permission": "everyone", "allowed": ["only_me", "approved", "mutuals"]},
        )
    for preference in changes.get("preferences", []):
        decision = await asyncio.to_thread(moderate_prompt, preference, strict=minor)  # CPU work: off the event loop
        if not decision.allowed:
            raise PolicyViolation(
                decision.reason or "refused", code="preference_refused", details={"category": decision.category}
            )
    updated = await store.update_cameo(stores, cameo_id, user.id, changes) if changes else await store.get_cameo(stores, cameo_id)
    if updated is None:
        raise cameo_not_found(cameo_id)
    for what in ("permission", "paused"):
        if what in changes:
            await audit.cameo_changed(stores, user.id, cameo_id, what, {what: changes[what]})
    return await cameo_view(stores, updated, user.id)


@delete("/v1/cameos/{cameo_id:str}", dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 503), tags=["cameos"])
async def delete_cameo(cameo_id: FromPath[str], stores: StoresDep, settings: SettingsDep, user: UserDep) -> CameoDeleted:
    """Delete my cameo: its embedding, reference frames, voice sample, settings and
    grants go at once, everywhere. The videos it appears in are listed in
    ``appearances``; I can still remove them one by one."""
    cameo = await owned_cameo(stores, cameo_id, user)
    await guarded("delete", deletion.delete_cameo(stores, media_store(settings), cameo.id))
    await notifications.delete_for_cameo(stores, cameo.id)
    left, _ = await appearances.list_for_cameo(stores, cameo.id, limit=appearances.MAX_LIMIT)
    return CameoDeleted(id=cameo.id, appearances=[a.video_id for a in left])


# --- requests and grants ------------------------------------------------------------------


@post("/v1/cameos/{cameo_id:str}/requests", dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 429), tags=["cameos"])
async def request_cameo(cameo_id: FromPath[str], stores: StoresDep, user: UserDep) -> GrantView:
    """Ask the owner to let me use their cameo. Asking again while a request
    waits, or once approved, changes nothing; after a decline or a revocation
    it asks anew. The owner is notified."""
    cameo = await visible_cameo(stores, cameo_id, user)
    if cameo.permission == "only_me" and cameo.owner_id != user.id:
        raise Forbidden("this cameo is for its owner alone and takes no requests", code="requests_closed")
    grant, changed = await grants.request(stores, cameo_id=cameo.id, owner_id=cameo.owner_id, user_id=user.id)
    if changed:
        await notifications.notify(stores, recipient_id=cameo.owner_id, actor_id=user.id, kind="cameo_request", cameo_id=cameo.id)
    return (await grant_views(stores, [grant]))[0]


@get("/v1/me/cameo-requests", dependencies=AUTH, responses=errors(401), tags=["cameos"])
async def my_cameo_requests(
    stores: StoresDep,
    user: UserDep,
    direction: Direction = "incoming",
    grant_state: StateFilter = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> GrantPage:
    """``incoming`` (default): requests waiting for my answer, across my cameos
    (``state`` another state: the grants of my cameos in it). ``outgoing``: my
    own requests and grants (``state`` filters them)."""
    if direction == "incoming":
        page, next_cursor = await grants.incoming(stores, user.id, state=grant_state or "requested", before=cursor, limit=limit)
    else:
        page, next_cursor = await grants.outgoing(stores, user.id, state=grant_state, before=cursor, limit=limit)
    return GrantPage(data=await grant_views(stores, page), next_cursor=next_cursor)


@get("/v1/cameos/{cameo_id:str}/grants", dependencies=AUTH, responses=errors(401, 403, 404), tags=["cameos"])
async def list_grants(
    cameo_id: FromPath[str], stores: StoresDep, user: UserDep, grant_state: StateFilter = None, cursor: Cursor = None, limit: Limit = 20
) -> GrantPage:
    """My cameo's requests and grants, most recently changed first."""
    await owned_cameo(stores, cameo_id, user)
    page, next_cursor = await grants.list_for_cameo(stores, cameo_id, state=grant_state, before=cursor, limit=limit)
    return GrantPage(data=await grant_views(stores, page), next_cursor=next_cursor)


_ANSWERS: dict[str, Literal["cameo_approved", "cameo_declined", "cameo_revoked"]] = {
    "approve": "cameo_approved",
    "decline": "cameo_declined",
    "revoke": "cameo_revoked",
}


async def _answer(stores: Stores, cameo_id: str, user_id: str, owner: User, action: str) -> GrantView:
    cameo = await owned_cameo(stores, cameo_id, owner)
    grant = await grants.decide(stores, cameo_id=cameo.id, user_id=user_id, action=action)  # type: ignore[arg-type]
    await audit.cameo_changed(stores, owner.id, cameo.id, f"grant.{action}", {"user_id": user_id})
    await notifications.notify(stores, recipient_id=user_id, actor_id=owner.id, kind=_ANSWERS[action], cameo_id=cameo.id)
    return (await grant_views(stores, [grant]))[0]


@post(
    "/v1/cameos/{cameo_id:str}/grants/{user_id:str}/approve",
    dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 409), tags=["cameos"],
)
async def approve_request(cameo_id: FromPath[str], user_id: FromPath[str], stores: StoresDep, user: UserDep) -> GrantView:
    """Let ``user_id`` use my cameo (their request, or after a decline or a revocation)."""
    return await _answer(stores, cameo_id, user_id, user, "approve")


@post(
    "/v1/cameos/{cameo_id:str}/grants/{user_id:str}/decline",
    dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 409), tags=["cameos"],
)
async def decline_request(cameo_id: FromPath[str], user_id: FromPath[str], stores: StoresDep, user: UserDep) -> GrantView:
    """Say no to a waiting request."""
    return await _answer(stores, cameo_id, user_id, user, "decline")


@post(
    "/v1/cameos/{cameo_id:str}/grants/{user_id:str}/revoke",
    dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 409), tags=["cameos"],
)
async def revoke_grant(cameo_id: FromPath[str], user_id: FromPath[str], stores: StoresDep, user: UserDep) -> GrantView:
    """Take an approval back. From now on every check refuses: new videos, the
    queued ones when a worker picks them up, and publishing drafts."""
    return await _answer(stores, cameo_id, user_id, user, "revoke")


# --- appearances -----------------------------------------------------------------------


async def _appearances_owner(stores: Stores, cameo_id: str, user: User) -> None:
    """The owner of a cameo, or of a deleted one whose appearances remain, may go on."""
    cameo = await store.get_cameo(stores, cameo_id)
    if cameo is not None:
        await owned_cameo(stores, cameo_id, user)
        return
    owner = await appearances.owner_of(stores, cameo_id)
    if owner != user.id:  # to anyone else a deleted cameo is gone, as an unknown one is
        raise cameo_not_found(cameo_id)


async def _state(stores: Stores, video_id: str) -> tuple[str, str | None]:
    job = await jobs.get_job(stores, video_id)
    if job is None:
        return "deleted", None
    if job.status != "completed":
        return job.status, None
    post_ = await feed_posts.post_for_video(stores, video_id)
    return ("published", post_.id) if post_ is not None else ("draft", None)


@get("/v1/cameos/{cameo_id:str}/appearances", dependencies=AUTH, responses=errors(401, 403, 404), tags=["cameos"])
async def list_appearances(
    cameo_id: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20
) -> AppearancePage:
    """Every video that uses my cameo, newest first, whoever made it and whatever
    its state: queued, in progress, failed, a draft (someone's unpublished
    video) or published. Also for a cameo I deleted, while such videos remain."""
    await _appearances_owner(stores, cameo_id, user)
    page, next_cursor = await appearances.list_for_cameo(stores, cameo_id, before=cursor, limit=limit)
    creators = await authors(stores, [a.creator_id for a in page])
    out = []
    for a in page:
        state, post_id = await _state(stores, a.video_id)
        out.append(
            AppearanceView(
                cameo_id=a.cameo_id,
                video_id=a.video_id,
                creator=creators.get(a.creator_id),
                state=state,
                post_id=post_id,
                basis=a.basis,
                created_at=int(a.created_at.timestamp()),
            )
        )
    return AppearancePage(data=out, next_cursor=next_cursor)


async def remove_video(stores: Stores, settings: Settings, video_id: str) -> None:
    """Remove a video for good, whoever made it: a queued or running job is
    cancelled, its post leaves every feed (``feed.publishing``), its media and
    previews go, then its document and its appearances."""
    job = await jobs.get_job(stores, video_id)
    if job is not None and not job.done:
        await cancel_job(stores, job.id, reason="removed by a cameo owner")
    await publishing.delete_for_video(stores, video_id)
    await guarded("delete", media_store(settings).delete(video_id))
    await previews.clear(stores, video_id)
    if job is not None:
        await jobs.delete_job(stores, video_id)
    await appearances.remove_video(stores, video_id)


@delete(
    "/v1/cameos/{cameo_id:str}/appearances/{video_id:str}",
    dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 503), tags=["cameos"],
)
async def remove_appearance(
    cameo_id: FromPath[str], video_id: FromPath[str], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> AppearanceRemoved:
    """Remove a video my cameo appears in, whoever made it: the post leaves every
    feed, the video and its media are deleted, and its creator is notified."""
    await _appearances_owner(stores, cameo_id, user)
    found = await appearances.get(stores, cameo_id, video_id)
    if found is None:
        raise NotFound(f"cameo {cameo_id!r} does not appear in video {video_id!r}", code="appearance_not_found")
    await remove_video(stores, settings, video_id)
    await notifications.notify(
        stores, recipient_id=found.creator_id, actor_id=user.id, kind="cameo_removed", cameo_id=cameo_id, video_id=video_id
    )
    return AppearanceRemoved(cameo_id=cameo_id, video_id=video_id)


ROUTES = [
    new_challenge,
    create_cameo,
    create_character,
    get_character,
    read_cameo,
    my_cameos,
    change_cameo,
    delete_cameo,
    request_cameo,
    my_cameo_requests,
    list_grants,
    approve_request,
    decline_request,
    revoke_grant,
    list_appearances,
    remove_appearance,
]
