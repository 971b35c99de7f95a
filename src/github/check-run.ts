// One check run, from "in progress" to its conclusion. Progress updates are
// throttled (at most one per `minIntervalMs`, the latest wins, the final one
// is always sent); annotations go out 50 per request; every text is fitted
// into GitHub's limits and masked for secrets before it leaves the process.
import { batches, type CheckAnnotation } from './annotations.js';
import { CHECK_TITLE_MAX, RETRY_ACTION } from './limits.js';
import { fitMarkdown } from './markdown.js';
import type { GitHubClient, RepoRef } from './octokit.js';
import { redact } from '../util/redact.js';

export type Conclusion = 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required';

export interface CheckOutput {
  title: string;
  summary: string;
  text?: string;
}

export interface CheckRunHandle {
  id: number;
  html_url: string | null;
}

const TRUNCATION_NOTE = 'Run `fleetkeeper plan` (or `fleetkeeper apply` for results) on a checkout for everything.';

export function fitOutput(o: CheckOutput): CheckOutput {
  const title = redact(o.title);
  return {
    title: title.length > CHECK_TITLE_MAX ? title.slice(0, CHECK_TITLE_MAX - 1) + '…' : title,
    summary: fitMarkdown(redact(o.summary), TRUNCATION_NOTE),
    ...(o.text !== undefined ? { text: fitMarkdown(redact(o.text), TRUNCATION_NOTE) } : {}),
  };
}

export class CheckRun {
  private lastSent = 0;
  private pending?: CheckOutput;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private completed = false;
  /** Number of writes sent to GitHub (create + updates), for logs and tests. */
  writes = 0;

  private constructor(
    private readonly octokit: GitHubClient,
    private readonly repo: RepoRef,
    readonly handle: CheckRunHandle,
    private readonly minIntervalMs: number,
    private readonly now: () => number,
  ) {}

  /** Creates the run at once, `in_progress` (or `queued`), before any slow work. */
  static async start(
    octokit: GitHubClient,
    repo: RepoRef,
    opts: { name: string; headSha: string; output: CheckOutput; status?: 'in_progress' | 'queued'; minIntervalMs?: number; now?: () => number; externalId?: string },
  ): Promise<CheckRun> {
    const now = opts.now ?? Date.now;
    const { data } = await octokit.rest.checks.create({
      ...repo,
      name: opts.name,
      head_sha: opts.headSha,
      status: opts.status ?? 'in_progress',
      ...(opts.status === 'queued' ? {} : { started_at: new Date(now()).toISOString() }),
      ...(opts.externalId ? { external_id: opts.externalId } : {}),
      output: fitOutput(opts.output),
    });
    const run = new CheckRun(octokit, repo, { id: data.id, html_url: data.html_url ?? null }, opts.minIntervalMs ?? 3000, now);
    run.writes = 1;
    run.lastSent = now();
    return run;
  }

  /**
   * Takes over a run created earlier (by a process that has since restarted): one
   * update puts it back in progress with `output`. Throws when GitHub refuses it
   * (run deleted, no access), so the caller can start a new run instead.
   */
  static async resume(
    octokit: GitHubClient,
    repo: RepoRef,
    handle: CheckRunHandle,
    opts: { output: CheckOutput; minIntervalMs?: number; now?: () => number },
  ): Promise<CheckRun> {
    const run = new CheckRun(octokit, repo, handle, opts.minIntervalMs ?? 3000, opts.now ?? Date.now);
    await run.send({ status: 'in_progress', output: fitOutput(opts.output) });
    return run;
  }

  get id(): number {
    return this.handle.id;
  }

  /** Marks a queued run as started. */
  started(output: CheckOutput): Promise<void> {
    return this.send({ status: 'in_progress', started_at: new Date(this.now()).toISOString(), output: fitOutput(output) });
  }

  /** Throttled progress: sent now if the last write is old enough, else once the interval has passed (latest output wins). */
  progress(output: CheckOutput): void {
    if (this.completed) return;
    this.pending = output;
    if (this.timer) return;
    const wait = Math.max(0, this.lastSent + this.minIntervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const out = this.pending;
      this.pending = undefined;
      if (out && !this.completed) void this.send({ output: fitOutput(out) }).catch(() => {});
    }, wait);
  }

  /** Final write(s): annotations in batches of 50, the last batch with the conclusion. Always sent. */
  async complete(conclusion: Conclusion, output: CheckOutput, annotations: CheckAnnotation[] = [], opts: { retryButton?: boolean } = {}): Promise<void> {
    this.completed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    const out = fitOutput(output);
    const groups = batches(annotations);
    for (let i = 0; i < groups.length - 1; i++) {
      await this.send({ output: { ...out, annotations: groups[i] } });
    }
    await this.send({
      status: 'completed',
      conclusion,
      completed_at: new Date(this.now()).toISOString(),
      output: { ...out, ...(groups.length ? { annotations: groups[groups.length - 1] } : {}) },
      ...(opts.retryButton ? { actions: [{ ...RETRY_ACTION }] } : {}),
    });
  }

  private send(body: Record<string, unknown>): Promise<void> {
    const next = this.chain.then(async () => {
      this.lastSent = this.now();
      this.writes++;
      await this.octokit.rest.checks.update({ ...this.repo, check_run_id: this.handle.id, ...body });
    });
    // A failed progress update must not block the final one.
    this.chain = next.catch(() => {});
    return next;
  }
}
