# socketlens images, one Dockerfile, three stages you can build:
#
#   docker build -t socketlens/sidecar:0.1.0 .                 # the default (last) stage: the sidecar
#   docker build --target lab -t socketlens/lab:0.1.0 .        # demo backend + drill runner + openssl
#
# docker-compose.yml builds both. Base images are pinned to an exact version; bump them together.

# ---------------------------------------------------------------------------------------------
# build: every dependency (dev included), compile TypeScript into dist/.
FROM node:20.19.0-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: nothing in the tree needs an install script, and it keeps the build offline-safe.
RUN npm ci --ignore-scripts --no-audit --no-fund
# Sources only; .dockerignore keeps node_modules, dist, tests and local lab state out.
COPY . .
RUN npx tsc -p tsconfig.json

# ---------------------------------------------------------------------------------------------
# prod-deps: the runtime dependency tree, without devDependencies.
FROM node:20.19.0-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------------------
# docker-cli: the static docker CLI and its compose plugin, for the drills container.
FROM docker:27.3.1-cli AS docker-cli

# ---------------------------------------------------------------------------------------------
# lab: the demo backend and the drill runner for docker-compose. It also makes the edge's
# self-signed certificate (hence openssl). Not meant for production: it carries the full
# dependency tree, because the drill runner loads packages that are devDependencies
# (docker-compose for `lab --env compose`).
FROM node:20.19.0-bookworm-slim AS lab
RUN apt-get update \
  && apt-get install -y --no-install-recommends openssl \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
COPY --from=build /src/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY --from=build /src/dist ./dist
# The runner finds its templates and the alert rules relative to package.json.
COPY lab/configs ./lab/configs
COPY dashboards ./dashboards
# An empty named volume mounted at /tls takes this ownership, so the unprivileged cert step can
# write it. The drill runner writes its report to lab-report/ (fetch it with `docker cp`) and
# its scratch files under SOCKETLENS_LAB_DIR.
RUN mkdir -p /tls /app/lab-report && chown node:node /tls /app/lab-report
ENV SOCKETLENS_LAB_DIR=/tmp/socketlens-lab
USER node
EXPOSE 3000
CMD ["node", "dist/lab/backend/main.js", "--host", "0.0.0.0", "--port", "3000"]

# ---------------------------------------------------------------------------------------------
# sidecar (default target): only the compiled CLI and proxy, bin/ and production dependencies.
# `socketlens lab` and `doctor` are not in this image; the CLI says so in one line.
FROM node:20.19.0-bookworm-slim AS sidecar
ENV NODE_ENV=production \
  SOCKETLENS_LISTEN=0.0.0.0:8080 \
  SOCKETLENS_ADMIN=0.0.0.0:9464
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY --from=build /src/dist/cli ./dist/cli
COPY --from=build /src/dist/proxy ./dist/proxy
# The image's built-in unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 8080 9464
# slim has no curl: ask /healthz with node itself, on the port taken from SOCKETLENS_ADMIN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "const a=process.env.SOCKETLENS_ADMIN||'127.0.0.1:9464';fetch('http://127.0.0.1:'+a.slice(a.lastIndexOf(':')+1)+'/healthz',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/socketlens.js"]
CMD ["proxy"]
