//! Provider routing at run time: each configured provider with its own guard (breaker,
//! rate limit, concurrency budget) and timeout, and each channel's routes, longest E.164
//! prefix first. See docs/adr/0011-provider-routing.md.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use herald_domain::Channel;

use super::guard::{BreakerView, ClaimBudget, ProviderGuard};
use crate::{
    config::{DispatchConfig, FailoverOnPermanent, Routing},
    metrics::Metrics,
    ports::{Provider, RateLimitStore},
    services::overview::{BreakerStates, ProviderState},
};

/// One provider as the dispatcher uses it.
pub struct RoutedProvider {
    pub provider: Arc<dyn Provider>,
    pub guard: ProviderGuard,
    pub timeout: Duration,
}

impl std::fmt::Debug for RoutedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedProvider").field("name", &self.name()).field("timeout", &self.timeout).finish()
    }
}

impl RoutedProvider {
    pub fn name(&self) -> &str {
        self.provider.name()
    }
}

/// A route: providers (indexes into [`Router::providers`]) in the order they are tried.
#[derive(Debug)]
pub struct Route {
    pub providers: Vec<usize>,
    pub failover_on_permanent: FailoverOnPermanent,
    /// Campaign texts rendered for this route are smart-encoded (see [`crate::config::RouteConfig`]).
    pub smart_encoding: bool,
    /// The sender of campaign messages rendered for this route.
    pub sender: Option<String>,
}

#[derive(Debug, Default)]
struct ChannelRoutes {
    /// Longest prefix first, so the first that matches is the longest.
    by_prefix: Vec<(String, usize)>,
    default: Option<usize>,
}

pub struct Router {
    providers: Vec<RoutedProvider>,
    routes: Vec<Route>,
    channels: HashMap<Channel, ChannelRoutes>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("providers", &self.providers).field("routes", &self.routes).finish()
    }
}

impl Router {
    /// `providers[i]` is the adapter of `routing.providers[i]`. Routes were validated with
    /// the configuration; a provider name a route has but no adapter has is skipped.
    pub fn new(
        routing: &Routing,
        providers: Vec<Arc<dyn Provider>>,
        dispatch: &DispatchConfig,
        shared_rates: Option<&Arc<dyn RateLimitStore>>,
        metrics: &Arc<Metrics>,
    ) -> Self {
        // A call waits at most a quarter of its message's lease for a shared send slot.
        let horizon = dispatch.lease() / 4;
        let providers: Vec<RoutedProvider> = routing
            .providers
            .iter()
            .zip(providers)
            .map(|(entry, provider)| RoutedProvider {
                guard: ProviderGuard::with_shared_rate(
                    provider.name(),
                    &entry.limits,
                    dispatch.pipelines,
                    metrics.clone(),
                    shared_rates.map(|store| (store.clone(), horizon)),
                ),
                timeout: Duration::from_millis(entry.timeout_ms(dispatch)),
                provider,
            })
            .collect();
        let index: HashMap<&str, usize> = providers.iter().enumerate().map(|(i, p)| (p.name(), i)).collect();
        let mut routes = Vec::with_capacity(routing.routes.len());
        let mut channels: HashMap<Channel, ChannelRoutes> = HashMap::new();
        for config in &routing.routes {
            let route = routes.len();
            routes.push(Route {
                providers: config
                    .providers
                    .iter()
                    .filter_map(|name| index.get(name.as_str()).copied())
                    .collect(),
                failover_on_permanent: config.failover_on_permanent.clone(),
                smart_encoding: config.smart_encoding,
                sender: config.sender.clone(),
            });
            let channel = channels.entry(config.channel).or_default();
            if config.prefixes.is_empty() {
                channel.default = Some(route);
            }
            channel.by_prefix.extend(config.prefixes.iter().map(|prefix| (prefix.clone(), route)));
        }
        for channel in channels.values_mut() {
            channel.by_prefix.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        }
        Self { providers, routes, channels }
    }

    pub fn provider(&self, index: usize) -> &RoutedProvider {
        &self.providers[index]
    }

    /// The route of a message to `recipient` on `channel`; none when no provider serves it.
    pub fn route(&self, channel: Channel, recipient: &str) -> Option<&Route> {
        let routes = self.channels.get(&channel)?;
        routes
            .by_prefix
            .iter()
            .find(|(prefix, _)| recipient.starts_with(prefix.as_str()))
            .map(|(_, route)| *route)
            .or(routes.default)
            .map(|route| &self.routes[route])
            .filter(|route| !route.providers.is_empty())
    }

    /// How much to claim: the smallest budget among the providers that can take messages
    /// now, so whichever of them a message is routed to can send the batch within its
    /// lease. Nothing while every provider's breaker is open.
    pub fn claim_budget(&self, batch_size: u32, lease: Duration) -> ClaimBudget {
        let mut claim: Option<u32> = None;
        let mut wait: Option<DateTime<Utc>> = None;
        for provider in &self.providers {
            match provider.guard.claim_budget(batch_size, lease) {
                ClaimBudget::Claim(n) => claim = Some(claim.map_or(n, |c| c.min(n))),
                ClaimBudget::WaitUntil(at) => wait = Some(wait.map_or(at, |w| w.min(at))),
            }
        }
        match (claim, wait) {
            (Some(n), _) => ClaimBudget::Claim(n),
            (None, Some(at)) => ClaimBudget::WaitUntil(at),
            (None, None) => ClaimBudget::Claim(0),
        }
    }

    /// A read-only handle on every provider's breaker, for the API's overview.
    pub fn breakers(&self) -> Breakers {
        let breakers = self.providers.iter().map(|routed| ProviderBreaker {
            name: routed.name().to_owned(),
            channels: routed.provider.channels().to_vec(),
            breaker: routed.guard.breaker_view(),
        });
        Breakers(breakers.collect())
    }

    /// The provider named for messages the lease sweep fails (their worker was lost, and
    /// with it which provider it was calling): the first of SMS's default route, else the
    /// first provider.
    pub fn sweep_provider(&self) -> &str {
        let sms_first = self
            .channels
            .get(&Channel::Sms)
            .and_then(|routes| routes.default)
            .and_then(|route| self.routes[route].providers.first().copied());
        sms_first
            .or((!self.providers.is_empty()).then_some(0))
            .map_or("none", |index| self.providers[index].name())
    }
}

/// Every provider's breaker, read-only (see [`Router::breakers`]).
#[derive(Debug, Clone)]
pub struct Breakers(Vec<ProviderBreaker>);

#[derive(Debug, Clone)]
struct ProviderBreaker {
    name: String,
    channels: Vec<Channel>,
    breaker: BreakerView,
}

impl BreakerStates for Breakers {
    fn provider_states(&self) -> Vec<ProviderState> {
        self.0
            .iter()
            .flat_map(|provider| {
                let breaker = provider.breaker.state();
                provider.channels.iter().map(move |&channel| ProviderState {
                    name: provider.name.clone(),
                    channel,
                    breaker,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::{ProviderEntry, RouteConfig},
        ports::ProviderError,
        providers::MockProvider,
    };

    fn routing() -> Routing {
        let entry = |name: &str| {
            let mut entry = ProviderEntry { name: name.into(), ..ProviderEntry::default() };
            (entry.limits.breaker.window, entry.limits.breaker.min_calls) = (1, 1);
            entry
        };
        let route = |prefixes: &[&str], providers: &[&str]| RouteConfig {
            channel: Channel::Sms,
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            providers: providers.iter().map(|p| (*p).to_owned()).collect(),
            failover_on_permanent: FailoverOnPermanent::default(),
            smart_encoding: false,
            sender: None,
        };
        Routing::new(
            vec![entry("a"), entry("b"), entry("c")],
            vec![route(&["+254"], &["a", "b"]), route(&["+25471"], &["c"]), route(&[], &["b", "a"])],
        )
    }

    fn router() -> Router {
        let routing = routing();
        let providers: Vec<Arc<dyn Provider>> = routing
            .providers
            .iter()
            .map(|p| {
                Arc::new(MockProvider::new(1.0, Duration::ZERO).named(p.name.clone())) as Arc<dyn Provider>
            })
            .collect();
        Router::new(&routing, providers, &DispatchConfig::default(), None, &Arc::new(Metrics::new()))
    }

    fn first(router: &Router, to: &str) -> Option<String> {
        let route = router.route(Channel::Sms, to)?;
        Some(router.provider(route.providers[0]).name().to_owned())
    }

    #[test]
    fn the_longest_matching_prefix_wins_and_the_default_takes_the_rest() {
        let router = router();
        assert_eq!(first(&router, "+254712345678").as_deref(), Some("c"));
        assert_eq!(first(&router, "+254733123456").as_deref(), Some("a"));
        assert_eq!(first(&router, "+31633450007").as_deref(), Some("b"));
        assert!(router.route(Channel::Email, "ada@example.com").is_none(), "no email provider");
        assert_eq!(router.sweep_provider(), "b");
    }

    #[tokio::test]
    async fn the_claim_leaves_out_open_breakers_and_waits_when_all_are_open() {
        let router = router();
        let lease = Duration::from_secs(60);
        assert_eq!(router.claim_budget(100, lease), ClaimBudget::Claim(100));
        let down = || async { Err(ProviderError::Retryable { reason: "down".into(), retry_after: None }) };
        for index in 0..2 {
            let _ = router.provider(index).guard.call(down()).await;
        }
        assert_eq!(router.claim_budget(100, lease), ClaimBudget::Claim(100), "c can still take messages");
        let _ = router.provider(2).guard.call(down()).await;
        assert!(matches!(router.claim_budget(100, lease), ClaimBudget::WaitUntil(_)));
    }

    #[tokio::test]
    async fn the_breakers_handle_reads_each_providers_breaker_once_per_channel_it_serves() {
        let router = router();
        let breakers = router.breakers();
        let states = |breakers: &Breakers| -> Vec<(String, Channel, i64)> {
            let states = breakers.provider_states().into_iter();
            states.map(|p| (p.name, p.channel, p.breaker.as_gauge())).collect()
        };
        // The mocks serve every channel.
        assert_eq!(states(&breakers).len(), 3 * Channel::ALL.len());
        assert!(states(&breakers).iter().all(|(_, _, gauge)| *gauge == 0), "all closed");
        let down = async { Err(ProviderError::Retryable { reason: "down".into(), retry_after: None }) };
        let _ = router.provider(1).guard.call(down).await;
        let open: Vec<_> = states(&breakers).into_iter().filter(|(_, _, gauge)| *gauge == 2).collect();
        let expected: Vec<_> = Channel::ALL.iter().map(|&channel| ("b".to_owned(), channel, 2)).collect();
        assert_eq!(open, expected, "a handle taken before the failure sees it");
    }
}
