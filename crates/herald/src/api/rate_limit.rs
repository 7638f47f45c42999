//! Request rate limits per API key, and the header fields that tell a client where it stands
//! (`RateLimit-Policy` and `RateLimit` of draft-ietf-httpapi-ratelimit-headers-11,
//! `Retry-After` on a 429). docs/adr/0022-api-rate-limits.md has the reasons.
//!
//! A key is held to its own limit (`herald api-key create --rate-limit 5/s`) or to the
//! default (`[api.rate_limit]`), by a GCRA in memory per API process: N API processes let
//! a key make N times its limit. The keys of one limit share one of governor's keyed
//! limiters; every minute the state of keys that are as good as fresh again is dropped, so
//! revoked and idle keys cost nothing.
//!
//! The limit is taken where the key is checked ([`super::auth::Authenticated`]), which
//! leaves its [`Verdict`] for [`write_header_fields`], a layer around every route: every
//! response to a request whose key was checked carries the fields. Public endpoints and
//! bad keys (401) take nothing from any limit and get none.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, OnceLock, PoisonError, RwLock},
    time::Duration,
};

use axum::{
    extract::Request,
    http::{header::RETRY_AFTER, request::Parts, HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    nanos::Nanos,
    state::keyed::DefaultKeyedStateStore,
    RateLimiter,
};
use herald_domain::ApiKeyId;
use utoipa::openapi::{
    header::HeaderBuilder, path::Operation, ContentBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
};

use crate::{config::ApiRateLimitConfig, model::RequestRate};

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The name of herald's one quota policy in the header fields: a key has one limit.
const POLICY: &str = "default";

/// How often the state of keys that are as good as fresh is dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A limit as the limiter keeps it: a steady rate, and the burst a quiet key may spend at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    per_second: NonZeroU32,
    burst: NonZeroU32,
}

impl Limit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self { per_second, burst }
    }

    fn quota(self) -> governor::Quota {
        governor::Quota::per_second(self.per_second).allow_burst(self.burst)
    }

    /// The time one request's share of the limit takes to come back.
    fn interval(self) -> Duration {
        self.quota().replenish_interval()
    }

    /// `RateLimit-Policy`: `q` requests in `w` seconds, where `w` is the fewest whole seconds
    /// in which an emptied burst comes back; `q / w` is the steady rate, and `q` is never
    /// below the burst, so `r` never exceeds it.
    pub fn policy_field(self) -> String {
        let (per_second, burst) = (u64::from(self.per_second.get()), u64::from(self.burst.get()));
        let window = burst.div_ceil(per_second);
        format!("\"{POLICY}\";q={};w={window}", per_second * window)
    }
}

/// What the limit said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let through: `remaining` more may follow at once, and the limit is whole again
    /// after `reset`.
    Allowed { limit: Limit, remaining: u32, reset: Duration },
    /// Refused: the next request may go after `retry_after`.
    Limited { limit: Limit, retry_after: Duration },
}

impl Verdict {
    pub fn limit(&self) -> Limit {
        match *self {
            Self::Allowed { limit, .. } | Self::Limited { limit, .. } => limit,
        }
    }

    /// `Retry-After` of a refused request, in whole seconds: at least 1.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match *self {
            Self::Allowed { .. } => None,
            Self::Limited { retry_after, .. } => Some(whole_seconds(retry_after)),
        }
    }

    /// `RateLimit`: `r` requests may follow within `t` seconds. Let through, `t` is the time
    /// until the limit is whole again; refused, it is the `Retry-After` (the draft asks
    /// that `Retry-After` not end before the window does).
    pub fn ratelimit_field(&self) -> String {
        let (remaining, seconds) = match *self {
            Self::Allowed { remaining, reset, .. } => (remaining, whole_seconds(reset)),
            Self::Limited { retry_after, .. } => (0, whole_seconds(retry_after)),
        };
        format!("\"{POLICY}\";r={remaining};t={seconds}")
    }

    fn write_to(&self, headers: &mut HeaderMap) {
        let fields = [
            (RATELIMIT_POLICY, Some(self.limit().policy_field())),
            (RATELIMIT, Some(self.ratelimit_field())),
            (RETRY_AFTER, self.retry_after_secs().map(|secs| secs.to_string())),
        ];
        for (name, value) in fields {
            if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
                headers.insert(name, value);
            }
        }
    }
}

/// Rounded up, and at least 1: a client told 0 would come back at once.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_nanos().div_ceil(1_000_000_000).clamp(1, u128::from(u64::MAX)) as u64
}

type KeyedLimiter<C> = RateLimiter<ApiKeyId, DefaultKeyedStateStore<ApiKeyId>, C, StateInformationMiddleware>;

/// The request rate limits of every key, for one API process. Clones share the limits.
#[derive(Clone)]
pub struct ApiRateLimits<C: Clock = DefaultClock> {
    inner: Arc<Limiters<C>>,
}

struct Limiters<C: Clock> {
    default: Option<Limit>,
    clock: C,
    /// One keyed limiter per limit in use: keys change limits rarely, and a keyed limiter
    /// holds one limit for all its keys.
    by_limit: RwLock<HashMap<Limit, KeyedLimiter<C>>>,
    next_sweep: Mutex<C::Instant>,
}

impl<C: Clock> std::fmt::Debug for ApiRateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRateLimits").field("default", &self.inner.default).finish_non_exhaustive()
    }
}

impl ApiRateLimits {
    pub fn new(config: &ApiRateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ApiRateLimits<C> {
    fn with_clock(config: &ApiRateLimitConfig, clock: C) -> Self {
        let default = NonZeroU32::new(config.requests_per_second).map(|per_second| {
            Limit::new(per_second, config.burst.and_then(NonZeroU32::new).unwrap_or(per_second))
        });
        let next_sweep = Mutex::new(clock.now() + Nanos::from(SWEEP_EVERY));
        Self { inner: Arc::new(Limiters { default, clock, by_limit: RwLock::default(), next_sweep }) }
    }

    /// The limit a key is held to: its own, else the default; None when neither limits it.
    pub fn limit_for(&self, own: Option<RequestRate>) -> Option<Limit> {
        own.map(|rate| Limit::new(rate.get(), rate.get())).or(self.inner.default)
    }

    /// Takes one request from `key`'s share of `limit`; a refused request takes nothing.
    pub fn check(&self, key: ApiKeyId, limit: Limit) -> Verdict {
        self.sweep_if_due();
        let limiters = self.inner.by_limit.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(limiter) = limiters.get(&limit) {
            return decide(limiter, key, limit);
        }
        drop(limiters);
        let mut limiters = self.inner.by_limit.write().unwrap_or_else(PoisonError::into_inner);
        let limiter = limiters.entry(limit).or_insert_with(|| {
            KeyedLimiter::new(limit.quota(), DefaultKeyedStateStore::default(), self.inner.clock.clone())
        });
        decide(limiter, key, limit)
    }

    /// Drops the state of keys that are as good as fresh, and limiters left without keys.
    /// Checks hold the read lock while they decide, so no key loses its state to a sweep
    /// in the middle of a decision.
    fn sweep_if_due(&self) {
        let now = self.inner.clock.now();
        let Ok(mut next_sweep) = self.inner.next_sweep.try_lock() else {
            return; // another request is sweeping
        };
        if now < *next_sweep {
            return;
        }
        *next_sweep = now + Nanos::from(SWEEP_EVERY);
        drop(next_sweep);
        let mut limiters = self.inner.by_limit.write().unwrap_or_else(PoisonError::into_inner);
        limiters.retain(|_, limiter| {
            limiter.retain_recent();
            limiter.shrink_to_fit();
            !limiter.is_empty()
        });
    }

    /// How many keys have a state kept.
    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        let limiters = self.inner.by_limit.read().unwrap_or_else(PoisonError::into_inner);
        limiters.values().map(KeyedLimiter::len).sum()
    }
}

fn decide<C: Clock>(limiter: &KeyedLimiter<C>, key: ApiKeyId, limit: Limit) -> Verdict {
    match limiter.check_key(&key) {
        Ok(state) => {
            let remaining = state.remaining_burst_capacity();
            // The requests not remaining each take an interval to come back: at most this long.
            let reset = limit.interval() * limit.burst.get().saturating_sub(remaining);
            Verdict::Allowed { limit, remaining, reset }
        }
        Err(not_until) => {
            Verdict::Limited { limit, retry_after: not_until.wait_time_from(limiter.clock().now()) }
        }
    }
}

/// Where authentication leaves a request's verdict for [`write_header_fields`].
#[derive(Debug, Clone, Default)]
struct VerdictSlot(Arc<OnceLock<Verdict>>);

/// Leaves the verdict on a request for its response's header fields.
pub fn record(parts: &Parts, verdict: Verdict) {
    if let Some(slot) = parts.extensions.get::<VerdictSlot>() {
        let _ = slot.0.set(verdict);
    }
}

/// A layer around every route: a response to a request whose key was checked gets the
/// header fields of its verdict.
pub async fn write_header_fields(mut request: Request, next: Next) -> Response {
    let slot = VerdictSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(verdict) = slot.0.get() {
        verdict.write_to(response.headers_mut());
    }
    response
}

/// Documents the limit on an operation that takes an API key: the header fields on every
/// answer but the 401 (a bad key takes nothing from a limit), and the 429 with `Retry-After`
/// and an `error_body` (the name of its schema). The fields are not marked required: keys
/// are not limited at all with `api.rate_limit.requests_per_second = 0`.
pub fn document(operation: &mut Operation, error_body: &str) {
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        if status != "401" {
            for (name, header) in limit_headers() {
                response.headers.entry(name.into()).or_insert(header);
            }
        }
    }
    let retry_after = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before the next request with this key"))
        .build();
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(error_body))).build();
    let mut too_many = ResponseBuilder::new()
        .description(
            "Too many requests with this API key (`RATE_LIMITED`): wait `Retry-After` seconds; \
             `RateLimit-Policy` gives the key's limit",
        )
        .content("application/json", content)
        .header("Retry-After", retry_after);
    for (name, header) in limit_headers() {
        too_many = too_many.header(name, header);
    }
    operation.responses.responses.insert("429".into(), RefOr::T(too_many.build()));
}

fn limit_headers() -> [(&'static str, utoipa::openapi::header::Header); 2] {
    let field = |pattern: &str, example: &str, description: &str| {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .examples([serde_json::Value::from(example)]);
        HeaderBuilder::new().schema(schema).description(Some(description)).build()
    };
    [
        (
            "RateLimit-Policy",
            field(
                r#"^"default";q=[0-9]+;w=[0-9]+$"#,
                r#""default";q=5;w=1"#,
                "The API key's limit (draft-ietf-httpapi-ratelimit-headers-11): `q` requests in `w` \
                 seconds, per API process; on every answer to a request with a valid key",
            ),
        ),
        (
            "RateLimit",
            field(
                r#"^"default";r=[0-9]+;t=[0-9]+$"#,
                r#""default";r=4;t=1"#,
                "Where the key stands: `r` more requests may follow at once; the limit is whole again \
                 in `t` seconds",
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(per_second: u32, burst: u32) -> Limit {
        Limit::new(NonZeroU32::new(per_second).unwrap(), NonZeroU32::new(burst).unwrap())
    }

    fn limits(requests_per_second: u32) -> (ApiRateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let config = ApiRateLimitConfig { requests_per_second, burst: None };
        (ApiRateLimits::with_clock(&config, clock.clone()), clock)
    }

    fn headers(verdict: &Verdict) -> BTreeMap<String, String> {
        let mut map = HeaderMap::new();
        verdict.write_to(&mut map);
        map.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned())).collect()
    }

    fn fields<const N: usize>(fields: [(&str, &str); N]) -> BTreeMap<String, String> {
        fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    #[test]
    fn fields_are_written_as_the_draft_structures_them() {
        let five = limit(5, 5);
        let allowed = Verdict::Allowed { limit: five, remaining: 4, reset: Duration::from_millis(200) };
        assert_eq!(
            headers(&allowed),
            fields([("ratelimit-policy", r#""default";q=5;w=1"#), ("ratelimit", r#""default";r=4;t=1"#)])
        );
        let limited = Verdict::Limited { limit: five, retry_after: Duration::from_millis(150) };
        assert_eq!(
            headers(&limited),
            fields([
                ("ratelimit-policy", r#""default";q=5;w=1"#),
                ("ratelimit", r#""default";r=0;t=1"#),
                ("retry-after", "1"),
            ])
        );
    }

    #[test]
    fn the_policy_window_is_the_whole_seconds_an_emptied_burst_takes_to_come_back() {
        assert_eq!(limit(5, 5).policy_field(), r#""default";q=5;w=1"#);
        assert_eq!(limit(1, 5).policy_field(), r#""default";q=5;w=5"#);
        assert_eq!(limit(3, 5).policy_field(), r#""default";q=6;w=2"#, "q/w stays the rate");
        assert_eq!(limit(10, 2).policy_field(), r#""default";q=10;w=1"#);
        assert_eq!(limit(10_000, 10_000).policy_field(), r#""default";q=10000;w=1"#);
    }

    #[test]
    fn seconds_are_rounded_up_and_never_zero() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_nanos(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2_001)), 3);
        let late = Verdict::Limited { limit: limit(1, 1), retry_after: Duration::from_millis(2_400) };
        assert_eq!(
            (late.retry_after_secs(), late.ratelimit_field()),
            (Some(3), r#""default";r=0;t=3"#.into())
        );
    }

    #[test]
    fn a_key_spends_its_burst_is_refused_until_a_request_comes_back_and_other_keys_are_untouched() {
        let (limits, clock) = limits(0);
        let five = limits.limit_for(Some(RequestRate::per_second(5).unwrap())).unwrap();
        let (key, other) = (ApiKeyId::new(), ApiKeyId::new());

        let remaining: Vec<_> = (0..5)
            .map(|_| match limits.check(key, five) {
                Verdict::Allowed { remaining, reset, .. } => (remaining, whole_seconds(reset)),
                refused => panic!("refused within the burst: {refused:?}"),
            })
            .collect();
        assert_eq!(remaining, [(4, 1), (3, 1), (2, 1), (1, 1), (0, 1)]);
        let refused = limits.check(key, five);
        assert_eq!(refused, Verdict::Limited { limit: five, retry_after: Duration::from_millis(200) });
        assert!(matches!(limits.check(other, five), Verdict::Allowed { remaining: 4, .. }));

        clock.advance(Duration::from_millis(200));
        assert!(matches!(limits.check(key, five), Verdict::Allowed { remaining: 0, .. }));
        clock.advance(Duration::from_secs(1));
        assert!(matches!(limits.check(key, five), Verdict::Allowed { remaining: 4, .. }), "whole again");
    }

    #[test]
    fn a_key_is_held_to_its_own_limit_else_the_default_else_none() {
        let (with_default, _) = limits(100);
        let own = RequestRate::per_second(5).unwrap();
        assert_eq!(with_default.limit_for(Some(own)), Some(limit(5, 5)));
        assert_eq!(with_default.limit_for(None), Some(limit(100, 100)));
        let burst = ApiRateLimits::new(&ApiRateLimitConfig { requests_per_second: 100, burst: Some(250) });
        assert_eq!(burst.limit_for(None), Some(limit(100, 250)));
        let (without_default, _) = limits(0);
        assert_eq!(without_default.limit_for(None), None);
        assert_eq!(without_default.limit_for(Some(own)), Some(limit(5, 5)));
    }

    #[test]
    fn keys_as_good_as_fresh_are_forgotten_and_busy_ones_kept() {
        let (limits, clock) = limits(10);
        let ten = limits.limit_for(None).unwrap();
        for _ in 0..1_000 {
            limits.check(ApiKeyId::new(), ten);
        }
        assert_eq!(limits.tracked_keys(), 1_000);

        let (busy, five) = (ApiKeyId::new(), limit(5, 5));
        clock.advance(SWEEP_EVERY - Duration::from_millis(100));
        for _ in 0..3 {
            limits.check(busy, five); // no sweep is due yet
        }
        clock.advance(Duration::from_millis(100));
        // This check sweeps first: the busy key keeps what it spent (one request came back).
        assert!(matches!(limits.check(busy, five), Verdict::Allowed { remaining: 1, .. }));
        assert_eq!(limits.tracked_keys(), 1, "the idle keys are forgotten");
        assert_eq!(limits.inner.by_limit.read().unwrap().len(), 1, "and their emptied limiter");
        assert!(matches!(limits.check(busy, five), Verdict::Allowed { remaining: 0, .. }));
        assert!(matches!(limits.check(busy, five), Verdict::Limited { .. }));
    }

    #[test]
    fn operations_that_take_a_key_document_the_429_and_the_fields_and_public_ones_do_not() {
        let document = crate::api::openapi::document();
        let mut secured = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let has_fields = |status: &str| {
                    let headers = &responses[status]["headers"];
                    headers.get("RateLimit-Policy").is_some() && headers.get("RateLimit").is_some()
                };
                if operation.get("security").is_none() {
                    assert!(!responses.contains_key("429"), "{method} {path}");
                    assert!(responses.keys().all(|status| !has_fields(status)), "{method} {path}");
                    continue;
                }
                secured += 1;
                let too_many = &responses["429"];
                assert!(too_many["headers"]["Retry-After"].is_object(), "{method} {path}: {too_many}");
                let body = if path == "/sms" { "SmsResponse" } else { "ErrorBody" };
                assert_eq!(
                    too_many["content"]["application/json"]["schema"]["$ref"],
                    format!("#/components/schemas/{body}"),
                    "{method} {path}"
                );
                for status in responses.keys() {
                    assert_eq!(has_fields(status), status != "401", "{method} {path} {status}");
                }
            }
        }
        assert!(secured >= 20, "{secured} operations take a key");
    }
}
