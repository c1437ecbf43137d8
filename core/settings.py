"""Typed settings read from ``FABULA_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

PREFIX = "FABULA_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    mongo_url: str = "mongodb://127.0.0.1:27017"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # a Redis command's socket timeout: how soon a server that hangs (rather
    # than refuses) is given up on, and the request answered 503 (core.stores)
    redis_command_timeout_s: float = 10.0
    # Mongo database name and Redis key prefix: lets one pair of servers
    # hold several isolated installations (tests use one per session).
    namespace: str = "fabula"
    data_dir: Path = Path("var")
    media_dir: Path | None = None
    model: str = "tiny"
    model_dir: Path | None = None
    # MiniLM's ONNX copies, built once per machine (core.minilm; default ~/.cache/fabula/minilm)
    minilm_cache: Path | None = None
    # what a request may ask of the served model (the tiny CPU preset by default)
    default_size: str = "64x64"
    max_video_side: int = 256
    max_video_seconds: int = 12
    max_body_bytes: int = 10 * 1024 * 1024
    max_upload_bytes: int = 25 * 1024 * 1024
    # a token unused for token_ttl_s expires; use extends it (at most one
    # write per token every token_extend_every_s), but never past
    # token_max_age_s after it was issued
    token_ttl_s: int = 30 * 24 * 3600
    token_extend_every_s: int = 3600
    token_max_age_s: int = 365 * 24 * 3600
    job_max_attempts: int = 3
    public_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True

    # --- job queue, workers, quotas and the admin view (gen.queue, gen.worker,
    # gen.heartbeat, policy.quota, server.routes.admin) ---
    # A delivered job whose worker has not extended its claim for this long is
    # taken over by another worker (XAUTOCLAIM). Healthy workers extend their
    # claim every third of it, so a long job is never stolen.
    job_visibility_ms: int = 60_000
    # Jobs whose seconds x width x height is at most this go to the priority
    # lane (default: 4 s of 512x512); 0 turns the priority lane off.
    job_priority_max_cost: int = 4 * 512 * 512
    # Priority jobs a worker may take in a row while standard jobs wait.
    job_priority_burst: int = 3
    # Every this often, one worker looks for unfinished jobs that Redis has
    # no trace of (lost writes) and queues them again (gen.lost_jobs); 0: never.
    job_sweep_every_s: float = 30.0
    # ... among the jobs queued (or started) at least this long ago: a create
    # writes its document a moment before it queues the job.
    job_sweep_after_s: float = 60.0
    # How often a worker writes its heartbeat; it expires after three of these.
    worker_heartbeat_s: float = 5.0
    # A stopping worker gives its running job this long to finish, then hands
    # it back to the head of its lane (taken at once on the next start).
    worker_stop_grace_s: float = 5.0
    # FAULT INJECTION, for tests only: a worker raises on every attempt at a
    # job whose prompt contains this text (empty: off).
    worker_fail_prompt: str = ""
    # Per user: queued + in-progress videos allowed at once, and queued alone
    # (0: no limit).
    quota_max_pending: int = 100
    quota_max_queued: int = 0

    # an api process gives its C heap's free pages back this often (core.heap_trim; 0: never)
    heap_trim_every_s: float = 10.0

    # --- WebSockets (server.ws) ---
    # sockets one user may hold open on one api process (one more is closed with 4429)
    ws_max_connections_per_user: int = 8
    # videos one socket may follow at once (one more is answered too_many_subscriptions)
    ws_max_subscriptions: int = 32

    # --- live previews over WebRTC (server.rtc, docs/WEBSOCKET.md) ---
    # the addresses the api's peers offer as ICE host candidates, comma-separated;
    # empty: every address of the machine's interfaces but loopback (aioice's
    # choice), or 127.0.0.1 when there is no other. "127.0.0.1": loopback only
    # (tests, a client on the same machine)
    rtc_host_addresses: str = ""
    # STUN servers the peers ask for their public address ("stun:host:port",
    # comma-separated); empty: none (host candidates only; no outside lookup)
    rtc_ice_servers: str = ""
    # peers one api process holds, in all and per user (one more is 503 rtc_busy / 429 too_many_peers)
    rtc_max_peers: int = 64
    rtc_max_peers_per_user: int = 4
    # a peer not connected this long after its answer is closed; any peer is closed after rtc_max_session_s
    rtc_connect_timeout_s: float = 15.0
    rtc_max_session_s: float = 1800.0

    # --- cameos (cameos.verification, server.routes.cameos) ---
    # processes that verify cameo recordings (liveness, identity), made on first use
    cameo_workers: int = 1
    # the largest recording accepted (bigger is a 413 before it is decoded)
    cameo_max_upload_bytes: int = 50 * 1024 * 1024

    # --- rate limits (core.rate_limit): "N/PERIOD" (e.g. "10/10m": 10 at
    # once, refilled at 10 per 10 minutes) or "off" ---
    rate_login_handle: str = "10/10m"  # login attempts per handle (a good login resets it)
    rate_login_ip: str = "60/10m"  # login attempts per client address
    # a login bucket that runs dry locks its handle or address out this long,
    # twice as long each time it runs dry again, at most rate_login_lockout_max_s
    rate_login_lockout_s: int = 60
    rate_login_lockout_max_s: int = 3600
    rate_signup_ip: str = "10/1h"  # accounts made per client address
    rate_password_check: str = "10/10m"  # password change and account deletion, per user
    rate_export: str = "3/1h"  # data exports per user
    rate_provenance_check: str = "30/10m"  # public provenance checks per user, or per address signed out
    rate_reports: str = "20/1h"  # reports (posts, comments, users, cameos) per user
    rate_comments: str = "30/1m"  # comments and replies per user
    rate_videos: str = "30/10m"  # video creations (new, remix, extend, edit) per user
    rate_search: str = "60/1m"  # user searches per user (GET /v1/users?q=): no walking the whole directory
    rate_likes: str = "60/1m"  # likes and unlikes per user
    rate_follows: str = "60/10m"  # follows, unfollows, blocks and unblocks per user
    rate_block_list: str = "60/1m"  # pages of one's own blocked accounts per user (GET /v1/me/blocks)
    rate_cameo_uploads: str = "20/1h"  # cameo and character recordings per user, every attempt (before the upload is read)
    rate_cameo_edits: str = "30/10m"  # changes to a cameo's settings per user (its preferences are moderated)
    # incoming WebSocket messages (server.ws.rate): per connection and per user across
    # every socket and api process; one over gets an ``error`` ``rate_limited``
    rate_ws_connection: str = "60/10s"
    rate_ws_user: str = "150/10s"
    # a socket that goes on sending this many refused messages in a row is closed (1008)
    rate_ws_close_after: int = 100
    # the largest file POST /v1/provenance/check accepts (bigger is a 413 while it streams)
    provenance_check_max_upload_bytes: int = 100 * 1024 * 1024

    # --- the public surface (server.app) ---
    # /schema (the OpenAPI document and its viewers); `fabula dev` turns it on
    openapi: bool = False
    # /metrics: served to `Authorization: Bearer <metrics_token>` when a token
    # is set, to anyone when metrics_public (`fabula dev` turns it on), else not at all
    metrics_token: str = ""
    metrics_public: bool = False

    # --- media store (core.media_store.open_media_store) ---
    # Empty: the local folder ``media_dir`` (default <data_dir>/media).
    # ``s3://bucket/prefix``: an S3-compatible bucket; credentials from the
    # usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...).
    media_url: str = ""
    s3_endpoint_url: str = ""  # MinIO, Ceph, R2 ...; empty: AWS
    s3_region: str = ""

    # --- provenance marks on every output (gen.provenance, docs/PROVENANCE.md) ---
    # the moving label "<watermark_text> @handle" burnt into every frame
    watermark_visible: bool = True
    watermark_text: str = "Fabula"
    watermark_opacity: float = 0.6
    watermark_size: float = 0.06  # label height / the frame's short side
    # the invisible 48-bit key in every frame; strength in grey levels (3: PSNR ~39.5 dB)
    watermark_invisible: bool = True
    watermark_strength: float = 3.0
    # C2PA manifests in the MP4 and thumbnail. Without a key and certificate
    # chain (PEM) a development chain is made under provenance_dir
    # (default <data_dir>/provenance); trust anchors: the root(s) readers trust.
    c2pa_sign: bool = True
    c2pa_key_path: Path | None = None
    c2pa_cert_path: Path | None = None
    c2pa_trust_anchors_path: Path | None = None
    provenance_dir: Path | None = None

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def models_root(self) -> Path:
        return self.model_dir or self.data_dir / "models"


def _decode_custom(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot read {kind!r} from the environment")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment; a bad value raises ValueError naming the variable."""
    env = os.environ if env is None else env
    raw = {
        name: env[PREFIX + name.upper()]
        for name in Settings.__struct_fields__
        if PREFIX + name.upper() in env
    }
    try:
        return msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_custom)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad FABULA_* setting: {exc}") from exc


def settings_env(settings: Settings) -> dict[str, str]:
    """The FABULA_* variables that reproduce ``settings`` in a child process."""
    out: dict[str, str] = {}
    for name in Settings.__struct_fields__:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[PREFIX + name.upper()] = str(value)
    return out
