"""The batch wire format written and read by shared.calendar_batch (GUIDES/batch), without a server."""

from __future__ import annotations

import pytest

from shared.calendar_batch import BatchFormatError, OutgoingPart, decode, encode

URI = "http://127.0.0.1:8090/calendar/v3/calendars/alice%40example.com/events?sendUpdates=none&alt=json"


def _part(request_id: str, **changes: object) -> OutgoingPart:
    fields: dict[str, object] = {
        "request_id": request_id, "method": "POST", "uri": URI,
        "headers": {"content-type": "application/json", "accept": "application/json", "authorization": "Bearer t1"},
        "body": '{"id": "c1"}',
    }
    fields.update(changes)
    return OutgoingPart(**fields)  # type: ignore[arg-type]


def test_each_part_is_a_whole_http_request_with_its_own_authorization() -> None:
    content_type, body, base = encode([_part("claim/1"), _part("live", method="GET", body=None,
                                                              headers={"authorization": "Bearer t2"})])
    boundary = content_type.split('boundary="')[1].rstrip('"')
    parts = body.split(f"--{boundary}".encode())
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    first, second = parts[1], parts[2]
    assert first.startswith(b"\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
    assert f"Content-ID: <{base} + claim/1>".encode() in first
    _, payload = first.split(b"\r\n\r\n", 1)
    request_head, request_body = payload.split(b"\r\n\r\n", 1)
    lines = request_head.decode().split("\r\n")
    assert lines[0] == "POST /calendar/v3/calendars/alice%40example.com/events?sendUpdates=none&alt=json HTTP/1.1"
    assert "authorization: Bearer t1" in lines
    assert "Host: 127.0.0.1:8090" in lines
    assert "Content-Length: 12" in lines
    assert request_body == b'{"id": "c1"}\r\n'
    assert b"authorization: Bearer t2" in second
    assert b"Content-Length" not in second


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode([_part("x", headers={"If-Match": '"1"\r\nX-Injected: yes'})])


def test_the_boundary_never_occurs_in_a_part() -> None:
    content_type, _, _ = encode([_part("x")])
    boundary = content_type.split('boundary="')[1].rstrip('"')
    content_type, body, _ = encode([_part("y", body=f'{{"summary": "{boundary}"}}')])
    other = content_type.split('boundary="')[1].rstrip('"')
    assert other != boundary
    assert body.count(f"--{other}".encode()) == 2


def test_the_answer_is_read_by_request_id_in_either_line_ending() -> None:
    answer = (
        b"--batch_abc\r\nContent-Type: application/http\r\nContent-ID: <response-base + claim%2F1>\r\n\r\n"
        b"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"e\":1}\r\n"
        b"--batch_abc\nContent-Type: application/http\nContent-ID: <response-base + live>\n\n"
        b"HTTP/1.1 200 OK\nETag: \"9\"\n\n{\"items\":[]}\n"
        b"--batch_abc--\r\n"
    )
    parts = decode('multipart/mixed; boundary="batch_abc"', answer)
    assert parts["claim/1"].status == 409
    assert parts["claim/1"].body == b'{"e":1}'
    assert parts["live"].status == 200
    assert parts["live"].headers["etag"] == '"9"'
    assert parts["live"].body == b'{"items":[]}'
    assert decode("multipart/mixed; boundary=batch_abc", answer).keys() == parts.keys()


@pytest.mark.parametrize(("content_type", "content"), [
    ("application/json", b"{}"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-ID: nothing\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-ID: <response-x + a>\r\n\r\nnot a status\r\n--b--"),
])
def test_an_answer_that_is_not_a_batch_answer_is_an_error(content_type: str, content: bytes) -> None:
    with pytest.raises(BatchFormatError):
        decode(content_type, content)
