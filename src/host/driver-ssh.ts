// HostDriver over SSH: at most one connection per customer for the driver's
// life (observe, converge and checkHealth share it); a new one is opened only
// after the old one dropped, and every opening is counted.
import type { Customer } from '../fleet/types.js';
import type { HostDriver, HostExecutor, HostProcedureOptions, HostResult, Observation, StepResult } from './types.js';
import type { SshCredentials } from '../ssh/credentials.js';
import { connectSsh, describeTarget, HostKeyMismatchError, SshConnectError, type SshConnection } from '../ssh/connect.js';
import { SshExecutor } from './executor-ssh.js';
import { RecordingExecutor } from './executor-recording.js';
import { converge } from './procedure.js';
import { observe, publicObservation } from './observe.js';
import { healthGate } from './health.js';
import { siteList } from './backup.js';
import { StepRecorder, type HostContext } from './context.js';
import { redact } from '../util/redact.js';
import { shellSafetyProblems, UnsafeCustomerError } from './validate.js';

export interface SshDriverOptions {
  credentials: SshCredentials;
  /** Called after each successful connection (first or reconnect). */
  onConnect?: (info: { customerId: string; target: string; hostKey: string; count: number }) => void;
  /** Channels per connection (default 2). */
  channels?: number;
  keepaliveSeconds?: number;
  keepaliveCountMax?: number;
}

interface HostSlot {
  customer: Customer;
  conn?: SshConnection;
  pending?: Promise<SshConnection>;
  opened: number;
  executor: SshExecutor;
  /** A host-key mismatch is final for the driver's life: never retried. */
  fatal?: SshConnectError;
  /** Last failed (re)connect: commands issued right after it fail fast instead of each waiting a timeout. */
  failed?: { at: number; error: Error };
}

const RETRY_AFTER_MS = 3000;

export function createSshDriver(opts: SshDriverOptions): HostDriver {
  const slots = new Map<string, HostSlot>();

  const connection = (slot: HostSlot) => async (): Promise<SshConnection> => {
    if (slot.conn?.alive()) return slot.conn;
    if (slot.fatal) throw slot.fatal;
    if (slot.pending) return slot.pending;
    if (slot.failed && Date.now() - slot.failed.at < RETRY_AFTER_MS) throw slot.failed.error;
    const c = slot.customer;
    slot.pending = connectSsh({ host: c.ssh.host, port: c.ssh.port, user: c.ssh.user, hostKey: c.ssh.hostKey }, opts.credentials, {
      connectTimeoutSeconds: c.timeouts.connectSeconds,
      keepaliveSeconds: opts.keepaliveSeconds ?? 5,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    })
      .then((conn) => {
        slot.conn = conn;
        slot.failed = undefined;
        slot.opened++;
        opts.onConnect?.({ customerId: c.id, target: conn.target, hostKey: conn.hostKey, count: slot.opened });
        return conn;
      })
      .catch((e: unknown) => {
        if (e instanceof HostKeyMismatchError) slot.fatal = e;
        slot.failed = { at: Date.now(), error: e as Error };
        throw e;
      })
      .finally(() => {
        slot.pending = undefined;
      });
    return slot.pending;
  };

  // One slot per customer *and* SSH identity: if a customer's address, user
  // or pinned key changes, the old connection is never reused for it.
  const keyOf = (c: Customer) => `${c.id}\0${c.ssh.host}\0${c.ssh.port}\0${c.ssh.user}\0${c.ssh.hostKey}`;
  const slotFor = (c: Customer): HostSlot => {
    let slot = slots.get(keyOf(c));
    if (!slot) {
      const s = { customer: c, opened: 0 } as HostSlot;
      s.executor = new SshExecutor({ connection: connection(s), target: describeTarget(c.ssh), ...(opts.channels ? { channels: opts.channels } : {}) });
      slots.set(keyOf(c), s);
      slot = s;
    }
    slot.customer = c; // latest validated values for commands (same SSH identity)
    return slot;
  };

  /** Make sure we are connected; a connect failure becomes a step result, never an exception. */
  async function ensureConnected(c: Customer): Promise<{ ok: true; exec: HostExecutor } | { ok: false; step: StepResult; error: SshConnectError | Error }> {
    const started = Date.now();
    try {
      // Nothing from an invalid customer reaches the network, let alone a shell.
      const unsafe = shellSafetyProblems(c);
      if (unsafe.length) throw new UnsafeCustomerError(c.id, unsafe);
      const slot = slotFor(c);
      await connection(slot)();
      return { ok: true, exec: slot.executor };
    } catch (e) {
      const err = e as Error;
      return {
        ok: false,
        error: err,
        step: {
          step: 'connect',
          status: 'failed',
          startedAt: new Date(started).toISOString(),
          durationMs: Date.now() - started,
          message: redact(err.message),
        },
      };
    }
  }

  return {
    async observe(c: Customer): Promise<Observation> {
      const conn = await ensureConnected(c);
      if (!conn.ok) return { reachable: false, error: conn.step.message, services: [] };
      const ctx = readOnlyContext(c, conn.exec);
      try {
        return publicObservation(await observe(ctx, new StepRecorder(ctx, 'observe')));
      } catch (e) {
        return { reachable: false, error: redact((e as Error).message), services: [] };
      }
    },

    async converge(c: Customer, o: HostProcedureOptions): Promise<HostResult> {
      const startedAt = new Date();
      const conn = await ensureConnected(c);
      if (!conn.ok) {
        o.onStep?.(conn.step);
        const kind = conn.error instanceof SshConnectError ? conn.error.kind : 'protocol';
        return {
          customerId: c.id,
          target: describeTarget(c.ssh),
          toTag: c.image.tag,
          outcome: 'refused',
          message:
            kind === 'host-key-mismatch' || conn.error instanceof UnsafeCustomerError
              ? `${conn.step.message} Nothing was run on the host.`
              : `cannot connect (${kind}): ${conn.step.message}. Nothing changed.`,
          steps: [conn.step],
          startedAt: startedAt.toISOString(),
          durationMs: Date.now() - startedAt.getTime(),
        };
      }
      const exec = o.mode === 'plan' ? new RecordingExecutor(conn.exec) : conn.exec;
      return converge(c, exec, o);
    },

    async checkHealth(c: Customer): Promise<{ healthy: boolean; detail: string }> {
      const conn = await ensureConnected(c);
      if (!conn.ok) return { healthy: false, detail: conn.step.message };
      const ctx = readOnlyContext(c, conn.exec);
      const rec = new StepRecorder(ctx, 'observe');
      const sites = siteList(ctx, c.sites === 'all' ? (await observe(ctx, rec)).sites : undefined);
      const h = await healthGate(ctx, new StepRecorder(ctx, 'health'), sites);
      return { healthy: h.healthy, detail: h.message };
    },

    connectionsOpened(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const s of slots.values()) out[s.customer.id] = (out[s.customer.id] ?? 0) + s.opened;
      return out;
    },

    async close(): Promise<void> {
      for (const s of slots.values()) s.conn?.close();
      slots.clear();
    },
  };
}

/** A driver that never connects: dry runs offline, every command recorded. */
export function createOfflineDriver(): HostDriver {
  return {
    async observe(): Promise<Observation> {
      return { reachable: false, error: 'offline: host not observed', services: [] };
    },
    async converge(c: Customer, o: HostProcedureOptions): Promise<HostResult> {
      if (o.mode !== 'plan') {
        return {
          customerId: c.id,
          target: describeTarget(c.ssh),
          toTag: c.image.tag,
          outcome: 'refused',
          message: 'the offline driver only plans; nothing was run',
          steps: [],
          startedAt: new Date().toISOString(),
          durationMs: 0,
        };
      }
      return converge(c, new RecordingExecutor(undefined, describeTarget(c.ssh)), o);
    },
    async checkHealth(): Promise<{ healthy: boolean; detail: string }> {
      return { healthy: false, detail: 'offline: not checked' };
    },
    connectionsOpened: () => ({}),
    async close(): Promise<void> {},
  };
}

function readOnlyContext(c: Customer, exec: HostExecutor): HostContext {
  // observe and health only run read-only commands; wrapping them in a
  // recording executor guarantees it (a mutating command would only be recorded).
  return { customer: c, exec: new RecordingExecutor(exec), mode: 'apply', runId: 'observe', changeId: 'observe', steps: [] };
}
