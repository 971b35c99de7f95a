// The plan: what a rollout would do, per host, in ring order. It is produced
// by running the host procedure itself in plan mode (the driver's recording
// executor runs read-only commands and records mutating ones), so a plan and
// an apply cannot drift apart. Offline and live plans differ only by the
// driver passed in.
import { describeWindow, insideWindow } from './window.js';
import pLimit from 'p-limit';
import type { Customer, CustomerChange, Fleet, FleetDiff } from '../fleet/types.js';
import type { HostDriver, HostResult, Observation } from '../host/types.js';
import type { StateStore } from './state.js';
import type { Plan, PlanAction, PlanFinding, PlanHost, PlanRing, PlanSummary } from './types.js';

/**
 * Which connection details a live plan may use for a customer. Returning
 * undefined means "do not contact this host" (it is planned offline).
 *
 * `connectAsBase` is the policy for pull requests: a PR's live dry run only
 * reaches hosts as the base branch describes them (address, port, user, host
 * key), never an address the PR introduces. `connectAsHead` trusts the head
 * files, which is right for a local checkout or the default branch.
 */
export type ConnectPolicy = (head: Customer, base: Customer | undefined) => Customer | undefined;

export const connectAsHead: ConnectPolicy = (head) => head;

export const connectAsBase: ConnectPolicy = (head, base) =>
  base ? { ...head, ssh: { ...base.ssh } } : undefined;

export interface PlanOptions {
  /** Fleet before the change; omitted = compare every customer with what its host reports. */
  base?: Fleet;
  head: Fleet;
  /** Required when base is given (diffFleets(base, head)). */
  diff?: FleetDiff;
  driver: HostDriver;
  mode: 'live' | 'offline';
  runId: string;
  commit?: string;
  /** Limit to one ring. */
  ring?: string;
  baseLabel?: string;
  headLabel?: string;
  /** Defaults to connectAsHead. */
  connectAs?: ConnectPolicy;
  /** Plans hosts the connect policy refuses to contact (e.g. createOfflineDriver()). */
  offlineDriver?: HostDriver;
  /** Hosts contacted at a time in a live plan. */
  concurrency?: number;
  /** Lets the plan warn when a desired tag is already known to be bad. */
  state?: StateStore;
  now?: () => Date;
}

interface Candidate {
  customer: Customer;
  base?: Customer;
  change?: CustomerChange;
  reasons: string[];
}


export async function planRollout(opts: PlanOptions): Promise<Plan> {
  const started = Date.now();
  const now = opts.now ?? (() => new Date());
  const { head, driver } = opts;
  if (opts.ring && !head.rings[opts.ring]) {
    throw new Error(`ring "${opts.ring}" does not exist (rings: ${head.ringOrder.join(', ')})`);
  }
  if (opts.base && !opts.diff) throw new Error('planRollout: a base fleet needs its diff');
  const connectAs = opts.connectAs ?? connectAsHead;
  const limit = pLimit(opts.concurrency ?? 50);
  const inRing = (c: Customer) => !opts.ring || c.ring === opts.ring;

  const skipped: PlanHost[] = [];
  const candidates: Candidate[] = [];
  const listed = new Set<string>();

  if (opts.diff) {
    for (const change of opts.diff.changes) {
      listed.add(change.id);
      if (change.kind === 'removed') {
        const before = change.before!;
        if (!inRing(before)) continue;
        skipped.push(
          skipHost(before, 'removed from the fleet: fleetkeeper leaves removed hosts as they are', change),
        );
        continue;
      }
      const customer = change.after!;
      if (!inRing(customer)) continue;
      candidates.push({ customer, base: change.before, change, reasons: reasonsFor(change) });
    }
  } else {
    for (const id of Object.keys(head.customers).sort()) {
      const customer = head.customers[id]!;
      if (inRing(customer)) candidates.push({ customer, reasons: ['reconcile'] });
    }
  }

  // Every host is planned as soon as it is known (bounded by `limit`): the
  // changed customers at once, drifted ones as soon as their observation says
  // so, so drift checks and plans overlap instead of running in two waves.
  const hosts: PlanHost[] = [];
  const planning: Promise<void>[] = [];
  const plan = (cand: Candidate) =>
    planning.push(
      limit(async () => {
        if (cand.customer.hold) {
          const h = cand.customer.hold;
          skipped.push(skipHost(cand.customer, `held: ${h.reason}${h.until ? ` (until ${h.until})` : ''}`, cand.change));
          return;
        }
        hosts.push(await planHost(cand, opts, connectAs));
      }),
    );
  candidates.forEach(plan);

  // In a live plan with a base, customers whose file did not change are still
  // observed: a host that no longer runs what its file says has drifted, and
  // apply would bring it back.
  const driftChecks: Promise<void>[] = [];
  if (opts.mode === 'live' && opts.diff) {
    for (const id of Object.keys(head.customers).sort()) {
      const customer = head.customers[id]!;
      if (listed.has(id) || !inRing(customer) || customer.hold) continue;
      const base = opts.base?.customers[id];
      const target = connectAs(customer, base);
      if (!target) continue;
      driftChecks.push(
        limit(async () => {
          const obs = await driver.observe(target);
          const observed = observedTag(obs);
          if (!obs.reachable) {
            skipped.push(skipHost(customer, `not reachable: ${obs.error ?? 'no answer'}`));
          } else if (observed !== undefined && observed !== customer.image.tag) {
            plan({ customer, base, reasons: ['drift'] });
          }
        }),
      );
    }
  }
  await Promise.all(driftChecks);
  // (drift checks have all run: no more plans are added)
  await Promise.all(planning);

  const rings: PlanRing[] = [];
  for (const name of head.ringOrder) {
    const ring = head.rings[name]!;
    const ringHosts = hosts.filter((h) => h.ring === name).sort((a, b) => a.customerId.localeCompare(b.customerId));
    if (ringHosts.length === 0) continue;
    rings.push({
      name,
      order: ring.order,
      concurrency: ring.concurrency,
      failureBudget: ring.failureBudget,
      bakeSeconds: ring.bakeSeconds,
      next: ring.next,
      hosts: ringHosts,
    });
  }
  skipped.sort((a, b) => a.customerId.localeCompare(b.customerId));

  return {
    version: 1,
    runId: opts.runId,
    createdAt: now().toISOString(),
    mode: opts.mode,
    base: opts.baseLabel,
    head: opts.headLabel ?? 'head',
    commit: opts.commit,
    ringFilter: opts.ring,
    rings,
    skipped,
    ringsChanged: opts.diff?.ringsChanged ?? [],
    summary: summarize(rings, skipped),
    durationMs: Date.now() - started,
  };
}

async function planHost(cand: Candidate, opts: PlanOptions, connectAs: ConnectPolicy): Promise<PlanHost> {
  const { customer, base, change } = cand;
  const findings: PlanFinding[] = [];
  const fromTag = change ? change.before?.image.tag : undefined;
  const target = opts.mode === 'live' ? connectAs(customer, base) : customer;

  if (opts.state) {
    const bad = await opts.state.isBadTag(customer.image.tag);
    if (bad) findings.push({ level: 'warning', source: 'plan', message: `tag ${bad.tag} is marked bad: ${bad.reason}` });
  }

  // Apply leaves a host alone outside its window; the plan cannot know when the
  // merge happens, so it says which way it would go now.
  const w = customer.maintenanceWindow;
  if (w && !insideWindow(w, (opts.now ?? (() => new Date()))())) {
    findings.push({
      level: 'warning',
      source: 'plan',
      message: `outside its maintenance window now (${describeWindow(w)}): an apply started now would leave this host as it is until a run inside the window`,
    });
  }

  let result: HostResult;
  if (!target) {
    findings.push({
      level: 'info',
      source: 'plan',
      message: 'new host: a pull request\'s live plan does not contact addresses the base branch does not know',
    });
    // Never hand an unknown address to the live driver: plan it offline.
    result = opts.offlineDriver
      ? await opts.offlineDriver
          .converge(customer, { runId: opts.runId, commit: opts.commit, mode: 'plan' })
          .catch((e: unknown) => thrown(customer, e))
      : notContacted(customer);
  } else {
    result = await opts.driver
      .converge(target, { runId: opts.runId, commit: opts.commit, mode: 'plan' })
      .catch((e: unknown) => thrown(target, e));
  }

  for (const s of result.steps) {
    const level: PlanFinding['level'] | undefined =
      s.status === 'failed' || s.status === 'unknown' ? 'error' : s.status === 'warning' ? 'warning' : undefined;
    if (level) findings.push({ level, source: s.step, message: s.message });
    else if (s.status === 'ok' && (s.step === 'preflight' || s.step === 'connect'))
      findings.push({ level: 'info', source: s.step, message: s.message });
  }
  if ((result.outcome === 'refused' || result.outcome === 'unknown') && !findings.some((f) => f.level === 'error')) {
    findings.push({ level: 'error', source: 'plan', message: result.message });
  }

  const obs = opts.mode === 'live' ? result.before : undefined;
  const observed = obs?.reachable ? observedTag(obs) : undefined;
  const expected = fromTag ?? base?.image.tag;
  const drift = observed !== undefined && expected !== undefined && observed !== expected && cand.reasons[0] !== 'drift';
  const reasons = [...cand.reasons];
  if (drift) {
    reasons.push('drift');
    findings.push({
      level: 'warning',
      source: 'plan',
      message: `host runs ${observed}, but its file${change ? ' on the base branch' : ''} says ${expected}`,
    });
  }
  if (obs?.runningTag && obs.envTag && obs.runningTag !== obs.envTag) {
    findings.push({
      level: 'warning',
      source: 'observe',
      message: `.env says ${obs.envTag} but the running backend uses ${obs.runningTag}`,
    });
  }

  return {
    customerId: customer.id,
    file: customer.file,
    ring: customer.ring,
    target: result.target || `${(target ?? customer).ssh.user}@${(target ?? customer).ssh.host}:${(target ?? customer).ssh.port}`,
    action: actionFor(result),
    reasons,
    tag: { from: fromTag ?? observed, to: customer.image.tag },
    observedTag: observed,
    drift: drift || cand.reasons[0] === 'drift' || undefined,
    fields: change?.fields ?? [],
    steps: result.steps,
    findings,
    fileDiff: result.fileDiff,
    observation: obs,
    outcome: result.outcome,
    message: result.message,
  };
}

function actionFor(r: HostResult): PlanAction {
  switch (r.outcome) {
    case 'planned':
    case 'upgraded':
      return 'change';
    case 'unchanged':
      return 'unchanged';
    default:
      return 'blocked';
  }
}

function reasonsFor(change: CustomerChange): string[] {
  if (change.kind === 'added') return ['added'];
  const reasons: string[] = [];
  if (change.tag && change.tag.from !== change.tag.to) reasons.push('tag');
  if (change.fields.some((f) => f.startsWith('ssh.'))) reasons.push('connection');
  if (change.fields.some((f) => f.startsWith('compose.') || f === 'sites' || f.startsWith('sites.'))) reasons.push('compose');
  if (change.fields.some((f) => f === 'image.repository')) reasons.push('image');
  if (change.fields.includes('ring')) reasons.push('ring');
  if (reasons.length === 0) reasons.push('settings');
  return reasons;
}

function skipHost(c: Customer, reason: string, change?: CustomerChange): PlanHost {
  return {
    customerId: c.id,
    file: c.file,
    ring: c.ring,
    target: `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`,
    action: 'skip',
    reasons: change ? reasonsFor(change) : [],
    tag: { from: change?.before?.image.tag, to: c.image.tag },
    fields: change?.fields ?? [],
    steps: [],
    findings: [],
    message: reason,
    skipReason: reason,
  };
}

function notContacted(c: Customer): HostResult {
  return {
    customerId: c.id,
    target: `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`,
    toTag: c.image.tag,
    outcome: 'planned',
    message: `would bring the host to ${c.image.tag} (not contacted)`,
    steps: [],
    startedAt: new Date().toISOString(),
    durationMs: 0,
  };
}

function thrown(c: Customer, e: unknown): HostResult {
  const message = `plan failed: ${e instanceof Error ? e.message : String(e)}`;
  return {
    customerId: c.id,
    target: `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`,
    toTag: c.image.tag,
    outcome: 'unknown',
    message,
    steps: [],
    startedAt: new Date().toISOString(),
    durationMs: 0,
  };
}

export function observedTag(obs: Observation | undefined): string | undefined {
  if (!obs?.reachable) return undefined;
  return obs.envTag ?? obs.runningTag;
}

function summarize(rings: PlanRing[], skipped: PlanHost[]): PlanSummary {
  const s: PlanSummary = { change: 0, unchanged: 0, blocked: 0, skip: skipped.length, drift: 0, errors: 0 };
  for (const r of rings)
    for (const h of r.hosts) {
      if (h.action === 'change') s.change++;
      else if (h.action === 'unchanged') s.unchanged++;
      else if (h.action === 'blocked') s.blocked++;
      if (h.drift) s.drift++;
      if (h.findings.some((f) => f.level === 'error')) s.errors++;
    }
  return s;
}
