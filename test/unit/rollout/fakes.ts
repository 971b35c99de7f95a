// Fakes for rollout unit tests: a fleet builder and a HostDriver whose hosts
// hold a tag in memory and behave as each test tells them to.
import type { Customer, Fleet, Ring } from '../../../src/fleet/types.js';
import type {
  HostDriver,
  HostOutcome,
  HostProcedureOptions,
  HostResult,
  Observation,
  StepResult,
} from '../../../src/host/types.js';

export function ring(name: string, order: number, over: Partial<Ring> = {}): Ring {
  return {
    name,
    file: `rings/${name}.yml`,
    order,
    concurrency: 2,
    failureBudget: 0,
    bakeSeconds: 0,
    autoPromote: true,
    ...over,
  };
}

export function customer(id: string, ringName: string, tag: string, over: Partial<Customer> = {}): Customer {
  return {
    id,
    file: `customers/${id}.yml`,
    ring: ringName,
    ssh: { host: `10.0.0.${id.length}`, port: 22, user: 'deploy', hostKey: 'SHA256:' + 'A'.repeat(43) },
    compose: { dir: `/srv/${id}`, files: [] },
    sites: 'all',
    image: { repository: 'registry.local/erpnext', tag },
    backup: { dir: '/var/backups/erpnext', keep: 3, withFiles: false, minSizeRatio: 0.5 },
    health: { url: 'http://127.0.0.1:8080', attempts: 3, intervalSeconds: 1, timeoutSeconds: 5 },
    preflight: { minFreeDiskMb: 1024 },
    timeouts: { connectSeconds: 5, commandSeconds: 60, pullSeconds: 600, migrateSeconds: 3600, backupSeconds: 600 },
    ...over,
  };
}

export function fleet(rings: Ring[], customers: Customer[]): Fleet {
  const ringOrder = [...rings].sort((a, b) => a.order - b.order).map((r) => r.name);
  for (let i = 0; i < ringOrder.length - 1; i++) {
    const r = rings.find((x) => x.name === ringOrder[i])!;
    r.next ??= ringOrder[i + 1];
  }
  return {
    customers: Object.fromEntries(customers.map((c) => [c.id, c])),
    rings: Object.fromEntries(rings.map((r) => [r.name, r])),
    ringOrder,
    positions: {},
  };
}

export type Behaviour =
  | 'ok'
  | 'rollback' // change fails, host back on the old tag
  | 'refuse'
  | 'unknown'
  | 'throw'
  | 'rollback-failed';

export interface FakeHost {
  tag: string;
  healthy: boolean;
  reachable: boolean;
  behaviour: Behaviour;
  /** Milliseconds the converge takes. */
  delayMs: number;
}

/** A driver over in-memory hosts; records what it was asked to do. */
export class FakeDriver implements HostDriver {
  hosts = new Map<string, FakeHost>();
  inFlight = 0;
  maxInFlight = 0;
  converged: Array<{ id: string; mode: 'apply' | 'plan'; host: string; runId: string }> = [];
  observed: string[] = [];
  healthChecks: string[] = [];
  started: string[] = [];
  /** Tags that make any host unhealthy after the change (a "bad release"). */
  badTags = new Set<string>();
  connections: Record<string, number> = {};

  host(id: string, tag: string, over: Partial<FakeHost> = {}): this {
    this.hosts.set(id, { tag, healthy: true, reachable: true, behaviour: 'ok', delayMs: 5, ...over });
    return this;
  }

  private get(c: Customer): FakeHost {
    const h = this.hosts.get(c.id);
    if (!h) throw new Error(`fake: no host ${c.id}`);
    return h;
  }

  async observe(c: Customer): Promise<Observation> {
    this.observed.push(c.id);
    const h = this.get(c);
    if (!h.reachable) return { reachable: false, error: 'connect ECONNREFUSED', services: [] };
    return { reachable: true, envTag: h.tag, runningTag: h.tag, services: [{ service: 'backend', state: 'running' }] };
  }

  async converge(c: Customer, opts: HostProcedureOptions): Promise<HostResult> {
    this.converged.push({ id: c.id, mode: opts.mode, host: c.ssh.host, runId: opts.runId });
    this.connections[c.id] = (this.connections[c.id] ?? 0) + 1;
    const h = this.get(c);
    const to = c.image.tag;
    const before = await this.observe(c);
    const startedAt = new Date().toISOString();
    const step = (name: StepResult['step'], status: StepResult['status'], message: string): StepResult => {
      const s: StepResult = { step: name, status, startedAt, durationMs: 1, message, commands: [`echo ${name}`] };
      opts.onStep?.(s);
      return s;
    };
    const result = (outcome: HostOutcome, message: string, steps: StepResult[]): HostResult => ({
      customerId: c.id,
      target: `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`,
      fromTag: before.envTag,
      toTag: to,
      outcome,
      message,
      steps,
      before,
      startedAt,
      durationMs: h.delayMs,
    });

    if (!h.reachable) return result('unknown', 'unreachable', [step('connect', 'failed', 'connection refused')]);
    if (h.tag === to && h.healthy) return result('unchanged', `already at ${to} and healthy`, [step('observe', 'ok', `at ${to}`)]);
    if (opts.mode === 'plan') {
      const steps = [step('preflight', h.behaviour === 'refuse' ? 'failed' : 'ok', h.behaviour === 'refuse' ? 'disk too small' : 'disk ok'), step('set-tag', 'planned', `set ${to}`)];
      return h.behaviour === 'refuse'
        ? result('refused', 'preflight: disk too small', steps)
        : { ...result('planned', `would move ${h.tag} → ${to}`, steps), fileDiff: `-CUSTOM_TAG=${h.tag}\n+CUSTOM_TAG=${to}\n` };
    }

    this.started.push(c.id);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, h.delayMs));
      const behaviour = this.badTags.has(to) ? 'rollback' : h.behaviour;
      switch (behaviour) {
        case 'throw':
          throw new Error('boom');
        case 'refuse':
          return result('refused', 'preflight: disk too small', [step('preflight', 'failed', 'disk too small')]);
        case 'unknown':
          return result('unknown', 'connection lost during migrate', [step('migrate', 'unknown', 'connection lost')]);
        case 'rollback':
          return result('rolled-back', `health gate failed on ${to}; rolled back to ${h.tag}`, [
            step('health', 'failed', 'ping failed'),
            step('rollback', 'ok', `back on ${h.tag}`),
          ]);
        case 'rollback-failed':
          h.healthy = false;
          return result('rollback-failed', 'rollback failed', [step('rollback', 'failed', 'still down')]);
        case 'ok': {
          const from = h.tag;
          h.tag = to;
          h.healthy = true;
          return result('upgraded', `upgraded ${from} → ${to}`, [step('backup', 'ok', 'verified'), step('health', 'ok', 'healthy')]);
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  async checkHealth(c: Customer) {
    this.healthChecks.push(c.id);
    const h = this.get(c);
    return { healthy: h.healthy && h.reachable, detail: h.healthy ? 'pong' : 'no pong' };
  }

  connectionsOpened() {
    return { ...this.connections };
  }

  async close() {}
}
