// A throwaway real sshd on a loopback address and high port, for the SSH
// layer's own tests (the e2e testbed has its own per-host sshd).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { sha256Fingerprint } from '../../../src/ssh/fingerprint.js';

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  hostKey: string; // SHA256 fingerprint
  privateKey: string; // client key (authorized)
  otherPrivateKey: string; // client key that is NOT authorized
  log(): string;
  killSessions(): void;
  stop(): Promise<void>;
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fk-test', '-f', path]);
}

function fingerprintOfPub(pubPath: string): string {
  const blob = Buffer.from(readFileSync(pubPath, 'utf8').trim().split(/\s+/)[1]!, 'base64');
  return sha256Fingerprint(blob);
}

async function waitForPort(host: string, port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd on ${host}:${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTestSshd(host: string, port: number): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'fk-sshd-'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client'));
  keygen(join(dir, 'other'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  const user = userInfo().username;
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress ${host}:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'LogLevel VERBOSE',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'MaxStartups 100',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
  await waitForPort(host, port, 5000);
  return {
    host,
    port,
    user,
    hostKey: fingerprintOfPub(join(dir, 'host_key.pub')),
    privateKey: readFileSync(join(dir, 'client'), 'utf8'),
    otherPrivateKey: readFileSync(join(dir, 'other'), 'utf8'),
    log: () => readFileSync(join(dir, 'sshd.log'), 'utf8'),
    killSessions: () => {
      // per-connection sshd processes are children of the listener
      try {
        execFileSync('pkill', ['-KILL', '-P', String(proc.pid)]);
      } catch {
        /* none */
      }
    },
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
