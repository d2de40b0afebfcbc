# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the same `npm run build` CI uses.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ingest ./ingest
COPY console ./console
RUN npm run build

# Runtime stage: production dependencies, compiled code, migrations and the examples only, as a non-root
# user. .ci/run copies what this stage copies and runs `onbrand` there with production dependencies.
FROM node:22-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data/db
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY examples ./examples
# `onbrand <command>` on the PATH (docker compose run --rm api onbrand keys list).
RUN ln -s /app/dist/src/cli/onbrand.js /usr/local/bin/onbrand \
  && mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/cli/onbrand.js", "server"]
