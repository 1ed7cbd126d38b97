"""`versioner requests`: Deployment Requests from a terminal."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import TypeVar

from versioner.client.client import VersionerClient
from versioner.client.commands import Args, Handler, call_api, cell_text, dump_json, print_table
from versioner.client.models import (
    APPROVAL_TYPES,
    ApprovalSlot,
    Decision,
    DeploymentRequest,
    RequestAction,
    RequestItem,
    RequestStep,
    SlotSpec,
)
from versioner.client.report import say
from versioner.client.settings import ExitCode, Settings, UsageError

# Versioner's UI marks each product × environment of a request the same way.
PROGRESS_ICONS = {"deployed": "✅", "not_deployed": "❌", "failed": "🔴", "in_progress": "🟡"}
PROGRESS_LEGEND = "✅ deployed  ❌ not deployed  🔴 failed  🟡 in progress"
SLOT_ICONS = {"approved": "✅", "rejected": "❌", "pending": "⏳"}
_STEP_NUMBER = re.compile(r"(?:(pre|post):)?([0-9]+)")
_Entry = TypeVar("_Entry", ApprovalSlot, RequestStep)


def item(text: str) -> RequestItem:
    """An argparse type: `PRODUCT@VERSION`, split at the last `@` (`@scope/pkg@1.0` works)."""
    product, _, version = text.rpartition("@")
    if not product or not version:
        raise argparse.ArgumentTypeError(f"an item is PRODUCT@VERSION, not {text!r}")
    return {"product": product, "version": version}


def slot(text: str) -> SlotSpec:
    """An argparse type: `TYPE` or `TYPE:optional`."""
    kind, _, flag = text.partition(":")
    if flag not in ("", "optional"):
        raise argparse.ArgumentTypeError(f"a slot is TYPE or TYPE:optional, not {text!r}")
    for approval_type in APPROVAL_TYPES:
        if approval_type == kind:
            return {"approval_type": approval_type, "optional": flag == "optional"}
    raise argparse.ArgumentTypeError(
        f"unknown approval type {kind!r} (one of {', '.join(APPROVAL_TYPES)})"
    )


def pending_slot(request: DeploymentRequest, approval_type: str) -> ApprovalSlot:
    """The first pending slot of a type; `UsageError` when there is none."""
    for candidate in request["approval_slots"]:
        if candidate["approval_type"] == approval_type and candidate["status"] == "pending":
            return candidate
    raise UsageError(f"request {request['id']} has no pending {approval_type} slot")


def is_step_number(text: str) -> bool:
    """True for `pre:N`, `post:N` and `N`; False for a step id."""
    return _STEP_NUMBER.fullmatch(text) is not None


def numbered_step(request: DeploymentRequest, text: str) -> RequestStep:
    """The step `pre:N`, `post:N` or `N` (a pre-deploy step), 1-based."""
    match = _STEP_NUMBER.fullmatch(text)
    if match is None:
        raise UsageError(f"a step is an id, pre:N, post:N or N, not {text!r}")
    which = match.group(1) or "pre"
    steps = request["pre_steps"] if which == "pre" else request["post_steps"]
    number = int(match.group(2))
    if not 1 <= number <= len(steps):
        raise UsageError(f"request {request['id']} has {len(steps)} {which}-deploy step(s)")
    return steps[number - 1]


def _items(request: DeploymentRequest) -> str:
    return ", ".join(f"{i['product']}@{i['version']}" for i in request["items"])


def _slots(request: DeploymentRequest) -> str:
    return " ".join(
        f"{SLOT_ICONS.get(s['status'], '?')}{s['approval_type']}" for s in request["approval_slots"]
    )


def _slot_row(entry: ApprovalSlot) -> list[object]:
    kind = entry["approval_type"] + (" (optional)" if entry["optional"] else "")
    decision = [entry.get("decided_by"), entry.get("decided_role"), entry.get("decided_at")]
    icon = SLOT_ICONS.get(entry["status"], "?")
    return [icon, entry["id"], kind, entry["status"], *decision, entry.get("comment")]


def _step_row(number: str, step: RequestStep) -> list[object]:
    done = "✅" if step.get("completed_at") else "⬜"
    ticked = [step.get("completed_by"), step.get("completed_at")]
    return [number, step["id"], done, step["text"], *ticked]


def progress_rows(request: DeploymentRequest) -> tuple[list[str], list[list[object]]]:
    """The product × environment grid: environment columns, one row per item."""
    cells = {(c["product"], c["version"], c["environment"]): c for c in request["progress"]}
    environments = list(request["environments"])
    environments += [e for e in dict.fromkeys(c[2] for c in cells) if e not in environments]
    rows: list[list[object]] = []
    for entry in request["items"]:
        row: list[object] = [entry["product"], entry["version"]]
        for env in environments:
            found = cells.get((entry["product"], entry["version"], env))
            row.append(PROGRESS_ICONS.get(found["status"], found["status"]) if found else None)
        rows.append(row)
    return environments, rows


def print_request(request: DeploymentRequest) -> None:
    """Items, environments, slots with decisions, steps with ticks, and the progress grid."""
    say(f"Deployment Request {request['name']!r} · {request['status']}")
    say(f"  id:           {request['id']}")
    say(f"  created:      {cell_text(request.get('created_at'))} by {request['created_by']}")
    if request.get("submitted_at"):
        say(f"  submitted:    {request['submitted_at']}")
    if request.get("closed_at"):
        say(f"  closed:       {request['closed_at']}")
    if request.get("description"):
        say(f"  description:  {request['description']}")
    say(f"  items:        {_items(request) or '-'}")
    say(f"  environments: {', '.join(request['environments']) or '-'}")
    say()
    say("Approval slots:")
    if request["approval_slots"]:
        print_table(
            ["", "SLOT", "TYPE", "STATUS", "BY", "ROLE", "AT", "COMMENT"],
            [_slot_row(s) for s in request["approval_slots"]],
        )
    else:
        say("  none")
    say()
    say("Steps:")
    steps = [("pre", n, s) for n, s in enumerate(request["pre_steps"], 1)]
    steps += [("post", n, s) for n, s in enumerate(request["post_steps"], 1)]
    if steps:
        print_table(
            ["STEP", "ID", "DONE", "TEXT", "BY", "AT"],
            [_step_row(f"{which}:{n}", s) for which, n, s in steps],
        )
    else:
        say("  none")
    say()
    say("Progress:")
    environments, rows = progress_rows(request)
    if rows and environments:
        print_table(["PRODUCT", "VERSION", *environments], rows)
        say(PROGRESS_LEGEND)
    else:
        say("  no items or environments yet")


def list_requests(args: Args, settings: Settings) -> int:
    """`versioner requests list [--status S] [--awaiting-me]`."""

    def call(client: VersionerClient) -> int:
        requests = client.list_requests(
            status=args.get("status"),
            awaiting_me=bool(args.get("awaiting_me")),
            limit=args.get("limit"),
        )
        if args.get("json"):
            return dump_json(requests)
        rows: list[list[object]] = [
            [r["id"], r["name"], r["status"], _items(r), ", ".join(r["environments"]), _slots(r)]
            for r in requests
        ]
        print_table(["ID", "NAME", "STATUS", "ITEMS", "ENVIRONMENTS", "SLOTS"], rows)
        return ExitCode.OK

    return call_api(settings, call)


def show_request(args: Args, settings: Settings) -> int:
    """`versioner requests show ID`."""

    def call(client: VersionerClient) -> int:
        request = client.get_request(args["request_id"])
        if args.get("json"):
            return dump_json(request)
        print_request(request)
        return ExitCode.OK

    return call_api(settings, call)


def create_request(args: Args, settings: Settings) -> int:
    """`versioner requests create`: a draft to fill in, then `submit`."""

    def call(client: VersionerClient) -> int:
        request = client.create_request(
            args["name"],
            description=args.get("description"),
            items=args.get("item") or [],
            environments=args.get("environment") or [],
            approval_slots=args.get("slot") or [],
            pre_steps=args.get("pre_step") or [],
            post_steps=args.get("post_step") or [],
        )
        if args.get("json"):
            return dump_json(request)
        say(f"✓ Deployment Request {request['name']!r} created ({request['id']}, draft)")
        say(f"  Submit it for approval: versioner requests submit {request['id']}")
        return ExitCode.OK

    return call_api(settings, call)


def _done(args: Args, request: DeploymentRequest, what: str) -> int:
    if args.get("json"):
        return dump_json(request)
    say(f"✓ {what}; {request['name']!r} is now {request['status']}")
    return ExitCode.OK


_MOVED: dict[RequestAction, str] = {
    "submit": "submitted",
    "revert": "reverted to draft",
    "complete": "completed",
    "cancel": "cancelled",
}


def mover(action: RequestAction) -> Handler:
    """The handler of `versioner requests submit|revert|complete|cancel ID`."""

    def move(args: Args, settings: Settings) -> int:
        def call(client: VersionerClient) -> int:
            request = client.move_request(args["request_id"], action)
            return _done(args, request, f"Request {request['id']} {_MOVED[action]}")

        return call_api(settings, call)

    return move


def decider(decision: Decision) -> Handler:
    """The handler of `versioner requests approve|reject ID SLOT`; SLOT may be a type."""

    def decide(args: Args, settings: Settings) -> int:
        def call(client: VersionerClient) -> int:
            slot_id = args["slot"]
            if slot_id in APPROVAL_TYPES:
                slot_id = pending_slot(client.get_request(args["request_id"]), slot_id)["id"]
            request = client.decide_slot(args["request_id"], slot_id, decision, args.get("comment"))
            decided = _by_id(request["approval_slots"], slot_id)
            kind = decided["approval_type"] if decided else "the"
            verb = "approved" if decision == "approve" else "rejected"
            return _done(args, request, f"{kind} slot {slot_id} {verb}")

        return call_api(settings, call)

    return decide


def tick_step(args: Args, settings: Settings) -> int:
    """`versioner requests tick ID STEP`: STEP is an id, `pre:N`, `post:N` or `N`."""

    def call(client: VersionerClient) -> int:
        step_id = args["step"]
        if is_step_number(step_id):
            step_id = numbered_step(client.get_request(args["request_id"]), step_id)["id"]
        request = client.complete_step(args["request_id"], step_id)
        ticked = _by_id([*request["pre_steps"], *request["post_steps"]], step_id)
        text = f" {ticked['text']!r}" if ticked else ""
        return _done(args, request, f"Step {step_id}{text} ticked")

    return call_api(settings, call)


def _by_id(entries: Sequence[_Entry], wanted: str) -> _Entry | None:
    return next((e for e in entries if e["id"] == wanted), None)
