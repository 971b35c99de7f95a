// The seam between the host procedure (plain logic) and the transport (SSH).
// The procedure only ever builds RemoteCommands and reads CommandResults; the
// SSH executor runs them, the recording executor (dry run) runs the read-only
// ones and records the rest. Same steps, two executors: plan == apply.

/**
 * One command on a host. Values are always passed as separate argv elements
 * (quoted by the executor), never spliced into shell text. For pipes, use
 * `sh(script, ...args)` from host/shell.ts: a constant script plus positional
 * parameters.
 */
export interface RemoteCommand {
  /** Step this command belongs to, for reports ("backup", "pull", ...). */
  step: StepName;
  argv: string[];
  /** Working directory on the host (absolute, schema-validated). */
  cwd?: string;
  stdin?: string;
  timeoutSeconds: number;
  /** Read-only commands run in dry runs too; mutating ones are only recorded. */
  mutates: boolean;
}

export interface CommandResult {
  /** Exit code; null = outcome unknown (connection dropped or step timed out). */
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut?: boolean;
  /** The command was recorded by a dry run and not executed. */
  simulated?: boolean;
  /** Added: the SSH connection dropped since the previous command and this one ran on a new one. */
  reconnected?: boolean;
}

export interface HostExecutor {
  /** "user@host:port", for logs and reports. */
  readonly target: string;
  exec(cmd: RemoteCommand): Promise<CommandResult>;
  close(): Promise<void>;
}

export type StepName =
  | 'connect'
  | 'lock'
  | 'observe'
  | 'preflight'
  | 'pull'
  | 'backup'
  | 'verify-backup'
  | 'maintenance-on'
  | 'set-tag'
  | 'recreate'
  | 'configurator'
  | 'migrate'
  | 'maintenance-off'
  | 'health'
  | 'prune'
  | 'rollback'
  | 'restore'
  | 'unlock';

export type StepStatus = 'ok' | 'failed' | 'warning' | 'skipped' | 'unknown' | 'planned';

export interface StepResult {
  step: StepName;
  status: StepStatus;
  startedAt: string; // ISO time
  durationMs: number;
  exitCode?: number | null;
  /** One line a person reads in the check run. */
  message: string;
  /** Trimmed output, secrets masked. */
  output?: string;
  /** Commands as they would run (dry run) or ran, for the plan's detail view. */
  commands?: string[];
}

export interface ServiceState {
  service: string;
  state: string; // "running", "exited", ...
  exitCode?: number;
  image?: string;
  health?: string;
}

export type Layout =
  // tag comes from .env (CUSTOM_TAG / ERPNEXT_VERSION); imageVariable: CUSTOM_IMAGE when the image line uses it
  | { kind: 'env'; variable: string; imageVariable?: string }
  | { kind: 'baked'; file: string } // tag hard-coded in a compose file: refuse
  | { kind: 'unknown'; reason: string };

export interface HostLock {
  runId: string;
  commit?: string;
  pid?: number;
  since: string;
  /** The process that held it is gone: left by a crashed run. */
  stale: boolean;
  /** Added: host-side holder process and when its lease ends; the file to remove to clear it. */
  holderPid?: number;
  leaseUntil?: string;
  path?: string;
}

export interface BackupRecord {
  site: string;
  path: string; // absolute path on the host, off the volume
  sizeBytes: number;
  sha256: string;
  createdAt: string;
}

/** Host-side journal of an in-flight or last change, so a rerun after a crash knows what happened. */
export interface HostJournal {
  runId: string;
  fromTag: string;
  toTag: string;
  phase: 'started' | 'backed-up' | 'tag-set' | 'migrating' | 'migrated' | 'healthy' | 'rolled-back' | 'failed' | 'refused'; // 'refused' added: stopped before any change
  backups: BackupRecord[];
  updatedAt: string;
}

export interface Observation {
  reachable: boolean;
  error?: string;
  /** Tag in .env (the desired state the host was last given). */
  envTag?: string;
  envImage?: string;
  /** Tag of the image the running backend container uses. */
  runningTag?: string;
  services: ServiceState[];
  configuratorExitCode?: number;
  freeDiskMb?: number;
  composeConfigValid?: boolean;
  composeConfigError?: string;
  layout?: Layout;
  lock?: HostLock;
  lastBackup?: BackupRecord;
  journal?: HostJournal;
}

export type HostOutcome =
  | 'unchanged' // already at desired tag and healthy
  | 'upgraded'
  | 'rolled-back' // change failed, previous tag restored and healthy
  | 'rollback-failed' // change failed and the host is NOT healthy: page someone
  | 'refused' // preflight or backup said no; nothing changed
  | 'unknown' // outcome could not be determined (connection lost)
  | 'planned'; // dry run

export interface HostResult {
  customerId: string;
  target: string;
  fromTag?: string;
  toTag: string;
  outcome: HostOutcome;
  /** One sentence: what happened and what state the host is in now. */
  message: string;
  steps: StepResult[];
  backup?: BackupRecord[];
  /** Unified diff of host files this change makes (the seed's --check --diff). */
  fileDiff?: string;
  before?: Observation;
  after?: Observation;
  startedAt: string;
  durationMs: number;
}

// ---- The host layer's entry point, used by the rollout engine ----
import type { Customer } from '../fleet/types.js';

export interface HostProcedureOptions {
  runId: string;
  commit?: string;
  /** plan: same steps, mutating commands recorded instead of run. */
  mode: 'apply' | 'plan';
  onStep?: (step: StepResult) => void;
  signal?: AbortSignal;
}

/**
 * Everything the rollout engine may do to a host. One implementation talks
 * SSH (one connection per host, kept for the driver's life), one is offline
 * (every command simulated), tests use fakes.
 */
export interface HostDriver {
  /** Read-only look at the host. Never throws: unreachable hosts come back with reachable=false. */
  observe(customer: Customer): Promise<Observation>;
  /** Bring the host to customer.image.tag, or in plan mode record what that would do. */
  converge(customer: Customer, opts: HostProcedureOptions): Promise<HostResult>;
  /** The health gate alone (used during bake). */
  checkHealth(customer: Customer): Promise<{ healthy: boolean; detail: string }>;
  /** How many SSH connections were opened per customer (benchmarks, tests). */
  connectionsOpened(): Record<string, number>;
  close(): Promise<void>;
}
