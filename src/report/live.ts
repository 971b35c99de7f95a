// Folds the RolloutEvent stream into a snapshot of where a running rollout
// stands, for reports that refresh while it runs (a check run updated every
// few seconds, a status line). Pure: feed events in, read a plain object out.
import type { StepResult } from '../host/types.js';
import type { RingStatus, RolloutEvent } from '../rollout/events.js';
import { mdTable } from './table.js';

export type LiveHostState = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

export interface LiveHost {
  customerId: string;
  ring: string;
  state: LiveHostState;
  toTag?: string;
  fromTag?: string;
  /** Last step finished, e.g. "migrate ok". */
  lastStep?: string;
  outcome?: string;
  message?: string;
  steps: StepResult[];
}

export interface LiveRing {
  name: string;
  status: RingStatus | 'waiting' | 'running' | 'baking';
  reason?: string;
}

export interface LiveSnapshot {
  runId?: string;
  commit?: string;
  status: 'running' | 'succeeded' | 'failed' | 'stopped';
  reason?: string;
  rings: LiveRing[];
  hosts: LiveHost[];
  failures: number;
  budgetExceeded?: { ring: string; failures: number; budget: number };
  badTags: string[];
  updatedAt?: string;
}

export class RolloutTracker {
  private snap: LiveSnapshot = { status: 'running', rings: [], hosts: [], failures: 0, badTags: [] };
  private byId = new Map<string, LiveHost>();

  /** Usable directly as an EventSink. */
  readonly sink = (e: RolloutEvent): void => this.apply(e);

  apply(e: RolloutEvent): void {
    const s = this.snap;
    s.updatedAt = e.at;
    const ring = (name: string) => {
      let r = s.rings.find((x) => x.name === name);
      if (!r) s.rings.push((r = { name, status: 'waiting' }));
      return r;
    };
    const host = (id: string, ringName: string) => {
      let h = this.byId.get(id);
      if (!h) {
        h = { customerId: id, ring: ringName, state: 'waiting', steps: [] };
        this.byId.set(id, h);
        s.hosts.push(h);
      }
      return h;
    };
    switch (e.type) {
      case 'rollout-started':
        s.runId = e.runId;
        s.commit = e.commit;
        for (const r of e.rings) ring(r);
        break;
      case 'ring-started':
        ring(e.ring).status = 'running';
        for (const id of e.hosts) host(id, e.ring);
        break;
      case 'host-started': {
        const h = host(e.customerId, e.ring);
        h.state = 'running';
        h.toTag = e.toTag;
        h.fromTag = e.fromTag;
        break;
      }
      case 'step-finished': {
        const h = host(e.customerId, e.ring);
        h.steps.push(e.step);
        h.lastStep = `${e.step.step} ${e.step.status}`;
        break;
      }
      case 'host-finished': {
        const h = host(e.result.customerId, e.ring);
        const ok = e.result.outcome === 'upgraded' || e.result.outcome === 'unchanged';
        h.state = ok ? 'done' : 'failed';
        h.outcome = e.result.outcome;
        h.message = e.result.message;
        h.fromTag = e.result.fromTag ?? h.fromTag;
        h.toTag = e.result.toTag;
        if (!ok) s.failures++;
        break;
      }
      case 'host-skipped': {
        const h = host(e.customerId, e.ring);
        h.state = 'skipped';
        h.message = e.reason;
        break;
      }
      case 'budget-exceeded':
        s.budgetExceeded = { ring: e.ring, failures: e.failures, budget: e.budget };
        break;
      case 'ring-finished': {
        const r = ring(e.ring);
        r.status = e.status;
        r.reason = e.reason;
        break;
      }
      case 'bake-started':
        ring(e.ring).status = 'baking';
        break;
      case 'bake-finished':
        if (!e.healthy) ring(e.ring).reason = e.reason;
        break;
      case 'tag-marked-bad':
        if (!s.badTags.includes(e.tag)) s.badTags.push(e.tag);
        break;
      case 'rollout-finished':
        s.status = e.status;
        s.reason = e.reason;
        break;
    }
  }

  snapshot(): LiveSnapshot {
    return structuredClone(this.snap);
  }
}

const ICON: Record<LiveHostState, string> = { waiting: '⏸️', running: '⏳', done: '✅', failed: '❌', skipped: '⏭️' };

/** Markdown for an in-progress check run: rings, then every host with its current step. */
export function renderProgressMarkdown(s: LiveSnapshot): string {
  const done = s.hosts.filter((h) => h.state === 'done' || h.state === 'failed' || h.state === 'skipped').length;
  const lines = [
    `### Rollout ${s.status}${s.reason ? `: ${s.reason}` : ''}`,
    '',
    `${done}/${s.hosts.length} hosts finished, ${s.hosts.filter((h) => h.state === 'running').length} running, ${s.failures} failed` +
      (s.budgetExceeded ? ` · **failure budget of ${s.budgetExceeded.ring} exceeded** (${s.budgetExceeded.failures} > ${s.budgetExceeded.budget})` : ''),
    '',
    mdTable(['Ring', 'Status', 'Note'], s.rings.map((r) => [r.name, r.status, r.reason ?? ''])),
    '',
    mdTable(
      ['Ring', 'Customer', 'State', 'Tag', 'Step / result'],
      s.hosts.map((h) => [
        h.ring,
        `\`${h.customerId}\``,
        `${ICON[h.state]} ${h.outcome ?? h.state}`,
        h.fromTag && h.toTag && h.fromTag !== h.toTag ? `${h.fromTag} → ${h.toTag}` : (h.toTag ?? ''),
        h.message ?? h.lastStep ?? '',
      ]),
    ),
  ];
  if (s.badTags.length) lines.push('', `Tags marked bad: ${s.badTags.map((t) => `\`${t}\``).join(', ')}`);
  return lines.join('\n');
}
