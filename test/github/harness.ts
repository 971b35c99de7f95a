// Runs the real app (Probot 14 + src/github) against the GitHub stand-in:
// Probot is configured from environment-style variables (APP_ID, PRIVATE_KEY,
// WEBHOOK_SECRET, GHE_HOST, GHE_PROTOCOL=http) exactly as `probot run` would
// be, its webhook middleware listens on 127.0.0.1, and webhooks are delivered
// over HTTP with a real X-Hub-Signature-256.
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { createNodeMiddleware, createProbot } from 'probot';
import { createApp, type AppDeps, type FleetkeeperApp } from '../../src/github/create-app.js';
import { GitRepo } from './standin/git-repo.js';
import { GitHubStandin } from './standin/server.js';

export const FIXTURE_FLEET = new URL('../fixtures/github/fleet/', import.meta.url).pathname;

/** Every file of a fixture directory as { "prefix/relative/path": content }. */
export function readTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else out[(prefix ? `${prefix}/` : '') + relative(dir, abs)] = readFileSync(abs, 'utf8');
    }
  };
  walk(dir);
  return out;
}

export interface Harness {
  standin: GitHubStandin;
  git: GitRepo;
  readonly app: FleetkeeperApp;
  readonly webhookUrl: string;
  secret: string;
  /** POST a webhook like GitHub does; resolves with the HTTP status. */
  deliver(event: string, payload: unknown, opts?: { secret?: string; deliveryId?: string }): Promise<number>;
  /** Deliver and wait until the app's background work is done. */
  deliverAndWait(event: string, payload: unknown): Promise<number>;
  /**
   * Stop the app and start a new instance (in-memory state gone; same stand-in, same deps).
   * `crash`: the old instance's bakes stop where they are, reporting nothing (as when
   * the process dies), instead of being waited for.
   */
  restart(opts?: { crash?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(deps: Omit<AppDeps, 'fleetDir'> & { fleetDir?: string }): Promise<Harness> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const appId = 424242;
  const git = new GitRepo();
  const standin = await new GitHubStandin({ appId, appPublicKey: publicKey, owner: 'Codertocat', repo: 'Hello-World', defaultBranch: 'master', installationId: 1, git }).start();
  const secret = randomBytes(16).toString('hex');
  let app!: FleetkeeperApp;
  let server!: Server;
  let webhookUrl = '';
  // A fresh Probot + app on a new port, against the same stand-in: what a restart of the bot looks like.
  const boot = async () => {
    const probot = createProbot({
      env: {
        APP_ID: String(appId),
        PRIVATE_KEY: privateKey,
        WEBHOOK_SECRET: secret,
        GHE_HOST: standin.host,
        GHE_PROTOCOL: 'http',
        LOG_LEVEL: (process.env.FK_TEST_LOG_LEVEL ?? 'fatal') as 'fatal',
      },
    });
    app = createApp({ fleetDir: '.', ...deps });
    const middleware = await createNodeMiddleware(app, { probot });
    server = createServer((req, res) => {
      void middleware(req, res, () => {
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  };
  const shutdown = async () => {
    await app.idle();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  await boot();

  const deliver = async (event: string, payload: unknown, opts: { secret?: string; deliveryId?: string } = {}) => {
    const body = JSON.stringify(payload);
    const sig = 'sha256=' + createHmac('sha256', opts.secret ?? secret).update(body).digest('hex');
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': opts.deliveryId ?? randomUUID(),
        'x-hub-signature-256': sig,
        'user-agent': 'GitHub-Hookshot/standin',
      },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  };

  return {
    standin,
    git,
    get app() {
      return app;
    },
    get webhookUrl() {
      return webhookUrl;
    },
    secret,
    deliver,
    async deliverAndWait(event, payload) {
      const status = await deliver(event, payload);
      await app.idle();
      return status;
    },
    async restart(opts = {}) {
      if (opts.crash) await app.stop();
      await shutdown();
      await boot();
    },
    async close() {
      await shutdown();
      await standin.stop();
      git.remove();
    },
  };
}
