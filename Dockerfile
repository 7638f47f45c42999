# syntax=docker/dockerfile:1
# herald's container image: one binary on Debian slim, run as a non-root user.
# Build: `docker build -t herald .`; run: `docker run -p 8080:8080 herald` (herald serve on
# SQLite in /var/lib/herald), or see docker-compose.yml for api + worker on PostgreSQL and
# RabbitMQ. Why it is built this way: docs/adr/0021-container-image.md.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /build
# Everything cargo reads: the workspace manifests and Cargo.lock, crates/ and migrations/
# (sqlx::migrate! embeds them at compile time). .dockerignore keeps target/ and .git out.
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds, so a
# change to herald's own code recompiles herald's crates only. The target directory is a
# cache, not a layer: the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --package herald --bin herald \
    && install -D --mode=0755 target/release/herald /out/herald

FROM debian:bookworm-slim AS runtime
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Reliable SMS and notification dispatch" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/herald-dispatch/herald"
# --no-log-init: no lastlog entry, which for a high uid is a large file in the layer.
RUN groupadd --system --gid 10001 herald \
    && useradd --system --no-log-init --uid 10001 --gid herald --home-dir /var/lib/herald \
       --create-home --shell /usr/sbin/nologin herald
# CA roots for amqps:// (lapin reads the system store); HTTP providers and SMTP carry their
# own roots in the binary. Time zones are compiled in too (chrono-tz): no tzdata.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/herald /usr/local/bin/herald
COPY --chmod=0755 docker/healthcheck.sh /usr/local/bin/herald-healthcheck
ENV HERALD_LISTEN=0.0.0.0:8080 \
    HERALD_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The default database, sqlite://herald.db, lands here; mount a volume to keep it.
WORKDIR /var/lib/herald
USER 10001:10001
EXPOSE 8080
# Liveness of the HTTP listener (herald serve and herald api). herald worker has no listener:
# docker-compose.yml turns the check off for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["herald-healthcheck"]
ENTRYPOINT ["herald"]
CMD ["serve"]
