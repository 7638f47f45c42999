//! OpenAPI schemas for the values herald validates by hand (phone numbers, senders, texts,
//! templates, idempotency keys), so that the published document states the rules the
//! handlers apply. Each pattern is checked against the parser it describes in the tests
//! below; where a rule cannot be a regular expression (a phone number valid for its country),
//! the schema carries a `format` and the description says what else is checked.

use herald_domain::{
    sender::MAX_ALPHANUMERIC_LEN, template::MAX_TEMPLATE_CHARS, CampaignStatus, Channel, HtmlBody,
    MessageBody, PushData, Subject,
};
use utoipa::openapi::{
    schema::{
        AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, SchemaFormat, Type,
    },
    RefOr, Schema,
};

use crate::services::idempotency::IdempotencyKey;

/// What `str::trim` removes: Unicode `White_Space`, spelled out so that every regex
/// dialect (ECMA-262, Rust, Python) reads the same set.
const WS: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Unicode control characters (`char::is_control`).
const CC: &str = r"\x00-\x1F\x7F-\x9F";

/// E.164: `+`, a country code, at most 15 digits in all.
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{1,14}$";
/// The OpenAPI format herald's phone numbers carry: E.164 and valid for the country.
pub const PHONE_FORMAT: &str = "phone";
/// An alphanumeric sender id: letters, digits and spaces, not only spaces.
pub const ALPHANUMERIC_SENDER_PATTERN: &str = r"^ *[A-Za-z0-9][A-Za-z0-9 ]*$";
/// Visible ASCII and spaces; as a header its ends cannot be spaces (HTTP strips them).
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[\x20-\x7E]+$";
pub const IDEMPOTENCY_HEADER_PATTERN: &str = r"^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$";
pub const ATTRIBUTE_NAME_PATTERN: &str = r"^[A-Za-z0-9_]+$";
/// Placeholder names of a template.
const TEMPLATE_NAME: &str =
    r"(?:id|phone|first_name|last_name|email|location|preferred_product|attributes\.[A-Za-z_][A-Za-z0-9_]*)";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable(schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    AnyOfBuilder::new().item(schema).item(ObjectBuilder::new().schema_type(Type::Null)).into()
}

/// A message text: not blank, no control characters but newline, carriage return and tab.
pub fn message_body_pattern() -> String {
    let allowed = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]";
    format!(r"^{allowed}*[^{WS}{CC}]{allowed}*$")
}

/// An optional text field: blank means absent; otherwise, once trimmed, 1 to `max`
/// characters without control characters.
pub fn optional_text_pattern(max: usize) -> String {
    let inner = max.saturating_sub(2);
    format!(r"^[{WS}]*(?:[^{WS}{CC}](?:[^{CC}]{{0,{inner}}}[^{WS}{CC}])?)?[{WS}]*$")
}

/// Blank, or holding an `@` (an email address).
pub fn email_pattern() -> String {
    format!(r"^[{WS}]*$|@")
}

/// A required name: once trimmed, 1 to `max` characters.
pub fn name_pattern(max: usize) -> String {
    let inner = max.saturating_sub(2);
    format!(r"^[{WS}]*[^{WS}](?:[\s\S]{{0,{inner}}}[^{WS}])?[{WS}]*$")
}

/// A template that parses: text, `{{`, `}}` and known `{placeholder|fallback}`s, not blank.
pub fn template_pattern() -> String {
    let placeholder = format!(r"\{{[{WS}]*{TEMPLATE_NAME}[{WS}]*(?:\|[^{{}}]*)?\}}");
    let token = format!(r"(?:[^{{}}]|\{{\{{|\}}\}}|{placeholder})");
    format!(r"^[{WS}]*(?:[^{{}}{WS}]|\{{\{{|\}}\}}|{placeholder}){token}*$")
}

/// A CSV whose header line (without quotes) names a `phone` column.
pub fn customer_csv_pattern() -> String {
    let cell = r#"[^\n\r,"]*"#;
    format!(r"^\uFEFF?(?:{cell},)*[ \t]*[Pp][Hh][Oo][Nn][Ee][ \t]*(?:,{cell})*(?:[\r\n][\s\S]*)?$")
}

/// A phone number; herald also accepts it without `+` or with spaces, dashes, dots and
/// parentheses, and answers in E.164.
pub fn phone() -> RefOr<Schema> {
    phone_builder(
        "E.164 phone number, valid for its country (libphonenumber metadata). Also accepted without \
         the `+` and with spaces, dashes, dots or parentheses; stored and answered in E.164.",
    )
    .into()
}

fn phone_builder(description: &str) -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::Custom(PHONE_FORMAT.into())))
        .pattern(Some(PHONE_PATTERN))
        .description(Some(description))
        .examples(["+254712345678"])
}

/// A sender id: a phone number, or 1 to 11 letters, digits and spaces.
pub fn sender() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .description(Some("A phone number, or an alphanumeric name of 1 to 11 letters, digits and spaces"))
        .item(
            string()
                .min_length(Some(1))
                .max_length(Some(MAX_ALPHANUMERIC_LEN))
                .pattern(Some(ALPHANUMERIC_SENDER_PATTERN))
                .examples(["ACME"]),
        )
        .item(phone_builder("A phone number, as for the recipient"))
        .into()
}

/// `from` of a notification: a sender id, or null for the configured default.
pub fn optional_sender() -> RefOr<Schema> {
    nullable(sender())
}

pub fn message_body() -> RefOr<Schema> {
    string()
        .min_length(Some(1))
        .max_length(Some(MessageBody::MAX_CHARS))
        .pattern(Some(message_body_pattern()))
        .description(Some(format!(
            "The text: not blank, at most {} characters, no control characters but newline, \
             carriage return and tab",
            MessageBody::MAX_CHARS
        )))
        .examples(["Your code is 123456"])
        .into()
}

/// The `idempotency_key` body field (the header's twin).
pub fn optional_idempotency_key() -> RefOr<Schema> {
    nullable(
        string()
            .min_length(Some(1))
            .max_length(Some(IdempotencyKey::MAX_LEN))
            .pattern(Some(IDEMPOTENCY_KEY_PATTERN))
            .description(Some(
                "Same as the `Idempotency-Key` header: 1 to 255 visible ASCII characters or spaces. \
                 When both are given they must be equal (400 otherwise).",
            )),
    )
}

/// The `Idempotency-Key` header parameter's schema.
pub fn idempotency_header() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(IdempotencyKey::MAX_LEN))
        .pattern(Some(IDEMPOTENCY_HEADER_PATTERN))
}

/// A customer's optional text field (names, location, product).
pub fn optional_text() -> RefOr<Schema> {
    nullable(
        string()
            .pattern(Some(optional_text_pattern(crate::services::customers::MAX_TEXT_CHARS)))
            .description(Some("Trimmed; blank means none; at most 200 characters, no control characters")),
    )
}

pub fn optional_email() -> RefOr<Schema> {
    let text = optional_text_pattern(crate::services::customers::MAX_TEXT_CHARS);
    nullable(
        AllOfBuilder::new()
            .description(Some("An email address (it must contain `@`); blank means none"))
            .item(string().pattern(Some(text)))
            .item(string().pattern(Some(email_pattern())))
            .examples(["alice@example.com"]),
    )
}

/// Free attributes: names of letters, digits and `_`, at most 8 KiB of JSON in all.
pub fn optional_attributes() -> RefOr<Schema> {
    nullable(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(string().min_length(Some(1)).pattern(Some(ATTRIBUTE_NAME_PATTERN))))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .description(Some(
                "Free attributes for templates (`{attributes.tier}`): names of letters, digits and `_`, \
                 at most 8 KiB as JSON",
            ))
            .examples([serde_json::json!({"tier": "gold"})]),
    )
}

pub fn campaign_name() -> RefOr<Schema> {
    string()
        .pattern(Some(name_pattern(crate::services::campaigns::MAX_NAME_CHARS)))
        .description(Some("1 to 200 characters once trimmed"))
        .examples(["Summer Sale 2025"])
        .into()
}

pub fn template() -> RefOr<Schema> {
    string()
        .max_length(Some(MAX_TEMPLATE_CHARS))
        .pattern(Some(template_pattern()))
        .description(Some(
            "Placeholders: `{first_name}`, `{last_name}`, `{phone}`, `{email}`, `{location}`, \
             `{preferred_product}`, `{id}`, `{attributes.<key>}`; `{field|fallback}` for a missing \
             value; `{{` and `}}` for literal braces. Not blank; an unknown placeholder is a 422 \
             `INVALID_TEMPLATE`.",
        ))
        .examples(["Hi {first_name}, check out {preferred_product} in {location}!"])
        .into()
}

pub fn optional_template() -> RefOr<Schema> {
    nullable(template())
}

/// An `unsubscribe_url`: `https://`, `http://` or `mailto:`, then visible ASCII but `<` and `>`.
pub const UNSUBSCRIBE_URL_PATTERN: &str = r"^(?:https?://|mailto:)[!-;=?-~]+$";
pub const MAX_URL_CHARS: usize = 2048;
/// A push registration token, with the whitespace `str::trim` removes around it.
fn push_token_pattern() -> String {
    format!(r"^[{WS}]*[!-~]{{1,4096}}[{WS}]*$")
}

/// A one-line text that is not blank (an email subject, a push title).
pub fn subject_pattern() -> String {
    format!(r"^[^{CC}]*[^{WS}{CC}][^{CC}]*$")
}

/// `channel` of one shape of the send body.
fn channel_is(channel: Channel) -> ObjectBuilder {
    string().enum_values(Some([channel.as_str()])).examples([channel.as_str()])
}

fn text_of(channel: Channel, example: &str) -> RefOr<Schema> {
    let max = MessageBody::max_chars(channel);
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(message_body_pattern()))
        .description(Some(format!(
            "The text: not blank, at most {max} characters, no control characters but newline, \
             carriage return and tab"
        )))
        .examples([example])
        .into()
}

fn email_address(description: &str) -> ObjectBuilder {
    string().format(Some(SchemaFormat::Custom("email".into()))).description(Some(description))
}

fn shape(channel: Channel, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .title(Some(channel.as_str()))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .property("channel", channel_is(channel))
        .required("channel")
        .required("to")
        .required("body")
}

/// The body of `POST /api/v1/notifications/send`: one shape per channel, told apart by
/// `channel`. WhatsApp is not taken here yet (a 422).
pub fn send_notification() -> RefOr<Schema> {
    let sms = shape(Channel::Sms, "An SMS")
        .property("to", phone())
        .property("body", message_body())
        .property("from", optional_sender())
        .property("idempotency_key", optional_idempotency_key());
    let mailbox = |what: &str| {
        nullable(email_address(&format!(
            "{what}: an email address, also accepted with a display name (`Shop <receipts@shop.example>`)"
        )))
    };
    let email = shape(Channel::Email, "An email (multipart/alternative when it has `html`)")
        .property(
            "to",
            email_address("The recipient's address (RFC 5322 syntax, at most 254 characters)")
                .examples(["ada@example.com"]),
        )
        .property(
            "subject",
            string()
                .min_length(Some(1))
                .max_length(Some(Subject::MAX_CHARS))
                .pattern(Some(subject_pattern()))
                .description(Some("One line, not blank, at most 998 characters"))
                .examples(["Your receipt"]),
        )
        .required("subject")
        .property("body", text_of(Channel::Email, "Thank you for your payment of 12.00 EUR."))
        .property(
            "html",
            nullable(
                string()
                    .max_length(Some(HtmlBody::MAX_CHARS))
                    .pattern(Some(format!("[^{WS}]")))
                    .description(Some(
                        "The HTML alternative of `body`: not blank, at most 100,000 characters",
                    ))
                    .examples(["<p>Thank you for your <b>payment</b>.</p>"]),
            ),
        )
        .property("from", mailbox("Sender; `email.from`, else the SMTP provider's `from`, when absent"))
        .property("reply_to", mailbox("Reply-To; `email.reply_to` when absent"))
        .property(
            "unsubscribe_url",
            nullable(
                string()
                    .max_length(Some(MAX_URL_CHARS))
                    .pattern(Some(UNSUBSCRIBE_URL_PATTERN))
                    .description(Some(
                        "Sent as the `List-Unsubscribe` header: an https:, http: or mailto: URL",
                    ))
                    .examples(["https://shop.example/unsubscribe?u=12345"]),
            ),
        )
        .property("idempotency_key", optional_idempotency_key());
    let push = shape(
        Channel::Push,
        "A push notification. Title, body and data together hold at most 4096 bytes of text \
         (FCM's limit); more is a 422 naming `data`.",
    )
    .property(
        "to",
        string()
            .pattern(Some(push_token_pattern()))
            .description(Some("The device's registration token: 1 to 4096 visible ASCII characters"))
            .examples(["fcm-registration-token-of-the-device"]),
    )
    .property(
        "title",
        nullable(
            string()
                .min_length(Some(1))
                .max_length(Some(Subject::MAX_CHARS))
                .pattern(Some(subject_pattern()))
                .description(Some("One line, not blank"))
                .examples(["Order shipped"]),
        ),
    )
    .property("body", text_of(Channel::Push, "Your order 1042 is on its way"))
    .property(
        "data",
        nullable(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .max_properties(Some(PushData::MAX_ENTRIES))
                .property_names(Some(string().min_length(Some(1)).max_length(Some(PushData::MAX_KEY_CHARS))))
                .additional_properties(Some(AdditionalProperties::RefOr(string().into())))
                .description(Some(
                    "Key-value pairs for the app, strings to strings. Keys FCM reserves (`from`, \
                     `message_type`, `notification`, and those starting with `google.` or `gcm.`) \
                     are a 422.",
                ))
                .examples([serde_json::json!({"order_id": "1042"})]),
        ),
    )
    .property("idempotency_key", optional_idempotency_key());
    let [sms, email, push] = [sms, email, push].map(|shape| {
        shape
            .property("user_id", nullable(user_id_value("The user it is for, kept for their history")))
            .property("send_at", send_at())
    });
    utoipa::openapi::schema::OneOfBuilder::new().item(sms).item(email).item(push).item(template_send()).into()
}

/// The pattern of a user id (`UserId`): 1 to 128 visible ASCII characters without `/`, `?`,
/// `#` or `%`.
pub const USER_ID_PATTERN: &str = r#"^[!"$&-.0->@-~]{1,128}$"#;

/// A user id in a body: the caller's id as a string, or as a number (the brief's `12345`).
fn user_id_value(description: &str) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(string().pattern(Some(USER_ID_PATTERN)).examples(["12345"]))
        .item(ObjectBuilder::new().schema_type(Type::Integer).examples([12345]))
        .description(Some(description))
        .into()
}

fn send_at() -> RefOr<Schema> {
    nullable(
        string()
            .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .description(Some(
                "RFC 3339 with a time zone. In the future: the notification is `scheduled` until \
                 then (cancellable with `PUT /api/v1/notifications/{id}/status`); otherwise it is \
                 sent now.",
            ))
            .examples(["2030-06-01T10:00:00Z"]),
    )
}

/// The brief's form of a send: a template, a user and a context.
fn template_send() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .title(Some("template"))
        .description(Some(
            "A send by template: herald finds the user's address for the channel (or takes `to`), \
             renders the template's subject and body with `context` (values are HTML-escaped \
             into an HTML body), keeps the template version, and applies the user's preferences \
             (a channel switched off or an opted-out category: stored `suppressed`; quiet hours: \
             `scheduled` until they end; transactional templates ignore categories and quiet \
             hours). An unknown or deleted template, a missing required variable \
             (`context.<name>`), an unknown user without `to`, or a user without an address for \
             the channel is a 422 naming the field; nothing is stored.",
        ))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .property(
            "template",
            string()
                .min_length(Some(1))
                .max_length(Some(crate::services::templates::MAX_NAME_CHARS))
                .description(Some("The template's id or name"))
                .examples(["order_shipped"]),
        )
        .required("template")
        .property("user_id", nullable(user_id_value("The user to notify; required unless `to` is given")))
        .property(
            "context",
            nullable(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some(
                        "Values of the template's variables; `order.id` reads `{\"order\": {\"id\": ...}}`",
                    ))
                    .examples([serde_json::json!({"order_id": "1042"})]),
            ),
        )
        .property(
            "channel",
            nullable(
                string()
                    .enum_values(Some(["sms", "email", "push"]))
                    .description(Some("The channel; the template's type when absent")),
            ),
        )
        .property(
            "to",
            nullable(string().min_length(Some(1)).description(Some(
                "The recipient, instead of the user's address: a phone number (E.164) for SMS, an \
                 email address, or a push token",
            ))),
        )
        .property("send_at", send_at())
        .property("idempotency_key", optional_idempotency_key())
}

/// The statuses a message can have.
pub fn message_status() -> RefOr<Schema> {
    string()
        .enum_values(Some(herald_domain::MessageStatus::ALL.map(|s| s.as_str())))
        .description(Some(
            "`pending` (waiting for its next attempt), `scheduled` (held until its `send_at` or \
             the end of the user's quiet hours: `next_attempt_at`), `sending` (a worker holds \
             it), `sent` (the provider accepted it), `delivered` or `undelivered` (the provider's \
             delivery receipt said so, `last_error` has its error code; or the client reported \
             delivery), `read` (the client reported it), `failed` (permanently, or out of \
             retries: a dead letter), `cancelled` (by the client before it went out) or \
             `suppressed` (the user's preferences: `last_error` says which)",
        ))
        .examples(["sent"])
        .into()
}

/// The channels a campaign can use.
pub fn campaign_channel_schema() -> RefOr<Schema> {
    string().enum_values(Some(["sms", "whatsapp"])).examples(["sms"]).into()
}

pub fn campaign_status() -> RefOr<Schema> {
    string().enum_values(Some(CampaignStatus::ALL.map(|s| s.to_string()))).into()
}

/// Any channel herald knows.
pub fn channel() -> RefOr<Schema> {
    string().enum_values(Some(Channel::ALL.map(Channel::as_str))).examples(["sms"]).into()
}

pub fn optional_channel() -> RefOr<Schema> {
    nullable(channel())
}

pub fn scheduled_at() -> RefOr<Schema> {
    nullable(
        string()
            .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .description(Some(
                "RFC 3339 with a time zone (without one: 422). In the future: the campaign is \
                 `scheduled` and sent then. Omitted, null, or not in the future (e.g. the brief's own \
                 2025-06-01): the campaign is a `draft`, ready to send now with \
                 `POST /campaigns/{id}/send`, and keeps the `scheduled_at` given.",
            ))
            .examples(["2030-06-01T10:00:00Z"]),
    )
}

/// A message id, or the empty string (none).
pub fn optional_message_id() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(string().format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid))))
        .item(string().max_length(Some(0)))
        .into()
}

/// Where a newest-first page of messages starts: a previous page's `next_cursor`
/// (microseconds since the epoch and a message id).
pub fn message_cursor() -> RefOr<Schema> {
    string()
        .pattern(Some(r"^[0-9]{1,16}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))
        .into()
}

/// A campaign of this account, by id.
pub fn campaign_id() -> RefOr<Schema> {
    positive_id().description(Some("A campaign of this account")).examples([42]).into()
}

/// The campaign a message was sent for, or null.
pub fn optional_campaign_id() -> RefOr<Schema> {
    nullable(positive_id().description(Some("The campaign it was sent for")).examples([42]))
}

/// A positive 64-bit id.
pub fn positive_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(i64::MAX))
}

pub fn customer_id() -> RefOr<Schema> {
    positive_id().description(Some("A customer of this account")).examples([123]).into()
}

pub fn customer_ids() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(positive_id())
        .min_items(Some(1))
        .max_items(Some(crate::services::campaigns::MAX_RECIPIENTS))
        .description(Some(
            "1 to 100,000 customer ids of this account; a repeated id gets one message; an unknown \
             one is a 422 `UNKNOWN_CUSTOMERS` and nothing is sent",
        ))
        .examples([serde_json::json!([1, 2, 3])])
        .into()
}

/// The sms-processor `recipient`: digits as a JSON number, or a phone number as a string.
pub fn sms_recipient() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .description(Some(
            "Recipient in international format, digits only, as a JSON number (the contract's form); \
             a phone number as a string is also accepted. It must be valid for its country.",
        ))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
                .minimum(Some(10))
                .maximum(Some(999_999_999_999_999_i64))
                .examples([31633450007_u64]),
        )
        .item(phone_builder("A phone number, as for `to` of a notification"))
        .into()
}

/// The customer import body.
pub fn customer_csv() -> RefOr<Schema> {
    string()
        .pattern(Some(customer_csv_pattern()))
        .description(Some("CSV whose header line names a `phone` column"))
        .examples(["phone,first_name,loyalty tier\n+254712345678,Alice,gold\n"])
        .into()
}

/// A user's email address, or null.
pub fn optional_user_email() -> RefOr<Schema> {
    nullable(email_address("An email address (RFC 5322, without a display name)").max_length(Some(254)))
}

/// A user's phone number, or null.
pub fn optional_phone() -> RefOr<Schema> {
    nullable(phone_builder("E.164 phone number, valid for its country; answered in E.164"))
}

/// A user's push registration tokens (one per device), or null for none.
pub fn push_tokens() -> RefOr<Schema> {
    nullable(
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(string().min_length(Some(1)).max_length(Some(4096)).pattern(Some(r"^[!-~]+$")))
            .max_items(Some(crate::services::users::MAX_PUSH_TOKENS))
            .description(Some("Registration tokens, printable ASCII without spaces; repeats count once")),
    )
}

/// A BCP 47 language tag, or null.
pub fn optional_locale() -> RefOr<Schema> {
    nullable(
        string()
            .max_length(Some(35))
            .pattern(Some(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))
            .examples(["sw-KE"]),
    )
}

/// An IANA time zone name, or null.
pub fn optional_time_zone() -> RefOr<Schema> {
    nullable(
        string()
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .description(Some("An IANA time zone (the tz database herald carries)"))
            .examples(["Africa/Nairobi"]),
    )
}

/// A notification template's text: text, `{{`, `}}` and `{variable}` or
/// `{variable|fallback}` placeholders, not blank. That each placeholder is a declared
/// variable no pattern can say (a 422 naming the field).
pub fn variable_template_pattern() -> String {
    let name = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?";
    let placeholder = format!(r"\{{[{WS}]*{name}[{WS}]*(?:\|[^{{}}]*)?\}}");
    let token = format!(r"(?:[^{{}}]|\{{\{{|\}}\}}|{placeholder})");
    format!(r"^[{WS}]*(?:[^{{}}{WS}]|\{{\{{|\}}\}}|{placeholder}){token}*$")
}

fn template_text(max: usize, description: &str, example: &str) -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(variable_template_pattern()))
        .description(Some(description))
        .examples([example])
}

/// The body of `POST /api/v1/templates` and `PUT /api/v1/templates/{id}`: one shape per
/// type, told apart by `type`.
pub fn template_in() -> RefOr<Schema> {
    use crate::services::templates as t;
    let variable = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property(
                "name",
                string()
                    .pattern(Some(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$"))
                    .max_length(Some(64))
                    .examples(["order_id"]),
            )
            .property(
                "required",
                ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Default true")),
            )
            .required("name")
    };
    let common = |channel: Channel, description: &str, body_max: usize| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some(channel.as_str()))
            .description(Some(description))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property(
                "name",
                string().pattern(Some(name_pattern(t::MAX_NAME_CHARS))).examples(["order_shipped"]),
            )
            .property("type", channel_is(channel))
            .property(
                "body",
                template_text(
                    body_max,
                    "The text, with `{variable}` and `{variable|fallback}` placeholders",
                    "Your order has shipped",
                ),
            )
            .property(
                "variables",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(variable())
                    .max_items(Some(t::MAX_VARIABLES))
                    .description(Some("The context variables the texts may use; names are unique")),
            )
            .property(
                "category",
                nullable(string().pattern(Some(r"^[a-z0-9_.-]{1,64}$")).examples(["shipping"])),
            )
            .property(
                "transactional",
                ObjectBuilder::new().schema_type(Type::Boolean).description(Some(
                    "One-time codes and receipts: not held back by quiet hours or category opt-outs",
                )),
            )
            .required("name")
            .required("type")
            .required("body")
    };
    let subject = || {
        AllOfBuilder::new()
            .item(template_text(
                Subject::MAX_CHARS,
                "One line (the email subject, the push title)",
                "Your order has shipped",
            ))
            .item(string().pattern(Some(subject_pattern())))
    };
    let email = common(Channel::Email, "An email template", t::MAX_EMAIL_BODY_CHARS)
        .property("subject", subject())
        .required("subject")
        .property(
            "html",
            nullable(template_text(
                t::MAX_HTML_CHARS,
                "The HTML body; context values are HTML-escaped into it",
                "<p>Your order has shipped</p>",
            )),
        );
    let push = common(Channel::Push, "A push template", t::MAX_TEXT_BODY_CHARS)
        .property("subject", nullable(subject()));
    let sms = common(Channel::Sms, "An SMS template", t::MAX_TEXT_BODY_CHARS);
    let whatsapp = common(Channel::Whatsapp, "A WhatsApp template", t::MAX_TEXT_BODY_CHARS);
    utoipa::openapi::schema::OneOfBuilder::new().item(email).item(push).item(sms).item(whatsapp).into()
}

#[cfg(test)]
mod tests {
    use herald_domain::{PhoneNumber, SenderId, Template};
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;

    fn regex(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    /// What `services::customers::validate` accepts for an optional text.
    fn text_accepted(value: &str) -> bool {
        let value = value.trim();
        value.is_empty() || (value.chars().count() <= 200 && !value.chars().any(char::is_control))
    }

    fn campaign_name_accepted(value: &str) -> bool {
        let value = value.trim();
        !value.is_empty() && value.chars().count() <= 200
    }

    const SAMPLES: &[&str] = &[
        "",
        " ",
        "\t",
        "\n",
        "\u{85}",
        "\u{a0}",
        "\u{feff}",
        "a",
        " a ",
        "a\nb",
        "\na",
        "a\u{0}",
        "\u{7f}",
        "\u{9f}x",
        "x\u{b}",
        "Hi {first_name}",
        "{first_name|there}",
        "{ first_name }",
        "{attributes.tier}",
        "{attributes.}",
        "{nope}",
        "{{",
        "}}",
        "{{x}}",
        "{x",
        "x}",
        "{}",
        "{{{first_name}",
        "{first_name}}",
        "{|x}",
        "{id|}",
        "ACME",
        " AB",
        "   ",
        "A-B",
        "123456789012",
        "+254712345678",
        "Ünïcödé",
        "\u{3000}a\u{3000}",
    ];

    #[test]
    fn every_pattern_compiles_and_agrees_with_its_parser_on_samples() {
        let body = regex(&message_body_pattern());
        let text = regex(&optional_text_pattern(200));
        let name = regex(&name_pattern(200));
        let template = regex(&template_pattern());
        let sender = regex(ALPHANUMERIC_SENDER_PATTERN);
        for sample in SAMPLES {
            assert_eq!(body.is_match(sample), MessageBody::parse(sample).is_ok(), "body {sample:?}");
            assert_eq!(text.is_match(sample), text_accepted(sample), "text {sample:?}");
            assert_eq!(name.is_match(sample), campaign_name_accepted(sample), "name {sample:?}");
            assert_eq!(template.is_match(sample), Template::parse(sample).is_ok(), "template {sample:?}");
            let alphanumeric = sample.chars().count() <= MAX_ALPHANUMERIC_LEN && sender.is_match(sample);
            if alphanumeric {
                assert!(SenderId::parse(sample).is_ok(), "sender {sample:?}");
            }
        }
        let long = "a".repeat(200);
        assert!(text.is_match(&format!("  {long}  ")) && !text.is_match(&format!("{long}a")));
        assert!(name.is_match(&long) && !name.is_match(&format!("{long}a")));
    }

    #[test]
    fn the_phone_pattern_holds_every_number_herald_answers_with() {
        let pattern = regex(PHONE_PATTERN);
        for number in ["+254712345678", "+31612345678", "+14155552671", "254712345678", "+31 6 1234 5678"] {
            let parsed = PhoneNumber::parse(number).unwrap();
            assert!(pattern.is_match(parsed.as_str()), "{parsed}");
        }
        assert!(!pattern.is_match("+0123") && !pattern.is_match("+1234567890123456"));
    }

    #[test]
    fn the_csv_pattern_asks_for_a_phone_column() {
        let csv = regex(&customer_csv_pattern());
        assert!(csv.is_match("phone\n+254712345678\n"));
        assert!(csv.is_match("\u{feff}first_name, Phone ,x\r\nAlice,+254712345678,1"));
        assert!(!csv.is_match("first_name\nphone"));
        assert!(!csv.is_match("\"x,phone"));
        assert!(!csv.is_match(""));
    }

    #[test]
    fn the_idempotency_patterns_match_the_key_rule() {
        let field = regex(IDEMPOTENCY_KEY_PATTERN);
        let header = regex(IDEMPOTENCY_HEADER_PATTERN);
        for key in ["a", "a b", " a", "a ", "~", "é", "", "a\tb"] {
            assert_eq!(field.is_match(key), IdempotencyKey::parse(key).is_ok(), "{key:?}");
            let trimmed_by_http = key.trim_matches(' ');
            assert_eq!(header.is_match(key), key == trimmed_by_http && field.is_match(key), "{key:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn message_bodies_the_pattern_allows_are_accepted(body in "[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]{0,3}[^\\t\\n\\x0B\\x0C\\r \\x85\\xA0\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]{0,20}") {
            prop_assert!(regex(&message_body_pattern()).is_match(&body));
            let trimmed_is_blank = body.trim().is_empty();
            prop_assert_eq!(MessageBody::parse(&body).is_ok(), !trimmed_is_blank);
        }

        #[test]
        fn any_string_gets_the_same_verdict_from_patterns_and_parsers(text in "\\PC{0,12}|[ \\t\\n{}|a-z._]{0,12}") {
            prop_assert_eq!(regex(&message_body_pattern()).is_match(&text), MessageBody::parse(&text).is_ok());
            prop_assert_eq!(regex(&optional_text_pattern(200)).is_match(&text), text_accepted(&text));
            prop_assert_eq!(regex(&name_pattern(200)).is_match(&text), campaign_name_accepted(&text));
            prop_assert_eq!(regex(&template_pattern()).is_match(&text), Template::parse(&text).is_ok());
        }
    }
}
