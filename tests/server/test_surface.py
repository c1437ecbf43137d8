"""What every route shares: probes, metrics, request ids and logs, the error
body, the OpenAPI document, and a crude fuzz that must never reach a 5xx."""

from __future__ import annotations

import json
import re
import uuid
import warnings

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from server.app import create_app
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import poll

REQUEST_ID = re.compile(r"^req_[0-9a-z]{26}$")
# the /v1 operations without a token: signing up, logging in, and the public provenance check (a bad token is ignored there)
PUBLIC = {("post", "/v1/auth/signup"), ("post", "/v1/auth/login"), ("post", "/v1/provenance/check")}
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items() if method in METHODS]


# The document as the app builds it, known at collection time so that each
# operation is a test of its own; test_openapi_document_is_served checks the
# live api serves the same one.
with warnings.catch_warnings():  # Litestar's deprecation notices belong to the app's own tests
    warnings.simplefilter("ignore")
    OFFLINE_DOC = create_app(Settings()).openapi_schema.to_schema()
OPERATIONS = _operations(OFFLINE_DOC)


def _op_id(case) -> str:
    method, path, _ = case
    return f"{method.upper()} {path}"


# --- probes ------------------------------------------------------------------


async def test_healthz_and_readyz(http):
    r = await http.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await http.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["checks"]) == ("ok", {"mongo": True, "redis": True})
    assert isinstance(body["workers"], int) and body["workers"] >= 0  # generation workers ready now
    assert isinstance(body["moderation"], bool)  # the prompt classifier, loading in the background at start


async def test_readyz_reports_the_prompt_classifier_once_loaded(http):
    from tests.feed.test_posts_feed import poll

    async def loaded():
        return (await http.get("/readyz")).json()["moderation"] is True

    await poll(loaded, timeout=120, what="the prompt classifier to load")


# --- metrics ------------------------------------------------------------------


def _requests_total(text: str) -> dict[tuple[str, str, str], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "fabula_requests_total":
                out[(sample.labels["method"], sample.labels["path"], sample.labels["status_code"])] = sample.value
    return out


async def test_metrics_count_requests_by_route_template_and_status(http):
    me = await signup(http)
    before = _requests_total((await http.get("/metrics")).text)
    for _ in range(3):
        assert (await http.get("/healthz")).status_code == 200
    for i in range(2):
        assert (await http.get(f"/v1/posts/post_nope{i}", headers=me["headers"])).status_code == 404
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = _requests_total(r.text)  # also proves the text parses as Prometheus exposition
    assert after[("GET", "/healthz", "200")] - before.get(("GET", "/healthz", "200"), 0) >= 3
    # ids are folded into the route's template, so the label set stays bounded
    key = ("GET", "/v1/posts/{post_id}", "404")
    assert after[key] - before.get(key, 0) >= 2
    assert not any("post_nope" in path for _, path, _ in after)
    assert "fabula_request_duration_seconds" in r.text


# --- request ids and logs ------------------------------------------------------


async def access_line(api, rid: str) -> dict:
    """The api's JSON access-log line for request ``rid`` (written just after the response)."""

    async def find():
        for line in api.log().splitlines():
            if rid in line and '"fabula.access"' in line:
                return json.loads(line)
        return None

    return await poll(find, timeout=10, interval=0.05, what=f"the access log line of {rid}")


async def test_request_id_is_generated_and_logged(api, http):
    a, b = await http.get("/healthz"), await http.get("/healthz")
    ids = [r.headers["x-request-id"] for r in (a, b)]
    assert all(REQUEST_ID.match(i) for i in ids) and ids[0] != ids[1], ids
    line = await access_line(api, ids[0])
    assert line["request_id"] == ids[0] and line["logger"] == "fabula.access" and line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert isinstance(line["ms"], (int, float)) and isinstance(line["ts"], (int, float))


SANE_IDS = ["abc", "trace-1.2_3", "A" * 64, uuid.uuid4().hex]
INSANE_IDS = ["", "has space", "a" * 65, "semi;colon", "quote\"d", "slash/ed", "caf\u00e9", "<script>"]


@pytest.mark.parametrize("given", SANE_IDS)
async def test_a_sane_request_id_is_echoed_and_logged(api, http, given):
    given = f"{given}-{uuid.uuid4().hex[:8]}" if len(given) <= 55 else given[:-8] + uuid.uuid4().hex[:8]  # unique in the log
    r = await http.get("/healthz", headers={"X-Request-ID": given})
    assert r.headers["x-request-id"] == given
    assert (await access_line(api, given))["path"] == "/healthz"


@pytest.mark.parametrize("given", INSANE_IDS, ids=[repr(i) for i in INSANE_IDS])
async def test_an_insane_request_id_is_replaced(http, given):
    r = await http.get("/healthz", headers={"X-Request-ID": given.encode()})
    assert r.status_code == 200
    assert REQUEST_ID.match(r.headers["x-request-id"]), r.headers["x-request-id"]


async def test_error_responses_carry_the_request_id(http):
    me = await signup(http)
    for r in (
        await http.get("/v1/posts/post_nope", headers=me["headers"]),  # 404 from a handler
        await http.get("/v1/feed", params={"limit": 0}, headers=me["headers"]),  # 400 from validation
        await http.post("/v1/posts", content=b"{", headers={**me["headers"], "content-type": "application/json"}),
        await http.get("/v1/me"),  # 401
    ):
        assert r.status_code >= 400 and REQUEST_ID.match(r.headers.get("x-request-id", "")), (r.status_code, dict(r.headers))


# Litestar answers unknown routes and wrong methods before any route-level
# middleware runs; the request-id middleware wraps the whole app for that.
@pytest.mark.parametrize("method,path", [("GET", "/no/such/route"), ("PUT", "/v1/posts")])
async def test_router_errors_carry_the_request_id(api, http, method, path):
    r = await http.request(method, path, headers={"X-Request-ID": f"router-{uuid.uuid4().hex[:8]}"})
    assert r.status_code in (404, 405)
    assert "x-request-id" in r.headers
    await access_line(api, r.headers["x-request-id"])


# --- the error body -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/", "/v1/posts/a/b/c", "/v2/feed", "/v1/feed/extra"])
async def test_unknown_routes_get_the_error_body(http, path):
    me = await signup(http)
    assert_error(await http.get(path, headers=me["headers"]), 404, "not_found")


@pytest.mark.parametrize("kind", ["cameos", "posts", "videos"])
async def test_a_long_unknown_id_is_quoted_in_part(http, kind):
    """A 404's message quotes the id it did not find, at most a thousand characters of it."""
    me = await signup(http)
    r = await http.get(f"/v1/{kind}/{'x' * 5000}", headers=me["headers"])
    assert r.status_code == 404, r.text[:200]
    err = r.json()["error"]  # the Videos API's has OpenAI's type and param besides
    assert len(err["message"]) <= 1000 and err["message"].endswith("…"), err["message"][:80]


@pytest.mark.parametrize(
    "method,path",
    [("PUT", "/v1/posts"), ("DELETE", "/v1/feed"), ("POST", "/healthz"), ("PUT", "/v1/posts/post_x"), ("GET", "/v1/auth/login")],
)
async def test_wrong_method_gets_405_and_the_error_body(http, method, path):
    r = await http.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert method not in r.headers["allow"] and r.headers["allow"]


# --- the OpenAPI document ----------------------------------------------------------


async def test_openapi_document_is_served(http):
    r = await http.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "Fabula"
    assert doc["paths"] == json.loads(json.dumps(OFFLINE_DOC["paths"]))
    assert {"ErrorBody", "ErrorInfo"} <= set(doc["components"]["schemas"])
    # the routes this suite relies on are all documented
    for method, path in [("post", "/v1/posts"), ("get", "/v1/posts/{post_id}"), ("get", "/v1/posts/{post_id}/content"), ("get", "/v1/feed")]:
        assert method in doc["paths"][path], (method, path)


def _declares(op: dict, status: int) -> bool:
    """``status`` answered with the error body (the Videos API's, with OpenAI's type and param, under /v1/videos)."""
    response = op["responses"].get(str(status))
    if response is None:
        return False
    schema = response["content"]["application/json"]["schema"]
    return schema in ({"$ref": "#/components/schemas/ErrorBody"}, {"$ref": "#/components/schemas/OpenAIErrorBody"})


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in OPERATIONS
    ],
    ids=[_op_id(c) for c in OPERATIONS],
)
def test_every_operation_declares_its_error_statuses(case):
    method, path, op = case
    for status in (400, 413):
        assert _declares(op, status), f"{method.upper()} {path} does not declare {status} with the error body"
    if path.startswith("/v1/") and (method, path) not in PUBLIC:
        assert _declares(op, 401), f"{method.upper()} {path} does not declare 401"
    for status, response in op["responses"].items():
        if int(status) >= 400:
            assert _declares(op, int(status)), f"{method.upper()} {path}: {status} is not the error body"


def test_the_error_body_schema():
    schemas = OFFLINE_DOC["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorInfo"]["properties"]) == {"code", "message", "details"}
    assert set(schemas["ErrorInfo"]["required"]) == {"code", "message", "details"}  # details is always sent, null or not
    assert schemas["OpenAIErrorBody"]["required"] == ["error"]
    assert set(schemas["OpenAIErrorInfo"]["properties"]) == {"code", "message", "details", "type", "param"}
    assert set(schemas["OpenAIErrorInfo"]["required"]) == {"code", "message", "details", "type", "param"}


# --- fuzz ---------------------------------------------------------------------------

PATH_VALUES = ["x", "%00", "%2e%2e", "a" * 400, "%F0%9F%8E%AC", "$where", "post_" + "0" * 26, "-1", "%25", "%ff%fe", "user_01jzzzzzzzzzzzzzzzzzzzzzzz"]
QUERY_VALUES = ["", "-1", "0", "abc", "9" * 40, "1e9", "2.5", "\x00", "[]", "{}", "true", "a" * 2000, "\u202e\ud7ff", "post_" + "!" * 26]


def _chunked(payload: bytes):
    """A body sent with chunked transfer encoding: no Content-Length to refuse it by."""

    async def gen():
        for i in range(0, len(payload), 16 * 1024):
            yield payload[i : i + 16 * 1024]

    return gen()


JSON = {"content-type": "application/json"}
BODIES = [
    (b"", JSON),
    (b"{", JSON),
    (b"null", JSON),
    (b"[]", JSON),
    (b"{}", JSON),
    (b'{"a": 1}', JSON),
    (b'"just a string"', JSON),
    (b"1e999", JSON),
    (b'{"video_id": {"$gt": ""}, "handle": {"$ne": null}, "prompt": ["x"]}', JSON),
    (b'{"x": ' + b"[" * 20000 + b"]" * 20000 + b"}", JSON),
    (b"\xff\xfe\x00{", JSON),
    (b'{"text": "\xff\xfe", "caption": "\xed\xa0\x80", "handle": "x"}', JSON),  # not UTF-8 inside a string
    (b'{"handle": "\\ud800", "bio": "\\u0000", "caption": "\\udfff"}', JSON),
    (b"{" + b'"k": 1,' * 5000 + b'"k": 2}', JSON),
    (b"x" * (300 * 1024), JSON),
    ("chunked-oversized", JSON),
    (b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken", {"content-type": "multipart/form-data; boundary=x"}),
    (b"a=1", {"content-type": "multipart/form-data"}),
    (b"%%%=&&&", {"content-type": "application/x-www-form-urlencoded"}),
    (b"<xml/>", {"content-type": "application/xml"}),
    (b"{}", {"content-type": "application/json; charset=utf-16"}),
]


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.fixture(scope="module")
def live_doc(api) -> dict:
    return httpx.get(api.url + "/schema/openapi.json", timeout=30).json()


async def test_fuzz_never_reaches_a_5xx_and_every_status_is_declared(http, live_doc):
    problems: list[str] = []
    seen = 0

    async def hit(method: str, path: str, op: dict, user: dict, **kwargs) -> None:
        nonlocal seen
        headers = {**user["headers"], **kwargs.pop("headers", {})}
        try:
            r = await http.request(method.upper(), path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:  # the server dropped the connection: as bad as a 500
            problems.append(f"{method.upper()} {path[:80]} {kwargs.get('params')}: {type(exc).__name__} {exc}")
            return
        seen += 1
        where = f"{method.upper()} {path[:80]} params={str(kwargs.get('params'))[:80]} body={str(kwargs.get('content'))[:40]}"
        if r.status_code >= 500:
            problems.append(f"{where} -> {r.status_code} {r.text[:200]}")
        elif r.status_code >= 400:
            try:
                err = r.json()["error"]
                # the Videos API adds OpenAI's type and param (server.openai_errors)
                assert set(err) - {"type", "param"} == {"code", "message", "details"} and err["code"] and err["message"]
            except Exception:
                problems.append(f"{where} -> {r.status_code} without the error body: {r.text[:200]}")
                return
            # the router's own 404/405 (a path that matched no route) belongs to no operation
            from_router = r.status_code == 405 or (r.status_code == 404 and err["code"] == "not_found")
            if not from_router and str(r.status_code) not in op["responses"]:
                problems.append(f"{where} -> {r.status_code} is not declared ({sorted(op['responses'])})")

    for method, template, op in _operations(live_doc):
        user = await signup(http)
        own = {"{handle}": user["user"]["handle"]}
        base = template
        for name, value in own.items():
            base = base.replace(name, value)
        base = _fill(base, "x")
        # path parameters
        if "{" in template:
            for value in PATH_VALUES:
                await hit(method, _fill(template, value), op, user)
        # query parameters, one at a time
        for param in op.get("parameters", []):
            if param["in"] != "query":
                continue
            for value in QUERY_VALUES:
                await hit(method, base, op, user, params={param["name"]: value})
            await hit(method, base, op, user, params=[(param["name"], "1"), (param["name"], "2")])
        # bodies, for every method that may carry one
        if method in ("post", "patch", "put", "delete"):
            for payload, headers in BODIES:
                content = _chunked(b"{" + b" " * (300 * 1024) + b"}") if payload == "chunked-oversized" else payload
                await hit(method, base, op, user, content=content, headers=headers)
        # headers nobody should trust
        await hit(method, base, op, user, headers={"Range": "bytes=99999999999999999999999-", "If-Range": "\u00ff".encode("latin-1")})

    assert seen > 500, seen
    assert not problems, "\n".join(problems[:40])


async def test_a_route_that_needs_a_token_answers_401_before_reading_the_request(http):
    """Without a token (or with a bad one), every /v1 operation but the public
    ones is 401, whatever else is wrong with the request: a malformed body, a
    query that fails its checks, a missing required query."""
    me = await signup(http)
    checked = 0
    for method, template, op in OPERATIONS:
        if not template.startswith("/v1/") or (method, template) in PUBLIC or template == "/v1/ws":
            continue
        path = _fill(template.replace("{handle}", me["user"]["handle"]), "x")
        bad_query = {p["name"]: "\u0000" * 300 for p in op.get("parameters", []) if p["in"] == "query"}
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            tries = [{"params": bad_query}]
            if method in ("post", "patch", "put", "delete"):
                tries.append({"content": b"{{{", "headers": {"content-type": "application/json"}})
            for kwargs in tries:
                r = await http.request(method.upper(), path, **{**kwargs, "headers": {**kwargs.get("headers", {}), **headers}})
                code = "invalid_token" if headers else "missing_token"
                assert r.status_code == 401 and r.json()["error"]["code"] == code, (method, template, kwargs, r.status_code, r.text[:200])
                checked += 1
    assert checked > 150, checked


NOT_UTF8 = b'{"handle": "\xff\xfe", "password": "x", "text": "\xed\xa0\x80"}'  # JSON whose strings hold bytes that are not UTF-8


async def test_a_body_that_is_not_utf8_inside_a_string_is_malformed_json(http):
    """msgspec reads such a string as a UnicodeDecodeError, which Litestar let
    through as a 500 on every route that takes JSON, signed in or not."""
    me = await signup(http)
    routes = [
        ("POST", "/v1/auth/signup", {}, NOT_UTF8),
        ("POST", "/v1/auth/login", {}, NOT_UTF8),
        ("PATCH", "/v1/me", me["headers"], NOT_UTF8),
        ("POST", "/v1/notifications/read", me["headers"], NOT_UTF8),
        ("POST", "/v1/posts", me["headers"], NOT_UTF8),
        ("POST", "/v1/videos", me["headers"], b'{"prompt": "\xff\xfe"}'),  # a route that decodes its own body (server.body)
    ]
    for method, path, headers, body in routes:
        r = await http.request(method, path, content=body, headers={**headers, "content-type": "application/json"})
        err = r.json()["error"]
        assert (r.status_code, err["code"]) == (400, "malformed_json") and "UTF-8" in err["message"], (path, r.status_code, err)
    assert (await http.get("/v1/me", headers=me["headers"])).json()["display_name"] == me["user"]["display_name"]


async def test_an_unpaired_surrogate_escape_is_named_not_called_truncated(http):
    """msgspec calls ``"\\ud800"`` with no low surrogate after it "Input data
    was truncated"; the answer names the escape, on routes Litestar decodes and
    on those that read their own bodies (the Videos API), and a body really cut
    off still says so."""
    me = await signup(http)
    lone = rb'{"display_name": "a \ud800 b"}'
    for method, path, body in (
        ("POST", "/v1/auth/signup", rb'{"handle": "\ud800", "password": "x"}'),
        ("PATCH", "/v1/me", lone),
        ("POST", "/v1/videos", rb'{"prompt": "a cat \ud83d"}'),
    ):
        r = await http.request(method, path, content=body, headers={**me["headers"], "content-type": "application/json"})
        err = r.json()["error"]
        assert (r.status_code, err["code"]) == (400, "malformed_json"), (path, r.status_code, err)
        assert "surrogate" in err["message"] and "truncated" not in err["message"], (path, err)
    cut = await http.patch("/v1/me", content=b'{"display_name": "a', headers={**me["headers"], "content-type": "application/json"})
    assert cut.status_code == 400 and cut.json()["error"]["message"] == "malformed JSON: Input data was truncated"
    assert (await http.get("/v1/me", headers=me["headers"])).json()["display_name"] == me["user"]["display_name"]


@pytest.mark.parametrize("method,path", [("GET", "/v1/videos/x/nope"), ("GET", "/v1/videos/..%2f..%2fme"), ("PUT", "/v1/videos/video_x"), ("PATCH", "/v1/videos")])
async def test_router_errors_under_the_videos_api_are_openai_shaped(http, method, path):
    """A path no route matches, or a method a route does not take, under
    /v1/videos answers as the Videos API's own errors do: with type and param."""
    me = await signup(http)
    r = await http.request(method, path, headers=me["headers"])
    assert r.status_code in (404, 405), r.text
    err = r.json()["error"]
    assert err["code"] in ("not_found", "method_not_allowed") and err["type"] == "invalid_request_error" and "param" in err, err


async def test_a_client_that_hangs_up_mid_body_is_not_logged_as_a_server_error(api, http):
    import asyncio
    from urllib.parse import urlsplit

    me = await signup(http)
    rid = f"gone-{uuid.uuid4().hex[:8]}"
    where = urlsplit(api.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    head = (f"POST /v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: {me['headers']['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 5000\r\nX-Request-ID: {rid}\r\n\r\n")
    writer.write(head.encode() + b'{"video_id": "vid')  # 17 of the 5,000 bytes announced
    await writer.drain()
    await asyncio.sleep(0.3)  # the api is waiting for the rest
    writer.close()
    line = await access_line(api, rid)
    assert line["status"] == 400, line
    mine = [entry for entry in api.log().splitlines() if rid in entry]
    assert not any('"level":"error"' in entry for entry in mine), mine


async def test_options_names_every_method_of_a_path(http):
    """``OPTIONS`` answers 204 with an ``Allow`` that names every method the
    OpenAPI document gives the path, whether one handler serves them or
    several (Litestar alone named the first handler's methods: ``DELETE,
    OPTIONS`` on ``/v1/me``, which also takes GET and PATCH), and ``HEAD``
    beside ``GET`` (server.head_requests)."""
    wrong = []
    for path, ops in OFFLINE_DOC["paths"].items():
        documented = {method.upper() for method in ops if method in METHODS}
        r = await http.options(_fill(path, "abc"))
        allowed = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
        expected = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
        if r.status_code != 204 or allowed != expected:
            wrong.append((path, r.status_code, sorted(allowed), sorted(documented)))
    assert not wrong, wrong
    assert len(OFFLINE_DOC["paths"]) > 60
