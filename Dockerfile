# The demo shop and the cypay command, as static binaries in an image that
# holds nothing else: no shell, no package manager, a non-root user.
#
#   docker build -t cypaykit .
#   docker run --rm -p 8080:8080 cypaykit                    # the demo shop, simulator included
#   docker run --rm --entrypoint cypay cypaykit sign -h       # the command line
#   docker exec SHOP cypay inbox ls -failed                   # a running shop's inbox ($CYPAY_DB)
#
# .ci/static runs this file's `go build` lines (the RUN lines below that
# start with CGO_ENABLED=0) on every CI run, so the image's binaries are
# known to build static even where no container engine runs. cmd/cypay is
# a module of its own; go.work builds it from this tree. docs/deploy.md
# shows the settings a real deployment adds.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/checkout ./example/checkout
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cypay ./cmd/cypay
RUN mkdir -p /out/data && echo 'cypay:x:65532:65532:cypay:/data:/nonexistent' >/out/passwd

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/checkout /out/cypay /usr/local/bin/
USER 65532:65532
# The image has no /tmp: the SQLite file and SQLite's own temporary files
# live on the /data volume. Listen on every interface inside the container.
ENV CYPAY_ADDR=:8080 CYPAY_DB=sqlite:/data/cypay-demo.db TMPDIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/checkout"]
