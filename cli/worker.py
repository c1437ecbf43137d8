"""``fabula worker``: one generation worker; stops cleanly on SIGINT/SIGTERM
(the job in hand is finished first). Each job's cameos are checked again
at pickup (``cameos.admission``); each finished clip's faces go through the
cameos' likeness check (``cameos.output_likeness``) beside the worker's own
output checks, and a refused output is written to the audit log
(``feed.audit``). A cameo the clip shows that its job did not name becomes
one of the cameo's appearances, and its owner is told (``cameo_used``). Runs on uvloop when it is installed."""

from __future__ import annotations

import asyncio
import logging
import signal

from core.logs import setup_logging
from core.settings import load_settings

log = logging.getLogger("fabula.worker")


def loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def likeness_check():
    """The cameos' likeness check of finished clips, or None (with a warning)
    while this installation has no ``cameos.output_likeness``."""
    try:
        from cameos.output_likeness import check_output
    except ModuleNotFoundError as exc:
        if exc.name != "cameos.output_likeness":
            raise
        log.warning("no likeness check of finished videos: cameos.output_likeness is missing")
        return None
    return check_output


async def record_shown_cameos(stores, job, shown) -> None:
    """The cameos a finished clip shows beyond its job's: each an appearance of
    its cameo (made by the job's owner, on the basis that allowed it), and a
    ``cameo_used`` notification to its owner, as a mention would (once: a
    retried attempt finds the appearance and tells nobody again)."""
    from cameos import appearances
    from feed.social import notifications

    for cameo in shown:
        if await appearances.get(stores, cameo.cameo_id, job.id) is not None:  # a retried attempt: told already
            continue
        await appearances.record(
            stores, cameo_id=cameo.cameo_id, owner_id=cameo.owner_id, video_id=job.id, creator_id=job.owner_id, basis=cameo.basis
        )
        await notifications.notify(
            stores, recipient_id=cameo.owner_id, actor_id=job.owner_id, kind="cameo_used", cameo_id=cameo.cameo_id, video_id=job.id
        )


async def record_output_refusal(stores, job, finding) -> None:
    """An output refused by moderation, in the audit log: the system refused
    (``actor_id`` ""), the video, the check, the category and what was found."""
    from feed import audit

    await audit.append(
        stores,
        actor_id="",
        action="output.refused",
        target_kind="video",
        target_id=job.id,
        reason=finding.reason,
        details={"owner_id": job.owner_id, "check": finding.check, "category": finding.category, **finding.details},
    )


def run_worker(name: str | None = None) -> int:
    from cameos.admission import refusal
    from gen.worker import Worker

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="worker")
    worker = Worker(
        settings,
        name=name,
        admission=refusal,
        likeness_check=likeness_check(),
        record_refusal=record_output_refusal,
        record_shown=record_shown_cameos,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
    return 0
