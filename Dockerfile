# fleetkeeper bot image: the Probot app only. SSH is done in-process
# (node-ssh/ssh2), so no OpenSSH client is needed.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    FLEETKEEPER_STATE_DIR=/var/lib/fleetkeeper
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
COPY schemas ./schemas
RUN mkdir -p /var/lib/fleetkeeper && chown node:node /var/lib/fleetkeeper
USER node
EXPOSE 3000
VOLUME ["/var/lib/fleetkeeper"]
CMD ["node_modules/.bin/probot", "run", "./dist/github/app.js"]
