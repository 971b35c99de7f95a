// What every step of the host procedure gets: the customer (schema-validated),
// the executor (SSH or recording), and where results go. Steps build argv from
// customer values only and record what they ran.
import type { Customer } from '../fleet/types.js';
import type { CommandResult, HostExecutor, RemoteCommand, StepName, StepResult, StepStatus } from './types.js';
import { joinArgv } from './shell.js';
import { trimOutput } from '../util/redact.js';

export interface HostContext {
  customer: Customer;
  exec: HostExecutor;
  mode: 'apply' | 'plan';
  runId: string;
  /** Run id of the change being made or finished (differs from runId when finishing a crashed run's change). */
  changeId: string;
  commit?: string;
  steps: StepResult[];
  onStep?: (s: StepResult) => void;
  signal?: AbortSignal;
}

/** Run ids become file and directory names on the host. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;

export function hostPaths(c: Customer, runId?: string) {
  const dir = c.compose.dir.replace(/\/+$/, '') || '/';
  const state = `${dir}/.fleetkeeper`;
  return {
    dir,
    env: `${dir}/.env`,
    state,
    journal: `${state}/journal.json`,
    lockFile: `${state}/lock`,
    lockMeta: `${state}/lock.json`,
    runDir: (id = runId!) => `${state}/runs/${id}`,
    envBackup: (id = runId!) => `${dir}/.env.fleetkeeper-${id}.bak`,
    backupRoot: `${c.backup.dir.replace(/\/+$/, '')}/${c.id}`,
    backupRun: (id = runId!) => `${c.backup.dir.replace(/\/+$/, '')}/${c.id}/${id}`,
  };
}

/** `docker compose` with the customer's project directory, name and files. */
export function composeArgv(c: Customer): string[] {
  const dir = hostPaths(c).dir;
  return [
    'docker',
    'compose',
    '--ansi',
    'never',
    '--project-directory',
    dir,
    ...(c.compose.project ? ['-p', c.compose.project] : []),
    ...c.compose.files.flatMap((f) => ['-f', f.startsWith('/') ? f : `${dir}/${f}`]),
  ];
}

/** Where frappe keeps sites inside the backend container. */
export const BENCH_SITES = '/home/frappe/frappe-bench/sites';

export class StepRecorder {
  readonly commands: string[] = [];
  readonly outputs: string[] = [];
  lastCode: number | null | undefined;
  unknown = false;
  simulated = false;
  /** The SSH connection dropped and was re-established during this step. */
  reconnected = false;

  constructor(
    private readonly ctx: HostContext,
    readonly step: StepName,
  ) {}

  async run(
    argv: string[],
    opts: { mutates: boolean; timeoutSeconds?: number; stdin?: string; quiet?: boolean },
  ): Promise<CommandResult> {
    const c = this.ctx.customer;
    const cmd: RemoteCommand = {
      step: this.step,
      argv,
      cwd: hostPaths(c).dir,
      timeoutSeconds: opts.timeoutSeconds ?? c.timeouts.commandSeconds,
      mutates: opts.mutates,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    };
    this.commands.push(describeCommand(argv));
    const r = await this.ctx.exec.exec(cmd);
    if (r.simulated) this.simulated = true;
    if (r.reconnected) {
      this.reconnected = true;
      this.outputs.push('[SSH connection was lost and re-established during this step]');
    }
    this.lastCode = r.code;
    if (r.code === null && !r.simulated) this.unknown = true;
    if (!opts.quiet && !r.simulated) {
      const text = [r.stdout, r.stderr].filter((s) => s.trim()).join('\n');
      if (text) this.outputs.push(text);
    }
    return r;
  }
}

/** A readable one-line form of a command for reports (scripts shortened to their first line). */
export function describeCommand(argv: string[]): string {
  return joinArgv(
    argv.map((a, i) => (i > 0 && argv[i - 1] === '-c' && a.includes('\n') ? `<${/^#\s*(.+)$/m.exec(a)?.[1] ?? 'script'}>` : a)),
  );
}

export interface StepOutcome {
  status: StepStatus;
  message: string;
  exitCode?: number | null;
}

export class StepAbort extends Error {}

/** Run one step, turn it into a StepResult, report it. Exceptions become a failed step. */
export async function runStep<T extends StepOutcome>(
  ctx: HostContext,
  step: StepName,
  fn: (rec: StepRecorder) => Promise<T>,
): Promise<T & { result: StepResult }> {
  const startedAt = new Date();
  const rec = new StepRecorder(ctx, step);
  let outcome: T;
  try {
    if (ctx.signal?.aborted) throw new StepAbort('aborted before the step started');
    outcome = await fn(rec);
  } catch (e) {
    outcome = { status: 'failed', message: `${step}: ${(e as Error).message}` } as T;
  }
  if (rec.unknown && outcome.status === 'failed') {
    outcome = { ...outcome, status: 'unknown' };
  }
  const result: StepResult = {
    step,
    status: outcome.status,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    exitCode: outcome.exitCode !== undefined ? outcome.exitCode : rec.lastCode,
    message: outcome.message,
    ...(rec.outputs.length ? { output: trimOutput(rec.outputs.join('\n')) } : {}),
    ...(rec.commands.length ? { commands: rec.commands } : {}),
  };
  ctx.steps.push(result);
  ctx.onStep?.(result);
  return { ...outcome, result };
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
