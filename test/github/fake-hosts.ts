// In-memory hosts for the GitHub App tests that do not need real SSH hosts
// (the e2e test uses the testbed). It keeps each host's tag and health,
// records every call, and can be told to fail a tag or a customer, so the
// app's handling of failures, rollbacks and retries can be checked.
import type { Customer } from '../../src/fleet/types.js';
import type { HostDriver, HostProcedureOptions, HostResult, Observation, StepName, StepResult } from '../../src/host/types.js';

export interface FakeHost {
  tag: string;
  healthy: boolean;
}

export interface DriverCall {
  driver: string;
  op: 'observe' | 'converge' | 'checkHealth' | 'close';
  customerId?: string;
  mode?: 'apply' | 'plan';
}

export class FakeHosts {
  readonly hosts = new Map<string, FakeHost>();
  readonly calls: DriverCall[] = [];
  /** Converging to one of these tags fails the health gate and rolls back. */
  readonly badTags = new Set<string>();
  /** These customers fail (rolled back) whatever the tag. */
  readonly failing = new Set<string>();
  stepDelayMs = 0;
  driversCreated = 0;

  constructor(initial: Record<string, string>) {
    for (const [id, tag] of Object.entries(initial)) this.hosts.set(id, { tag, healthy: true });
  }

  driver(name = 'ssh'): HostDriver {
    this.driversCreated++;
    const opened: Record<string, number> = {};
    const hosts = this;
    const target = (c: Customer) => `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`;
    const step = async (step: StepName, status: StepResult['status'], message: string, opts?: HostProcedureOptions): Promise<StepResult> => {
      if (hosts.stepDelayMs && status !== 'planned') await new Promise((r) => setTimeout(r, hosts.stepDelayMs));
      const s: StepResult = { step, status, startedAt: new Date().toISOString(), durationMs: hosts.stepDelayMs, message };
      opts?.onStep?.(s);
      return s;
    };
    return {
      async observe(c: Customer): Promise<Observation> {
        hosts.calls.push({ driver: name, op: 'observe', customerId: c.id });
        opened[c.id] = (opened[c.id] ?? 0) + 1;
        const h = hosts.hosts.get(c.id);
        if (!h) return { reachable: false, error: 'no such host', services: [] };
        return {
          reachable: true,
          envTag: h.tag,
          envImage: c.image.repository,
          runningTag: h.tag,
          services: [{ service: 'backend', state: h.healthy ? 'running' : 'exited', image: `${c.image.repository}:${h.tag}` }],
          freeDiskMb: 20000,
          composeConfigValid: true,
          layout: { kind: 'env', variable: 'ERPNEXT_VERSION' },
        };
      },
      async converge(c: Customer, opts: HostProcedureOptions): Promise<HostResult> {
        hosts.calls.push({ driver: name, op: 'converge', customerId: c.id, mode: opts.mode });
        opened[c.id] = (opened[c.id] ?? 0) + 1;
        const started = Date.now();
        const h = hosts.hosts.get(c.id) ?? { tag: 'unknown', healthy: true };
        const from = h.tag;
        const to = c.image.tag;
        const base = { customerId: c.id, target: target(c), fromTag: from, toTag: to, startedAt: new Date(started).toISOString() };
        if (from === to && h.healthy) {
          return { ...base, outcome: 'unchanged', message: `already at ${to} and healthy`, steps: [await step('observe', 'ok', `at ${to}`, opts)], durationMs: Date.now() - started };
        }
        if (opts.mode === 'plan') {
          const steps: StepResult[] = [];
          for (const s of ['preflight', 'backup', 'verify-backup', 'set-tag', 'pull', 'recreate', 'migrate', 'health', 'prune'] as StepName[]) {
            steps.push(await step(s, s === 'preflight' ? 'ok' : 'planned', s === 'set-tag' ? `would set ${from} → ${to}` : `would run ${s}`, opts));
          }
          return { ...base, outcome: 'planned', message: `would upgrade ${from} → ${to}`, steps, durationMs: Date.now() - started };
        }
        const steps: StepResult[] = [];
        steps.push(await step('preflight', 'ok', 'disk and compose config ok', opts));
        steps.push(await step('backup', 'ok', 'bench backup of all sites', opts));
        steps.push(await step('verify-backup', 'ok', 'gzip -t ok, dump complete', opts));
        steps.push(await step('set-tag', 'ok', `${from} → ${to}`, opts));
        steps.push(await step('pull', 'ok', `pulled ${c.image.repository}:${to}`, opts));
        steps.push(await step('recreate', 'ok', 'containers recreated', opts));
        steps.push(await step('migrate', 'ok', 'bench migrate done', opts));
        const backup = [{ site: 'all', path: `/var/backups/erpnext/${c.id}-pre-${to}.sql.gz`, sizeBytes: 123456, sha256: 'ab'.repeat(32), createdAt: new Date().toISOString() }];
        if (hosts.badTags.has(to) || hosts.failing.has(c.id)) {
          steps.push(await step('health', 'failed', 'ping answered 502 three times', opts));
          steps.push(await step('rollback', 'ok', `image back to ${from}`, opts));
          steps.push(await step('restore', 'ok', 'database restored from the pre-upgrade backup', opts));
          return { ...base, outcome: 'rolled-back', message: `health gate failed at ${to}; rolled back to ${from} and healthy`, steps, backup, durationMs: Date.now() - started };
        }
        steps.push(await step('health', 'ok', 'pong 3/3', opts));
        steps.push(await step('prune', 'ok', 'old images pruned', opts));
        h.tag = to;
        hosts.hosts.set(c.id, h);
        return { ...base, outcome: 'upgraded', message: `upgraded ${from} → ${to}, healthy`, steps, backup, durationMs: Date.now() - started };
      },
      async checkHealth(c: Customer) {
        hosts.calls.push({ driver: name, op: 'checkHealth', customerId: c.id });
        const h = hosts.hosts.get(c.id);
        return { healthy: !!h?.healthy, detail: h?.healthy ? 'pong' : 'not answering' };
      },
      connectionsOpened: () => ({ ...opened }),
      async close() {
        hosts.calls.push({ driver: name, op: 'close' });
      },
    };
  }
}

/** A bake clock whose sleeps return at once and move time forward. */
export function fastClock(start = Date.now()) {
  let t = start;
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}
