"""Property-based: whatever reaches the webhook parser, the signed webhook
receiver or the register and login forms gets no 5xx and raises nothing
unexpected, and only valid input stores anything."""

import json
import re
import unicodedata
from urllib.parse import quote, quote_from_bytes, urljoin, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.webhooks.store import load_payload, parse_events
from tests.app.helpers import PASSWORD, count_events, csrf_token, post_webhook

# The same examples on every run (derandomize) and no example database on
# disk: CI tries what a developer tried.  A test's examples share its
# fixtures (one database per test), so each property compares before with after.
fuzz = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)   # NUL, controls, lone surrogates
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,   # floats: NaN and inf too
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=12)

# Deliveries shaped like Meta's, or nearly: any key may be missing or hold any JSON value.
ENTRIES = st.fixed_dictionaries({}, optional={
    "id": JSON_VALUES,
    "time": JSON_VALUES,
    "field": st.just("comments") | JSON_VALUES,
    "value": JSON_VALUES,
    "changes": st.lists(st.fixed_dictionaries({}, optional={"field": st.just("comments") | JSON_VALUES,
                                                            "value": JSON_VALUES}) | JSON_VALUES,
                        max_size=3) | JSON_VALUES,
    "messaging": st.lists(st.dictionaries(st.sampled_from(["message", "reaction", "read", "sender"]), JSON_VALUES,
                                          max_size=3) | JSON_VALUES, max_size=3) | JSON_VALUES,
})
DELIVERIES = st.fixed_dictionaries({}, optional={"object": st.just("instagram") | JSON_VALUES,
                                                 "entry": st.lists(ENTRIES | JSON_VALUES, max_size=3) | JSON_VALUES})


def serialised(delivery, ensure_ascii: bool, encoding: str) -> bytes:
    # surrogatepass: a lone surrogate goes out as its raw bytes, as a broken sender's would.
    return json.dumps(delivery, ensure_ascii=ensure_ascii).encode(encoding, "surrogatepass")


BODIES = st.one_of(
    st.binary(max_size=200),
    st.builds(serialised, DELIVERIES, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32"])),
    # Nested around the 64-level limit (the envelope takes 3), or far beyond it.
    (st.integers(55, 70) | st.sampled_from([900, 5000])).map(
        lambda depth: b'{"object":"instagram","entry":[{"id":"1","field":"comments","value":'
                      + b"[" * depth + b"]" * depth + b"}]}"),
)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@fuzz
@given(body=BODIES)
def test_parser_raises_only_value_errors_and_yields_storable_events(body):
    try:
        events = parse_events(load_payload(body))
    except ValueError:   # PayloadError or not JSON: the receiver's 400
        return
    for event in events:
        json.dumps(event.payload, allow_nan=False)   # jsonb takes no NaN or Infinity
        for text in (event.object, event.account_id or "", event.field, *strings(event.payload)):
            assert "\x00" not in text    # PostgreSQL takes no NUL in text or jsonb
            text.encode("utf-8")         # nor a lone surrogate


@fuzz
@given(body=BODIES)
def test_signed_deliveries_get_200_or_400_and_only_200_stores(client, db, body):
    before = count_events(db)
    response = post_webhook(client, body)
    assert response.status_code in (200, 400), response.get_json()
    stored = response.get_json()["stored"] if response.status_code == 200 else 0
    assert count_events(db) - before == stored


# Form values as a browser or a script may send them: any code point (NUL,
# controls, lone surrogates), bytes that are not UTF-8, huge values (over
# MAX_BODY_BYTES too), and valid ones, so that some submissions get past the validators.
FORM_VALUES = st.one_of(
    ANY_TEXT,
    st.binary(max_size=30),
    st.builds(lambda part, times: part * times, st.sampled_from(["a", "\x00", "\u00e9@"]), st.integers(250, 400_000)),
    st.sampled_from(["owner@example.com", "new@example.com", PASSWORD]),
)
# Addresses the format check lets through, but for what their parts may hold.
EMAIL_PARTS = st.text(st.sampled_from("ab.\x00\x1b\x7f\u00e9\ud800"), min_size=1, max_size=4)
EMAILS = st.builds("{}@{}.{}".format, EMAIL_PARTS, EMAIL_PARTS, EMAIL_PARTS) | FORM_VALUES


def as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def submit(client, path: str, **fields):
    fields["csrf_token"] = csrf_token(client, path.partition("?")[0])
    body = "&".join(f"{name}={quote_from_bytes(as_bytes(value))}" for name, value in fields.items())
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded")


def emails(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT email FROM users")}


def last_login(db):
    return db.execute("SELECT last_login_at FROM users WHERE email = 'owner@example.com'").fetchone()[0]


@fuzz
@given(email=EMAILS, password=st.just(PASSWORD) | FORM_VALUES, confirm=FORM_VALUES, confirmed=st.booleans())
def test_register_gets_no_5xx_and_stores_only_valid_users(unlimited_client, db, email, password, confirm, confirmed):
    before = emails(db)
    response = submit(unlimited_client, "/register", email=email, password=password,
                      confirm=password if confirmed else confirm)
    assert response.status_code in (302, 400, 413)
    added = emails(db) - before
    if response.status_code == 302:
        (new,) = added
        assert not any(unicodedata.category(c) == "Cc" for c in new), new
    else:
        assert not added


@fuzz
@given(email=EMAILS, password=FORM_VALUES)
def test_login_gets_no_5xx_and_stores_nothing_when_refused(unlimited_client, db, email, password):
    before = last_login(db)
    response = submit(unlimited_client, "/login", email=email, password=password)
    assert response.status_code in (302, 400, 413)
    if response.status_code != 302:
        assert last_login(db) == before


C0_AND_SPACE = "".join(map(chr, range(0x21)))


def host_a_browser_goes_to(location: str) -> str:
    """From the login page, following Location as WHATWG URL parsing reads it:
    C0 controls and spaces trimmed, tabs and newlines dropped, "\\" taken for "/"."""
    url = re.sub("[\t\n\r]", "", location.strip(C0_AND_SPACE)).replace("\\", "/")
    return urlsplit(urljoin("https://insta.example.test/login", url)).netloc


# What open redirects are made of (slashes, backslashes, what a browser trims or
# drops, encoded or not, then a host), or any text.
NEXT_TARGETS = st.from_regex(r" ?/[ /\\\t\n\r\x00]{0,3}(%09|%5C|%2509)?(evil\.example|api/me\?x=1)?",
                             fullmatch=True) | ANY_TEXT


@settings(fuzz, max_examples=30)   # each valid login costs a scrypt verification
@given(next_=NEXT_TARGETS)
def test_login_redirects_only_on_site_whatever_next_says(unlimited_client, db, next_):
    response = submit(unlimited_client, "/login?next=" + quote(as_bytes(next_)),
                      email="owner@example.com", password=PASSWORD)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert host_a_browser_goes_to(response.headers["Location"]) == "insta.example.test"
