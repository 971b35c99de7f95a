// The per-host compose project: shaped like frappe_docker's compose.yaml
// (same services, same image line, same .env variables, configurator as a
// one-shot the others depend on, the sites volume at the same path), running
// the stand-in images. The `db-data` volume stands in for MariaDB's volume.
import { randomBytes } from 'node:crypto';

export interface ComposeParams {
  testbed: string;
  project: string;
  tag: string;
  imageRepo: string;
  /** "127.X.Y.Z:8080" */
  publish: string;
}

export function composeYaml(p: ComposeParams): string {
  const label = `fk.testbed: ${p.testbed}`;
  return `# Simulated customer host for the fleetkeeper e2e testbed (testbed "${p.testbed}").
# Same shape as frappe_docker's compose.yaml; the image is a small stand-in.
name: ${p.project}

x-customizable-image: &customizable_image
  image: \${CUSTOM_IMAGE:-frappe/erpnext}:\${CUSTOM_TAG:-$ERPNEXT_VERSION}
  labels:
    ${label}

x-depends-on-configurator: &depends_on_configurator
  depends_on:
    configurator:
      condition: service_completed_successfully

x-backend-defaults: &backend_defaults
  <<: [*depends_on_configurator, *customizable_image]
  restart: unless-stopped
  volumes:
    - sites:/home/frappe/frappe-bench/sites
    - db-data:/var/lib/standin-db

services:
  configurator:
    <<: *customizable_image
    restart: "no"
    entrypoint: ["sh", "-c"]
    command:
      - >
        bench set-config -g db_host "$$DB_HOST" &&
        bench set-config -g db_port "$$DB_PORT" &&
        bench set-config -g redis_cache "redis://$$REDIS_CACHE" &&
        bench set-config -g redis_queue "redis://$$REDIS_QUEUE" &&
        bench set-config -g redis_socketio "redis://$$REDIS_QUEUE" &&
        bench set-config -g socketio_port "$$SOCKETIO_PORT"
    environment:
      DB_HOST: \${DB_HOST:-db}
      DB_PORT: \${DB_PORT:-3306}
      REDIS_CACHE: \${REDIS_CACHE:-redis-cache:6379}
      REDIS_QUEUE: \${REDIS_QUEUE:-redis-queue:6379}
      SOCKETIO_PORT: "9000"
    volumes:
      - sites:/home/frappe/frappe-bench/sites
      - db-data:/var/lib/standin-db

  backend:
    <<: *backend_defaults

  frontend:
    <<: *backend_defaults
    command: ["nginx-entrypoint.sh"]
    environment:
      BACKEND: backend:8000
      SOCKETIO: websocket:9000
      FRAPPE_SITE_NAME_HEADER: \${FRAPPE_SITE_NAME_HEADER:-$$host}
    ports:
      - "\${HTTP_PUBLISH_PORT:-8080}:8080"

  websocket:
    <<: *backend_defaults
    command: ["standin-service", "websocket"]

  queue-short:
    <<: *backend_defaults
    command: ["bench", "worker", "--queue", "short,default"]

  queue-long:
    <<: *backend_defaults
    command: ["bench", "worker", "--queue", "long,default,short"]

  scheduler:
    <<: *backend_defaults
    command: ["bench", "schedule"]

networks:
  default:
    labels:
      ${label}

volumes:
  sites:
    labels:
      ${label}
  db-data:
    labels:
      ${label}
`;
}

export function dotEnv(p: ComposeParams): string {
  return `# frappe_docker settings of this host (fleetkeeper e2e testbed)
ERPNEXT_VERSION=${p.tag}
CUSTOM_IMAGE=${p.imageRepo}
CUSTOM_TAG=${p.tag}
HTTP_PUBLISH_PORT=${p.publish}
DB_HOST=db
DB_PORT=3306
DB_PASSWORD=${randomBytes(12).toString('hex')}
REDIS_CACHE=redis-cache:6379
REDIS_QUEUE=redis-queue:6379
`;
}
