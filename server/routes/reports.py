"""Reports and the moderators' queue.

People report a post, comment, user or cameo they can see
(``POST /v1/{posts|comments|users|cameos}/{id}/report``): one report per
person and object, limited per user (``FABULA_RATE_REPORTS``). Something
the reporter cannot see answers the same 404 as something that does not
exist. Administrators list reports by state (``GET /v1/admin/reports``) and
act on one (``POST /v1/admin/reports/{id}/action``): remove (a post leaves
every feed and its media answer 410, a comment is deleted, a cameo paused),
restore (a removed post comes back, a paused cameo resumes, a suspension is
lifted), suspend_user (tokens revoked, logins refused), unsuspend_user (the
suspension of the object's owner lifted, from a report of any kind),
revoke_cameo (the cameo is paused), dismiss. Every report and action goes to the audit log
(``feed.audit``, ``GET /v1/admin/audit``); the reporters hear
``report_actioned`` and the author ``content_removed``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get, post
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from msgspec import Meta

from accounts import suspensions, users
from accounts.graph import is_blocked_between
from accounts.users import User
from cameos import store as cameo_store
from core import rate_limit
from core.clock import unix
from core.errors import BadRequest, Conflict, NotFound
from core.settings import Settings
from core.stores import Stores
from core.text import TEXT_SCHEMA, check_text
from feed import audit, takedown
from feed.social import comments, notifications, reports
from feed.social.posts import get_post
from feed.social.visibility import visible_comment, visible_post
from server.auth import AUTH, UserDep
from server.cameo_views import visible_cameo
from server.openapi import errors
from server.routes.admin import require_admin
from server.routes.posts import Cursor, Limit, check_cursor
from server.state import SettingsDep, StoresDep

Action = Literal["remove", "restore", "suspend_user", "unsuspend_user", "revoke_cameo", "dismiss"]
REPORT_STATES = ("open", "actioned", "dismissed")


class NewReport(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[
        reports.Reason,
        Meta(description="sexual, minors, violence, self_harm, hate, harassment, likeness, illegal, spam or other"),
    ]
    text: Annotated[str, Meta(max_length=reports.MAX_TEXT, description="what is wrong, up to 1000 characters", extra_json_schema=TEXT_SCHEMA)] = ""

    def __post_init__(self) -> None:
        check_text("text", self.text)


class ReportView(msgspec.Struct, kw_only=True):
    id: str
    target_kind: str
    target_id: str
    reason: str
    text: str
    state: str
    created_at: int
    repeated: bool = False  # True when this person had reported the object before: the answer is that first report
    object: str = "report"


class AdminReportView(msgspec.Struct, kw_only=True):
    id: str
    reporter_id: str
    target_kind: str
    target_id: str
    owner_id: str
    reason: str
    text: str
    state: str
    created_at: int
    action: str | None
    note: str
    handled_by: str | None
    handled_at: int | None
    object: str = "report"


class ReportPage(msgspec.Struct, kw_only=True):
    data: list[AdminReportView]
    next_cursor: str | None
    object: str = "list"


class ReportAction(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: Annotated[Action, Meta(description="remove, restore, suspend_user, unsuspend_user, revoke_cameo or dismiss")]
    note: Annotated[str, Meta(max_length=1000, description="why, for the audit log (up to 1000 characters)", extra_json_schema=TEXT_SCHEMA)] = ""

    def __post_init__(self) -> None:
        check_text("note", self.note)


class ActionResult(msgspec.Struct, kw_only=True):
    report: AdminReportView
    closed: int  # reports closed by this action (this one and the other open reports of the same object)


class AuditEntryView(msgspec.Struct, kw_only=True):
    id: str
    at: int
    actor_id: str
    action: str
    target_kind: str
    target_id: str
    reason: str
    details: dict
    object: str = "audit_entry"


class AuditPage(msgspec.Struct, kw_only=True):
    data: list[AuditEntryView]
    next_cursor: str | None
    object: str = "list"


def _ts(value) -> int:
    return unix(value) or 0


def report_view(r: reports.Report, *, repeated: bool = False) -> ReportView:
    return ReportView(
        id=r.id, target_kind=r.target_kind, target_id=r.target_id, reason=r.reason, text=r.text, state=r.state,
        created_at=_ts(r.created_at), repeated=repeated,
    )


def admin_report_view(r: reports.Report) -> AdminReportView:
    return AdminReportView(
        id=r.id, reporter_id=r.reporter_id, target_kind=r.target_kind, target_id=r.target_id, owner_id=r.owner_id,
        reason=r.reason, text=r.text, state=r.state, created_at=_ts(r.created_at), action=r.action, note=r.note,
        handled_by=r.handled_by, handled_at=_ts(r.handled_at) if r.handled_at else None,
    )


async def _file(
    stores: Stores, settings: Settings, user: User, kind: reports.TargetKind, target_id: str, owner_id: str, data: NewReport
) -> ReportView:
    await rate_limit.enforce(stores, rate_limit.rules(settings).reports, user.id, message="too many reports; try again later")
    report, new = await reports.file_report(
        stores, reporter_id=user.id, target_kind=kind, target_id=target_id, owner_id=owner_id, reason=data.reason, text=data.text
    )
    if new:
        await audit.append(
            stores, actor_id=user.id, action="report", target_kind=kind, target_id=target_id, reason=data.reason,
            details={"report_id": report.id, "text": data.text},
        )
    return report_view(report, repeated=not new)


_REPORT = {"dependencies": AUTH, "status_code": 200, "responses": errors(401, 404, 429), "tags": ["reports"]}


@post("/v1/posts/{post_id:str}/report", **_REPORT)
async def report_post(
    post_id: FromPath[str], data: JSONBody[NewReport], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> ReportView:
    """Report a post I can see. Reporting it again answers the first report."""
    found = await visible_post(stores, post_id, user.id)
    return await _file(stores, settings, user, "post", found.id, found.author_id, data)


@post("/v1/comments/{comment_id:str}/report", **_REPORT)
async def report_comment(
    comment_id: FromPath[str], data: JSONBody[NewReport], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> ReportView:
    """Report a comment I can see (on a post I can see, not across a block, nor
    in a thread under the comment of someone across a block)."""
    found = await visible_comment(stores, comment_id, user.id)
    return await _file(stores, settings, user, "comment", found.id, found.author_id or "", data)


@post("/v1/users/{handle:str}/report", **_REPORT)
async def report_user(
    handle: FromPath[str], data: JSONBody[NewReport], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> ReportView:
    """Report a user (not across a block: 404 as for an unknown handle)."""
    target = await users.get_by_handle(stores, handle)
    if target is None or (target.id != user.id and await is_blocked_between(stores, user.id, target.id)):
        raise users.no_such_user()
    return await _file(stores, settings, user, "user", target.id, target.id, data)


@post("/v1/cameos/{cameo_id:str}/report", **_REPORT)
async def report_cameo(
    cameo_id: FromPath[str], data: JSONBody[NewReport], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> ReportView:
    """Report a cameo I can see (for instance, a likeness that is not its owner's)."""
    cameo = await visible_cameo(stores, cameo_id, user)
    return await _file(stores, settings, user, "cameo", cameo.id, cameo.owner_id, data)


# --- the moderators' queue --------------------------------------------------------


@get("/v1/admin/reports", dependencies=AUTH, responses=errors(401, 403), tags=["admin"])
async def list_reports(
    stores: StoresDep,
    user: UserDep,
    in_state: Annotated[str, QueryParameter(name="state", max_length=16, description="open, actioned or dismissed")] = "open",
    cursor: Cursor = None,
    limit: Limit = 20,
) -> ReportPage:
    """Reports in a state, newest first (administrators only)."""
    await require_admin(stores, user)
    if in_state not in REPORT_STATES:  # checked here: the error names the query parameter ``state``, not this argument
        raise BadRequest("state must be open, actioned or dismissed", code="invalid_request",
                         details=[{"field": "state", "message": "must be open, actioned or dismissed", "source": "query"}])
    check_cursor(cursor, "report")
    rows = await reports.list_reports(stores, state=in_state, before=cursor, limit=limit + 1)  # type: ignore[arg-type]
    page = rows[:limit]
    return ReportPage(data=[admin_report_view(r) for r in page], next_cursor=page[-1].id if len(rows) > limit else None)


def _not_applicable(action: str, kind: str) -> BadRequest:
    return BadRequest(f"{action} does not apply to a {kind} report", code="action_not_applicable", details={"action": action, "target_kind": kind})


async def _lift_suspension(stores: Stores, user_id: str) -> None:
    if not await suspensions.lift(stores, user_id):
        raise Conflict("this user is not suspended", code="not_suspended")


async def _apply(stores: Stores, report: reports.Report, action: str, note: str, admin: User) -> bool:
    """Do ``action`` to the reported object; True when the author is to hear ``content_removed``."""
    kind, target = report.target_kind, report.target_id
    if action == "dismiss":
        return False
    if action in ("suspend_user", "unsuspend_user"):
        if not report.owner_id:
            raise _not_applicable(action, kind)
        if action == "suspend_user":
            if await suspensions.suspend(stores, report.owner_id) is None:
                raise users.no_such_user()  # the account is gone: there is nobody to suspend
        else:
            await _lift_suspension(stores, report.owner_id)
        return False
    if action == "revoke_cameo" or (action == "remove" and kind == "cameo"):
        if kind != "cameo":
            raise _not_applicable(action, kind)
        if await cameo_store.update_cameo(stores, target, report.owner_id, {"paused": True}) is None:
            raise NotFound(f"no cameo {target!r}", code="cameo_not_found")
        return True
    if action == "remove":
        if kind == "post":
            if await takedown.remove_post(stores, target, by=admin.id, reason=note) is None:
                if await takedown.removed_post(stores, target) is None:
                    raise NotFound(f"no post {target!r}", code="post_not_found")
                return False  # removed already
            return True
        if kind == "comment":
            found = await comments.get_comment(stores, target)
            if found is None or found.deleted:
                raise NotFound(f"no comment {target!r}", code="comment_not_found")
            parent = await get_post(stores, found.post_id)
            await comments.delete_comment(stores, found, user_id=found.author_id or "", post_author_id=parent.author_id if parent else "")
            return True
        raise _not_applicable(action, kind)
    # restore
    if kind == "post":
        if await takedown.restore_post(stores, target) is None:
            raise Conflict("this post is not removed", code="not_removed")
    elif kind == "cameo":
        cameo = await cameo_store.get_cameo(stores, target)
        if cameo is None:
            raise NotFound(f"no cameo {target!r}", code="cameo_not_found")
        if not cameo.paused:
            raise Conflict("this cameo is not paused", code="not_paused")
        await cameo_store.update_cameo(stores, target, cameo.owner_id, {"paused": False})
    elif kind == "user":
        await _lift_suspension(stores, report.owner_id)
    else:
        raise _not_applicable(action, kind)
    return False


@post("/v1/admin/reports/{report_id:str}/action", dependencies=AUTH, status_code=200, responses=errors(401, 403, 404, 409), tags=["admin"])
async def act_on_report(report_id: FromPath[str], data: JSONBody[ReportAction], stores: StoresDep, user: UserDep) -> ActionResult:
    """Act on a report (administrators only); every open report of the same object closes with it."""
    await require_admin(stores, user)
    report = await reports.get_report(stores, report_id)
    if report is None:
        raise NotFound(f"no report {report_id!r}", code="report_not_found")
    removed = await _apply(stores, report, data.action, data.note, user)
    state = "dismissed" if data.action == "dismiss" else "actioned"
    closed = await reports.close(stores, report, state=state, action=data.action, note=data.note, by=user.id)
    await audit.append(
        stores, actor_id=user.id, action=f"moderation.{data.action}", target_kind=report.target_kind, target_id=report.target_id,
        reason=data.note, details={"report_id": report.id, "closed": [r.id for r in closed], "owner_id": report.owner_id},
    )
    ids = _notification_ids(report)
    if data.action != "dismiss":
        for reporter in dict.fromkeys(r.reporter_id for r in closed):
            await notifications.notify(stores, recipient_id=reporter, actor_id=notifications.MODERATORS, kind="report_actioned", **ids)
    if removed and report.owner_id:  # the moderators act as one: the moderator is in the audit log, not in the notice
        await notifications.notify(stores, recipient_id=report.owner_id, actor_id=notifications.MODERATORS, kind="content_removed", **ids)
    return ActionResult(report=admin_report_view(closed[0] if closed else report), closed=len(closed))


def _notification_ids(report: reports.Report) -> dict:
    if report.target_kind == "post":
        return {"post_id": report.target_id}
    if report.target_kind == "comment":
        return {"comment_id": report.target_id}
    if report.target_kind == "cameo":
        return {"cameo_id": report.target_id}
    return {}


@get("/v1/admin/audit", dependencies=AUTH, responses=errors(401, 403), tags=["admin"])
async def audit_log(
    stores: StoresDep,
    user: UserDep,
    action: Annotated[str | None, Parameter(max_length=64, description="only entries of this action, e.g. report")] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> AuditPage:
    """The audit log, newest first (administrators only)."""
    await require_admin(stores, user)
    check_cursor(cursor, "audit")
    rows = await audit.entries(stores, before=cursor, limit=limit + 1, action=action)
    page = rows[:limit]
    data = [
        AuditEntryView(
            id=e.id, at=_ts(e.at), actor_id=e.actor_id, action=e.action, target_kind=e.target_kind, target_id=e.target_id,
            reason=e.reason, details=e.details,
        )
        for e in page
    ]
    return AuditPage(data=data, next_cursor=page[-1].id if len(rows) > limit else None)


ROUTES = [report_post, report_comment, report_user, report_cameo, list_reports, act_on_report, audit_log]
