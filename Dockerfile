# Multi-stage build: a release `latchkey` on a small Debian base, run as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The dashboard's browser bundle (wasm + JS glue) into target/site/pkg, then the server.
RUN scripts/build-dashboard.sh && cargo build --release --locked --bin latchkey

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/latchkey latchkey \
    && mkdir -p /var/lib/latchkey && chown latchkey /var/lib/latchkey
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
COPY --from=build /src/target/site /usr/share/latchkey/site
USER latchkey
ENV LATCHKEY_DATA_DIR=/var/lib/latchkey LATCHKEY_DASHBOARD_DIR=/usr/share/latchkey/site LATCHKEY_BIND=0.0.0.0:8080 LATCHKEY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["latchkey"]
CMD ["serve"]
