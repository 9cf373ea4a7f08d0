"""The scorecard over HTTP: the pages at / and /tasks/{task}, their JSON twins, /v1/summary.

Every page has a JSON twin (the same path with ``.json``) rendered from the same query,
as datasette does; filters live in the URL query so a view can be shared. Each read
handler is wrapped in ``read_guard``: with HEATMETER_READ_TOKEN set, nothing here shows
data to a caller without it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import clock
from ..appkeys import pool_key, settings_key
from ..demo.history import DEMO_INSTALLATION_ID, DEMO_ORG
from ..http.errors import json_error
from . import pages, queries, shaping
from .access import local_path, read_guard, sign_in, token_matches
from .filters import FilterError, Filters, parse_filters

routes = web.RouteTableDef()

PAGE_PARAMETERS = frozenset({"repository", "kind", "period", "since", "until"})
TASK_PARAMETERS = frozenset({"repository", "period", "since", "until", "format"})
SUMMARY_PARAMETERS = frozenset({"repository", "task", "kind", "period", "since", "until"})


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=pages.HEADERS
    )


def _json(data: object) -> web.Response:
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def _bad_page(exc: FilterError) -> web.Response:
    return _html(await pages.error_page(400, "That filter does not work", str(exc)), status=400)


def _bad_json(exc: FilterError) -> web.Response:
    return json_error(400, "invalid_parameter", str(exc), parameter=exc.parameter)


def _filters(query: Mapping[str, str], allowed: frozenset[str], **fixed: str) -> Filters:
    return parse_filters({**query, **fixed}, clock.now(), allowed=allowed | fixed.keys())


async def _context(request: web.Request) -> tuple[list[str], str | None]:
    """What every page shows besides its figures: the repository list and the demo label."""
    async with request.app[pool_key].acquire() as conn:
        names = await queries.repository_names(conn)
        demo = await queries.holds_demo_data(conn, DEMO_INSTALLATION_ID)
    return names, DEMO_ORG if demo else None


@routes.get("/")
@read_guard(html=True)
async def scorecard_page(request: web.Request) -> web.Response:
    try:
        f = _filters(request.query, PAGE_PARAMETERS)
    except FilterError as exc:
        return await _bad_page(exc)
    async with request.app[pool_key].acquire() as conn:
        board = await queries.scorecard(conn, f)
    repositories, demo = await _context(request)
    return _html(
        await pages.scorecard_page(board, repositories=repositories, demo=demo, now=clock.now())
    )


@routes.get("/.json")
@read_guard(html=False)
async def scorecard_json(request: web.Request) -> web.Response:
    try:
        f = _filters(request.query, PAGE_PARAMETERS)
    except FilterError as exc:
        return _bad_json(exc)
    async with request.app[pool_key].acquire() as conn:
        board = await queries.scorecard(conn, f)
    return _json(shaping.summary_json(board))


@routes.get("/v1/summary")
@read_guard(html=False)
async def summary(request: web.Request) -> web.Response:
    try:
        f = _filters(request.query, SUMMARY_PARAMETERS)
    except FilterError as exc:
        return _bad_json(exc)
    async with request.app[pool_key].acquire() as conn:
        board = await queries.scorecard(conn, f)
    return _json(shaping.summary_json(board))


async def _task_page(request: web.Request, task: str) -> web.Response:
    try:
        f = _filters(request.query, TASK_PARAMETERS, task=task)
    except FilterError as exc:
        return await _bad_page(exc)
    async with request.app[pool_key].acquire() as conn:
        if await queries.task_kind(conn, task) is None:
            page = await pages.error_page(404, "No such task", _not_in_scorecard(task))
            return _html(page, status=404)
        detail = await queries.task_detail(conn, f)
        installed = await queries.installed_count(conn, f)
    repositories, demo = await _context(request)
    return _html(
        await pages.task_page(
            detail, installed=installed, repositories=repositories, demo=demo, now=clock.now()
        )
    )


def _not_in_scorecard(task: str) -> str:
    return (
        f"no run of task {task!r} is in the scorecard yet: it reads daily roll-ups, "
        "refreshed every HEATMETER_ROLLUP_INTERVAL seconds"
    )


@routes.get("/tasks/{task}.json")
@read_guard(html=False)
async def task_json(request: web.Request) -> web.Response:
    task = request.match_info["task"]
    if request.query.get("format") == "html":
        # The page of a task whose own name ends in ".json" (see pages.task_url).
        return await _task_page(request, task + ".json")
    try:
        f = _filters(request.query, TASK_PARAMETERS, task=task)
    except FilterError as exc:
        return _bad_json(exc)
    async with request.app[pool_key].acquire() as conn:
        if await queries.task_kind(conn, task) is None:
            return json_error(404, "not_found", _not_in_scorecard(task))
        detail = await queries.task_detail(conn, f)
    return _json(shaping.task_json(detail))


@routes.get("/tasks/{task}")
@read_guard(html=True)
async def task_page(request: web.Request) -> web.Response:
    return await _task_page(request, request.match_info["task"])


@routes.get("/signin")
async def signin_form(request: web.Request) -> web.Response:
    token = request.app[settings_key].read_token
    next_path = local_path(request.query.get("next"))
    return _html(
        await pages.signin_page(required=token is not None, next_path=next_path, wrong=False)
    )


@routes.post("/signin")
async def signin(request: web.Request) -> web.Response:
    token = request.app[settings_key].read_token
    form = await request.post()
    next_path = local_path(str(form.get("next", "/")))
    response = web.Response(status=303, headers={"Location": next_path})
    if token is None:
        return response
    given = form.get("token")
    if not isinstance(given, str) or not token_matches(given.strip(), token):
        page = await pages.signin_page(required=True, next_path=next_path, wrong=True)
        return _html(page, status=401)
    sign_in(response, request, token)
    return response
