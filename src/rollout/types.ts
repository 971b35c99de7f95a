// Plain data the rollout engine produces: a Plan (what would happen, per host,
// in ring order) and a RolloutResult (what did happen). Both are JSON-safe so
// the CLI can print them with --format json and the GitHub layer can render
// them into check runs without knowing how they were made.
import type { HostOutcome, HostResult, Observation, StepResult } from '../host/types.js';
import type { RingStatus } from './events.js';

export type PlanAction =
  /** The host would be changed (tag moves, or connection details changed). */
  | 'change'
  /** The host is already where the fleet wants it. */
  | 'unchanged'
  /** The host would be changed but a preflight check says no. */
  | 'blocked'
  /** Left out on purpose (held, removed, outside the ring filter). */
  | 'skip';

export interface PlanFinding {
  level: 'error' | 'warning' | 'info';
  /** Step the finding comes from ("preflight", "connect", ...) or "plan". */
  source: string;
  message: string;
}

export interface PlanHost {
  customerId: string;
  /** Customer file, e.g. "customers/acme.yml" (for annotations and links). */
  file: string;
  ring: string;
  /** "user@host:port" as the plan connected (or would connect) to it. */
  target: string;
  action: PlanAction;
  /** Why the host is in the plan: "added", "tag", "connection", "drift", "reconcile", ... */
  reasons: string[];
  tag: { from?: string; to: string };
  /** Tag the host reports in a live plan. */
  observedTag?: string;
  /** Observed tag differs from what the base files say the host should run. */
  drift?: boolean;
  /** Dotted fields that changed in the customer file. */
  fields: string[];
  /** Steps as the host procedure would run them (recording executor). */
  steps: StepResult[];
  findings: PlanFinding[];
  /** Unified diff of the host's own files (live plans). */
  fileDiff?: string;
  observation?: Observation;
  /** Outcome the procedure reported in plan mode ("planned", "unchanged", "refused", ...). */
  outcome?: HostOutcome;
  message: string;
  /** Set when action is "skip". */
  skipReason?: string;
}

export interface PlanRing {
  name: string;
  order: number;
  concurrency: number;
  failureBudget: number;
  bakeSeconds: number;
  next?: string;
  hosts: PlanHost[];
}

export interface Plan {
  version: 1;
  runId: string;
  createdAt: string;
  /** live = read-only SSH to each host; offline = no host contacted. */
  mode: 'live' | 'offline';
  base?: string;
  head: string;
  commit?: string;
  ringFilter?: string;
  /** Rings in rollout order; rings without any host in the plan are left out. */
  rings: PlanRing[];
  /** Customers listed in the change but left out (held, removed, other ring). */
  skipped: PlanHost[];
  /** Rings whose own settings changed (no host action, but reviewers should see it). */
  ringsChanged: string[];
  summary: PlanSummary;
  durationMs: number;
}

export interface PlanSummary {
  change: number;
  unchanged: number;
  blocked: number;
  skip: number;
  drift: number;
  errors: number;
}

/** A host the rollout did not run: held, budget spent, aborted, done earlier. */
export interface SkippedHost {
  customerId: string;
  ring: string;
  reason: string;
  /** Skipped because an earlier run already finished it: counts as converged. */
  converged: boolean;
  toTag: string;
}

export interface RingResult {
  ring: string;
  status: RingStatus;
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  hosts: HostResult[];
  skipped: SkippedHost[];
}

export interface RolloutResult {
  runId: string;
  commit?: string;
  status: 'succeeded' | 'failed' | 'stopped';
  reason?: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Failed hosts over the whole rollout (every outcome but upgraded/unchanged). */
  failures: number;
  rings: RingResult[];
  /** Tags marked bad during this rollout. */
  badTags: string[];
}

export const SUCCESS_OUTCOMES: ReadonlySet<HostOutcome> = new Set<HostOutcome>(['upgraded', 'unchanged']);

export function isFailure(outcome: HostOutcome): boolean {
  return !SUCCESS_OUTCOMES.has(outcome) && outcome !== 'planned';
}
