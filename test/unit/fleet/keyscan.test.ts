// keyscan against a real OpenSSH server on a loopback address, with a
// throwaway host key: the recorded fingerprint must be what ssh-keygen says,
// and the server must never see an authentication attempt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanHostKey, keyTypeOf } from '../../../src/fleet/keyscan.js';
import { loadFleet, LocalDirSource } from '../../../src/fleet/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsx = import.meta.resolve('tsx');
const ADDR = '127.0.66.1';

interface Server { proc: ChildProcess; port: number; fingerprint: string; type: string; log: string }
let work: string;
const servers: Server[] = [];

function fingerprintOf(pub: string): string {
  return spawnSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).stdout.split(' ')[1]!;
}

function waitForPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((res, rej) => {
    const tryOnce = () => {
      const s = connect(port, ADDR, () => { s.destroy(); res(); });
      s.on('error', () => { s.destroy(); if (Date.now() > end) rej(new Error(`sshd did not listen on ${ADDR}:${port}`)); else setTimeout(tryOnce, 50); });
    };
    tryOnce();
  });
}

async function startSshd(name: string, keyType: 'ed25519' | 'rsa'): Promise<Server> {
  const key = join(work, `${name}_host_key`);
  spawnSync('ssh-keygen', ['-q', '-t', keyType, '-N', '', '-C', '', '-f', key], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const log = join(work, `${name}.log`);
    writeFileSync(join(work, `${name}.conf`), [
      `ListenAddress ${ADDR}`, `Port ${port}`, `HostKey ${key}`, `PidFile ${join(work, `${name}.pid`)}`,
      'UsePAM no', 'LogLevel VERBOSE', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', '',
    ].join('\n'));
    mkdirSync('/run/sshd', { recursive: true }); // OpenSSH's privilege separation directory
    const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(work, `${name}.conf`), '-E', log], { stdio: 'ignore' });
    try {
      await waitForPort(port, 3000);
      const s: Server = { proc, port, fingerprint: fingerprintOf(`${key}.pub`), type: keyType === 'rsa' ? 'ssh-rsa' : 'ssh-ed25519', log };
      servers.push(s);
      return s;
    } catch {
      proc.kill();
    }
  }
  throw new Error('could not start sshd');
}

function fleetkeeper(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const customerFile = (port: number, hostKey: string) => [
  '# yaml-language-server: $schema=../../schemas/customer.schema.json',
  '# Test host on loopback',
  'ring: canary',
  'ssh:',
  `  host: ${ADDR}`,
  `  port: ${port}   # throwaway sshd`,
  `  hostKey: ${hostKey}   # recorded by keyscan`,
  'compose:',
  '  dir: /opt/loopback/frappe_docker',
  'image:',
  '  tag: v15.40.1',
  '',
].join('\n');

let ed: Server;
let rsa: Server;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fk-keyscan-'));
  ed = await startSshd('ed', 'ed25519');
  rsa = await startSshd('rsa', 'rsa');
});

afterAll(() => {
  for (const s of servers) s.proc.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe('scanHostKey', () => {
  it('reports the type and the fingerprint ssh-keygen prints', async () => {
    expect(await scanHostKey(ADDR, ed.port)).toEqual({ type: 'ssh-ed25519', fingerprint: ed.fingerprint });
    expect(await scanHostKey(ADDR, rsa.port)).toEqual({ type: 'ssh-rsa', fingerprint: rsa.fingerprint });
  });
  it('fails clearly when nothing listens', async () => {
    await expect(scanHostKey(ADDR, 1, 2000)).rejects.toThrow(/^no host key from 127\.0\.66\.1:1: .*ECONNREFUSED/);
  });
  it('gives up on a port that accepts TCP but never speaks SSH', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {}).listen(0, ADDR);
    await new Promise((r) => silent.on('listening', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const t0 = Date.now();
      await expect(scanHostKey(ADDR, port, 1000)).rejects.toThrow(/^no host key from 127\.0\.66\.1:\d+: .*(Timed out|timed out)/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      silent.close();
    }
  });
  it('reads key types from blobs', () => {
    const blob = new Uint8Array([0, 0, 0, 11, ...new TextEncoder().encode('ssh-ed25519'), 0, 0, 0, 32]);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(new Uint8Array([0, 0, 1]))).toBe('unknown');
  });
});

describe('fleetkeeper keyscan', () => {
  function makeFleet(): string {
    const dir = mkdtempSync(join(work, 'fleet-'));
    cpSync(join(root, 'fleet/defaults.yml'), join(dir, 'defaults.yml'));
    cpSync(join(root, 'fleet/rings'), join(dir, 'rings'), { recursive: true });
    mkdirSync(join(dir, 'customers'));
    writeFileSync(join(dir, 'customers/loop-ed.yml'), customerFile(ed.port, 'REPLACE-ME-run-fleetkeeper-keyscan'));
    writeFileSync(join(dir, 'customers/loop-rsa.yml'), customerFile(rsa.port, 'REPLACE-ME-run-fleetkeeper-keyscan').replace('/opt/loopback/', '/opt/loopback-rsa/').replace('ring: canary', 'ring: early'));
    return dir;
  }

  it('--yes records every placeholder, keeping the rest of the file, without trying to log in', async () => {
    const dir = makeFleet();
    const r = fleetkeeper(['keyscan', dir, '--yes']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`loop-ed: ${ADDR}:${ed.port} offers ssh-ed25519 ${ed.fingerprint}`);
    expect(r.stdout).toContain(`loop-rsa: ${ADDR}:${rsa.port} offers ssh-rsa ${rsa.fingerprint}`);
    expect(r.stdout).toMatch(/2 keys recorded\n$/);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'customers/loop-ed.yml'), 'utf8')).toBe(customerFile(ed.port, ed.fingerprint));
    const loaded = await loadFleet(new LocalDirSource(dir));
    expect(loaded.ok && loaded.fleet.customers['loop-rsa']!.ssh.hostKey).toBe(rsa.fingerprint);
    // sshd saw key exchange and a disconnect, never a user name
    const log = readFileSync(ed.log, 'utf8');
    expect(log).toMatch(/Connection from .* port \d+ on 127\.0\.66\.1/);
    expect(log).not.toMatch(/fleetkeeper-keyscan|Invalid user|Accepted|Failed|userauth/i);
    // nothing left to do on a second run
    expect(fleetkeeper(['keyscan', dir, '--yes']).stdout).toMatch(/^nothing to scan/);
  });

  it('asks per host and writes only what was confirmed', () => {
    const dir = makeFleet();
    const r = fleetkeeper(['keyscan', dir], 'n\ny\n');
    expect(r.stdout).toMatch(/Record it in customers\/loop-ed\.yml\? \[y\/N\]/);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'customers/loop-ed.yml'), 'utf8')).toContain('hostKey: REPLACE-ME-run-fleetkeeper-keyscan');
    expect(readFileSync(join(dir, 'customers/loop-rsa.yml'), 'utf8')).toContain(`hostKey: ${rsa.fingerprint}   # recorded by keyscan`);
  });

  it('never replaces a pinned key that changed without interactive confirmation', () => {
    const dir = makeFleet();
    const old = 'SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54';
    writeFileSync(join(dir, 'customers/loop-ed.yml'), customerFile(ed.port, old));
    const r = fleetkeeper(['keyscan', dir, '--customer', 'loop-ed', '--yes']);
    expect(r.stdout).toContain(`WARNING: differs from the pinned key ${old}`);
    expect(r.stdout).toContain('not replaced');
    expect(r.code).toBe(1);
    expect(readFileSync(join(dir, 'customers/loop-ed.yml'), 'utf8')).toContain(old);
    expect(fleetkeeper(['keyscan', dir, '--customer', 'nobody']).stderr).toMatch(/no customer 'nobody'/);
  });

  it('reports unreachable hosts and exits 1', () => {
    const dir = makeFleet();
    writeFileSync(join(dir, 'customers/loop-ed.yml'), customerFile(1, 'REPLACE-ME-run-fleetkeeper-keyscan'));
    const r = fleetkeeper(['keyscan', dir, '--yes', '--timeout', '2']);
    expect(r.stdout).toMatch(/loop-ed: no host key from 127\.0\.66\.1:1/);
    expect(r.stdout).toMatch(/1 key recorded, 1 host not done/);
    expect(r.code).toBe(1);
  });
});
