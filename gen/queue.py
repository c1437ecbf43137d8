"""The job queue: fair lanes in front of one consumer-group stream.

Two layers, each doing one thing.

**Lanes decide who goes next.** A queued job waits in its owner's lane, a
Redis list ``{ns}:jobs:lane:{class}:{owner}``. There are two lane classes:
``prio`` for short jobs (seconds x width x height at most
``job_priority_max_cost``) and ``std`` for the rest. Each class has a *ring*
``{ns}:jobs:ring:{class}``: a list of the owners that have jobs waiting in that
class, each once. Taking a job rotates the ring (LMOVE head to tail) and pops
the head of that owner's lane, so owners are served round robin: one user's
burst of 100 jobs delays another user's single job by at most one of theirs.
Priority jobs go first, but at most ``job_priority_burst`` in a row while
standard jobs wait, so neither class starves the other.

**The stream delivers.** A taken job is XADDed to ``{ns}:jobs`` and read
through the consumer group ``workers`` (XREADGROUP) in the same Lua script,
so it lands in the worker's pending list the moment it leaves its lane. From
there delivery is at least once: the worker acknowledges the entry when the
job is finished (XACK, then XDEL, so the stream only ever holds jobs in
flight); a worker that dies leaves it pending, and once it has been idle for
``job_visibility_ms`` another worker takes it over (XAUTOCLAIM). A healthy
worker keeps resetting its entry's idle time (``touch``: XCLAIM ... JUSTID,
only while it still owns the entry), so a long job is never stolen and the
visibility timeout can be short. Each worker looks for entries to take over
once per ``reclaim_interval_ms`` (a quarter of the visibility timeout, at
most a second), together with stream entries never delivered (left by an
older version). Effects
happen exactly once because every write of an attempt is fenced on the job
document (status, worker, attempt number; see ``gen.jobs``), every attempt of
a job renders the same frames (its seed is fixed by its id) and outputs are
keyed by the job id.

Cancelling (``gen.cancel``) takes a queued job out of its lane
(``withdraw``); a running job is stopped by the cancel flag that
``gen.cancel`` keeps.

Failures: an attempt that raises is put back at the end of its owner's lane
(``retry``); after ``job_max_attempts`` the job fails and its entry is copied
to the dead-letter stream ``{ns}:jobs:dead`` with the reason (``dead_letter``).

Shutdown: a worker that stops with a job in hand gives it back (``release``):
the job goes to the head of its owner's lane and the owner to the head of
the ring, so the next worker to take (after a restart, at once) takes it
first, instead of waiting for the visibility timeout.

Lost jobs: the job documents in Mongo are the record of every job; Redis
only says where each one waits. A Valkey killed while its append-only file
was behind (a slow background fsync postpones the file's write by up to
2 s, and replies go out meanwhile), restarted from an older file, or a
driver that failed after Mongo took a create, can leave a job that is
``queued`` or ``in_progress`` in Mongo but in no lane and not in the stream.
``missing`` finds such jobs and ``requeue_missing`` puts them back, both in
one script, so a job that is somewhere is never queued twice;
``gen.lost_jobs`` decides which jobs to ask about, and one worker at a time
(``claim_sweep``) asks.

Waking: every enqueue also pushes a token onto ``{ns}:jobs:wake``; an idle
worker blocks on it (BLPOP) and then takes. A busy worker takes again right
away, acknowledging its last entry in the same call, so a job costs the
worker one round trip. Tokens are a hint, never the truth: a worker that
times out in BLPOP takes anyway, and a take that finds every lane empty
clears stale tokens.

All the moving parts change in Lua scripts, so a job is always in exactly
one place: a lane, or the stream. Depth (``depth``) is counted on demand
from the rings, the group's pending list and the dead-letter stream. The scripts build key names from the
namespace, so they need a single Valkey/Redis node (or a cluster where the
namespace is a hash tag, e.g. ``{fabula}``).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import ResponseError

from core.stores import Stores

if TYPE_CHECKING:
    from gen.jobs import Job

GROUP = "workers"
LANES = ("prio", "std")
ANONYMOUS = "_"  # the lane of jobs enqueued by id alone whose document is gone
DEAD_MAXLEN = 100_000


@dataclass(frozen=True)
class Entry:
    entry_id: str
    video_id: str
    owner: str = ANONYMOUS
    lane: str = "std"
    # how long the job waited in its lane, on the Redis server's clock (ms)
    waited_ms: int | None = None
    # True when taken over from a worker that stopped answering (XAUTOCLAIM)
    reclaimed: bool = False


# --- keys -------------------------------------------------------------------


def stream_key(stores: Stores) -> str:
    return stores.key("jobs")


def dead_key(stores: Stores) -> str:
    return stores.key("jobs", "dead")


def wake_key(stores: Stores) -> str:
    return stores.key("jobs", "wake")


# --- scripts ----------------------------------------------------------------

# push(prefix, owner, lane class, video_id): the job at the end of its
# owner's lane, stamped with the server's clock (ms); the owner joins the
# class's ring when the lane was empty; one wake token. Returns the lane's
# length. Shared by the enqueue and retry scripts.
_PUSH = """
local function push(p, owner, lane, vid)
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local key = p .. ':jobs:lane:' .. lane .. ':' .. owner
  local n = redis.call('RPUSH', key, vid .. ' ' .. now)
  if n == 1 then redis.call('RPUSH', p .. ':jobs:ring:' .. lane, owner) end
  redis.call('RPUSH', p .. ':jobs:wake', '1')
  return n
end
"""

# ARGV: prefix, owner, lane, video_id
_ENQUEUE = _PUSH + """
return push(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"""

# ARGV: prefix, consumer, holding a wake token (0/1), entry id to acknowledge
# first (or ''), visibility ms, scan for stale and undelivered entries (0/1),
# priority burst
_TAKE = """
local p, consumer = ARGV[1], ARGV[2]
local stream = p .. ':jobs'
if ARGV[4] ~= '' then
  redis.call('XACK', stream, 'workers', ARGV[4])
  redis.call('XDEL', stream, ARGV[4])
end
if ARGV[6] == '1' then
  -- entries in the stream never delivered (left by an older version, or by a
  -- take that failed half-way); creates the group when it is missing
  local got = redis.pcall('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
  if type(got) == 'table' and got.err then
    redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
    got = false
  end
  if got and got[1] and got[1][2][1] then
    local e = got[1][2][1]
    return {'new', e[1], e[2], -1}
  end
  -- entries whose worker stopped extending its claim
  local r = redis.call('XAUTOCLAIM', stream, 'workers', consumer, ARGV[5], '0-0', 'COUNT', 1)
  local e = r[2][1]
  if e then return {'claimed', e[1], e[2], -1} end
end
-- the next owner's job, round robin; the priority lane first, but at most
-- ARGV[7] times in a row while standard jobs wait
local prio, std = p .. ':jobs:ring:prio', p .. ':jobs:ring:std'
local np = redis.call('LLEN', prio)
local ns = -1  -- not looked at: the standard lane is only counted when it competes
local order
if np > 0 then
  ns = redis.call('LLEN', std)
  if ns > 0 and tonumber(redis.call('GET', p .. ':jobs:prio_run') or '0') >= tonumber(ARGV[7]) then
    order = {{'std', std, ns}, {'prio', prio, np}}
  else
    order = {{'prio', prio, np}, {'std', std, ns}}
  end
else
  order = {{'std', std, 1000000}}
end
for _, o in ipairs(order) do
  local lane, ring = o[1], o[2]
  for _ = 1, o[3] do
    local owner = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
    if not owner then break end
    local key = p .. ':jobs:lane:' .. lane .. ':' .. owner
    local item = redis.call('LPOP', key)
    if redis.call('LLEN', key) == 0 then redis.call('LREM', ring, -1, owner) end
    if item then
      if np > 0 and ns > 0 then
        if lane == 'prio' then
          redis.call('INCR', p .. ':jobs:prio_run')
        else
          redis.call('SET', p .. ':jobs:prio_run', '0')
        end
      end
      if ARGV[3] == '0' then redis.call('LPOP', p .. ':jobs:wake') end
      local sp = string.find(item, ' ', 1, true)
      local t = redis.call('TIME')
      local waited = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(string.sub(item, sp + 1))
      redis.call('XADD', stream, '*', 'v', string.sub(item, 1, sp - 1), 'o', owner, 'l', lane)
      local r = redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
      local e = r[1][2][1]
      return {'new', e[1], e[2], waited}
    end
  end
end
redis.call('DEL', p .. ':jobs:wake')  -- nothing queued: any token left is stale
return false
"""

# ARGV: prefix, owner, video_id
_WITHDRAW = """
local p, owner, vid = ARGV[1], ARGV[2], ARGV[3]
local prefix = vid .. ' '
for _, lane in ipairs({'prio', 'std'}) do
  local key = p .. ':jobs:lane:' .. lane .. ':' .. owner
  for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do
    if string.sub(item, 1, #prefix) == prefix then
      redis.call('LREM', key, 1, item)
      redis.call('LPOP', p .. ':jobs:wake')
      if redis.call('LLEN', key) == 0 then redis.call('LREM', p .. ':jobs:ring:' .. lane, 0, owner) end
      return 1
    end
  end
end
return 0
"""

# KEYS: stream; ARGV: consumer, entry id
_TOUCH = """
local pend = redis.call('XPENDING', KEYS[1], 'workers', ARGV[2], ARGV[2], 1)
if #pend == 0 or pend[1][2] ~= ARGV[1] then return 0 end
redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], 0, ARGV[2], 'JUSTID')
return 1
"""

# KEYS: stream, dead stream; ARGV: entry id, maxlen, field/value pairs...
_DEAD_LETTER = """
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""

# KEYS: stream; ARGV: entry id, then the enqueue script's ARGV
_RETRY = _PUSH + """
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return push(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""

# KEYS: stream; ARGV: consumer, entry id, prefix, owner, lane, video_id.
# Only while the entry is still the consumer's: the job back at the head of
# its owner's lane, the owner at the head of the ring, one wake token.
_RELEASE = """
local pend = redis.call('XPENDING', KEYS[1], 'workers', ARGV[2], ARGV[2], 1)
if #pend == 0 or pend[1][2] ~= ARGV[1] then return 0 end
redis.call('XACK', KEYS[1], 'workers', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local p, owner, lane = ARGV[3], ARGV[4], ARGV[5]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ring = p .. ':jobs:ring:' .. lane
redis.call('LPUSH', p .. ':jobs:lane:' .. lane .. ':' .. owner, ARGV[6] .. ' ' .. now)
redis.call('LREM', ring, 0, owner)
redis.call('LPUSH', ring, owner)
redis.call('RPUSH', p .. ':jobs:wake', '1')
return 1
"""

# ARGV: prefix, requeue (0/1), then (video_id, owner, lane class) triples.
# Returns the ids of those jobs found in none of their owner's lanes and not
# in the stream (delivered or not); with requeue, each is pushed to the end
# of its owner's lane, in the same script.
_MISSING = _PUSH + """
local p, requeue = ARGV[1], ARGV[2] == '1'
local in_stream = {}
for _, e in ipairs(redis.call('XRANGE', p .. ':jobs', '-', '+')) do
  local f = e[2]
  for i = 1, #f - 1, 2 do
    if f[i] == 'v' or f[i] == 'video_id' then in_stream[f[i + 1]] = true end
  end
end
local lanes = {}
local function waiting(owner)
  local found = lanes[owner]
  if found then return found end
  found = {}
  for _, lane in ipairs({'prio', 'std'}) do
    for _, item in ipairs(redis.call('LRANGE', p .. ':jobs:lane:' .. lane .. ':' .. owner, 0, -1)) do
      local sp = string.find(item, ' ', 1, true)
      found[sp and string.sub(item, 1, sp - 1) or item] = true
    end
  end
  lanes[owner] = found
  return found
end
local missing = {}
for i = 3, #ARGV - 2, 3 do
  local vid, owner, lane = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local queued = waiting(owner)
  if not in_stream[vid] and not queued[vid] then
    if requeue then
      push(p, owner, lane, vid)
      queued[vid] = true
    end
    missing[#missing + 1] = vid
  end
end
return missing
"""

# ARGV: prefix. Per lane class: {owners waiting, jobs queued}; then the
# group's pending count and the dead-letter stream's length.
_DEPTH = """
local p = ARGV[1]
local out = {}
for _, lane in ipairs({'prio', 'std'}) do
  local owners = redis.call('LRANGE', p .. ':jobs:ring:' .. lane, 0, -1)
  local queued = 0
  for _, owner in ipairs(owners) do
    queued = queued + redis.call('LLEN', p .. ':jobs:lane:' .. lane .. ':' .. owner)
  end
  out[#out + 1] = #owners
  out[#out + 1] = queued
end
local pending = redis.pcall('XPENDING', p .. ':jobs', 'workers')
if type(pending) == 'table' and not pending.err then out[#out + 1] = pending[1] else out[#out + 1] = 0 end
out[#out + 1] = redis.call('XLEN', p .. ':jobs:dead')
return out
"""


class _Scripts:
    """The scripts registered on one Redis client (registration is local; the
    server loads each on first use)."""

    def __init__(self, client) -> None:
        self.enqueue = client.register_script(_ENQUEUE)
        self.take = client.register_script(_TAKE)
        self.withdraw = client.register_script(_WITHDRAW)
        self.touch = client.register_script(_TOUCH)
        self.dead_letter = client.register_script(_DEAD_LETTER)
        self.retry = client.register_script(_RETRY)
        self.release = client.register_script(_RELEASE)
        self.depth = client.register_script(_DEPTH)
        self.missing = client.register_script(_MISSING)


_REGISTERED: weakref.WeakKeyDictionary[object, _Scripts] = weakref.WeakKeyDictionary()


def _scripts(stores: Stores) -> _Scripts:
    scripts = _REGISTERED.get(stores.redis)
    if scripts is None:
        scripts = _REGISTERED[stores.redis] = _Scripts(stores.redis)
    return scripts


# --- producing --------------------------------------------------------------


def lane_for(stores: Stores, *, seconds: int, width: int, height: int) -> str:
    """``prio`` for short jobs (seconds x pixels at most the setting), else ``std``."""
    limit = stores.settings.job_priority_max_cost
    return "prio" if limit > 0 and seconds * width * height <= limit else "std"


async def ensure_group(stores: Stores) -> None:
    try:
        await stores.redis.xgroup_create(stream_key(stores), GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _lane_of(stores: Stores, job: Job) -> str:
    return lane_for(stores, seconds=job.seconds, width=job.width, height=job.height)


async def enqueue(stores: Stores, job: Job | str) -> str:
    """Put a job at the end of its owner's lane; returns the lane (``prio``/``std``).

    Takes the ``Job`` (no extra read) or its id (the document is read to find
    the owner and the job's size).
    """
    if isinstance(job, str):
        from gen.jobs import get_job

        found = await get_job(stores, job)
        if found is None:
            owner, lane, video_id = ANONYMOUS, "std", job
        else:
            owner, lane, video_id = found.owner_id, _lane_of(stores, found), found.id
    else:
        owner, lane, video_id = job.owner_id, _lane_of(stores, job), job.id
    await _scripts(stores).enqueue(args=[stores.settings.namespace, owner, lane, video_id])
    return lane


async def withdraw(stores: Stores, video_id: str, owner: str) -> bool:
    """Take a job that no worker has taken yet out of its lane (cancel)."""
    return bool(await _scripts(stores).withdraw(args=[stores.settings.namespace, owner, video_id]))


# --- consuming --------------------------------------------------------------


def _decode_entry(reply) -> Entry | None:
    if not reply:
        return None
    kind, entry_id, raw, waited = reply
    fields = {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)} if raw else {}
    video_id = fields.get(b"v") or fields.get(b"video_id")
    if video_id is None:
        return None
    return Entry(
        entry_id=entry_id.decode(),
        video_id=video_id.decode(),
        owner=fields.get(b"o", ANONYMOUS.encode()).decode(),
        lane=fields.get(b"l", b"std").decode(),
        waited_ms=int(waited) if int(waited) >= 0 else None,
        reclaimed=kind == b"claimed",
    )


def reclaim_interval_ms(visibility_ms: int) -> int:
    """How often each worker looks for entries to take over (and undelivered ones)."""
    return max(50, min(1000, visibility_ms // 4))


# consumer -> monotonic time of its next scan for stale and undelivered entries
_NEXT_SCAN: dict[tuple[int, str], float] = {}


async def take(
    stores: Stores,
    consumer: str,
    *,
    visibility_ms: int | None = None,
    ack: str | None = None,
    holding: bool = False,
) -> Entry | None:
    """The next job for ``consumer``, or None when there is none.

    One round trip: acknowledges ``ack`` first (the entry just finished),
    then returns an undelivered stream entry, else a stale entry to take
    over, else the next job by lane fairness. ``holding`` says the caller
    already popped a wake token.
    """
    settings = stores.settings
    visibility = settings.job_visibility_ms if visibility_ms is None else visibility_ms
    scan_key = (id(stores.redis), consumer)
    while True:
        now = time.monotonic()
        scan = now >= _NEXT_SCAN.get(scan_key, 0.0)
        if scan:
            _NEXT_SCAN[scan_key] = now + reclaim_interval_ms(visibility) / 1000
        args = [
            settings.namespace,
            consumer,
            1 if holding else 0,
            ack or "",
            visibility,
            1 if scan else 0,
            settings.job_priority_burst,
        ]
        try:
            reply = await _scripts(stores).take(args=args)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # the group vanished (e.g. Redis lost its data): make it again; a
            # job the failed call had already moved to the stream is picked
            # up by the next scan for undelivered entries
            await ensure_group(stores)
            reply = await _scripts(stores).take(args=args)
        entry = _decode_entry(reply)
        if reply and scan and int(reply[3]) < 0:  # the scan found something: look again next time
            _NEXT_SCAN.pop(scan_key, None)
        if entry is not None or not reply:
            return entry
        # an entry without a video id (foreign): drop it and look again
        await ack_entry(stores, reply[1].decode())
        ack, holding = None, False


async def wait(stores: Stores, timeout_s: float) -> bool:
    """Block until a job may be waiting (True: a wake token was taken)."""
    got = await stores.redis_blocking.blpop([wake_key(stores)], timeout=timeout_s)
    return got is not None


async def next_entry(
    stores: Stores,
    consumer: str,
    *,
    visibility_ms: int | None = None,
    ack: str | None = None,
    block_s: float = 1.0,
) -> Entry | None:
    """``take``, and when there is nothing, wait up to ``block_s`` for a job and take again."""
    entry = await take(stores, consumer, visibility_ms=visibility_ms, ack=ack)
    if entry is not None:
        return entry
    woke = await wait(stores, block_s)
    return await take(stores, consumer, visibility_ms=visibility_ms, holding=woke)


async def ack_entry(stores: Stores, entry_id: str) -> None:
    async with stores.redis.pipeline(transaction=True) as pipe:
        pipe.xack(stream_key(stores), GROUP, entry_id)
        pipe.xdel(stream_key(stores), entry_id)
        await pipe.execute()


async def ack(stores: Stores, entry_id: str) -> None:
    await ack_entry(stores, entry_id)


async def touch(stores: Stores, consumer: str, entry_id: str) -> bool:
    """Reset the idle time of ``consumer``'s entry; False when it is no longer
    ``consumer``'s (taken over by another worker, or acknowledged)."""
    return bool(await _scripts(stores).touch(keys=[stream_key(stores)], args=[consumer, entry_id]))


async def retry(stores: Stores, entry: Entry) -> None:
    """Acknowledge ``entry`` and put its job back at the end of its owner's lane."""
    await _scripts(stores).retry(
        keys=[stream_key(stores)],
        args=[entry.entry_id, stores.settings.namespace, entry.owner, entry.lane, entry.video_id],
    )


async def release(stores: Stores, consumer: str, entry: Entry) -> bool:
    """Give ``entry``'s job back (a worker stopping): to the head of its
    owner's lane, to be taken next. False when the entry was no longer
    ``consumer``'s (taken over, or already acknowledged)."""
    released = await _scripts(stores).release(
        keys=[stream_key(stores)],
        args=[consumer, entry.entry_id, stores.settings.namespace, entry.owner, entry.lane, entry.video_id],
    )
    return bool(released)


async def dead_letter(stores: Stores, entry: Entry, reason: str, attempts: int, worker: str) -> None:
    """Acknowledge ``entry`` and keep a copy, with why it was given up, on ``{ns}:jobs:dead``."""
    fields = ["video_id", entry.video_id, "owner", entry.owner, "lane", entry.lane, "entry_id", entry.entry_id,
              "attempts", str(attempts), "worker", worker, "reason", reason[:1000]]
    await _scripts(stores).dead_letter(keys=[stream_key(stores), dead_key(stores)], args=[entry.entry_id, DEAD_MAXLEN, *fields])


async def dead_letters(stores: Stores, count: int = 100) -> list[dict[str, str]]:
    """The newest dead-lettered jobs, newest first."""
    rows = await stores.redis.xrevrange(dead_key(stores), count=count)
    return [{"id": i.decode(), **{k.decode(): v.decode() for k, v in f.items()}} for i, f in rows]


async def prune_consumers(stores: Stores, idle_ms: int) -> int:
    """Forget consumers (stopped workers) with nothing pending and idle for ``idle_ms``."""
    try:
        consumers = await stores.redis.xinfo_consumers(stream_key(stores), GROUP)
    except ResponseError:
        return 0
    gone = 0
    for c in consumers:
        name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
        if int(c.get("pending") or 0) == 0 and int(c.get("idle") or 0) >= idle_ms:
            # DELCONSUMER drops pending entries too; only ones with none are removed
            gone += 1
            await stores.redis.xgroup_delconsumer(stream_key(stores), GROUP, name)
    return gone


# --- jobs Redis lost ----------------------------------------------------------


def _triples(stores: Stores, found: list[Job]) -> list[str]:
    args: list[str] = []
    for job in found:
        args += [job.id, job.owner_id, _lane_of(stores, job)]
    return args


async def missing(stores: Stores, found: list[Job]) -> set[str]:
    """The ids of the jobs in ``found`` that are in none of their owner's lanes
    and not in the stream: Redis has no trace of them."""
    if not found:
        return set()
    reply = await _scripts(stores).missing(args=[stores.settings.namespace, 0, *_triples(stores, found)])
    return {vid.decode() for vid in reply}


async def requeue_missing(stores: Stores, found: list[Job]) -> list[str]:
    """Put each job of ``found`` that Redis has no trace of at the end of its
    owner's lane (the check and the push in one script: a job that is in a
    lane or in the stream is never queued twice); returns their ids."""
    if not found:
        return []
    reply = await _scripts(stores).missing(args=[stores.settings.namespace, 1, *_triples(stores, found)])
    return [vid.decode() for vid in reply]


async def claim_sweep(stores: Stores, holder: str, every_s: float) -> bool:
    """True for the first caller in each ``every_s`` period: one worker of the
    installation looks for lost jobs at a time."""
    return bool(await stores.redis.set(stores.key("jobs", "sweep"), holder, nx=True, px=max(1, int(every_s * 1000))))


# --- looking at it ----------------------------------------------------------


@dataclass(frozen=True)
class Depth:
    lanes: dict[str, int]  # queued jobs per lane class
    owners: dict[str, int]  # owners with jobs waiting, per lane class
    in_flight: int  # delivered, not yet acknowledged
    dead: int  # dead-lettered jobs kept

    @property
    def queued(self) -> int:
        return sum(self.lanes.values())


def _depth(reply) -> Depth:
    owners_prio, queued_prio, owners_std, queued_std, pending, dead = (int(x) for x in reply)
    return Depth(
        lanes={"prio": queued_prio, "std": queued_std},
        owners={"prio": owners_prio, "std": owners_std},
        in_flight=pending,
        dead=dead,
    )


async def depth(stores: Stores) -> Depth:
    return _depth(await _scripts(stores).depth(args=[stores.settings.namespace]))


_SYNC_DEPTH: weakref.WeakKeyDictionary[object, object] = weakref.WeakKeyDictionary()


def depth_sync(client, namespace: str) -> Depth:
    """``depth`` through a synchronous client (for Prometheus collectors)."""
    script = _SYNC_DEPTH.get(client)
    if script is None:
        script = _SYNC_DEPTH[client] = client.register_script(_DEPTH)
    return _depth(script(args=[namespace]))
