"""The Calendar batch endpoint with the real BatchHttpRequest, plus the wire format Google documents (CRLF parts)."""

from __future__ import annotations

import json
from typing import Any

import google.auth.transport.requests
import pytest
import requests
from googleapiclient.errors import HttpError

from tests.helpers.clients import batch_request, calendar_service, control, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
ALICE, BOB = "alice@example.com", "bob@example.com"
SLOT = {"start": {"dateTime": "2030-03-04T10:00:00Z"}, "end": {"dateTime": "2030-03-04T10:30:00Z"}}


def service(server: Any, subject: str = ALICE) -> Any:
    return calendar_service(server, delegated_credentials(server, subject, [AUTH + "calendar.events"]))


def reason(exc: HttpError | None) -> tuple[int, str] | None:
    if exc is None:
        return None
    return exc.resp.status, json.loads(exc.content)["error"]["errors"][0]["reason"]


def run(server: Any, svc: Any, requests_: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    results: dict[str, tuple[Any, Any]] = {}
    batch = batch_request(server, lambda rid, response, exc: results.__setitem__(rid, (response, reason(exc))))
    for rid, request in requests_.items():
        batch.add(request, request_id=rid)
    batch.execute(http=svc._http)
    return results


def test_mixed_results_reach_each_callback(emulator: Any) -> None:
    svc = service(emulator)
    existing = svc.events().insert(calendarId=ALICE, body={**SLOT, "id": "present001"}).execute()
    results = run(
        emulator,
        svc,
        {
            "get": svc.events().get(calendarId=ALICE, eventId=existing["id"]),
            "missing": svc.events().get(calendarId=ALICE, eventId="missing001"),
            "duplicate": svc.events().insert(calendarId=ALICE, body={**SLOT, "id": "present001"}),
            "new": svc.events().insert(calendarId=ALICE, body={**SLOT, "id": "fresh00001", "summary": "New"}),
            "delete": svc.events().delete(calendarId=ALICE, eventId=existing["id"]),
            "freebusy": svc.freebusy().query(
                body={"timeMin": "2030-03-04T00:00:00Z", "timeMax": "2030-03-05T00:00:00Z", "items": [{"id": ALICE}]}
            ),
        },
    )
    assert results["get"] == (existing, None)
    assert results["missing"] == (None, (404, "notFound"))
    assert results["duplicate"] == (None, (409, "duplicate"))
    assert results["new"][0]["summary"] == "New"
    assert results["new"][1] is None
    assert results["delete"] == ("", None)
    assert results["freebusy"][1] == (403, "insufficientPermissions")  # the token lacks a free/busy scope
    inner = control(emulator, "GET", "requests?method=calendar.events.*")["requests"]
    assert [r["status"] for r in inner if r["inner"]] == [200, 404, 409, 200, 204]
    assert control(emulator, "GET", "counts?method=calendar.batch")["counts"] == {"calendar.batch": 1}


def test_each_part_carries_its_own_identity(emulator: Any) -> None:
    alice, bob = service(emulator), service(emulator, BOB)
    batch = batch_request(emulator)
    outcomes: dict[str, Any] = {}
    batch.add(alice.events().insert(calendarId=BOB, body=SLOT), callback=lambda *a: outcomes.setdefault("a", a))
    batch.add(bob.events().insert(calendarId=BOB, body=SLOT), callback=lambda *a: outcomes.setdefault("b", a))
    batch.execute(http=alice._http)
    assert reason(outcomes["a"][2]) == (403, "requiredAccessLevel")  # alice: only free/busy on bob's calendar
    assert outcomes["b"][1]["creator"] == {"email": BOB, "self": True}


def test_faults_apply_per_inner_request(emulator: Any) -> None:
    svc = service(emulator)
    control(emulator, "PUT", "faults", {"faults": [{"method": "calendar.events.get", "kind": "drop"}]})
    try:
        results = run(
            emulator,
            svc,
            {
                "get": svc.events().get(calendarId=ALICE, eventId="whatever1"),
                "insert": svc.events().insert(calendarId=ALICE, body=SLOT),
            },
        )
    finally:
        control(emulator, "DELETE", "faults")
    assert results["get"] == (None, (503, "backendError"))  # a dropped connection cannot happen inside a batch
    assert results["insert"][1] is None


def _raw_batch(server: Any, parts: list[str], newline: str) -> requests.Response:
    credentials = delegated_credentials(server, ALICE, [AUTH + "calendar.events"])
    credentials.refresh(google.auth.transport.requests.Request())
    body = ""
    for n, part in enumerate(parts, 1):
        inner = part.replace("TOKEN", credentials.token).replace("\n", newline)
        body += f"--BOUNDARY{newline}Content-Type: application/http{newline}Content-ID: <item{n}>{newline}{newline}"
        body += inner + newline
    body += f"--BOUNDARY--{newline}"
    return requests.post(
        f"{server.url}/batch/calendar/v3",
        data=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=BOUNDARY"},
        timeout=10,
    )


def _answers(response: requests.Response) -> list[tuple[str, str, dict[str, Any]]]:
    boundary = response.headers["Content-Type"].split("boundary=")[1]
    answers = []
    for chunk in response.text.split(f"--{boundary}")[1:-1]:
        part_head, http = chunk.strip("\r\n").split("\r\n\r\n", 1)
        content_id = next(line.split(": ", 1)[1] for line in part_head.split("\r\n") if line.startswith("Content-ID"))
        head, body = http.split("\r\n\r\n", 1)
        answers.append((content_id, head.split("\r\n")[0], json.loads(body) if body.strip() else {}))
    return answers


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_wire_format_with_either_line_ending(emulator: Any, newline: str) -> None:
    insert = json.dumps({**SLOT, "id": "line000001"})
    parts = [
        "POST /calendar/v3/calendars/alice%40example.com/events HTTP/1.1\n"
        "Authorization: Bearer TOKEN\nContent-Type: application/json\n"
        f"Content-Length: {len(insert)}\n\n{insert}",
        "GET /calendar/v3/calendars/alice%40example.com/events/line000001 HTTP/1.1\nAuthorization: Bearer TOKEN\n",
        "GET /calendar/v3/calendars/primary/events/line000001 HTTP/1.1\n",
        "GET /storage/v1/b/demo-project-availability/o HTTP/1.1\nAuthorization: Bearer TOKEN\n",
    ]
    response = _raw_batch(emulator, parts, newline)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
    answers = _answers(response)
    assert [(cid, status) for cid, status, _ in answers] == [
        ("<response-item1>", "HTTP/1.1 200 OK"),
        ("<response-item2>", "HTTP/1.1 200 OK"),
        ("<response-item3>", "HTTP/1.1 401 Unauthorized"),
        ("<response-item4>", "HTTP/1.1 404 Not Found"),  # all inner requests must go to the same API
    ]
    assert answers[1][2]["id"] == "line000001"


def test_batch_limits(emulator: Any) -> None:
    get = "GET /calendar/v3/calendars/primary/events/x0000 HTTP/1.1\n"
    assert _raw_batch(emulator, [get] * 1001, "\r\n").status_code == 400
    assert len(_answers(_raw_batch(emulator, [get] * 1000, "\r\n"))) == 1000
    empty = requests.post(
        f"{emulator.url}/batch/calendar/v3", data=b"", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert empty.status_code == 400


def test_a_batch_insert_lands_like_a_single_one(emulator: Any) -> None:
    svc = service(emulator)
    results = run(emulator, svc, {"one": svc.events().insert(calendarId=ALICE, body={**SLOT, "id": "batched001"})})
    assert results["one"][1] is None
    with pytest.raises(HttpError) as exc:
        svc.events().insert(calendarId=ALICE, body={**SLOT, "id": "batched001"}).execute()
    assert exc.value.resp.status == 409
