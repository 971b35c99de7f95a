// The app as it is deployed: the real `probot run` CLI loads src/github/app.ts
// (through tsx; the build runs dist/github/app.js the same way) and is pointed
// at the GitHub stand-in with environment variables only — the same set the
// demo uses. Checks that the env wiring works end to end, that webhooks with a
// bad signature are rejected, and that no secret reaches the log.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAN_CHECK } from '../../src/github/limits.js';
import { FIXTURE_FLEET, readTree } from './harness.js';
import { pullRequestPayload, pushPayload } from './payloads.js';
import { GitHubStandin } from './standin/server.js';

const ROOT = new URL('../../', import.meta.url).pathname;
let standin: GitHubStandin;
let child: ChildProcess;
let output = '';
let port = 0;
let stateDir: string;
const secret = randomBytes(16).toString('hex');
const slackUrl = `http://127.0.0.1:9/services/T0000/B0000/${randomBytes(12).toString('hex')}`;
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function post(event: string, payload: unknown, key = secret): Promise<number> {
  const body = JSON.stringify(payload);
  const res = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', key).update(body).digest('hex'),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function until<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (child.exitCode !== null) throw new Error(`probot exited with ${child.exitCode}\n--- probot output ---\n${output}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- probot output ---\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  standin = await new GitHubStandin({ appId: 777, appPublicKey: publicKey, owner: 'Codertocat', repo: 'Hello-World', defaultBranch: 'master', installationId: 1 }).start();
  port = await freePort();
  stateDir = mkdtempSync(join(tmpdir(), 'fk-state-'));
  child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'node_modules/probot/bin/probot.js'), 'run', join(ROOT, 'src/github/app.ts')], {
    cwd: stateDir, // no .env or app.yml of ours is picked up by accident
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      APP_ID: '777',
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: secret,
      GHE_HOST: standin.host,
      GHE_PROTOCOL: 'http',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'debug',
      FLEETKEEPER_STATE_DIR: stateDir,
      FLEETKEEPER_FLEET_DIR: '.',
      SLACK_WEBHOOK_URL: slackUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  await until('probot to listen', () => (/Listening on|listening/i.test(output) ? true : undefined), 60_000);
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await standin?.stop();
  standin?.git.remove();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('probot run ./src/github/app.ts against the stand-in', () => {
  it('plans a fork PR offline, rejects bad signatures, ignores its own push (slug from GET /app), logs no secret', async () => {
    const base = standin.git.commit('master', readTree(FIXTURE_FLEET));
    standin.git.branch('bump', 'master');
    const staging = readTree(FIXTURE_FLEET)['customers/staging.yml']!.replace('tag: v15.38.0', 'tag: v15.40.1');
    const head = standin.git.commit('bump', { 'customers/staging.yml': staging });

    expect(await post('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'bump', baseSha: base, fork: true }), 'wrong-secret')).toBeGreaterThanOrEqual(400);
    expect(standin.checkRuns.size).toBe(0);

    expect(await post('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'bump', baseSha: base, fork: true }))).toBe(200);
    const run = await until('the plan check run to complete', () => standin.checkRunsNamed(PLAN_CHECK, head).find((r) => r.status === 'completed'));
    expect(run.conclusion).toBe('success');
    expect(run.output.summary).toContain('Offline plan');

    // A push by the app itself (its slug comes from GET /app, authenticated with the app's JWT): ignored.
    const after = standin.git.commit('master', { 'customers/staging.yml': staging });
    expect(await post('push', pushPayload({ before: base, after, sender: { login: 'fleetkeeper[bot]', type: 'Bot' } }))).toBe(200);
    await until('GET /app', () => (standin.calls('apps/get-authenticated').length ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(standin.checkRunsNamed('fleetkeeper / apply')).toHaveLength(0);
    standin.assertClean();

    for (const s of [secret, slackUrl, privateKey.split('\n')[1]!]) expect(output).not.toContain(s);
    expect(output).toContain('no SSH private key'); // told, once, why live plans cannot run
  }, 60_000);
});
