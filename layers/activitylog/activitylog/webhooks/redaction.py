"""What a webhook entry keeps of a request, without the secrets in it.

The log is often the only copy of a payload, and it is read by a whole team: signatures,
authorization headers, card numbers, CVCs and bank account numbers must not reach it.

- headers: signatures (``Stripe-Signature``, Square's and FedEx's), ``Authorization``,
  cookies and API keys are erased (Powertools data masking);
- body fields that only ever hold secrets (``cvc``, ``card_number``, ``account_number``,
  ``iban``, … in any nesting, snake or camel case) are erased (Powertools data masking);
- any string that holds a card number (13-19 digits, optionally spaced or dashed, a card
  network's first digit, a valid Luhn checksum) keeps only its last four digits.

>>> redact_headers({"stripe-signature": "t=1,v1=ab", "user-agent": "Stripe/1.0"})
{'stripe-signature': '*****', 'user-agent': 'Stripe/1.0'}
>>> scrub_text("card 4242 4242 4242 4242 declined")
'card ************4242 declined'
"""

from __future__ import annotations

import json
import re
import warnings
from functools import lru_cache
from typing import Any

SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token",
    "x-amz-security-token", "stripe-signature", "x-square-hmacsha256-signature", "x-square-signature", "fdx-signature",
})
# Any other header named like one that carries a secret (x-hub-signature-256, x-shopify-hmac-sha256, x-webhook-token, …).
_SECRET_HEADER_NAME = re.compile(r"signature|hmac|secret|token|authorization|api[-_]?key|password|cookie", re.IGNORECASE)
SECRET_FIELDS = (
    "cvc", "cvv", "cvc2", "cvv2", "cvn", "security_code", "card_verification", "card_number", "pan", "account_number",
    "bank_account_number", "iban", "password", "secret", "client_secret",  # a payment intent's: confirms it from a browser
)
_CARD = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_SECRET_NAMES = frozenset(spelling for name in SECRET_FIELDS for spelling in (name, _camel(name), name.upper()))


@lru_cache(maxsize=1)
def _masker():
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    # A name absent from this payload is the usual case, not a problem worth a warning per request.
    warnings.filterwarnings("ignore", "Field or expression .* not found")
    return DataMasking(raise_on_missing_field=False)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers with every secret-bearing one erased (kept by name: it shows the request was signed)."""
    secret = [name for name in headers if name.lower() in SECRET_HEADERS or _SECRET_HEADER_NAME.search(name)]
    if not secret:
        return dict(headers)
    return _masker().erase(dict(headers), fields=[f"$[{json.dumps(name)}]" for name in secret])


def redact_body(body: bytes) -> Any:
    """The body as JSON with secret fields erased and card numbers cut to their last four digits;
    a body that is not JSON as text, card numbers cut the same way."""
    try:
        document = json.loads(body)
    except ValueError:
        return scrub_text(body.decode("utf-8", errors="replace"))
    return redact_document(document)


def redact_document(document: Any) -> Any:
    """A body already parsed (any JSON value, or text): secret fields erased, card numbers cut."""
    present = sorted(_keys(document) & _SECRET_NAMES)
    if present:  # Powertools' erase takes JSONPath: one expression per name found, at any depth
        wrapped = _masker().erase({"body": document}, fields=[f"$..{json.dumps(name)}" for name in present])
        document = wrapped["body"]
    return scrub(document)


def _keys(value: Any) -> set[str]:
    """Every object key at any depth (iterative: a deep body cannot exhaust the stack)."""
    found, stack = set(), [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.update(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def scrub(value: Any) -> Any:
    """``value`` with every card number in its strings (keys too) cut to the last four digits."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub_text(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def scrub_text(text: str) -> str:
    return _CARD.sub(_masked, text) if any(ch.isdigit() for ch in text) else text


def _masked(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not _luhn(digits):
        return match.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char)
        if position % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0
