// Opening one SSH connection to a customer host, safely:
// - the host key is pinned and checked before authentication (ssh2 accepts
//   any key unless told otherwise), failing closed;
// - the handshake is bounded (readyTimeout) and a dead peer is noticed
//   (keepalives), because otherwise a command on a dead link hangs forever;
// - an 'error' listener stays attached for the connection's whole life:
//   node-ssh removes its own after connect and a later reset would crash us;
// - no agent, no agent forwarding, no keyboard-interactive/password.
import { NodeSSH } from 'node-ssh';
import type { SshCredentials } from './credentials.js';
import { sha256Fingerprint } from './fingerprint.js';
import { redact } from '../util/redact.js';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Pinned "SHA256:..." fingerprint of the host key. */
  hostKey: string;
}

export interface ConnectOptions {
  connectTimeoutSeconds: number;
  /** Seconds between keepalives; the link is declared dead after keepaliveCountMax misses. */
  keepaliveSeconds?: number;
  keepaliveCountMax?: number;
  /** Called once if the connection fails after it was established (reset, keepalive timeout). */
  onDrop?: (err: Error | undefined) => void;
}

export type SshErrorKind = 'host-key-mismatch' | 'unreachable' | 'timeout' | 'auth' | 'protocol';

export class SshConnectError extends Error {
  constructor(
    readonly kind: SshErrorKind,
    readonly target: string,
    message: string,
  ) {
    super(message);
    this.name = 'SshConnectError';
  }
}

export class HostKeyMismatchError extends SshConnectError {
  constructor(
    target: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      'host-key-mismatch',
      target,
      `${target}: host key mismatch, refusing to log in: expected ${expected}, host presented ${actual}. ` +
        'If the host was legitimately re-keyed, update ssh.hostKey in the customer file.',
    );
    this.name = 'HostKeyMismatchError';
  }
}
export class SshUnreachableError extends SshConnectError {
  constructor(target: string, detail: string) {
    super('unreachable', target, `${target}: unreachable (${detail})`);
    this.name = 'SshUnreachableError';
  }
}
export class SshTimeoutError extends SshConnectError {
  constructor(target: string, seconds: number) {
    super('timeout', target, `${target}: no SSH handshake within ${seconds}s`);
    this.name = 'SshTimeoutError';
  }
}
export class SshAuthError extends SshConnectError {
  constructor(target: string, user: string) {
    super('auth', target, `${target}: authentication as ${user} failed (public key not accepted)`);
    this.name = 'SshAuthError';
  }
}

export function describeTarget(t: Pick<SshTarget, 'host' | 'port' | 'user'>): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.user}@${host}:${t.port}`;
}

export interface SshConnection {
  ssh: NodeSSH;
  target: string;
  /** Fingerprint the host presented (equal to the pinned one). */
  hostKey: string;
  /** Whether the transport is still up. */
  alive(): boolean;
  close(): void;
}

export async function connectSsh(
  target: SshTarget,
  credentials: SshCredentials,
  opts: ConnectOptions,
): Promise<SshConnection> {
  const name = describeTarget(target);
  let presented: string | undefined;
  let mismatch: HostKeyMismatchError | undefined;
  const ssh = new NodeSSH();
  const readyTimeout = Math.max(1, opts.connectTimeoutSeconds) * 1000;
  // A hard outer bound too: readyTimeout starts only once TCP is connected.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ssh.connection?.destroy();
      reject(new SshTimeoutError(name, opts.connectTimeoutSeconds));
    }, readyTimeout + 1000);
  });
  try {
    await Promise.race([
      ssh.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: credentials.privateKey,
        ...(credentials.passphrase ? { passphrase: credentials.passphrase } : {}),
        readyTimeout,
        keepaliveInterval: (opts.keepaliveSeconds ?? 10) * 1000,
        keepaliveCountMax: opts.keepaliveCountMax ?? 3,
        agent: undefined,
        agentForward: false,
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          presented = sha256Fingerprint(key);
          if (presented === target.hostKey) return true;
          mismatch = new HostKeyMismatchError(name, target.hostKey, presented);
          return false;
        },
      }),
      deadline,
    ]);
  } catch (err) {
    ssh.connection?.removeAllListeners();
    ssh.connection?.on('error', () => {});
    ssh.dispose();
    if (mismatch) throw mismatch;
    throw classify(err, name, target, opts.connectTimeoutSeconds);
  } finally {
    clearTimeout(timer);
  }
  const conn = ssh.connection!;
  let up = true;
  let dropped = false;
  const drop = (err?: Error) => {
    up = false;
    if (dropped) return;
    dropped = true;
    opts.onDrop?.(err);
  };
  // Permanent listeners: attached before any I/O callback can run after ready.
  conn.on('error', (err: Error) => drop(err));
  conn.on('close', () => drop());
  conn.on('end', () => drop());
  return {
    ssh,
    target: name,
    hostKey: presented ?? target.hostKey,
    alive: () => up && ssh.isConnected(),
    close: () => {
      up = false;
      dropped = true; // an intentional close is not a drop
      ssh.dispose();
    },
  };
}

function classify(err: unknown, name: string, target: SshTarget, seconds: number): SshConnectError {
  if (err instanceof SshConnectError) return err;
  const e = err as Error & { level?: string; code?: string };
  const msg = redact(e?.message ?? String(err));
  if (e?.level === 'client-authentication') return new SshAuthError(name, target.user);
  if (e?.level === 'client-timeout' || e?.code === 'ETIMEDOUT' || /timed out/i.test(msg)) {
    return new SshTimeoutError(name, seconds);
  }
  if (e?.level === 'client-socket' || e?.level === 'client-dns' || e?.code) {
    return new SshUnreachableError(name, e.code ? `${e.code}: ${msg}` : msg);
  }
  return new SshConnectError('protocol', name, `${name}: SSH connection failed: ${msg}`);
}
