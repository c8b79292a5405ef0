# Multi-stage build: a full Rust toolchain compiles herald, a slim Debian runs it as a non-root user.
# The toolchain version matches rust-toolchain.toml.
FROM rust:1.95-slim-bookworm AS build
# jemalloc (the binary's allocator) builds with make.
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Build dependencies first so that source edits do not rebuild them.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
# jemalloc's compiled-in settings: read when its crate builds, so before the first build.
COPY .cargo .cargo
COPY data/Cargo.toml data/
COPY session-file/Cargo.toml session-file/
COPY sessions/Cargo.toml sessions/
COPY post/Cargo.toml post/
COPY telegram/Cargo.toml telegram/
COPY jobs/Cargo.toml jobs/
COPY scheduler/Cargo.toml scheduler/
COPY worker/Cargo.toml worker/
COPY api/Cargo.toml api/
COPY testdc/Cargo.toml testdc/
RUN for c in data session-file sessions post telegram jobs scheduler worker api testdc; do \
      mkdir -p $c/src && echo "" > $c/src/lib.rs; done \
 && mkdir -p src && echo "fn main() {}" > src/main.rs && echo "" > src/lib.rs \
 && cargo build --release --locked --bin herald || true
COPY . .
RUN touch src/main.rs src/lib.rs */src/lib.rs && cargo build --release --locked --bin herald

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin herald \
 && mkdir -p /data && chown herald /data
COPY --from=build /src/target/release/herald /usr/local/bin/herald
USER herald
WORKDIR /data
ENV HERALD_DATA_DIR=/data HERALD_LISTEN=0.0.0.0:8000 HERALD_LOG_FORMAT=json
EXPOSE 8000
ENTRYPOINT ["herald"]
CMD ["--help"]
