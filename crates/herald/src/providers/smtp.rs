//! Email over SMTP (lettre): one message per call over a pool of connections to the relay.
//! The `Message-ID` is derived from herald's message id, so a message sent again after a
//! crash carries the same id and the receiving side can tell. Answers are classified for
//! retries: a 4xx reply or a connection problem is retryable, a 5xx reply permanent; the
//! reply code and text go into `last_error`. A message with an unsubscribe URL carries it
//! as `List-Unsubscribe`, and one with a Reply-To address as `Reply-To`.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use async_trait::async_trait;
use herald_domain::{Channel, Recipient};
use lettre::{
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart,
    },
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters},
        extension::ClientId,
    },
    Message,
};
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use crate::{
    config::{SmtpProviderConfig, SmtpTls},
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
};

pub struct SmtpProvider {
    name: String,
    relay: Relay,
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
    #[error("providers.smtp.host: {0}")]
    Host(String),
    #[error("providers.smtp.ca_file: {0}")]
    CaFile(String),
}

/// How a connection is protected, with what it needs.
enum Protection {
    None,
    /// STARTTLS, required (lettre upgrades the connection).
    Starttls(TlsParameters),
    /// TLS from the first byte, on herald's own socket.
    Implicit {
        connector: tokio_rustls::TlsConnector,
        server: ServerName<'static>,
    },
}

/// Connections to the relay: opened by herald (with TCP_NODELAY: lettre's transport writes
/// a message's final `.` on its own, and with Nagle's algorithm that write waits for the
/// delayed acknowledgement of the body, about 40 ms a message), protected, logged in, and
/// kept for the next message up to `pool_size`.
struct Relay {
    host: String,
    port: u16,
    protection: Protection,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    pool_size: usize,
}

/// A TLS stream as lettre takes a connection.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// What went wrong talking to the relay: an SMTP reply or a lettre error, or a problem
/// with herald's own socket (connecting, TLS, a timeout).
#[derive(Debug)]
enum RelayError {
    Smtp(lettre::transport::smtp::Error),
    Connection(String),
}

impl From<lettre::transport::smtp::Error> for RelayError {
    fn from(error: lettre::transport::smtp::Error) -> Self {
        Self::Smtp(error)
    }
}

type SmtpResult<T> = Result<T, RelayError>;

impl Relay {
    fn new(config: &SmtpProviderConfig, pool_size: usize, timeout: Duration) -> Result<Self, SmtpSetupError> {
        let ca = match &config.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| SmtpSetupError::CaFile(format!("{}: {e}", path.display())))?;
                Some(pem)
            }
            None => None,
        };
        let protection = match config.tls {
            SmtpTls::None => Protection::None,
            SmtpTls::Starttls => {
                let mut parameters = TlsParameters::builder(config.host.clone());
                if let Some(pem) = &ca {
                    let cert =
                        Certificate::from_pem(pem).map_err(|e| SmtpSetupError::CaFile(e.to_string()))?;
                    parameters = parameters.add_root_certificate(cert);
                }
                Protection::Starttls(parameters.build_rustls()?)
            }
            SmtpTls::Tls => {
                let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
                for cert in ca.as_deref().map(CertificateDer::pem_slice_iter).into_iter().flatten() {
                    let cert = cert.map_err(|e| SmtpSetupError::CaFile(e.to_string()))?;
                    roots.add(cert).map_err(|e| SmtpSetupError::CaFile(e.to_string()))?;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| SmtpSetupError::Host(e.to_string()))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let server = ServerName::try_from(config.host.clone())
                    .map_err(|e| SmtpSetupError::Host(e.to_string()))?;
                Protection::Implicit { connector: tokio_rustls::TlsConnector::from(Arc::new(tls)), server }
            }
        };
        let credentials = match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            _ => None,
        };
        Ok(Self {
            host: config.host.clone(),
            port: config.port(),
            protection,
            credentials,
            hello: ClientId::default(),
            timeout,
            idle: Mutex::new(Vec::new()),
            pool_size: pool_size.max(1),
        })
    }

    /// A connection ready for a message: an idle one that still answers, or a new one.
    async fn connection(&self) -> SmtpResult<AsyncSmtpConnection> {
        loop {
            let idle = lock(&self.idle).pop();
            let Some(mut connection) = idle else { break };
            if connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
        tokio::time::timeout(self.timeout, self.connect()).await.unwrap_or_else(|_| {
            Err(RelayError::Connection(format!("no connection within {} ms", self.timeout.as_millis())))
        })
    }

    async fn connect(&self) -> SmtpResult<AsyncSmtpConnection> {
        let network = |e: std::io::Error| RelayError::Connection(e.to_string());
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(network)?;
        tcp.set_nodelay(true).map_err(network)?;
        let mut connection = match &self.protection {
            Protection::Implicit { connector, server } => {
                let tls = connector.connect(server.clone(), tcp).await.map_err(network)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsStream(tls)), &self.hello).await?
            }
            Protection::None | Protection::Starttls(_) => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
        };
        if let Protection::Starttls(parameters) = &self.protection {
            // Required: a relay that does not offer STARTTLS gets nothing in plain text.
            if !connection.can_starttls() {
                connection.abort().await;
                return Err(network(std::io::Error::other("the relay does not offer STARTTLS")));
            }
            connection.starttls(parameters.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(connection)
    }

    async fn send(&self, message: &Message) -> SmtpResult<()> {
        let mut connection = self.connection().await?;
        connection.send(message.envelope(), &message.formatted()).await?;
        let mut idle = lock(&self.idle);
        if !connection.has_broken() && idle.len() < self.pool_size {
            idle.push(connection);
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SmtpProvider {
    /// `max_concurrency`: the provider's limit, which bounds the pool unless
    /// `pool_size` is set. `timeout`: to open and set up a connection.
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
        let pool_size = config.pool_size.map_or(max_concurrency.min(16), |size| size as usize);
        let relay = Relay::new(config, pool_size, timeout)?;
        let id_domain = from.email.domain().to_owned();
        Ok(Self { name: name.to_owned(), relay, from, id_domain })
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
fn classify(error: &RelayError) -> ProviderError {
    let error = match error {
        RelayError::Smtp(error) => error,
        RelayError::Connection(problem) => {
            return ProviderError::Retryable {
                reason: format!("SMTP: connection: {problem}"),
                retry_after: None,
            }
        }
    };
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
        self.relay.send(&message).await.map_err(|e| classify(&e))?;
        Ok(ProviderReceipt { provider_message_id: Some(message_id) })
    }
}
