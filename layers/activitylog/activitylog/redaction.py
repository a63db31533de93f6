"""What a webhook entry keeps of a request, without the secrets in it.

The log is often the only copy of a payload, and it is read by a whole team: signatures,
authorization headers, card numbers, CVCs and bank account numbers must not reach it.

- headers: signatures (any header named like one, and those the caller names: a delivery's
  provider's, ``providers.SIGNATURE_HEADERS``), ``Authorization``, cookies and API keys are
  erased (Powertools data masking's ``erase``);
- body fields that only ever hold secrets (``cvc``, ``card_number``, ``account_number``,
  ``iban``, … in any nesting) are erased the same way, their names compared without case or
  separators (``Cvc``, ``AccountNumber``, ``card-number`` and ``CARD_NUMBER`` are all caught);
- a URL (a recorded one, or one inside any text) loses its user info and the values of
  token-like query and fragment parameters (``token``, ``api_key``, ``sig``, ``X-Amz-Signature``, …);
- a card number anywhere in a string (or a JSON number) keeps only its own last four digits
  (``_cut_cards``: 13-19 digits, a card network's first digit, a valid Luhn checksum, written
  whole or grouped with single spaces or dashes), whatever digits stand next to it.

>>> redact_headers({"stripe-signature": "t=1,v1=ab", "user-agent": "Stripe/1.0"})
{'stripe-signature': '*****', 'user-agent': 'Stripe/1.0'}
>>> scrub_text("card 4242 4242 4242 4242 737 declined")
'card ************4242 737 declined'
>>> scrub_url("https://user:pw@hooks.example.com/in?token=abc&id=7")
'https://*****@hooks.example.com/in?token=*****&id=7'
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any, Collection

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-amz-security-token",
    }
)
# Any other header named like one that carries a secret (x-hub-signature-256, x-shopify-hmac-sha256, x-webhook-token, …).
_SECRET_HEADER_NAME = re.compile(
    r"signature|hmac|secret|token|authorization|api[-_]?key|password|cookie", re.IGNORECASE
)
SECRET_FIELDS = (
    "cvc",
    "cvv",
    "cvc2",
    "cvv2",
    "cvn",
    "security_code",
    "card_verification",
    "card_number",
    "pan",
    "account_number",
    "bank_account_number",
    "iban",
    "password",
    "secret",
    "client_secret",  # a payment intent's: confirms it from a browser
    "pin",
    "pin_block",
    "track_data",
    "track1",
    "track2",  # what a card's chip or stripe holds besides its number
    # An expiry written as one value beside a card is cardholder data; Stripe's and Square's separate exp_month and
    # exp_year are kept: they sit beside the last four on every card object, and with the number cut name nothing.
    "expiry",
    "expiry_date",
    "exp_date",
    "expiration_date",
    "card_expiry",
    "card_expiration",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "api_key",
    "private_key",
    "secret_key",
    "authorization",
)
# URL parameters that carry a credential: exactly these names, or any name holding one of the words.
SECRET_PARAMS = frozenset({"key", "sig", "auth", "pass", "pwd", "codeverifier"})  # compared as plain names
_SECRET_PARAM_WORDS = ("token", "secret", "signature", "password", "apikey", "credential", "accesskey", "privatekey")
# Major industry identifiers of card networks: Mastercard 2 and 5, Amex, Diners and JCB 3, Visa 4, Discover, UnionPay
# and Maestro 6, UnionPay and RuPay 8. Not 1 (a 13-digit number starting with 1 is a millisecond timestamp until 2286).
NETWORK_FIRST_DIGITS = frozenset("234568")
# How card numbers are written when not whole: 4-4-4-4 (16 digits), Amex 4-6-5, Diners 4-6-4.
CARD_GROUPINGS = frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4)})
MIN_GROUP = 3  # nobody writes a card in pieces of one or two digits (and "4 4 4 4 …" costs nothing)
MASK = "*****"

_DIGIT_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")  # digit groups joined by single spaces or dashes
_DIGITS = re.compile(r"[0-9]+")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?(?P<userinfo>[^/?#\s]*@)?(?P<rest>.*)", re.DOTALL)


def plain_name(name: str) -> str:
    """A field name without case, width or separators: ``Card-Number``, ``cardNumber``, ``CARD_NUMBER`` → ``cardnumber``."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", name).casefold())


_SECRET_NAMES = frozenset(plain_name(name) for name in SECRET_FIELDS)


def is_secret_field(name: str) -> bool:
    return plain_name(name) in _SECRET_NAMES


@lru_cache(maxsize=1)
def _masker():
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    return DataMasking(raise_on_missing_field=False)


def _erased(value: Any) -> Any:
    return _masker().erase(value if value is None or isinstance(value, (str, int, float)) else MASK)


def redact_headers(headers: dict[str, str], secret: Collection[str] = ()) -> dict[str, str]:
    """The headers with every secret-bearing one erased (kept by name: it shows the request was signed),
    ``secret`` (lower-case names) too, the others scrubbed like any text (a ``Referer`` with a token in its query)."""
    return {
        name: _erased(value)
        if name.lower() in SECRET_HEADERS or name.lower() in secret or _SECRET_HEADER_NAME.search(name)
        else scrub(value)
        for name, value in headers.items()
    }


def redact_body(body: bytes) -> Any:
    """The body as JSON with secret fields erased and card numbers cut to their last four digits;
    a body that is not JSON as text, card numbers cut the same way."""
    try:
        document = json.loads(body)
    except ValueError:
        return scrub_text(body.decode("utf-8", errors="replace"))
    return redact_document(document)


def redact_document(document: Any) -> Any:
    """A copy of a parsed body (any JSON value, or text): secret fields erased, URLs and card numbers scrubbed.

    One walk with a stack of its own (a deep body cannot exhaust Python's), so a name JSONPath
    cannot spell (a control character, a full-width letter) is found like any other.
    """
    holder: dict = {}
    stack: list[tuple[Any, Any, Any]] = [(document, holder, "root")]
    while stack:
        value, parent, slot = stack.pop()
        if isinstance(value, dict):
            parent[slot] = copy = {}
            for key, item in value.items():
                name = scrub_text(key) if isinstance(key, str) else key
                if isinstance(key, str) and is_secret_field(key):
                    copy[name] = _erased(item)
                else:
                    copy[name] = None
                    stack.append((item, copy, name))
        elif isinstance(value, list):
            parent[slot] = items = [None] * len(value)
            stack.extend((item, items, index) for index, item in enumerate(value))
        else:
            parent[slot] = scrub(value)
    return holder["root"]


def scrub(value: Any) -> Any:
    """``value`` with card numbers cut and URL credentials erased in its strings (keys too) and in JSON numbers."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and 10**12 <= abs(value) < 10**19:
        text = str(value)
        cut = _cut_cards(text)
        return cut if cut != text else value
    if isinstance(value, (dict, list)):
        return redact_document(value)
    return value


def scrub_text(text: str) -> str:
    """A text with the credentials of the URLs in it erased and its card numbers cut to their own last four."""
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda found: _without_credentials(found.group(0)), text)
    return _cut_cards(text)


def scrub_url(url: str) -> str:
    """A URL without user info, without the values of token-like parameters, with card numbers cut."""
    return _cut_cards(_without_credentials(url))


def _without_credentials(url: str) -> str:
    parts = _URL.match(url)
    assert parts is not None  # every group is optional or matches the empty text: it always matches
    scheme, userinfo, rest = parts["scheme"] or "", parts["userinfo"], parts["rest"]
    if userinfo and scheme:
        userinfo = f"{MASK}@"
    rest, hashed, fragment = rest.partition("#")
    path, asked, query = rest.partition("?")
    if asked:
        query = _params_out(query)
    if hashed and "=" in fragment:  # an OAuth implicit grant's #access_token=…
        fragment = _params_out(fragment)
    return f"{scheme}{userinfo or ''}{path}{asked}{query}{hashed}{fragment}"


def _params_out(query: str) -> str:
    from urllib.parse import unquote_plus

    kept = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        plain = plain_name(unquote_plus(name))
        secret = equals and (plain in SECRET_PARAMS or any(word in plain for word in _SECRET_PARAM_WORDS))
        kept.append(f"{name}={MASK}" if secret else pair)
    return "&".join(kept)


# --- card numbers ----------------------------------------------------------------------------------------


def _cut_cards(text: str) -> str:
    """Every card number in ``text`` cut to its own last four digits (``************4242``).

    A run of digit groups joined by single spaces or dashes is read as a whole: every stretch
    of whole groups of three digits or more, holding 13-19 digits with a network's first
    digit and a valid Luhn sum, is a possible card. Of those,
    1. one that holds another and more is that card with a neighbour (``5555555555554444 737``
       passes Luhn as 19 digits too; the card is the 16, 737 its CVC): it is dropped;
    2. one written as cards are (whole, 4-4-4-4, 4-6-5, 4-6-4) wins over an oddly grouped one
       it overlaps (``qty 208 4242 4242 4242 4242``: 208424242424242 passes Luhn too);
    3. what still overlaps is one masked stretch showing the last four digits of the later
       card: no other candidate holds them, so no earlier card shows a digit.
    """
    if len(text) < 13:
        return text
    return _DIGIT_RUN.sub(_cut_run, text)


def _cut_run(run: re.Match) -> str:
    text = run.group(0)
    if len(text) < 13:
        return text
    groups = [(found.start(), found.end()) for found in _DIGITS.finditer(text)]
    digits = [text[start:end] for start, end in groups]
    by_first: dict[int, list[tuple[int, int, bool]]] = {}  # (first group, last group, written as cards are)
    for first in range(len(digits)):
        if digits[first][0] not in NETWORK_FIRST_DIGITS:
            continue
        number = ""
        for last in range(first, len(digits)):
            if len(digits[last]) < MIN_GROUP:
                break
            number += digits[last]
            if len(number) > 19:
                break
            if len(number) >= 13 and _luhn(number):
                shaped = first == last or tuple(map(len, digits[first : last + 1])) in CARD_GROUPINGS
                by_first.setdefault(first, []).append((first, last, shaped))
    if not by_first:
        return text

    def near(first: int, last: int) -> list[tuple[int, int, bool]]:  # the candidates overlapping groups first..last
        return [
            o for f in range(max(0, first - 19 // MIN_GROUP), last + 1) for o in by_first.get(f, ()) if o[1] >= first
        ]

    candidates = [c for found in by_first.values() for c in found]
    candidates = [c for c in candidates if not any(o != c and c[0] <= o[0] and o[1] <= c[1] for o in near(c[0], c[1]))]
    shaped_ones = {c for c in candidates if c[2]}
    candidates = [c for c in candidates if c[2] or not any(o in shaped_ones for o in near(c[0], c[1]))]
    stretches: list[list[int]] = []
    for first, last, _ in sorted(candidates):
        if stretches and first <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], last)
        else:
            stretches.append([first, last])
    out, at = [], 0
    for first, last in stretches:
        number = "".join(digits[first : last + 1])
        out += [text[at : groups[first][0]], "*" * (len(number) - 4), number[-4:]]
        at = groups[last][1]
    out.append(text[at:])
    return "".join(out)


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def _luhn(digits: str) -> bool:
    return (sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(char)] for char in digits[-2::-2])) % 10 == 0
