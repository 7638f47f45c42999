//! `[[routes]]`: which providers a message goes to, in order. A route maps a channel, and
//! optionally E.164 prefixes, to providers; the longest matching prefix wins, and a route
//! without prefixes is the channel's default. Without `[[routes]]`, each channel's default
//! route is every provider serving it, in `[[providers]]` order.

use std::collections::HashSet;

use herald_domain::Channel;
use serde::{Deserialize, Serialize};

use super::{ConfigError, DispatchConfig, ProviderEntry};

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteConfig {
    pub channel: Channel,
    /// E.164 prefixes (`+254`, `+2547`): country or operator codes. Empty: the channel's
    /// default route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// Provider names, tried in order.
    pub providers: Vec<String>,
    /// Whether a permanent refusal goes on to the next provider: `true`, `false`, or a list
    /// of texts one of which the refusal contains (e.g. `["HTTP 403", "unsupported"]`).
    #[serde(default)]
    pub failover_on_permanent: FailoverOnPermanent,
    /// SMS and WhatsApp: typographic characters (curly quotes, dashes, non-breaking spaces,
    /// ellipses) are replaced by their GSM-7 look-alikes when that costs no segment, so a
    /// text stays GSM-7 (160 characters a part instead of 70). The stored text is the one sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub smart_encoding: bool,
    /// SMS and WhatsApp: the sender of a message to this route whose request names none
    /// (an alphanumeric name where the country allows it, a number where it does not);
    /// unset: `sms.default_sender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// When a provider's permanent refusal is another provider's chance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FailoverOnPermanent {
    All(bool),
    /// Refusals whose reason contains one of these (case-insensitive), e.g. `HTTP 403`.
    Reasons(Vec<String>),
}

impl Default for FailoverOnPermanent {
    /// A permanent refusal is usually about the message (a bad number), not the provider.
    fn default() -> Self {
        Self::All(false)
    }
}

impl FailoverOnPermanent {
    pub fn covers(&self, reason: &str) -> bool {
        match self {
            Self::All(all) => *all,
            Self::Reasons(reasons) => {
                let reason = reason.to_lowercase();
                reasons.iter().any(|r| reason.contains(&r.to_lowercase()))
            }
        }
    }

    fn is_set(&self) -> bool {
        !matches!(self, Self::All(false)) && !matches!(self, Self::Reasons(r) if r.is_empty())
    }
}

/// Providers and routes as the dispatcher uses them, whichever way they were configured.
#[derive(Debug, Clone)]
pub struct Routing {
    pub providers: Vec<ProviderEntry>,
    pub routes: Vec<RouteConfig>,
    /// True when this came from the single `[provider]` section.
    pub legacy: bool,
}

impl Routing {
    /// `providers` with `routes`, or each channel's default route when `routes` is empty.
    pub fn new(providers: Vec<ProviderEntry>, routes: Vec<RouteConfig>) -> Self {
        let routes = if routes.is_empty() { default_routes(&providers) } else { routes };
        Self { providers, routes, legacy: false }
    }

    /// One provider on a default route for each channel it serves.
    pub fn single(provider: ProviderEntry) -> Self {
        Self { legacy: true, ..Self::new(vec![provider], Vec::new()) }
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderEntry> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The route of a message to `recipient` on `channel`: the longest matching prefix,
    /// else the channel's default route.
    pub fn route_for(&self, channel: Channel, recipient: &str) -> Option<&RouteConfig> {
        let routes = self.routes.iter().filter(|route| route.channel == channel);
        let by_prefix = routes
            .clone()
            .flat_map(|route| route.prefixes.iter().map(move |prefix| (prefix, route)))
            .filter(|(prefix, _)| recipient.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, route)| route);
        by_prefix.or_else(|| routes.clone().find(|route| route.prefixes.is_empty()))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for provider in &self.providers {
            provider.validate()?;
            if !names.insert(provider.name.as_str()) {
                return invalid("providers.name", format!("\"{}\" is used by two providers", provider.name));
            }
        }
        let mut seen = HashSet::new();
        for route in &self.routes {
            let channel = route.channel;
            if route.providers.is_empty() {
                return invalid("routes.providers", format!("a {channel} route names no provider"));
            }
            for name in &route.providers {
                let Some(provider) = self.provider(name) else {
                    return invalid(
                        "routes.providers",
                        format!("names \"{name}\", which no [[providers]] entry is called"),
                    );
                };
                if !provider.channels.contains(&channel) {
                    return invalid(
                        "routes.providers",
                        format!("a {channel} route names \"{name}\", which does not serve {channel} (its `channels`)"),
                    );
                }
            }
            if route.smart_encoding && !matches!(channel, Channel::Sms | Channel::Whatsapp) {
                return invalid(
                    "routes.smart_encoding",
                    format!("is for SMS and WhatsApp routes, not {channel}"),
                );
            }
            if let Some(sender) = &route.sender {
                if !matches!(channel, Channel::Sms | Channel::Whatsapp) {
                    return invalid(
                        "routes.sender",
                        format!("is for SMS and WhatsApp routes, not {channel}"),
                    );
                }
                if herald_domain::SenderId::parse(sender).is_err() {
                    return invalid(
                        "routes.sender",
                        format!("\"{sender}\" must be a phone number or an alphanumeric name of at most 11 characters"),
                    );
                }
            }
            if !route.prefixes.is_empty() && !matches!(channel, Channel::Sms | Channel::Whatsapp) {
                return invalid(
                    "routes.prefixes",
                    format!("are phone prefixes; {channel} has no phone numbers"),
                );
            }
            for prefix in &route.prefixes {
                let digits = prefix.strip_prefix('+').unwrap_or_default();
                if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return invalid(
                        "routes.prefixes",
                        format!("\"{prefix}\" is not an E.164 prefix: + and 1 to 15 digits, e.g. +254"),
                    );
                }
            }
            let keys: Vec<Option<&str>> = if route.prefixes.is_empty() {
                vec![None]
            } else {
                route.prefixes.iter().map(|p| Some(p.as_str())).collect()
            };
            for key in keys {
                if !seen.insert((channel, key)) {
                    return invalid(
                        "routes.prefixes",
                        match key {
                            Some(prefix) => format!("{prefix} has two {channel} routes"),
                            None => format!("{channel} has two default routes (routes without prefixes)"),
                        },
                    );
                }
            }
        }
        for (channel, prefix) in &seen {
            if prefix.is_some() && !seen.contains(&(*channel, None)) {
                return invalid(
                    "routes",
                    format!(
                        "{channel} has prefix routes but no default route: add a {channel} route \
                         without prefixes for every other number"
                    ),
                );
            }
        }
        Ok(())
    }

    /// The longest a message's attempt can take: its route's providers one after another
    /// when permanent refusals fail over, otherwise the slowest of them.
    pub fn longest_attempt_ms(&self, dispatch: &DispatchConfig) -> u64 {
        let timeout = |name: &String| {
            self.provider(name).map_or(dispatch.provider_timeout_ms, |p| p.timeout_ms(dispatch))
        };
        self.routes
            .iter()
            .map(|route| {
                let timeouts = route.providers.iter().map(timeout);
                if route.failover_on_permanent.is_set() {
                    timeouts.sum()
                } else {
                    timeouts.max().unwrap_or(0)
                }
            })
            .max()
            .unwrap_or(dispatch.provider_timeout_ms)
    }

    /// The smallest concurrency budget of the providers routes use.
    pub fn narrowest_concurrency(&self) -> usize {
        self.providers.iter().map(|p| p.limits.max_concurrency).min().unwrap_or(usize::MAX)
    }
}

fn default_routes(providers: &[ProviderEntry]) -> Vec<RouteConfig> {
    Channel::ALL
        .into_iter()
        .filter_map(|channel| {
            let serving: Vec<String> =
                providers.iter().filter(|p| p.channels.contains(&channel)).map(|p| p.name.clone()).collect();
            (!serving.is_empty()).then(|| RouteConfig {
                channel,
                prefixes: Vec::new(),
                providers: serving,
                failover_on_permanent: FailoverOnPermanent::default(),
                smart_encoding: false,
                sender: None,
            })
        })
        .collect()
}

fn invalid(key: &'static str, reason: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { key, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, channels: &[Channel]) -> ProviderEntry {
        ProviderEntry { name: name.into(), channels: channels.to_vec(), ..ProviderEntry::default() }
    }

    fn route(channel: Channel, prefixes: &[&str], providers: &[&str]) -> RouteConfig {
        RouteConfig {
            channel,
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            providers: providers.iter().map(|p| (*p).to_owned()).collect(),
            failover_on_permanent: FailoverOnPermanent::default(),
            smart_encoding: false,
            sender: None,
        }
    }

    fn error(routing: &Routing) -> String {
        routing.validate().unwrap_err().to_string()
    }

    #[test]
    fn without_routes_each_channel_gets_its_providers_in_order() {
        let routing = Routing::new(
            vec![provider("a", &[Channel::Sms]), provider("b", &[Channel::Sms, Channel::Email])],
            Vec::new(),
        );
        routing.validate().unwrap();
        assert_eq!(
            routing.routes,
            [route(Channel::Sms, &[], &["a", "b"]), route(Channel::Email, &[], &["b"])]
        );
    }

    #[test]
    fn routes_must_name_known_providers_serving_their_channel() {
        let providers = vec![provider("a", &[Channel::Sms]), provider("b", &[Channel::Email])];
        let unknown = Routing::new(providers.clone(), vec![route(Channel::Sms, &[], &["a", "nope"])]);
        let message = error(&unknown);
        assert!(message.contains("routes.providers") && message.contains("nope"), "{message}");
        let wrong_channel = Routing::new(providers, vec![route(Channel::Sms, &[], &["b"])]);
        let message = error(&wrong_channel);
        assert!(message.contains("routes.providers") && message.contains("does not serve sms"), "{message}");
    }

    #[test]
    fn smart_encoding_is_for_sms_routes_and_the_longest_prefix_decides() {
        let providers = vec![provider("a", &[Channel::Sms]), provider("b", &[Channel::Email])];
        let email = Routing::new(
            providers.clone(),
            vec![RouteConfig { smart_encoding: true, ..route(Channel::Email, &[], &["b"]) }],
        );
        assert!(error(&email).contains("routes.smart_encoding"), "{}", error(&email));
        let bad_sender = Routing::new(
            providers.clone(),
            vec![RouteConfig { sender: Some("TOO LONG SENDER".into()), ..route(Channel::Sms, &[], &["a"]) }],
        );
        assert!(error(&bad_sender).contains("routes.sender"), "{}", error(&bad_sender));
        let routing = Routing::new(
            providers,
            vec![
                RouteConfig { smart_encoding: true, ..route(Channel::Sms, &["+254"], &["a"]) },
                route(Channel::Sms, &["+2547"], &["a"]),
                route(Channel::Sms, &[], &["a"]),
            ],
        );
        routing.validate().unwrap();
        let smart = |to: &str| routing.route_for(Channel::Sms, to).map(|r| r.smart_encoding);
        assert_eq!(smart("+254201234567"), Some(true));
        assert_eq!(smart("+254712345678"), Some(false), "+2547 is the longer prefix");
        assert_eq!(smart("+31612345678"), Some(false), "the default route");
        assert!(routing.route_for(Channel::Push, "token").is_none());
    }

    #[test]
    fn provider_names_are_unique_and_set() {
        let twice =
            Routing::new(vec![provider("a", &[Channel::Sms]), provider("a", &[Channel::Sms])], Vec::new());
        assert!(error(&twice).contains("providers.name"), "{}", error(&twice));
        let unnamed = Routing::new(vec![provider(" ", &[Channel::Sms])], Vec::new());
        assert!(error(&unnamed).contains("providers.name"), "{}", error(&unnamed));
    }

    #[test]
    fn prefixes_are_e164_unique_and_need_a_default_route() {
        let providers = vec![provider("a", &[Channel::Sms]), provider("b", &[Channel::Sms])];
        let bad = Routing::new(providers.clone(), vec![route(Channel::Sms, &["254"], &["a"])]);
        assert!(error(&bad).contains("routes.prefixes"), "{}", error(&bad));
        let twice = Routing::new(
            providers.clone(),
            vec![route(Channel::Sms, &["+254"], &["a"]), route(Channel::Sms, &["+254"], &["b"])],
        );
        assert!(error(&twice).contains("+254 has two sms routes"), "{}", error(&twice));
        let no_default = Routing::new(providers.clone(), vec![route(Channel::Sms, &["+254"], &["a"])]);
        assert!(error(&no_default).contains("no default route"), "{}", error(&no_default));
        let fine = Routing::new(
            providers,
            vec![route(Channel::Sms, &["+254", "+255"], &["a", "b"]), route(Channel::Sms, &[], &["b"])],
        );
        fine.validate().unwrap();
    }

    #[test]
    fn failover_on_permanent_takes_a_flag_or_reasons() {
        assert!(!FailoverOnPermanent::default().covers("HTTP 400: bad number"));
        assert!(FailoverOnPermanent::All(true).covers("anything"));
        let reasons = FailoverOnPermanent::Reasons(vec!["http 403".into(), "Unsupported".into()]);
        assert!(reasons.covers("HTTP 403: not allowed"));
        assert!(reasons.covers("destination unsupported"));
        assert!(!reasons.covers("HTTP 400: invalid number"));
    }

    #[test]
    fn an_attempt_that_fails_over_may_take_each_providers_timeout() {
        let dispatch = DispatchConfig { provider_timeout_ms: 1_000, ..DispatchConfig::default() };
        let mut slow = provider("b", &[Channel::Sms]);
        slow.timeout_ms = Some(3_000);
        let mut routing = Routing::new(vec![provider("a", &[Channel::Sms]), slow], Vec::new());
        assert_eq!(routing.longest_attempt_ms(&dispatch), 3_000);
        routing.routes[0].failover_on_permanent = FailoverOnPermanent::All(true);
        assert_eq!(routing.longest_attempt_ms(&dispatch), 4_000);
    }
}
