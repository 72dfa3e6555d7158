# syntax=docker/dockerfile:1
#
# Wallet ledger image. One image, two roles:
#   API (default CMD):  node dist/apps/api/src/main.js
#   projector:          node dist/apps/projector/src/main.js   (see docker-compose.yml)
#
# Build:  docker build -t wallet-ledger:local .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# Build stage: full dependency tree + toolchain for native modules.
# better-sqlite3 downloads a prebuilt binary when one matches this Node/libc/arch;
# otherwise node-gyp compiles it from source, which needs python3, make and g++.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first so this layer is cached until the lockfile changes.
# npm 10 (bundled with node:20) ignores package.json "allowScripts" (an npm 11
# setting) and runs install scripts as usual, which better-sqlite3 needs.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY . .
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------------------
# Runtime stage: production node_modules (native addon already built) + dist.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data

WORKDIR /app

# DATA_DIR is only used by the embedded (SQLite) mode. Create it owned by `node`
# so a named volume mounted there inherits writable ownership.
RUN mkdir -p /data && chown node:node /data

# package.json is required at runtime: it carries "type": "module" for dist/*.js and the
# "imports" aliases (#domain, #ledger, ...) through which the built libraries reach each other.
# Application files stay root-owned (read-only for the `node` user).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER node

EXPOSE 3000

CMD ["node", "dist/apps/api/src/main.js"]
