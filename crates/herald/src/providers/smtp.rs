//! Email over SMTP (lettre): one message per call over a pool of connections to the relay.
//! The `Message-ID` is derived from herald's message id, so a message sent again after a
//! crash carries the same id and the receiving side can tell. Answers are classified for
//! retries: a 4xx reply or a connection problem is retryable, a 5xx reply permanent; the
//! reply code and text go into `last_error`. A message with an unsubscribe URL carries it
//! as `List-Unsubscribe`, and one with a Reply-To address as `Reply-To`.

use std::time::Duration;

use async_trait::async_trait;
use herald_domain::{Channel, Recipient};
use lettre::{
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart,
    },
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
        PoolConfig,
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use crate::{
    config::{SmtpProviderConfig, SmtpTls},
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
};

pub struct SmtpProvider {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of the `Message-ID`s: the default sender's domain.
    id_domain: String,
}

impl std::fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpProvider").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Why an SMTP provider could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("providers.smtp.from: {0}")]
    From(String),
    #[error("providers.smtp.host: {0}")]
    Relay(#[from] lettre::transport::smtp::Error),
    #[error("providers.smtp.ca_file: {0}")]
    CaFile(String),
}

impl SmtpProvider {
    /// `max_concurrency`: the provider's limit, which bounds the pool unless
    /// `pool_size` is set. `timeout`: per SMTP command.
    pub fn new(
        name: &str,
        config: &SmtpProviderConfig,
        max_concurrency: usize,
        timeout: Duration,
    ) -> Result<Self, SmtpSetupError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| SmtpSetupError::From(e.to_string()))?;
        let builder = match (config.tls, &config.ca_file) {
            (SmtpTls::None, _) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            (SmtpTls::Starttls, None) => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?,
            (SmtpTls::Tls, None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            (tls, Some(ca_file)) => {
                let pem = std::fs::read(ca_file)
                    .map_err(|e| SmtpSetupError::CaFile(format!("{}: {e}", ca_file.display())))?;
                let ca = Certificate::from_pem(&pem)
                    .map_err(|e| SmtpSetupError::CaFile(format!("{}: {e}", ca_file.display())))?;
                let parameters =
                    TlsParameters::builder(config.host.clone()).add_root_certificate(ca).build_rustls()?;
                let tls =
                    if tls == SmtpTls::Tls { Tls::Wrapper(parameters) } else { Tls::Required(parameters) };
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host).tls(tls)
            }
        };
        let pool_size =
            config.pool_size.unwrap_or_else(|| u32::try_from(max_concurrency.min(16)).unwrap_or(16));
        let mut builder = builder
            .port(config.port())
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(pool_size.max(1)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let id_domain = from.email.domain().to_owned();
        Ok(Self { name: name.to_owned(), transport: builder.build(), from, id_domain })
    }

    /// The `Message-ID` of herald's message: the same on every attempt.
    fn message_id(&self, outbound: &Outbound<'_>) -> String {
        format!("<{}@{}>", outbound.message_id, self.id_domain)
    }

    fn message(&self, outbound: &Outbound<'_>, message_id: String) -> Result<Message, ProviderError> {
        let permanent = |reason: String| ProviderError::Permanent { reason };
        let Recipient::Email(address) = outbound.to else {
            return Err(permanent(format!("an SMTP provider sends email, not {}", outbound.channel)));
        };
        let to: Mailbox = address.as_str().parse().map_err(|e| permanent(format!("recipient: {e}")))?;
        let from = match outbound.from {
            Some(from) => from.parse().map_err(|e| permanent(format!("sender: {e}")))?,
            None => self.from.clone(),
        };
        let content = outbound.content;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(content.subject.as_deref().unwrap_or_default())
            .message_id(Some(message_id));
        if let Some(reply_to) = &content.reply_to {
            builder = builder.reply_to(reply_to.parse().map_err(|e| permanent(format!("reply-to: {e}")))?);
        }
        if let Some(url) = &content.unsubscribe_url {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ));
        }
        let built = match &content.html {
            Some(html) => {
                builder.multipart(MultiPart::alternative_plain_html(outbound.text.to_owned(), html.clone()))
            }
            None => builder.header(ContentType::TEXT_PLAIN).body(outbound.text.to_owned()),
        };
        built.map_err(|e| permanent(format!("message: {e}")))
    }
}

/// 5xx replies are permanent; 4xx replies, timeouts and connection problems retryable.
fn classify(error: &lettre::transport::smtp::Error) -> ProviderError {
    let reason = match error.status() {
        Some(code) => format!("SMTP {code}: {error}"),
        None => format!("SMTP: {error}"),
    };
    if error.is_permanent() {
        ProviderError::Permanent { reason }
    } else {
        ProviderError::Retryable { reason, retry_after: None }
    }
}

#[async_trait]
impl Provider for SmtpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn channels(&self) -> &[Channel] {
        &[Channel::Email]
    }

    async fn send(&self, outbound: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        let message_id = self.message_id(outbound);
        let message = self.message(outbound, message_id.clone())?;
        self.transport.send(message).await.map_err(|e| classify(&e))?;
        Ok(ProviderReceipt { provider_message_id: Some(message_id) })
    }
}
