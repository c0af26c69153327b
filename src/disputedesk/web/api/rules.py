"""``/api/v1/rules``: the active rules, checking a rules file, dry run, backtest, decisions.

Reading (``rules.read``): the rules in force, a dry run and a backtest of them, the recorded
decisions of an object. Authoring (``rules.write``): checking, dry-running or backtesting a rules
file sent in the request body (TOML, or YAML with ``?format=yaml``); nothing is saved.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError, ValidationError
from disputedesk.rules import RuleSet, parse_duration, parse_rules
from disputedesk.rules.errors import RulesFileError
from disputedesk.services import automation
from disputedesk.web.auth import http_error, require

router = APIRouter(tags=["rules"])

RulesText = Annotated[str, Body(media_type="text/plain",
                                description="A rules file (TOML by default; YAML with ?format=yaml).")]
Format = Literal["toml", "yaml"]
FormatQuery = Annotated[Format, Query()]
Since = Annotated[str, Query(description="How far back: 180d, 12w, 36h")]
Reader = Annotated[Actor, Depends(require("rules.read"))]
Author = Annotated[Actor, Depends(require("rules.write"))]


def _deps(request_app) -> Any:
    return request_app.state.deps


def _parse(text: str, fmt: Format) -> RuleSet:
    try:
        return parse_rules(text, filename=f"rules.{fmt}", fmt=fmt)
    except RulesFileError as exc:
        raise http_error(exc) from None


def _problems(exc: RulesFileError) -> list[dict[str, Any]]:
    return [{"file": p.file, "line": p.line, "rule": p.rule, "message": p.message,
             "pointer": p.pointer or None, "text": str(p)} for p in exc.problems]


def _report(deps, rules: RuleSet, since: str) -> dict[str, Any]:
    try:
        now = int(deps.clock.now())
        return automation.run_backtest(deps, rules, since=now - parse_duration(since),
                                       now=now).to_dict()
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.get("/rules", summary="The rules in force, in the order they run")
def get_rules(request: Request, *, _actor: Reader) -> dict:
    deps = _deps(request.app)
    try:
        return automation.show_rules(deps)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.post("/rules/check", summary="Validate a rules file (nothing is saved)")
def check_rules(request: Request, *, text: RulesText, format: FormatQuery = "toml",
                _actor: Author) -> dict:
    try:
        rules = parse_rules(text, filename=f"rules.{format}", fmt=format)
    except RulesFileError as exc:
        return {"valid": False, "problems": _problems(exc)}
    return {"valid": True, "problems": [], "rules": len(rules.rules)}


@router.get("/rules/dry-run", summary="What the rules in force would do now (nothing is done)")
def dry_run_active(request: Request, *, matched_only: Annotated[bool, Query()] = True,
                   _actor: Reader) -> dict:
    deps = _deps(request.app)
    found = automation.dry_run(deps)
    return {"decisions": [d for d in found if d["matched"] or not matched_only]}


@router.post("/rules/dry-run", summary="What a rules file would do now (nothing is done)")
def dry_run_file(request: Request, *, text: RulesText, format: FormatQuery = "toml",
                 matched_only: Annotated[bool, Query()] = True,
                 _actor: Author) -> dict:
    from disputedesk.services.automation.preview import dry_run

    deps = _deps(request.app)
    found = dry_run(deps, _parse(text, format))
    return {"decisions": [d for d in found if d["matched"] or not matched_only]}


@router.get("/rules/backtest", summary="Replay the mirror's history through the rules in force")
def backtest_active(request: Request, *, since: Since = "180d",
                    _actor: Reader) -> dict:
    deps = _deps(request.app)
    return _report(deps, automation.active_rules(deps), since)


@router.post("/rules/backtest", summary="Replay the mirror's history through a rules file")
def backtest_file(request: Request, *, text: RulesText, format: FormatQuery = "toml",
                  since: Since = "180d",
                  _actor: Author) -> dict:
    deps = _deps(request.app)
    return _report(deps, _parse(text, format), since)


@router.get("/rules/decisions", summary="Recorded decisions (newest last)")
def list_decisions(request: Request, *, object_id: Annotated[str | None, Query()] = None,
                   rule: Annotated[str | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   _actor: Reader) -> dict:
    deps = _deps(request.app)
    return {"decisions": automation.decisions(deps, object_id, rule=rule, limit=limit)}


@router.get("/rules/decisions/{object_id}",
            summary="The decisions and action keys of one dispute, warning, charge or refund")
def decisions_for(request: Request, *, object_id: str,
                  _actor: Reader) -> dict:
    deps = _deps(request.app)
    if not object_id.strip():
        raise http_error(ValidationError("give an object id", param="object_id"))
    return {"object_id": object_id,
            "decisions": automation.decisions(deps, object_id, limit=1000),
            "actions": automation.actions(deps, object_id)}
