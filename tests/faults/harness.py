"""Breaking a small Fabula on purpose, under load, and counting what was lost.

``Cluster``: a private installation (embedded Valkey with its append-only
file, nx-27017, api processes, generation workers) whose parts can be killed
and started again on the same ports and data. ``Load``: a steady mixed load
against it from one asyncio loop — swipers driving feed sessions over
WebSockets (and resuming them on any api after a drop), likers, commenters
and creators of tiny videos — that records every operation. ``FAULTS``: one
function per fault, shared by ``tests/faults/`` (short) and
``bench/faults.py`` (long, measured); each returns a ``Report`` of what was
lost and how long recovery took.

What counts as lost: a created video that does not complete, or completes
more than once; a feed session whose indices have a gap, or that shows a
post twice; a counter that disagrees with the documents it counts; a 5xx
other than a 503 with ``Retry-After``; a half-written media file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import msgspec
from pymongo import MongoClient

from clients.sdk import FabulaAPIError, Socket
from clients.fabula_client.socket import ws_url
from core.embedded import Service, free_port, start_mongo, start_valkey
from core.settings import Settings
from tests.procs import Api, Proc, start_api, start_worker

PASSWORD = "fault tolerant password"
TINY = {"seconds": "1", "size": "64x64", "steps": 2}


def take(subject: str, n: int) -> str:
    """A unique, harmless prompt for the n-th create. The number is zero-padded: with
    a bare number the classifier refuses "a burst, take 14" (read as an age) and
    "take 357" (a calibre), which a fault case would count as a lost create
    (docs/SAFETY.md, blind spots)."""
    return f"{subject}, take {n:04d}"
MONGO_SELECTION_S = 5  # core.stores: how long the driver waits for a server


# --- the installation ----------------------------------------------------------


@dataclass
class Cluster:
    root: Path
    settings: Settings
    redis_port: int
    mongo_port: int
    valkey: Service | None = None
    mongo: Service | None = None
    apis: list[Api | None] = field(default_factory=list)
    api_ports: list[int] = field(default_factory=list)
    workers: dict[str, Proc] = field(default_factory=dict)
    media: "MediaFault | None" = None

    @classmethod
    def start(cls, root: Path, model_dir: Path, *, apis: int = 2, workers: int = 1, **overrides) -> "Cluster":
        root.mkdir(parents=True, exist_ok=True)
        redis_port, mongo_port = free_port(), free_port()
        settings = Settings(
            mongo_url=f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            namespace="f" + uuid.uuid4().hex[:8],
            data_dir=root / "data",
            model_dir=model_dir,
            log_json=True,
            # the load is a few busy people: limits meant for abuse stay out of its way
            rate_signup_ip="off",
            rate_login_ip="off",
            rate_comments="off",
            rate_videos="off",
            # a killed worker's job is taken over after this long
            job_visibility_ms=3000,
            worker_heartbeat_s=1.0,
            **overrides,
        )
        cluster = cls(root=root, settings=settings, redis_port=redis_port, mongo_port=mongo_port)
        cluster.media = MediaFault(cluster)
        try:
            cluster.media.prepare()
            cluster.start_valkey()
            cluster.start_mongo()
            cluster.api_ports = [free_port() for _ in range(apis)]
            cluster.apis = [None] * apis
            for i in range(apis):
                cluster.start_api(i)
            for i in range(workers):
                cluster.start_worker(f"w{i + 1}")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    # parts, each stopped and started on the same port and data

    def start_valkey(self) -> None:
        self.valkey = start_valkey(self.root / "services" / "valkey", self.redis_port)

    def kill_valkey(self) -> None:
        assert self.valkey is not None
        self.valkey.kill()

    def start_mongo(self) -> None:
        self.mongo = start_mongo(self.root / "services" / "mongo", self.mongo_port)

    def stop_mongo(self) -> None:
        assert self.mongo is not None
        self.mongo.stop()

    def start_api(self, i: int) -> Api:
        self.apis[i] = start_api(self.settings, self.logs, port=self.api_ports[i], timeout=120)
        return self.apis[i]

    def kill_api(self, i: int) -> None:
        api = self.apis[i]
        assert api is not None
        api.kill()
        self.apis[i] = None

    def start_worker(self, name: str) -> Proc:
        self.workers[name] = start_worker(self.settings, self.logs, name)
        return self.workers[name]

    def kill_worker(self, name: str) -> None:
        self.workers.pop(name).kill()

    def worker_ready(self, name: str) -> bool:
        return '"msg":"worker ready"' in self.workers[name].log()

    def stop(self) -> None:
        for worker in list(self.workers.values()):
            worker.stop()
        for api in self.apis:
            if api is not None:
                api.stop()
        for service in (self.mongo, self.valkey):
            if service is not None:
                service.stop()
        if self.media is not None:
            self.media.release()

    # what the logs say

    def worker_log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*.log")))

    def completions(self) -> Counter:
        """How many times each video was completed, by every worker that ever ran."""
        return Counter(re.findall(r'"msg":"job completed","video_id":"(video_[0-9a-z]+)"', self.worker_log()))

    def db(self):
        return MongoClient(self.settings.mongo_url, serverSelectionTimeoutMS=10000)[self.settings.namespace]


class MediaFault:
    """Makes the local media store full or read-only, and clears it again.

    Where this process may mount (root with CAP_SYS_ADMIN), the media folder
    is a small tmpfs of its own from the start: full is a filler file taking
    its last byte (ENOSPC), read-only a remount (EROFS). Elsewhere, full
    lowers the workers' file-size limit (EFBIG) and read-only takes the write
    bits away (EACCES; not for root, which they do not stop). ``disk-full``
    lowers the file-size limit wherever it runs: the worker's own scratch
    files (encoding, signing) fail as well as the store's."""

    SIZE = "128m"

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.root = cluster.settings.media_root
        self.mounted = False

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE}", "tmpfs", str(self.root)], capture_output=True)
            self.mounted = done.returncode == 0

    def release(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
            self.mounted = False

    def supports(self, kind: str) -> bool:
        return self.mounted or kind in ("full", "disk-full") or os.geteuid() != 0

    @contextlib.contextmanager
    def broken(self, kind: str):
        if kind == "disk-full":
            with self._file_size_limit():
                yield
        elif kind == "full":
            with self._full():
                yield
        else:
            with self._read_only():
                yield

    @contextlib.contextmanager
    def _full(self):
        if self.mounted:
            filler = self.root / ".filler"
            with open(filler, "wb", buffering=0) as out:
                for size in (1 << 20, 4096, 1):  # then the last bytes
                    with contextlib.suppress(OSError):
                        while True:
                            out.write(b"\0" * size)
            try:
                yield
            finally:
                filler.unlink()
            return
        with self._file_size_limit():
            yield

    @contextlib.contextmanager
    def _file_size_limit(self):
        import psutil, resource

        procs = [psutil.Process(w.proc.pid) for w in self.cluster.workers.values()]
        for p in procs:
            p.rlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            yield
        finally:
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    p.rlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    @contextlib.contextmanager
    def _read_only(self):
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.root)], check=True)
            try:
                yield
            finally:
                subprocess.run(["mount", "-o", "remount,rw", str(self.root)], check=True)
            return
        folders = [self.root, *(p for p in self.root.rglob("*") if p.is_dir())]
        for folder in folders:
            folder.chmod(0o555)
        try:
            yield
        finally:
            for folder in folders:
                folder.chmod(0o755)

    def leftovers(self) -> list[str]:
        """Temporary files a write left behind."""
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*.tmp")]


async def wait_until(check, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = await check() if asyncio.iscoroutinefunction(check) else check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f}s")
        await asyncio.sleep(every)


async def wait_ready(cluster: Cluster, timeout: float = 180.0) -> None:
    """Every api answers /readyz and counts every worker as ready."""

    async def ready() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            for url, api in zip(cluster.urls, cluster.apis):
                if api is None:
                    continue
                try:
                    r = await http.get(url + "/readyz")
                except httpx.HTTPError:
                    return False
                if r.status_code != 200 or (r.json().get("workers") or 0) < len(cluster.workers):
                    return False
        return True

    await wait_until(ready, timeout, "the cluster is not ready")


# --- people and posts ---------------------------------------------------------


@dataclass
class User:
    handle: str
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup(http: httpx.AsyncClient, prefix: str) -> User:
    handle = prefix + uuid.uuid4().hex[:8]
    r = await http.post("/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"})
    assert r.status_code == 201, r.text
    body = r.json()
    return User(handle=handle, id=body["user"]["id"], token=body["token"])


async def make_posts(http: httpx.AsyncClient, author: User, count: int, timeout: float = 300.0) -> list[str]:
    """``count`` public posts of tiny videos by ``author``."""
    ids = []
    for i in range(count):
        r = await http.post("/v1/videos", json={"prompt": take("a paper lantern", i), **TINY}, headers=author.headers)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    posts = []
    for vid in ids:
        async def done() -> bool:
            status = (await http.get(f"/v1/videos/{vid}", headers=author.headers)).json()["status"]
            assert status != "failed", vid
            return status == "completed"

        await wait_until(done, timeout, f"{vid} not completed")
        r = await http.post("/v1/posts", json={"video_id": vid, "caption": "lantern"}, headers=author.headers)
        assert r.status_code in (200, 201), r.text
        posts.append(r.json()["id"])
    return posts


# --- the load -----------------------------------------------------------------


class Op(msgspec.Struct):
    t: float  # monotonic
    kind: str
    ok: bool
    status: int = 0  # HTTP status, 0 for none
    error: str = ""
    retry_after: bool = False


@dataclass
class LoadShape:
    swipers: int = 4
    likers: int = 2
    commenters: int = 1
    creators: int = 1
    pause_s: float = 0.25  # between one actor's operations
    swipe_pause_s: float = 0.5  # between one swiper's items
    create_pause_s: float = 1.5
    window: int = 3


def already_published(r: httpx.Response) -> bool:
    return r.status_code == 409 and "already_published" in r.text


class Load:
    """A steady mixed load, spread over every api (a client whose api is
    gone moves to the next, as behind a load balancer)."""

    def __init__(self, cluster: Cluster, people: list[User], posts: list[str], shape: LoadShape):
        self.cluster = cluster
        self.people = people
        self.posts = posts
        self.shape = shape
        self.ops: list[Op] = []
        self.sessions: dict[str, dict[int, str]] = defaultdict(dict)  # session -> index -> post
        self.session_problems: list[str] = []
        self.resumes = 0
        self.swiping: dict[int, tuple[int, str | None]] = {}  # swiper -> (api, session it drives)
        self.created: list[tuple[User, str]] = []
        self.began_at = datetime.now(timezone.utc)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._clients = [httpx.AsyncClient(base_url=url, timeout=20) for url in cluster.urls]
        self._routes: dict[tuple[str, int], int] = {}  # (kind, actor) -> the api it uses

    # plumbing

    def record(self, kind: str, ok: bool, status: int = 0, error: str = "", retry_after: bool = False) -> None:
        self.ops.append(Op(time.monotonic(), kind, ok, status, error[:200], retry_after))

    async def http(self, kind: str, actor: int, method: str, path: str, user: User, accept=None, **kwargs) -> httpx.Response | None:
        """One request through the actor's api, or the next one if that is unreachable.
        ``accept(response)``: an error answer that means done all the same."""
        n = len(self._clients)
        route = (kind, actor)
        for _ in range(n):
            at = self._routes.setdefault(route, actor % n)
            try:
                r = await self._clients[at].request(method, path, headers=user.headers, **kwargs)
            except httpx.TransportError as exc:
                self.record(kind, False, 0, f"{type(exc).__name__}: {exc}")
                self._routes[route] = (at + 1) % n  # and it stays there, as behind a load balancer
                continue
            ok = r.status_code < 400 or (accept is not None and accept(r))
            self.record(kind, ok, r.status_code, "" if ok else r.text, "retry-after" in r.headers)
            return r
        return None

    def start(self) -> None:
        s = self.shape
        people = self.people
        actors = [self.swiper(i, people[i]) for i in range(s.swipers)]
        actors += [self.liker(i, people[(s.swipers + i) % len(people)]) for i in range(s.likers)]
        actors += [self.commenter(i, people[(s.swipers + s.likers + i) % len(people)]) for i in range(s.commenters)]
        actors += [self.creator(i, people[-1 - i]) for i in range(s.creators)]
        self._tasks = [asyncio.create_task(a) for a in actors]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self._clients:
            await client.aclose()

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds * random.uniform(0.7, 1.3))

    # actors

    async def liker(self, i: int, user: User) -> None:
        liked: set[str] = set()
        while not self._stop.is_set():
            post = random.choice(self.posts)
            method = "DELETE" if post in liked else "POST"
            r = await self.http("like", i, method, f"/v1/posts/{post}/like", user)
            if r is not None and r.status_code == 200:
                liked.symmetric_difference_update({post})
            await self.pause(self.shape.pause_s)

    async def commenter(self, i: int, user: User) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            await self.http("comment", i, "POST", f"/v1/posts/{random.choice(self.posts)}/comments", user, json={"text": f"nice {n}"})
            await self.pause(self.shape.pause_s)

    async def creator(self, i: int, user: User) -> None:
        """Creates tiny videos and publishes each once it is done: fresh posts for the swipers."""
        n = 0
        unpublished: list[str] = []
        while not self._stop.is_set():
            n += 1
            r = await self.http("create", i, "POST", "/v1/videos", user, json={"prompt": take("a kite", n), **TINY})
            if r is not None and r.status_code == 200:
                self.created.append((user, r.json()["id"]))
                unpublished.append(r.json()["id"])
            for vid in list(unpublished):
                r = await self.http("publish", i, "GET", f"/v1/videos/{vid}", user)
                if r is not None and r.status_code == 200 and r.json()["status"] == "completed":
                    # a publish answered 503 may have been made all the same: its retry is told so
                    r = await self.http("publish", i, "POST", "/v1/posts", user, json={"video_id": vid, "caption": "kite"}, accept=already_published)
                    if r is not None and (r.status_code in (200, 201) or already_published(r)):
                        unpublished.remove(vid)
            await self.pause(self.shape.create_pause_s)

    async def burst_of_creates(self, n: int) -> None:
        """``n`` creates at once, by the creators: some are half-way when a fault strikes."""
        creator = self.people[-1]

        async def one(k: int) -> None:
            r = await self.http("create", k, "POST", "/v1/videos", creator, json={"prompt": take("a burst", k), **TINY})
            if r is not None and r.status_code == 200:
                self.created.append((creator, r.json()["id"]))

        await asyncio.gather(*(one(k) for k in range(n)))

    async def swiper(self, i: int, user: User) -> None:
        """A feed session over the socket, resumed (on the next api when its
        own is gone) after every drop, with the cursor of the last items."""
        session: str | None = None
        cursor = 0
        api = i
        while not self._stop.is_set():
            url = self.cluster.urls[api % len(self.cluster.urls)]
            try:
                async with Socket(ws_url(url), user.token, open_timeout=5, request_timeout=20) as ws:
                    opened = await ws.open_feed("for_you", window=self.shape.window, session_id=session, cursor=cursor if session else None)
                    if session is not None:
                        self.resumes += 1
                    session, cursor = opened.id, opened.cursor
                    self.swiping[i] = (api % len(self.cluster.urls), session)
                    self.record("swipe", True)
                    while not self._stop.is_set():
                        batch = await opened.items(timeout=20)
                        cursor = batch["cursor"]
                        for item in batch["items"]:
                            self.saw(session, item["index"], item["id"])
                        if batch["exhausted"] and not batch["items"]:
                            self.record("swipe", True)
                            session, cursor = None, 0  # nothing more now: a fresh session later
                            self.swiping[i] = (api % len(self.cluster.urls), None)
                            await self.pause(1.0)
                            break
                        for item in batch["items"]:
                            if self._stop.is_set():
                                break
                            await opened.event(item["id"], "impression", ack=True)
                            self.record("swipe", True)
                            await self.pause(self.shape.swipe_pause_s)
            except FabulaAPIError as exc:
                if exc.code == "unavailable":  # the socket's 503: try again shortly (here: resume)
                    self.record("swipe", False, 503, f"{exc.code}: {exc}", retry_after=True)
                else:
                    self.record("swipe", False, exc.status, f"{exc.code}: {exc}")
                if exc.code in ("feed_session_not_found", "invalid_cursor"):
                    self.session_problems.append(f"{session}: could not resume: {exc.code}")
                    session, cursor = None, 0
                await self.pause(0.3)
            except (OSError, ConnectionError, asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - a drop of any kind
                if self._stop.is_set():
                    return
                self.record("swipe", False, 0, f"{type(exc).__name__}: {exc}")
                api += 1  # the next api, as a load balancer would
                await self.pause(0.3)

    def saw(self, session: str, index: int, post: str) -> None:
        served = self.sessions[session]
        if index in served:
            if served[index] != post:
                self.session_problems.append(f"{session}: index {index} was {served[index]}, now {post}")
            return
        if post in served.values():
            self.session_problems.append(f"{session}: {post} served twice")
        served[index] = post

    # after the run

    def gaps(self) -> list[str]:
        out = []
        for session, served in self.sessions.items():
            if served and sorted(served) != list(range(max(served) + 1)):
                missing = sorted(set(range(max(served) + 1)) - set(served))
                out.append(f"{session}: indices {missing[:5]} never arrived")
        return out


# --- checks -------------------------------------------------------------------


@dataclass
class Report:
    fault: str
    ops: int = 0
    failed_ops: int = 0
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503 + Retry-After
    lost: list[str] = field(default_factory=list)  # everything that breaks a promise
    recovery_s: dict[str, float] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        rec = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(self.recovery_s.items()))
        return f"{self.fault}: {self.ops} ops, {self.failed_ops} refused or dropped, lost {len(self.lost)}; recovery: {rec or '-'}"


def judge(load: Load, report: Report, fault_at: float, allow_drops: bool) -> None:
    """Count the operations; every failure must be a 503 with Retry-After (or
    a dropped connection where the fault allows it); recovery per kind is
    the time from the fault to its last failure."""
    report.ops = len(load.ops)
    last_failure: dict[str, float] = {}
    limited = 0
    for op in load.ops:
        if op.ok:
            continue
        if op.status == 429:  # a limit, not a fault
            limited += 1
            continue
        report.failed_ops += 1
        last_failure[op.kind] = max(last_failure.get(op.kind, 0.0), op.t)
        if op.status >= 500 and not (op.status == 503 and op.retry_after):
            report.server_errors.append(f"{op.kind} {op.status} {op.error}")
        elif op.status == 0 and not allow_drops and op.kind != "swipe":
            report.server_errors.append(f"{op.kind} dropped: {op.error}")
        elif 400 <= op.status < 500:
            report.lost.append(f"{op.kind} refused {op.status}: {op.error}")
    for kind, at in last_failure.items():
        report.recovery_s[kind] = max(0.0, at - fault_at)
    report.lost += load.session_problems + load.gaps()
    report.notes["resumes"] = load.resumes
    if limited:
        report.notes["rate limited"] = limited


async def settle_jobs(cluster: Cluster, load: Load, report: Report, timeout: float) -> None:
    """Every video the creators made during the case (whatever their create
    calls were told) completes, exactly once."""
    db = cluster.db()
    owners = [user.id for user, _ in load.created] + [p.id for p in load.people[len(load.people) - load.shape.creators:]]
    mine = {"owner_id": {"$in": owners}, "created_at": {"$gte": load.began_at - timedelta(seconds=2)}}
    began = time.monotonic()

    def pending() -> list[dict]:
        return list(db.videos.find({**mine, "status": {"$in": ["queued", "in_progress"]}}, {"_id": 1}))

    try:
        await wait_until(lambda: not pending(), timeout, "videos still unfinished", every=0.5)
    except TimeoutError:
        report.lost += [f"{doc['_id']} never finished" for doc in pending()]
    report.notes["jobs_settled_s"] = round(time.monotonic() - began, 1)
    videos = list(db.videos.find(mine, {"_id": 1, "status": 1, "attempts": 1, "error": 1}))
    completions = cluster.completions()
    for video in videos:
        if video["status"] == "failed":
            report.lost.append(f"{video['_id']} failed: {video.get('error')}")
        elif video["status"] == "completed" and completions[video["_id"]] != 1:
            report.lost.append(f"{video['_id']} completed {completions[video['_id']]} times")
    report.notes["videos"] = len(videos)


async def reconcile_counters(cluster: Cluster, load: Load, report: Report, user: User) -> None:
    """Every post's counters, as the api serves them (Redis) and as Mongo keeps
    them, equal the documents they count."""
    db = cluster.db()
    async with httpx.AsyncClient(base_url=next(u for u, a in zip(cluster.urls, cluster.apis) if a), timeout=20) as http:
        for post in load.posts:
            doc = db.posts.find_one({"_id": post}, {"likes": 1, "comments": 1})
            likes = db.likes.count_documents({"post_id": post})
            comments = db.comments.count_documents({"post_id": post})
            served = (await http.get(f"/v1/posts/{post}", headers=user.headers)).json()["counts"]
            if (doc["likes"], served["likes"]) != (likes, likes) or (doc["comments"], served["comments"]) != (comments, comments):
                report.lost.append(
                    f"{post}: likes {likes} documents, Mongo {doc['likes']}, served {served['likes']}; "
                    f"comments {comments} documents, Mongo {doc['comments']}, served {served['comments']}"
                )


# --- the faults -----------------------------------------------------------------


@dataclass
class Timing:
    """How long each phase of a case lasts (short in tests, long in the bench)."""

    before_s: float = 3.0  # load before the fault
    outage_s: float = 3.0  # how long a stopped server stays down
    after_s: float = 4.0  # load after recovery
    settle_s: float = 180.0  # for every job to finish


async def steady(load: Load, seconds: float) -> None:
    await asyncio.sleep(seconds)


async def kill_worker_mid_job(cluster: Cluster, load: Load, timing: Timing) -> Report:
    """kill -9 the worker while it runs a job; a supervisor starts it again."""
    report = Report("worker killed (-9) mid-job")
    await steady(load, timing.before_s)
    db = cluster.db()
    running = await wait_until(lambda: db.videos.find_one({"status": "in_progress", "progress": {"$gt": 0}}), 60, "no job in progress", every=0.02)
    name = next(iter(cluster.workers))
    fault_at = time.monotonic()
    cluster.kill_worker(name)
    cluster.start_worker(name)
    await wait_until(lambda: cluster.worker_ready(name), 180, "the restarted worker is not ready")
    await wait_until(lambda: db.videos.find_one({"_id": running["_id"], "status": {"$in": ["completed", "failed"]}}), 120, "the interrupted job did not finish")
    report.recovery_s["interrupted job done"] = time.monotonic() - fault_at
    await steady(load, timing.after_s)
    await load.stop()
    judge(load, report, fault_at, allow_drops=False)
    await settle_jobs(cluster, load, report, timing.settle_s)
    return report


async def new_socket_in_outage(cluster: Cluster, user: User) -> str | None:
    """A socket opened while a backing service is down: an ``unavailable`` error,
    then close code 1013 (try again later). None, or what went otherwise."""
    import websockets

    url = next(u for u, a in zip(cluster.urls, cluster.apis) if a)
    try:
        async with websockets.connect(ws_url(url), additional_headers=user.headers, open_timeout=30) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            await asyncio.wait_for(ws.wait_closed(), 30)
            code = ws.close_code
    except Exception as exc:
        return f"a socket opened in the outage: {type(exc).__name__}: {exc}"
    if first.get("type") != "error" or first["data"].get("code") != "unavailable" or code != 1013:
        return f"a socket opened in the outage: {first} then close {code}, not unavailable then 1013"
    return None


class NotificationWatch:
    """A socket held open across an outage by a user whom someone follows as
    soon as the service is back: the ``follow`` must still be pushed, though
    the api's subscription may not be back yet when it is made."""

    def __init__(self, cluster: Cluster):
        self.url = next(u for u, a in zip(cluster.urls, cluster.apis) if a)
        self.pushed: list[dict] = []

    async def open(self) -> "NotificationWatch":
        import websockets

        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            self.recipient, self.actor = await signup(http, "nr"), await signup(http, "na")
        self.ws = await websockets.connect(ws_url(self.url), additional_headers=self.recipient.headers, open_timeout=30)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert hello["type"] == "hello", hello
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                if isinstance(raw, str) and (msg := json.loads(raw))["type"] == "notification":
                    self.pushed.append(msg["data"])

    async def follow_once_back(self, deadline_s: float = 30.0) -> str | None:
        """The follow, as soon as the api takes it; None once it was pushed, else what went wrong."""
        end = time.monotonic() + deadline_s
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            while True:
                r = await http.post(f"/v1/users/{self.recipient.handle}/follow", headers=self.actor.headers)
                if r.status_code == 200:
                    break
                if r.status_code != 503 or time.monotonic() > end:
                    return f"the follow after the outage: {r.status_code} {r.text[:200]}"
                await asyncio.sleep(0.05)
        while time.monotonic() < end:
            if any(n["kind"] == "follow" and (n.get("actor") or {}).get("id") == self.actor.id for n in self.pushed):
                return None
            await asyncio.sleep(0.1)
        return "a notification made as the service came back was never pushed to the open socket"

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def restart_valkey(cluster: Cluster, load: Load, timing: Timing) -> Report:
    """kill -9 Valkey, then start it again on the same port and append-only file."""
    report = Report("Valkey killed (-9) and restarted, AOF on")
    await steady(load, timing.before_s)
    watch = await NotificationWatch(cluster).open()
    burst = asyncio.create_task(load.burst_of_creates(16))  # creates in flight when it dies
    await asyncio.sleep(0.05)
    fault_at = time.monotonic()
    cluster.kill_valkey()
    await burst
    if problem := await new_socket_in_outage(cluster, load.people[0]):
        report.lost.append(problem)
    await asyncio.sleep(timing.outage_s)
    cluster.start_valkey()
    report.notes["outage_s"] = round(time.monotonic() - fault_at, 1)
    try:
        if problem := await watch.follow_once_back():
            report.lost.append(problem)
    finally:
        await watch.close()
    await steady(load, timing.after_s)
    await load.stop()
    judge(load, report, fault_at, allow_drops=False)
    await settle_jobs(cluster, load, report, timing.settle_s)
    await reconcile_counters(cluster, load, report, load.people[0])
    return report


async def restart_mongo(cluster: Cluster, load: Load, timing: Timing) -> Report:
    """Stop the Mongo server (nx-27017), then start it again on the same port and file."""
    report = Report("Mongo (nx-27017) restarted")
    await steady(load, timing.before_s)
    fault_at = time.monotonic()
    cluster.stop_mongo()
    # longer than the driver waits for a server (5 s), or requests just wait it out
    await asyncio.sleep(max(timing.outage_s, MONGO_SELECTION_S + 2))
    cluster.start_mongo()
    report.notes["outage_s"] = round(time.monotonic() - fault_at, 1)
    await steady(load, timing.after_s)
    await load.stop()
    judge(load, report, fault_at, allow_drops=False)
    await settle_jobs(cluster, load, report, timing.settle_s)
    await reconcile_counters(cluster, load, report, load.people[0])
    return report


async def kill_one_api(cluster: Cluster, load: Load, timing: Timing) -> Report:
    """kill -9 one of two api processes; its clients go on with the other."""
    report = Report("one of two api processes killed (-9)")
    await steady(load, timing.before_s)
    resumes = load.resumes
    driving = sum(1 for api, session in load.swiping.values() if api == 0 and session)
    report.notes["sessions on the killed api"] = driving
    fault_at = time.monotonic()
    cluster.kill_api(0)
    await wait_until(lambda: load.resumes >= resumes + driving, 60, "the swipers of the killed api did not resume")
    report.recovery_s["sockets resumed"] = time.monotonic() - fault_at
    await steady(load, timing.after_s)
    await load.stop()
    judge(load, report, fault_at, allow_drops=True)
    cluster.start_api(0)
    await settle_jobs(cluster, load, report, timing.settle_s)
    return report


# a job's last_error when a worker handed it back for its outputs (gen.worker.MediaUnavailable)
HANDED_BACK = "media store|worker's disk"


async def break_media_store(cluster: Cluster, load: Load, timing: Timing, kind: str) -> Report:
    """The media store full or read-only while jobs finish, then fixed."""
    report = Report(f"media store {kind}")
    await steady(load, timing.before_s)
    db = cluster.db()
    hit_before = db.videos.count_documents({"last_error": {"$regex": HANDED_BACK}})
    fault_at = time.monotonic()
    with cluster.media.broken(kind):
        # at least one job meets it
        await wait_until(lambda: db.videos.count_documents({"last_error": {"$regex": HANDED_BACK}}) > hit_before, 60,
                         "no job met the broken media store", every=0.2)
        await asyncio.sleep(timing.outage_s)
    cleared_at = time.monotonic()
    hit = [d["_id"] for d in db.videos.find({"last_error": {"$regex": HANDED_BACK}}, {"_id": 1})]
    report.notes["outage_s"] = round(cleared_at - fault_at, 1)
    report.notes["jobs that met it"] = len(hit) - hit_before
    await wait_until(lambda: db.videos.count_documents({"_id": {"$in": hit}, "status": "completed"}) == len(hit), 120,
                     "the jobs that met the broken store did not complete")
    report.recovery_s["jobs done after the fix"] = time.monotonic() - cleared_at
    await steady(load, timing.after_s)
    await load.stop()
    judge(load, report, fault_at, allow_drops=False)
    await settle_jobs(cluster, load, report, timing.settle_s)
    report.lost += [f"left behind: {p}" for p in cluster.media.leftovers()]
    for video in db.videos.find({"_id": {"$in": hit}}, {"_id": 1}):
        folder = cluster.settings.media_root / video["_id"]
        for variant in ("video.mp4", "thumbnail.jpg"):
            if not (folder / variant).is_file() or (folder / variant).stat().st_size == 0:
                report.lost.append(f"{video['_id']}: {variant} missing or empty")
    return report


async def media_full(cluster: Cluster, load: Load, timing: Timing) -> Report:
    return await break_media_store(cluster, load, timing, "full")


async def media_read_only(cluster: Cluster, load: Load, timing: Timing) -> Report:
    return await break_media_store(cluster, load, timing, "read-only")


async def disk_full(cluster: Cluster, load: Load, timing: Timing) -> Report:
    return await break_media_store(cluster, load, timing, "disk-full")


FAULTS = {
    "worker": kill_worker_mid_job,
    "valkey": restart_valkey,
    "mongo": restart_mongo,
    "api": kill_one_api,
    "media-full": media_full,
    "media-read-only": media_read_only,
    "media-disk-full": disk_full,
}


async def run_case(cluster: Cluster, name: str, people: list[User], posts: list[str], shape: LoadShape, timing: Timing) -> Report:
    """One fault under load. The swipers are new people each time (one who
    has seen every post has nothing left to swipe)."""
    await wait_ready(cluster)
    async with httpx.AsyncClient(base_url=next(u for u, a in zip(cluster.urls, cluster.apis) if a), timeout=30) as http:
        swipers = [await signup(http, "s") for _ in range(shape.swipers)]
    load = Load(cluster, swipers + people, posts, shape)
    load.start()
    try:
        return await FAULTS[name](cluster, load, timing)
    finally:
        if not load._stop.is_set():
            await load.stop()
