"""A write's body, strictly: what ``activitylog.requestbody`` accepts, and what it refuses by name."""

from __future__ import annotations

import base64

import pytest

from activitylog.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from activitylog.requestbody import MAX_DEPTH, MAX_INT_DIGITS, body_text, loads


def event(body, content_type="application/json", base64_encoded=False) -> dict:
    return {"body": body, "isBase64Encoded": base64_encoded, "headers": {"content-type": content_type}}


def test_an_ordinary_body_reads_back_exactly():
    text = '{"event": "Café ☕", "metadata": {"n": 12345678901234567890, "ratio": 0.25, "ok": true, "none": null}}'

    assert loads(body_text(event(text), 1024)) == {
        "event": "Café ☕", "metadata": {"n": 12345678901234567890, "ratio": 0.25, "ok": True, "none": None}}


def test_a_base64_body_is_decoded_as_utf8():
    data = '{"event": "Café"}'.encode()

    assert body_text(event(base64.b64encode(data).decode(), base64_encoded=True), 1024) == '{"event": "Café"}'


@pytest.mark.parametrize("raw", ["not base64!", "QUJD\n=="])
def test_a_body_marked_base64_that_is_not_is_refused(raw):
    with pytest.raises(BadRequest) as caught:
        body_text(event(raw, base64_encoded=True), 1024)
    assert caught.value.field == "body"


def test_the_limit_is_in_bytes():
    text = '{"e": "' + "é" * 600 + '"}'  # 608 characters, 1,208 bytes
    with pytest.raises(PayloadTooLarge):
        body_text(event(text), 1000)


@pytest.mark.parametrize("content_type", [None, "text/json", "application/jsonx", "multipart/form-data",
                                          "application/json; charset=latin-1"])
def test_only_json_in_utf8_is_accepted(content_type):
    with pytest.raises(UnsupportedMediaType) as caught:
        body_text(event("{}", content_type), 1024)
    assert caught.value.field == "content-type"


@pytest.mark.parametrize("text", ["[1]", '"a"', "1", "null", "true"])
def test_the_body_is_an_object(text):
    with pytest.raises(BadRequest, match="must be a JSON object"):
        loads(text)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "0.1e-330"])
def test_numbers_json_cannot_carry_back_are_refused(number):
    with pytest.raises(BadRequest):
        loads('{"n": %s}' % number)


@pytest.mark.parametrize("number", ["0", "0.0", "-0", "0e10", "1e-300", "1.5e300"])
def test_zero_and_small_or_large_finite_numbers_are_kept(number):
    assert loads('{"n": %s}' % number) == {"n": float(number) if any(c in number for c in ".e") else int(number)}


def test_integers_are_bounded_in_digits():
    assert loads('{"n": -%s}' % ("9" * MAX_INT_DIGITS)) == {"n": -int("9" * MAX_INT_DIGITS)}
    with pytest.raises(BadRequest):
        loads('{"n": %s}' % ("9" * (MAX_INT_DIGITS + 1)))


def test_depth_is_bounded_at_any_depth_without_recursion():
    def nested(depth: int) -> str:
        return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)

    assert loads(nested(MAX_DEPTH))
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(BadRequest, match="deeper"):
            loads(nested(depth))


def test_a_lone_surrogate_is_refused_and_a_pair_is_kept():
    assert loads('{"e": "\\ud83d\\ude00"}') == {"e": "😀"}
    with pytest.raises(BadRequest) as caught:
        loads('{"e": ["ok", "\\udc00"]}')
    assert caught.value.field == "e.1"
