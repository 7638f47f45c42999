"""Schemathesis hooks for herald: test data for rules that no JSON Schema can state.

The OpenAPI document states every rule it can (patterns, lengths, enums, ranges). Three
rules are about the world rather than the request's shape, and these hooks make generated
data honour them without touching any check:

- A phone number must be valid for its country (libphonenumber metadata). The schema says
  `format: phone`; here that format draws numbers from ranges that are valid: Kenyan and
  Dutch mobile numbers. `recipient` of `POST /sms` may be a JSON number, which a string
  format cannot reach, so a schema-valid number there is mapped into the same range, and
  so is an E.164-shaped string that did not come from the format (the coverage phase
  builds some from the pattern alone).
- An idempotency key means "the same request": reusing one with another request is a 422
  and a header and body field that differ a 400, by design. Generated keys get a unique
  suffix (still a valid key) and the body field follows the header.
- `customer_ids` of a campaign send must name customers that exist (else 422
  `UNKNOWN_CUSTOMERS`, the same rule as a 404 for a path id). .ci/schemathesis.sh creates
  customers first and passes their ids in HERALD_ST_CUSTOMERS; sends name those, and
  deletes leave them alone.

- An email address must follow RFC 5322 (checked by a parser, not a regular expression).
  The schema says `format: email`; here that format draws plain addresses such as
  `ada.k@mail1.example.com`, which every parser accepts.
- A push notification's title, body and data hold at most 4096 bytes of text together (FCM's
  limit), which no JSON Schema can sum up. A schema-valid push body whose texts are longer
  has its data values cut until the whole fits, and a key FCM reserves (`from`,
  `google.x`; a JSON Schema has no "not matching" for property names without lookaheads)
  gets a `_` in front.

- A send by template must name a template and a user that exist, and a `to` must fit the
  channel (the template's type when absent). .ci/schemathesis.sh creates the email
  templates `order_shipped` (the example's) and `st_notice`, and the user `12345`;
  generated sends name `st_notice` (no example names it, and writes to its id are sent
  elsewhere) and `12345` (left alone by user writes), and carry a `to` of the channel, so
  that no other operation of the run can take their template or recipient away.

Only values the schema accepts are changed, so negative test cases stay negative.
"""

import copy
import os
import re
import uuid

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "phone",
    st.from_regex(r"\+2547[0-9]{8}", fullmatch=True) | st.from_regex(r"\+316[1-58][0-9]{7}", fullmatch=True),
)

schemathesis.openapi.format(
    "email",
    st.from_regex(r"[a-z0-9]{1,16}(\.[a-z0-9]{1,8})?@[a-z0-9]{1,12}\.example\.(com|org)", fullmatch=True),
)

PUSH_LIMIT = 4096
RESERVED_KEYS = {"from", "message_type", "notification"}
RESERVED_PREFIXES = ("google.", "gcm.")

PHONE = re.compile(r"\+[1-9][0-9]{1,14}")
VALID_PHONE = re.compile(r"\+2547[0-9]{8}|\+316[1-58][0-9]{7}")
# Body fields whose schema is `format: phone` (alone or as a branch of `anyOf`).
PHONE_FIELDS = {
    "/sms": ("recipient", "originator"),
    "/api/v1/notifications/send": ("to", "from"),
    "/api/v1/customers": ("phone",),
    "/api/v1/customers/{id}": ("phone",),
    "/api/v1/users/{user_id}": ("phone",),
}
KEY = re.compile(r"[\x20-\x7E]{1,255}")
USER_ID = re.compile(r'[!"$&-.0->@-~]{1,128}')
HEADER_KEY = re.compile(r"[\x21-\x7E](?:[\x20-\x7E]{0,253}[\x21-\x7E])?")
SEEDED = [int(i) for i in os.environ.get("HERALD_ST_CUSTOMERS", "").split(",") if i]
SEEDED_TEMPLATE = os.environ.get("HERALD_ST_TEMPLATE", "")
# The run's API key, for some of the generated sign-ins.
API_KEY = os.environ.get("HERALD_ST_KEY", "")


def unique(key: str) -> str:
    suffix = "-" + uuid.uuid4().hex
    return key[: 255 - len(suffix)] + suffix


def positive_int(value, high=2**63 - 1) -> bool:
    """A JSON Schema integer (2.0 is one) from 1 to `high`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high


def fit_push_payload(body):
    """Cuts the data values of a schema-valid push body until its texts fit FCM's limit."""
    data, title, text = body.get("data"), body.get("title"), body.get("body")
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return
    for key in [k for k in data if k in RESERVED_KEYS or k.startswith(RESERVED_PREFIXES)]:
        renamed = ("_" + key)[:128]
        if renamed not in data:
            data[renamed] = data.pop(key)
        else:
            data.pop(key)
    if not isinstance(text, str) or not (title is None or isinstance(title, str)):
        return
    size = lambda s: len(s.encode("utf-8", "surrogatepass"))
    fixed = size(text) + (size(title) if title else 0) + sum(size(k) for k in data)
    for key in list(data):
        over = fixed + sum(size(v) for v in data.values()) - PUSH_LIMIT
        if over <= 0:
            return
        value = data[key]
        while value and size(value) > max(0, size(data[key]) - over):
            value = value[:-1]
        data[key] = value


TEMPLATE_SEND_TO = {"sms": "+254712345678", "email": "st@example.com", "push": "st-device-token", None: "st@example.com"}


def map_template_send(body):
    """A schema-valid send by template, made to name the seeded template and user."""
    if body["template"]:
        body["template"] = "st_notice"
    user = body.get("user_id")
    if isinstance(user, int) and not isinstance(user, bool) or isinstance(user, str) and USER_ID.fullmatch(user):
        body["user_id"] = "12345"
    elif user is None and body.get("to") is None:
        body["user_id"] = "12345"
    channel = body.get("channel")
    if channel is None or isinstance(channel, str):
        # Always an address of the channel: other operations of the run may change or
        # delete any user, the seeded one included.
        body["to"] = TEMPLATE_SEND_TO.get(channel, body.get("to"))


@schemathesis.hook
def map_case(context, case):
    path = case.operation.path
    method = case.operation.method.upper()
    # Cases of one operation may share their containers: change copies only.
    if isinstance(case.body, dict):
        case.body = copy.deepcopy(case.body)
    if case.headers is not None:
        case.headers = copy.copy(case.headers)
    body = case.body if isinstance(case.body, dict) else None
    headers = case.headers  # a case-insensitive mapping, or None

    header = headers.get("Idempotency-Key") if headers else None
    if isinstance(header, str) and HEADER_KEY.fullmatch(header):
        header = unique(header)
        headers["Idempotency-Key"] = header
    else:
        header = None
    if body is not None and path == "/api/v1/notifications/send":
        field = body.get("idempotency_key")
        if isinstance(field, str) and KEY.fullmatch(field):
            body["idempotency_key"] = header if header is not None else unique(field)

    for field in PHONE_FIELDS.get(path, ()) if body is not None else ():
        value = body.get(field)
        if isinstance(value, str) and PHONE.fullmatch(value) and not VALID_PHONE.fullmatch(value):
            body[field] = "+2547" + str(int(value[1:]) % 100_000_000).zfill(8)

    if body is not None and path == "/api/v1/notifications/send" and body.get("channel") == "push":
        fit_push_payload(body)

    if body is not None and path == "/api/v1/notifications/send" and isinstance(body.get("template"), str):
        map_template_send(body)

    if body is not None and path == "/sms":
        recipient = body.get("recipient")
        if positive_int(recipient, 999_999_999_999_999) and recipient >= 10:
            body["recipient"] = 254_700_000_000 + int(recipient) % 100_000_000

    if SEEDED and body is not None and path == "/campaigns/{id}/send":
        ids = body.get("customer_ids")
        if isinstance(ids, list) and ids and all(positive_int(i) for i in ids):
            body["customer_ids"] = [SEEDED[int(i) % len(SEEDED)] for i in ids]

    if API_KEY and body is not None and path == "/api/v1/session" and isinstance(body.get("api_key"), str):
        # Half of the sign-ins with the run's own key (201 and a session), half as generated (401).
        if len(body["api_key"]) % 2 == 0:
            body["api_key"] = API_KEY

    if SEEDED_TEMPLATE and method in ("PUT", "DELETE") and path == "/api/v1/templates/{id}":
        params = case.path_parameters or {}
        if params.get("id") == SEEDED_TEMPLATE:
            params["id"] = str(uuid.uuid4())

    if method in ("PUT", "DELETE") and path == "/api/v1/users/{user_id}":
        params = case.path_parameters or {}
        if params.get("user_id") == "12345":
            # The seeded user stays as .ci/schemathesis.sh made it.
            params["user_id"] = "12345-changed"

    if SEEDED and method == "DELETE" and path == "/api/v1/customers/{id}":
        params = case.path_parameters or {}
        if params.get("id") in SEEDED:
            # A seeded customer stays; any id past them is one the run may delete.
            params["id"] = max(SEEDED) + params["id"]
    return case

