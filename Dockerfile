# leadmap in a container: built in one stage, run from a small Debian image as a user of its own, the
# store on a volume, a health check on /readyz. Build and run:
#   docker build -t leadmap .
#   docker run -d -p 8080:8080 -v leadmap-data:/var/lib/leadmap \
#     -e LEADMAP_TOKENS='patrol:field:TOKEN,planning:planner:TOKEN2' leadmap
# Off loopback the service refuses to start without API tokens (LEADMAP_TOKENS, or a tokens file
# mounted and named by LEADMAP_TOKENS_FILE). Options: environment variables or a TOML file mounted at
# /etc/leadmap/leadmap.toml (LEADMAP_CONFIG), see deploy/leadmap.toml.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin leadmap \
    && strip target/release/leadmap \
    && target/release/leadmap --version

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 leadmap \
    && useradd --system --uid 10001 --gid leadmap --home-dir /var/lib/leadmap --shell /usr/sbin/nologin leadmap \
    && mkdir -p /var/lib/leadmap /etc/leadmap \
    && chown leadmap:leadmap /var/lib/leadmap \
    && chmod 0700 /var/lib/leadmap
COPY --from=build /src/target/release/leadmap /usr/local/bin/leadmap
COPY deploy/leadmap.toml /etc/leadmap/leadmap.toml
USER leadmap:leadmap
WORKDIR /var/lib/leadmap
VOLUME ["/var/lib/leadmap"]
ENV LEADMAP_ADDR=0.0.0.0:8080 \
    LEADMAP_DATA=/var/lib/leadmap/leadmap.gpkg \
    LEADMAP_CONFIG=/etc/leadmap/leadmap.toml \
    LEADMAP_LOG_FORMAT=json
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/leadmap"]
CMD ["serve"]
