// The SSH layer against a real sshd on 127.0.77.1.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh, HostKeyMismatchError, SshAuthError, SshTimeoutError, SshUnreachableError } from '../../../src/ssh/connect.js';
import { loadSshCredentials, SshCredentialsError } from '../../../src/ssh/credentials.js';
import { SshExecutor } from '../../../src/host/executor-ssh.js';
import { startTestSshd, type TestSshd } from './sshd.js';
import { sh } from '../../../src/host/shell.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redact } from '../../../src/util/redact.js';

const HOST = '127.0.77.1';
let sshd: TestSshd;

beforeAll(async () => {
  sshd = await startTestSshd(HOST, 42222);
});
afterAll(async () => {
  await sshd?.stop();
});

const target = () => ({ host: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKey });
const creds = () => ({ privateKey: sshd.privateKey });

describe('connect', () => {
  it('connects with the pinned key and runs a command', async () => {
    const c = await connectSsh(target(), creds(), { connectTimeoutSeconds: 5 });
    expect(c.hostKey).toBe(sshd.hostKey);
    const r = await c.ssh.execCommand('echo hello');
    expect(r.stdout).toBe('hello');
    c.close();
  });

  it('refuses a wrong host key before authenticating, naming both fingerprints', async () => {
    const before = sshd.log().length;
    const wrong = 'SHA256:' + 'B'.repeat(43);
    const err = await connectSsh({ ...target(), hostKey: wrong }, creds(), { connectTimeoutSeconds: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sshd.hostKey);
    await new Promise((r) => setTimeout(r, 200));
    const log = sshd.log().slice(before);
    expect(log).not.toMatch(/Accepted|publickey|Postponed/);
  });

  it('reports an unaccepted key as an auth failure', async () => {
    const err = await connectSsh(target(), { privateKey: sshd.otherPrivateKey }, { connectTimeoutSeconds: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(SshAuthError);
    expect(err.message).not.toContain('PRIVATE KEY');
  });

  it('reports a closed port as unreachable, fast', async () => {
    const t0 = Date.now();
    const err = await connectSsh({ ...target(), port: 42223 }, creds(), { connectTimeoutSeconds: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(SshUnreachableError);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('times out on a peer that accepts TCP but never speaks SSH', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(42224, HOST, r));
    const t0 = Date.now();
    const err = await connectSsh({ ...target(), port: 42224 }, creds(), { connectTimeoutSeconds: 2 }).catch((e) => e);
    silent.close();
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(Date.now() - t0).toBeLessThan(6000);
  });
});

describe('credentials', () => {
  it('loads from a file or the variable and explains what is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fk-cred-'));
    writeFileSync(join(dir, 'k'), sshd.privateKey);
    expect(loadSshCredentials({ FLEETKEEPER_SSH_KEY_FILE: join(dir, 'k') }).privateKey).toBe(sshd.privateKey);
    expect(loadSshCredentials({ FLEETKEEPER_SSH_KEY: sshd.privateKey.replace(/\n/g, '\\n') }).privateKey).toBe(sshd.privateKey);
    expect(() => loadSshCredentials({})).toThrow(SshCredentialsError);
    expect(() => loadSshCredentials({ FLEETKEEPER_SSH_KEY_FILE: join(dir, 'nope') })).toThrow(/cannot read/);
    expect(() => loadSshCredentials({ FLEETKEEPER_SSH_KEY: 'not a key' })).toThrow(/not a private key/);
    const c = loadSshCredentials({ FLEETKEEPER_SSH_KEY: sshd.privateKey, FLEETKEEPER_SSH_KEY_PASSPHRASE: 'pass-phrase-123' });
    expect(c.passphrase).toBe('pass-phrase-123');
    // once loaded, both are masked everywhere
    expect(redact(`oops ${sshd.privateKey.trim()} pass-phrase-123`)).not.toMatch(/pass-phrase-123|BEGIN OPENSSH/);
  });
});

describe('SshExecutor', () => {
  let opened = 0;
  let conn: Awaited<ReturnType<typeof connectSsh>> | undefined;
  const exec = new SshExecutor({
    target: 'test',
    channels: 2,
    maxOutputBytes: 64 * 1024,
    graceSeconds: 2,
    connection: async () => {
      if (conn?.alive()) return conn;
      opened++;
      conn = await connectSsh(target(), creds(), { connectTimeoutSeconds: 5, keepaliveSeconds: 1, keepaliveCountMax: 2 });
      return conn;
    },
  });
  afterAll(() => conn?.close());

  it('runs argv quoted in cwd, passes stdin, masks secrets', async () => {
    const r = await exec.exec({ step: 'observe', argv: sh('pwd; cat; echo "DB_PASSWORD=$1"', 'hunter2hunter2'), cwd: '/tmp', stdin: 'in-data\n', timeoutSeconds: 10, mutates: false });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('/tmp\nin-data\nDB_PASSWORD=***\n');
  });

  it('keeps the tail of huge output', async () => {
    const r = await exec.exec({ step: 'observe', argv: sh('head -c 300000 /dev/zero | tr "\\000" x; echo END'), timeoutSeconds: 10, mutates: false });
    expect(r.stdout.length).toBeLessThan(70 * 1024);
    expect(r.stdout).toMatch(/trimmed/);
    expect(r.stdout.trimEnd().endsWith('END')).toBe(true);
  });

  it('a command over its time bound comes back code null (unknown), killed on the host', async () => {
    const t0 = Date.now();
    const r = await exec.exec({ step: 'migrate', argv: ['sleep', '30'], timeoutSeconds: 1, mutates: true });
    expect(r.code).toBeNull();
    expect(r.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000); // 1 s bound (+ client grace), far below the 30 s sleep
  });

  it('limits concurrent channels per connection', async () => {
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 6 }, () => exec.exec({ step: 'observe', argv: ['sleep', '0.5'], timeoutSeconds: 5, mutates: false })));
    expect(rs.every((r) => r.code === 0)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400); // 3 rounds of 2
  });

  it('a dropped connection gives code null, the process survives, the next command reconnects', async () => {
    const before = opened;
    const p = exec.exec({ step: 'migrate', argv: ['sleep', '20'], timeoutSeconds: 30, mutates: true });
    await new Promise((r) => setTimeout(r, 500));
    sshd.killSessions();
    const r = await p;
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(/outcome unknown/);
    const again = await exec.exec({ step: 'observe', argv: ['echo', 'back'], timeoutSeconds: 5, mutates: false });
    expect(again.stdout.trim()).toBe('back');
    expect(opened).toBe(before + 1);
  });
});
