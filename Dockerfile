# Builds the scimsso binary (cgo is needed for mattn/go-sqlite3) and runs it as an unprivileged user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/scimsso ./cmd/scimsso

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data --uid 10001 scimsso && mkdir -p /data && chown scimsso /data
COPY --from=build /out/scimsso /usr/local/bin/scimsso
USER scimsso
WORKDIR /data
ENV SCIMSSO_DB=/data/scimsso.db \
    SCIMSSO_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["scimsso"]
CMD ["serve"]
