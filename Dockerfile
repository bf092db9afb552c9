# kinesisd container image: Debian 12 slim, built from this repository.
#
#   docker build -t kinesisd:0.1.0 .
#   docker run --rm -v $PWD/my.yaml:/etc/kinesisd/kinesisd.yaml:ro kinesisd:0.1.0
#
# deploy/kubernetes/ runs it as a native sidecar.  The image holds the
# two programs and their shared libraries only: no compiler, no shell
# tools beyond Debian's base, and it runs as an unprivileged user.

# ---- build ---------------------------------------------------------------
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config \
        libevent-dev libcurl4-openssl-dev libssl-dev libcjson-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the programs: the unit tests and their peers (node, Check) are the
# job of `make test` on a build host, not of the image.
RUN make clean && make -j"$(nproc)" kinesisd kinesisctl \
 && ./kinesisd --version

# ---- runtime -------------------------------------------------------------
FROM debian:12-slim
# The libraries kinesisd and kinesisctl link (tests/integration/t_ops.sh
# checks this list against the binary's NEEDED entries), and the CA
# certificates for HTTPS to AWS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates libevent-2.1-7 libcurl4 libssl3 libcjson1 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric id, so that runAsNonRoot can verify it and pods can
# share the socket through runAsGroup/fsGroup 10001.
RUN groupadd --system --gid 10001 kinesisd \
 && useradd --system --uid 10001 --gid kinesisd --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin kinesisd \
 && install -d -o kinesisd -g kinesisd -m 0750 /run/kinesisd
COPY --from=build /src/kinesisd /src/kinesisctl /usr/bin/
COPY conf/kinesisd.yaml /etc/kinesisd/kinesisd.yaml
USER 10001:10001
ENV KINESISD_SOCKET=/run/kinesisd/kinesisd.sock
EXPOSE 9485
# SIGTERM (the default stop signal) is the graceful shutdown.
ENTRYPOINT ["/usr/bin/kinesisd"]
CMD ["-c", "/etc/kinesisd/kinesisd.yaml"]
