// The fleetkeeper GitHub App, with every dependency injected (state store,
// host drivers, fleet functions, clock, notifier) so tests can run it against
// the GitHub stand-in and fake or testbed hosts. app.ts wires the real ones.
//
// Webhook handlers do only the quick part (create the check run, queue the
// job) and return; the slow part runs in the background, tracked so tests
// (and a graceful stop) can wait for it with `idle()`.
//
// A bake after an apply can last hours. It is kept in the state store as a
// pending bake (repo, installation, ring, tag, commit, check runs, until), so
// when the bot restarts, createApp resumes it with the time left, re-checks
// health and promotes (or marks the tag bad) exactly as if it had never
// stopped. One bake per repo and ring: a newer apply to the ring supersedes it.
import { randomBytes } from 'node:crypto';
import type { ApplicationFunctionOptions, Context, Probot } from 'probot';
import type { Customer, Fleet, FleetDiff, FleetError, FleetSource, LoadResult } from '../fleet/types.js';
import type { HostDriver } from '../host/types.js';
import { applyRollout } from '../rollout/apply.js';
import { bakeRing, type BakeClock } from '../rollout/bake.js';
import type { RolloutEvent } from '../rollout/events.js';
import { planRollout, type ConnectPolicy } from '../rollout/plan.js';
import { planPromotion, type SetTag } from '../rollout/promote.js';
import type { PendingBake, StateStore } from '../rollout/state.js';
import type { RingResult, RolloutResult } from '../rollout/types.js';
import { redact } from '../util/redact.js';
import { fleetErrorAnnotation, hostFailureAnnotation, type CheckAnnotation } from './annotations.js';
import { CheckRun, fitOutput, type CheckOutput, type CheckRunHandle } from './check-run.js';
import { BlobCache, FleetDirMissingError, GitHubFleetSource, normalizeDir } from './fleet-source.js';
import { KeyedQueue } from './keyed-queue.js';
import { APPLY_CHECK, BAKE_CHECK, PLAN_CHECK, RETRY_ACTION } from './limits.js';
import { code, duration, shortSha } from './markdown.js';
import { silentNotifier, type Notifier } from './notify.js';
import type { GitHubClient, RepoRef } from './octokit.js';
import { openPromotionPr, renderEvidence } from './promotion-pr.js';
import { FAILED_MARKER, failedHosts, planConclusion, ProgressView, renderInvalid, renderPlan, renderResult, resultConclusion } from './render.js';

export interface AppDeps {
  /** Fleet directory inside the repo; "" or "." = the repo root. */
  fleetDir: string;
  loadFleet(source: FleetSource): Promise<LoadResult>;
  diffFleets(base: Fleet, head: Fleet): FleetDiff;
  setTag: SetTag;
  /** Opened once, on first use. */
  state(): Promise<StateStore>;
  /** A driver that talks to real hosts (SSH). Plans use it read-only. */
  createDriver(): HostDriver;
  /** A driver that contacts nothing (fork PRs, PR-introduced addresses). */
  createOfflineDriver(): HostDriver;
  notifier?: Notifier;
  clock?: BakeClock;
  bakeIntervalSeconds?: number;
  /** Minimum time between two progress updates of a check run. */
  progressIntervalMs?: number;
  /** The app's slug; fetched from GET /app when not given. */
  appSlug?: string;
  now?: () => Date;
}

export type FleetkeeperApp = ((app: Probot, options?: ApplicationFunctionOptions) => void) & {
  /** Resolves when every background job started so far has finished. */
  idle(): Promise<void>;
  /**
   * Resumes the pending bakes in the state store (done once by itself when Probot
   * loads the app; calling it again starts nothing that already runs).
   */
  resumeBakes(): Promise<void>;
  /**
   * Stops running bakes without reporting anything, leaving them pending in the
   * state store for the next start to resume (what a crash or redeploy leaves).
   */
  stop(): Promise<void>;
};

const ZERO_SHA = /^0{40}$/;
type Log = Probot['log'];

export function createApp(deps: AppDeps): FleetkeeperApp {
  const fleetDir = normalizeDir(deps.fleetDir);
  const queue = new KeyedQueue();
  const jobs = new Set<Promise<unknown>>();
  const seenPushes = new Set<string>();
  /** Running bakes by repo and ring (bakeKey): a new apply to the ring interrupts its bake. */
  const bakes = new Map<string, { abort: AbortController; identity: string }>();
  /** Applies started per repo and ring: a bake started before the latest one is superseded. */
  const epochs = new Map<string, number>();
  /** Pending bakes being resumed right now (by id), so a second resume does not start them twice. */
  const resuming = new Set<string>();
  let stopped = false;
  let loaded: { resume(): Promise<void> } | undefined;
  const notifier = deps.notifier ?? silentNotifier;
  const now = deps.now ?? (() => new Date());
  const blobs = new BlobCache();
  let statePromise: Promise<StateStore> | undefined;
  const state = () => (statePromise ??= deps.state());

  function background(log: Log, what: string, job: () => Promise<unknown>): void {
    const p = job()
      .catch((e) => log.error({ err: redact(String((e as Error)?.stack ?? e)) }, `fleetkeeper: ${what} failed`))
      .finally(() => jobs.delete(p));
    jobs.add(p);
  }

  const appFn = (app: Probot) => {
    // Bakes that were running when the bot last stopped pick up where they were.
    if (!loaded) {
      loaded = { resume: () => resumeBakes(app, app.log) };
      background(app.log, 'resuming pending bakes', loaded.resume);
    }
    let slug: Promise<string> | undefined;
    const appSlug = () =>
      (slug ??= deps.appSlug
        ? Promise.resolve(deps.appSlug)
        : app
            .auth()
            .then((o) => o.rest.apps.getAuthenticated())
            .then((r) => r.data?.slug ?? 'fleetkeeper'));

    /** True for events the app caused itself (its own pushes, PRs, check runs). */
    async function isSelf(sender: { login?: string; type?: string } | null | undefined): Promise<boolean> {
      return !!sender && sender.type === 'Bot' && sender.login === `${await appSlug()}[bot]`;
    }

    // ------------------------------------------------------------ pull request
    app.on(['pull_request.opened', 'pull_request.synchronize', 'pull_request.reopened'], async (context) => {
      const { pull_request: pr, sender } = context.payload;
      if (await isSelf(sender)) {
        context.log.debug('ignoring pull_request caused by fleetkeeper itself');
        return;
      }
      const repo = context.repo();
      const sameRepo = !!pr.head.repo && pr.head.repo.full_name === pr.base.repo.full_name;
      const run = await CheckRun.start(context.octokit, repo, {
        name: PLAN_CHECK,
        headSha: pr.head.sha,
        output: { title: 'Planning…', summary: `Reading the fleet at ${code(shortSha(pr.head.sha))} and planning the change.` },
      });
      const notes = pr.base.ref === context.payload.repository.default_branch ? [] : [`This pull request targets ${code(pr.base.ref)}, not ${code(context.payload.repository.default_branch)}: merging it deploys nothing by itself.`];
      background(context.log, `plan for PR #${pr.number}`, () =>
        planChange(context.octokit, repo, run, { head: pr.head.sha, base: pr.base.sha, live: sameRepo, why: sameRepo ? undefined : 'this pull request comes from a fork', notes }, context.log),
      );
    });

    // -------------------------------------------------------------------- push
    app.on('push', async (context) => {
      const p = context.payload;
      const repo = context.repo();
      const defaultRef = `refs/heads/${p.repository.default_branch}`;
      if (p.ref !== defaultRef || p.deleted || ZERO_SHA.test(p.after)) return;
      if (await isSelf(p.sender)) {
        context.log.debug('ignoring push by fleetkeeper itself');
        return;
      }
      const key = `${p.repository.full_name}@${p.after}`;
      if (seenPushes.has(key)) {
        context.log.info(`push ${shortSha(p.after)} already handled (redelivery): ignored`);
        return;
      }
      remember(seenPushes, key);
      // Survives a restart: a commit that already has an apply run is not applied again.
      try {
        const { data: existing } = await context.octokit.rest.checks.listForRef({ ...repo, ref: p.after, check_name: APPLY_CHECK, per_page: 1 });
        if (existing.total_count > 0) {
          context.log.info(`push ${shortSha(p.after)} already has an apply check run: ignored`);
          return;
        }
      } catch (e) {
        seenPushes.delete(key); // let GitHub's redelivery try again
        throw e;
      }
      const repoKey = p.repository.full_name;
      const waiting = queue.pending(repoKey) > 0;
      const run = await CheckRun.start(context.octokit, repo, {
        name: APPLY_CHECK,
        headSha: p.after,
        status: waiting ? 'queued' : 'in_progress',
        minIntervalMs: deps.progressIntervalMs,
        output: waiting
          ? { title: 'Queued', summary: 'Another rollout of this repository is running; this commit is applied after it.' }
          : { title: 'Starting', summary: `Reading the fleet at ${code(shortSha(p.after))}.` },
      });
      const initial = ZERO_SHA.test(p.before);
      background(context.log, `apply of ${shortSha(p.after)}`, () =>
        queue.run(repoKey, () =>
          applyCommit(context.octokit, repo, run, { commit: p.after, before: initial ? undefined : p.before, defaultBranch: p.repository.default_branch, queued: waiting, installationId: p.installation?.id }, context.log),
        ),
      );
    });

    // --------------------------------------------------------------- check run
    app.on('check_run.requested_action', async (context) => {
      const { check_run: cr, requested_action: action, repository, sender } = context.payload;
      if (await isSelf(sender)) return;
      if (cr.name !== APPLY_CHECK || action?.identifier !== RETRY_ACTION.identifier) return;
      const ids = (FAILED_MARKER.exec(cr.output?.summary ?? '')?.[1] ?? '').split(',').filter(Boolean);
      await retry(context, repository.default_branch, cr.head_sha, ids, 'Retry failed');
    });

    app.on('check_run.rerequested', async (context) => {
      const { check_run: cr, repository, sender } = context.payload;
      if (await isSelf(sender)) return;
      const repo = context.repo();
      if (cr.name === PLAN_CHECK) {
        const pr = cr.pull_requests[0];
        // GitHub leaves fork PRs out of pull_requests: without one, plan offline against the default branch.
        const sameRepo = !!pr && pr.head.repo.id === pr.base.repo.id;
        const base = pr?.base.sha ?? repository.default_branch;
        const run = await CheckRun.start(context.octokit, repo, { name: PLAN_CHECK, headSha: cr.head_sha, output: { title: 'Planning…', summary: 'Re-planning on request.' } });
        background(context.log, `re-plan of ${shortSha(cr.head_sha)}`, () =>
          planChange(context.octokit, repo, run, { head: cr.head_sha, base, live: sameRepo, why: sameRepo ? undefined : 'the pull request is from a fork or unknown' }, context.log),
        );
      } else if (cr.name === APPLY_CHECK) {
        const ids = (FAILED_MARKER.exec(cr.output?.summary ?? '')?.[1] ?? '').split(',').filter(Boolean);
        await retry(context, repository.default_branch, cr.head_sha, ids, 'Re-run');
      }
    });

    async function retry(context: Context<'check_run'>, defaultBranch: string, commit: string, ids: string[], label: string) {
      const repo = context.repo();
      // Re-applying an old commit would undo newer changes: only the branch head may be applied.
      const { data: ref } = await context.octokit.rest.git.getRef({ ...repo, ref: `heads/${defaultBranch}` });
      if (ref.object.sha !== commit) {
        const run = await CheckRun.start(context.octokit, repo, { name: APPLY_CHECK, headSha: commit, output: { title: 'Checking…', summary: '' } });
        await run.complete('neutral', {
          title: `${label} refused: ${shortSha(commit)} is no longer the head of ${defaultBranch}`,
          summary: `${defaultBranch} is now at ${code(shortSha(ref.object.sha))}. Applying ${code(shortSha(commit))} again could undo newer changes; its apply check run is the one to look at.`,
        });
        return;
      }
      const repoKey = context.payload.repository.full_name;
      const waiting = queue.pending(repoKey) > 0;
      const run = await CheckRun.start(context.octokit, repo, {
        name: APPLY_CHECK,
        headSha: commit,
        status: waiting ? 'queued' : 'in_progress',
        minIntervalMs: deps.progressIntervalMs,
        output: { title: `${label}: starting`, summary: ids.length ? `Applying ${code(shortSha(commit))} again to ${ids.join(', ')}.` : `Applying ${code(shortSha(commit))} again.` },
      });
      background(context.log, `${label} of ${shortSha(commit)}`, () =>
        queue.run(repoKey, () => applyCommit(context.octokit, repo, run, { commit, retryIds: ids, defaultBranch, queued: waiting, installationId: context.payload.installation?.id }, context.log)),
      );
    }

    // ---------------------------------------------------------------- the work

    async function loadAt(octokit: GitHubClient, repo: RepoRef, commit: string): Promise<{ source: GitHubFleetSource; result: LoadResult }> {
      const source = await GitHubFleetSource.open(octokit, repo, commit, fleetDir, blobs);
      await source.prefetch();
      return { source, result: await deps.loadFleet(source) };
    }

    async function failInvalid(run: CheckRun, errors: FleetError[], warnings: FleetError[], where: string): Promise<void> {
      const annotations = [...errors, ...warnings].map((e) => fleetErrorAnnotation(e, fleetDir));
      await run.complete('failure', renderInvalid(errors, warnings, where), annotations);
    }

    async function planChange(
      octokit: GitHubClient,
      repo: RepoRef,
      run: CheckRun,
      opts: { head: string; base: string; live: boolean; why?: string; notes?: string[] },
      log: Log,
    ): Promise<void> {
      try {
        const { data: cmp } = await octokit.rest.repos.compareCommitsWithBasehead({ ...repo, basehead: `${opts.base}...${opts.head}`, per_page: 100 });
        const mergeBase = cmp.merge_base_commit.sha;
        const files = cmp.files ?? [];
        const prefix = fleetDir ? `${fleetDir}/` : '';
        const touches = files.length >= 300 || files.some((f) => f.filename.startsWith(prefix) || (f.previous_filename ?? '').startsWith(prefix));
        if (!touches) {
          await run.complete('neutral', { title: 'No fleet files changed', summary: `This change touches no file under ${code(fleetDir || '/')}: nothing to deploy.` });
          return;
        }
        const head = await loadAt(octokit, repo, opts.head);
        if (!head.result.ok) return failInvalid(run, head.result.errors, head.result.warnings, code(shortSha(opts.head)));
        const notes: string[] = [...(opts.notes ?? [])];
        const warnings = head.result.warnings.map((w) => fleetErrorAnnotation(w, fleetDir));
        let baseFleet: Fleet | undefined;
        let diff: FleetDiff | undefined;
        const baseSrc = await GitHubFleetSource.open(octokit, repo, mergeBase, fleetDir, blobs).catch((e) => {
          if (e instanceof FleetDirMissingError) return undefined;
          throw e;
        });
        if (baseSrc) {
          await baseSrc.prefetch();
          const b = await deps.loadFleet(baseSrc);
          if (b.ok) {
            baseFleet = b.fleet;
            diff = deps.diffFleets(b.fleet, head.result.fleet);
          } else notes.push(`The fleet files at the merge base ${code(shortSha(mergeBase))} are invalid, so every customer is planned as new.`);
        } else notes.push(`There is no fleet at the merge base ${code(shortSha(mergeBase))}: every customer is planned as new.`);
        if (cmp.behind_by > 0) notes.push(`This branch is ${cmp.behind_by} commit(s) behind its base: the plan shows this branch's own changes (since ${code(shortSha(mergeBase))}).`);

        // Live observation only of hosts as the base branch (its tip) describes them.
        let connectAs: ConnectPolicy = () => undefined;
        const offlineIds: string[] = [];
        if (opts.live) {
          let trusted = baseFleet;
          if (cmp.merge_base_commit.sha !== cmp.base_commit.sha) {
            const tip = await loadAt(octokit, repo, cmp.base_commit.sha).catch(() => undefined);
            trusted = tip?.result.ok ? tip.result.fleet : undefined;
          }
          connectAs = (c) => {
            const known = trusted?.customers[c.id];
            if (known && sameSsh(known, c)) return c;
            offlineIds.push(c.id);
            return undefined;
          };
        } else {
          notes.push(`Offline plan only: ${opts.why ?? 'live observation is off'}. No host was contacted.`);
        }
        const driver = opts.live ? deps.createDriver() : deps.createOfflineDriver();
        const offline = deps.createOfflineDriver();
        let plan;
        try {
          plan = await planRollout({
            base: baseFleet,
            head: head.result.fleet,
            diff,
            driver,
            offlineDriver: offline,
            connectAs,
            mode: opts.live ? 'live' : 'offline',
            runId: runId('plan'),
            commit: opts.head,
            baseLabel: shortSha(mergeBase),
            headLabel: shortSha(opts.head),
            state: await state(),
            now,
          });
        } finally {
          await Promise.allSettled([driver.close(), offline.close()]);
        }
        if (offlineIds.length) {
          notes.push(`Planned offline (not contacted): ${[...new Set(offlineIds)].sort().join(', ')} — new in this change or their SSH address, port, user or host key differ from the base branch.`);
        }
        await run.complete(planConclusion(plan), renderPlan(plan, { notes }), warnings);
      } catch (e) {
        await crashed(run, e, log);
      }
    }

    async function applyCommit(
      octokit: GitHubClient,
      repo: RepoRef,
      run: CheckRun,
      opts: { commit: string; before?: string; retryIds?: string[]; defaultBranch: string; queued: boolean; installationId?: number },
      log: Log,
    ): Promise<void> {
      try {
        if (opts.queued) await run.started({ title: 'Starting', summary: `Reading the fleet at ${code(shortSha(opts.commit))}.` });
        const head = await loadAt(octokit, repo, opts.commit);
        if (!head.result.ok) return failInvalid(run, head.result.errors, head.result.warnings, code(shortSha(opts.commit)));
        const fleet = head.result.fleet;
        const notes: string[] = [];
        let only: string[];
        if (opts.retryIds) {
          only = opts.retryIds.filter((id) => fleet.customers[id]);
          if (!opts.retryIds.length) {
            await run.complete('neutral', { title: 'Nothing to retry', summary: 'The apply check run recorded no failed host.' });
            return;
          }
          notes.push(`Retry of ${only.join(', ')}.`);
        } else if (!opts.before) {
          // First push of the repository: everything would look new. Deploying every host
          // because a repo was created is never what anyone wants: plan only, say so.
          const offline = deps.createOfflineDriver();
          const plan = await planRollout({ head: fleet, driver: offline, mode: 'offline', runId: runId('plan'), commit: opts.commit, headLabel: shortSha(opts.commit) }).finally(() => offline.close());
          const out = renderPlan(plan, {
            notes: ['This is the first push of the branch: nothing was applied. The hosts are only changed by later pushes that change their files (or run `fleetkeeper apply` by hand).'],
          });
          await run.complete('neutral', { ...out, title: `Initial push: nothing applied (${plan.summary.change} host(s) described)` });
          return;
        } else {
          const base = await loadAt(octokit, repo, opts.before).catch((e) => {
            if (e instanceof FleetDirMissingError) return undefined;
            throw e;
          });
          if (base?.result.ok) {
            const diff = deps.diffFleets(base.result.fleet, fleet);
            only = diff.changes.filter((c) => c.kind !== 'removed').map((c) => c.id);
          } else {
            only = Object.keys(fleet.customers);
            notes.push(`The fleet before this push (${code(shortSha(opts.before))}) could not be read or was invalid: every customer is reconciled (hosts already at their tag are left as they are).`);
          }
        }
        if (!only.length) {
          await run.complete('neutral', { title: 'No host changes', summary: `Commit ${code(shortSha(opts.commit))} changes no customer: nothing to apply.${notes.length ? '\n\n> ' + notes.join('\n> ') : ''}` });
          return;
        }

        // A change within one ring is baked after the apply, outside the repo's queue, so a
        // day-long bake does not hold up the next push. A change spanning rings bakes each
        // ring before the next one starts, inside the rollout.
        const ringsTouched = new Set(only.map((id) => fleet.customers[id]!.ring));
        const bakeInline = ringsTouched.size > 1;
        for (const r of ringsTouched) await supersedeBake(octokit, repo, r);
        const view = new ProgressView(opts.commit);
        const sink = (e: RolloutEvent) => {
          view.apply(e);
          run.progress(view.render());
          logEvent(log, `${repo.owner}/${repo.repo}@${shortSha(opts.commit)}`, e);
          void notifyEvent(e, repo, opts.commit, run.handle.html_url);
        };
        const driver = deps.createDriver();
        const store = await state();
        let result: RolloutResult;
        try {
          result = await applyRollout({
            fleet,
            driver,
            state: store,
            runId: runId('apply'),
            commit: opts.commit,
            only,
            sink,
            clock: deps.clock,
            bake: bakeInline,
            bakeIntervalSeconds: deps.bakeIntervalSeconds,
          });
        } finally {
          await driver.close().catch(() => {});
        }

        // Promotion: every ring that completed with a tag this rollout moved. With the bake
        // inline it has already passed; otherwise it runs now, outside the repo's queue.
        for (const rr of result.rings) {
          if (rr.status !== 'succeeded') continue;
          const tags = new Set(rr.hosts.filter((h) => h.outcome === 'upgraded').map((h) => h.toTag));
          for (const tag of tags) {
            const ctx: PromoteContext = { octokit, repo, fleet, source: head.source, rr, tag, commit: opts.commit, defaultBranch: opts.defaultBranch, applyRunUrl: run.handle.html_url, installationId: opts.installationId };
            if (bakeInline) notes.push(await promote(ctx, log));
            else {
              notes.push(`Ring ${rr.ring} now bakes ${code(tag)} for ${duration((fleet.rings[rr.ring]?.bakeSeconds ?? 0) * 1000)} (check run ${code(BAKE_CHECK)}); promotion follows if it stays healthy.`);
              background(log, `bake of ${rr.ring}`, () => bakeThenPromote(ctx, log));
            }
          }
        }

        const failed = failedHosts(result);
        const annotations: CheckAnnotation[] = failed.map((h) => {
          const c = fleet.customers[h.customerId];
          return hostFailureAnnotation(fleet, fleetDir, c?.file ?? `${h.customerId}.yml`, h.customerId, `${h.outcome}: ${h.message}`);
        });
        await run.complete(resultConclusion(result), renderResult(result, { commit: opts.commit, notes }), annotations, { retryButton: failed.length > 0 });
      } catch (e) {
        await crashed(run, e, log);
      }
    }

    interface PromoteContext {
      octokit: GitHubClient;
      repo: RepoRef;
      fleet: Fleet;
      source: GitHubFleetSource;
      rr: RingResult;
      tag: string;
      commit: string;
      defaultBranch: string;
      applyRunUrl: string | null;
      bake?: { seconds: number; healthy: boolean; reason?: string };
      /** Installation the webhook came from: needed to resume the bake after a restart. */
      installationId?: number;
    }

    /** Opens or updates the promotion PR when the rollout engine says the tag may move on; returns a note. */
    async function promote(c: PromoteContext, log: Log): Promise<string> {
      const store = await state();
      const decision = await planPromotion({ fleet: c.fleet, source: c.source, ring: c.rr.ring, tag: c.tag, state: store, setTag: deps.setTag });
      if (!decision.ok) return `No promotion from ${c.rr.ring}: ${decision.reason}.`;
      const p = decision.promotion;
      if (!p.autoPromote) return `Ring ${c.rr.ring} does not promote automatically: ${p.title} is left to an operator.`;
      const ring = c.fleet.rings[c.rr.ring]!;
      const pr = await openPromotionPr(c.octokit, c.repo, {
        promotion: p,
        baseCommit: c.commit,
        defaultBranch: c.defaultBranch,
        fleetDir,
        evidence: renderEvidence({ ring: c.rr, tag: c.tag, applyRunUrl: c.applyRunUrl, commit: c.commit, bake: c.bake ?? { seconds: ring.bakeSeconds, healthy: true }, now: now() }),
      });
      // The PR's own webhook comes from the app itself and is ignored: plan it here.
      const planRun = await CheckRun.start(c.octokit, c.repo, { name: PLAN_CHECK, headSha: pr.commit, output: { title: 'Planning…', summary: `Dry run of ${p.title}.` } });
      await planChange(c.octokit, c.repo, planRun, { head: pr.commit, base: c.commit, live: true }, log);
      return `${pr.created ? 'Opened' : 'Updated'} promotion PR [#${pr.number} ${p.title}](${pr.htmlUrl}).`;
    }

    /** A newer apply to `ring` starts: its running or pending bake is over. */
    async function supersedeBake(octokit: GitHubClient, repo: RepoRef, ring: string): Promise<void> {
      const key = bakeKey(repo, ring);
      epochs.set(key, (epochs.get(key) ?? 0) + 1);
      bakes.get(key)?.abort.abort();
      // A bake left pending by an earlier process (not resumed yet) must not resume after this apply.
      const store = await state();
      const pending = (await store.pendingBakes?.())?.find((b) => b.key === key);
      // (A running or resuming bake reports and forgets itself.)
      if (pending && !bakes.has(key) && !resuming.has(pending.id)) {
        await store.clearPendingBake?.(key, pending.id);
        if (pending.bakeRunId) {
          await octokit.rest.checks
            .update({ ...repo, check_run_id: pending.bakeRunId, status: 'completed', conclusion: 'cancelled', completed_at: new Date().toISOString(), output: fitOutput(supersededOutput(pending)) })
            .catch(() => {});
        }
      }
    }

    /** Resumes every pending bake of the state store (each once, in the background). */
    async function resumeBakes(app: Probot, log: Log): Promise<void> {
      // Taken before anything waits: an apply that starts from here on supersedes what is resumed.
      const epochAtStart = new Map(epochs);
      const store = await state();
      if (!store.pendingBakes) return;
      for (const b of await store.pendingBakes()) {
        const running = bakes.get(b.key);
        if (resuming.has(b.id) || (running && running.identity === bakeIdentity(b.commit, b.tag) && !running.abort.signal.aborted)) continue;
        resuming.add(b.id);
        background(log, `resumed bake of ${b.ring} in ${b.owner}/${b.repo}`, () => resumeBake(app, b, epochAtStart.get(b.key) ?? 0, log).finally(() => resuming.delete(b.id)));
      }
    }

    async function resumeBake(app: Probot, b: PendingBake, epoch: number, log: Log): Promise<void> {
      const store = await state();
      const repo: RepoRef = { owner: b.owner, repo: b.repo };
      const octokit = (await app.auth(b.installationId)) as GitHubClient;
      // The old run says whether the bake had in fact finished (a stop between its last
      // report and forgetting it) and is the one to continue when it still can be.
      let oldRun: CheckRunHandle | undefined;
      if (b.bakeRunId) {
        try {
          const { data } = await octokit.rest.checks.get({ ...repo, check_run_id: b.bakeRunId });
          if (data.status === 'completed') {
            log.info(`bake of ${b.ring} with ${b.tag} had already finished (${data.conclusion}): nothing to resume`);
            await store.clearPendingBake?.(b.key, b.id);
            return;
          }
          oldRun = { id: data.id, html_url: data.html_url ?? b.bakeRunUrl ?? null };
        } catch (e) {
          log.warn(`check run ${b.bakeRunId} of the bake of ${b.ring} cannot be read (${redact(String((e as Error)?.message ?? e))}): a new one is created`);
        }
      }
      const head = await loadAt(octokit, repo, b.commit);
      const ring = head.result.ok ? head.result.fleet.rings[b.ring] : undefined;
      if (!head.result.ok || !ring) {
        const run = await reportRun(octokit, repo, b, oldRun, log);
        await run.complete('failure', {
          title: `Bake of ${b.ring} could not be resumed`,
          summary: `After a restart, the fleet at ${code(shortSha(b.commit))} ${head.result.ok ? `has no ring ${code(b.ring)}` : 'is invalid'}, so the bake of ${code(b.tag)} cannot continue and nothing is promoted. Apply the ring again to bake it.`,
        });
        await store.clearPendingBake?.(b.key, b.id);
        return;
      }
      const rr = (b.ringResult as RingResult | undefined) ?? { ring: b.ring, status: 'succeeded', hosts: [], skipped: [] };
      await bakeThenPromote(
        { octokit, repo, fleet: head.result.fleet, source: head.source, rr, tag: b.tag, commit: b.commit, defaultBranch: b.defaultBranch, applyRunUrl: b.applyRunUrl, installationId: b.installationId },
        log,
        { pending: b, oldRun, epoch },
      );
    }

    /** The check run of a resumed bake: the old one continued, or a new one saying why. */
    async function reportRun(octokit: GitHubClient, repo: RepoRef, b: PendingBake, oldRun: CheckRunHandle | undefined, log: Log, output?: CheckOutput): Promise<CheckRun> {
      const out = output ?? { title: `Resuming the bake of ${b.ring}`, summary: `fleetkeeper restarted while ring **${b.ring}** was baking ${code(b.tag)}.` };
      if (oldRun) {
        try {
          return await CheckRun.resume(octokit, repo, oldRun, { output: out, minIntervalMs: deps.progressIntervalMs });
        } catch (e) {
          log.warn(`check run ${oldRun.id} of the bake of ${b.ring} cannot be updated (${redact(String((e as Error)?.message ?? e))}): a new one is created`);
        }
      }
      const earlier = b.bakeRunId ? ` The earlier check run (${b.bakeRunUrl ? `[${b.bakeRunId}](${b.bakeRunUrl})` : b.bakeRunId}) could not be updated.` : '';
      return CheckRun.start(octokit, repo, { name: BAKE_CHECK, headSha: b.commit, minIntervalMs: deps.progressIntervalMs, output: { title: `${out.title} (resumed after a restart)`, summary: `${out.summary}${earlier}` } });
    }

    /**
     * Bake of one ring after its apply, with its own check run; promotion when it passes.
     * `resumed`: the same, continuing a pending bake after a restart.
     */
    async function bakeThenPromote(c: PromoteContext, log: Log, resumed?: { pending: PendingBake; oldRun?: CheckRunHandle; epoch: number }): Promise<void> {
      const ring = c.fleet.rings[c.rr.ring]!;
      const key = bakeKey(c.repo, ring.name);
      const identity = bakeIdentity(c.commit, c.tag);
      const running = bakes.get(key);
      if (running && running.identity === identity && !running.abort.signal.aborted) {
        log.info(`bake of ${ring.name} with ${c.tag} at ${shortSha(c.commit)} already runs: not started twice`);
        return;
      }
      const store = await state();
      if (resumed && (epochs.get(key) ?? 0) !== resumed.epoch) {
        // A newer apply to the ring started while this one was being resumed.
        await store.clearPendingBake?.(key, resumed.pending.id);
        const run = await reportRun(c.octokit, c.repo, resumed.pending, resumed.oldRun, log);
        await run.complete('cancelled', supersededOutput(resumed.pending));
        return;
      }
      const abort = new AbortController();
      bakes.get(key)?.abort.abort();
      const mine = { abort, identity };
      bakes.set(key, mine);
      const driver = deps.createDriver();
      let run: CheckRun | undefined;
      let keepPending = false;
      const completion = await store.getRingCompletion(ring.name, c.tag);
      const startedAt = completion?.completedAt ?? (deps.clock?.now() ?? now()).toISOString();
      const until = new Date(new Date(startedAt).getTime() + ring.bakeSeconds * 1000).toISOString();
      const pending: PendingBake | undefined =
        resumed?.pending ??
        (c.installationId !== undefined
          ? {
              key,
              id: `${identity}:${randomBytes(4).toString('hex')}`,
              owner: c.repo.owner,
              repo: c.repo.repo,
              installationId: c.installationId,
              defaultBranch: c.defaultBranch,
              ring: ring.name,
              tag: c.tag,
              commit: c.commit,
              applyRunUrl: c.applyRunUrl,
              startedAt,
              until,
              ringResult: evidenceOnly(c.rr),
            }
          : undefined);
      if (!pending) log.warn(`bake of ${ring.name}: no installation id, so it cannot be resumed after a restart`);
      try {
        const intro = `Ring **${ring.name}** must stay healthy with ${code(c.tag)} for ${duration(ring.bakeSeconds * 1000)} before it is promoted.`;
        if (resumed) {
          run = await reportRun(c.octokit, c.repo, resumed.pending, resumed.oldRun, log, {
            title: `Baking ${c.tag} in ${ring.name}`,
            summary: `${intro}\n\nResumed after a restart of fleetkeeper at ${(deps.clock?.now() ?? now()).toISOString()}; baking until ${until}.`,
          });
        } else {
          run = await CheckRun.start(c.octokit, c.repo, {
            name: BAKE_CHECK,
            headSha: c.commit,
            minIntervalMs: deps.progressIntervalMs,
            output: { title: `Baking ${c.tag} in ${ring.name}`, summary: intro },
          });
        }
        if (pending && store.savePendingBake && !abort.signal.aborted) {
          await store.savePendingBake({ ...pending, until, bakeRunId: run.handle.id, bakeRunUrl: run.handle.html_url });
        }
        const customers = Object.values(c.fleet.customers).filter((x) => x.ring === ring.name && x.image.tag === c.tag && !x.hold);
        const rounds: string[] = resumed ? [`Resumed after a restart; baking until ${until}.`] : [];
        const outcome = await bakeRing({
          ring,
          tag: c.tag,
          customers,
          driver,
          state: store,
          signal: abort.signal,
          clock: deps.clock,
          intervalSeconds: deps.bakeIntervalSeconds,
          sink: (e) => {
            if (e.type === 'bake-started') rounds.push(`Baking until ${e.until}.`);
            if (e.type === 'tag-marked-bad') rounds.push(`Tag ${code(e.tag)} marked bad: ${e.reason}`);
            void notifyEvent(e, c.repo, c.commit, run?.handle.html_url ?? null);
          },
        });
        // Aborted while its last health round ran, bakeRing may still say healthy: a newer
        // apply (or a shutdown) has taken over the ring all the same.
        const interrupted = abort.signal.aborted;
        if (stopped && interrupted) {
          // Shutting down: say nothing, keep it pending; the next start resumes it.
          keepPending = true;
          return;
        }
        const hosts = customers.map((x) => x.id).join(', ');
        if (!outcome.healthy || interrupted) {
          await notifier.send(`fleetkeeper: bake of ring ${ring.name} with ${c.tag} ${interrupted ? 'was interrupted by a newer apply' : 'FAILED'}: ${outcome.reason ?? 'unhealthy'} (${c.repo.owner}/${c.repo.repo}@${shortSha(c.commit)})`);
          await run.complete(interrupted ? 'cancelled' : 'failure', {
            title: interrupted ? `Bake of ${ring.name} interrupted by a newer apply` : `Bake of ${ring.name} failed: ${c.tag} is not promoted`,
            summary: `${interrupted ? `A newer apply to ring ${ring.name} started; its own bake decides about promotion.` : (outcome.reason ?? 'unhealthy')}\n\nHosts: ${hosts}.\n\n${rounds.join('\n\n')}`,
          });
          return;
        }
        const note = await promote({ ...c, bake: { seconds: ring.bakeSeconds, healthy: true } }, log);
        await run.complete('success', {
          title: `${ring.name} stayed healthy with ${c.tag}`,
          summary: `Ring **${ring.name}** (${hosts}) stayed healthy with ${code(c.tag)} for ${duration(ring.bakeSeconds * 1000)} (${outcome.rounds} health round(s)${resumed ? ', resumed after a restart' : ''}).\n\n${note}`,
        });
      } catch (e) {
        if (stopped) keepPending = true;
        else if (run) await crashed(run, e, log);
        else throw e;
      } finally {
        if (bakes.get(key) === mine) bakes.delete(key);
        if (pending && !keepPending) await store.clearPendingBake?.(key, pending.id);
        await driver.close().catch(() => {});
      }
    }

    async function notifyEvent(e: RolloutEvent, repo: RepoRef, commit: string, url: string | null) {
      const where = `${repo.owner}/${repo.repo}@${shortSha(commit)}`;
      const link = url ? ` <${url}|check run>` : '';
      if (e.type === 'ring-finished' && e.status !== 'skipped') {
        await notifier.send(`fleetkeeper: ring ${e.ring} ${e.status}${e.reason ? ` — ${e.reason}` : ''} (${where})${link}`);
      } else if (e.type === 'host-finished' && (e.result.outcome === 'rolled-back' || e.result.outcome === 'rollback-failed')) {
        await notifier.send(`fleetkeeper: ${e.result.customerId} ${e.result.outcome === 'rolled-back' ? 'was rolled back' : 'ROLLBACK FAILED — host needs attention'}: ${e.result.message} (${where})${link}`);
      }
    }

    async function crashed(run: CheckRun, e: unknown, log: Log): Promise<void> {
      const msg = redact(e instanceof Error ? e.message : String(e));
      log.error({ err: redact(String((e as Error)?.stack ?? e)) }, 'fleetkeeper job failed');
      const out: CheckOutput = { title: 'fleetkeeper could not finish', summary: `fleetkeeper stopped with an error: ${msg}\n\nNo further host was started. See the app's log for details.` };
      await run.complete('failure', out).catch((err) => log.error({ err: redact(String(err)) }, 'could not complete the check run'));
    }
  };

  async function idle() {
    while (jobs.size) await Promise.allSettled([...jobs]);
    await queue.idle();
  }

  return Object.assign(appFn, {
    idle,
    async resumeBakes() {
      if (!loaded) throw new Error('the app is not loaded into Probot yet');
      await loaded.resume();
    },
    async stop() {
      stopped = true;
      for (const b of bakes.values()) b.abort.abort();
      await idle();
    },
  });
}

/** Remembers recent keys only (redeliveries come within hours, not forever). */
function remember(set: Set<string>, key: string, max = 2000): void {
  set.add(key);
  if (set.size > max) set.delete(set.values().next().value as string);
}

function bakeKey(repo: RepoRef, ring: string): string {
  return `${repo.owner}/${repo.repo}:${ring}`;
}

/** Same commit and tag in the same ring: the same bake. */
function bakeIdentity(commit: string, tag: string): string {
  return `${commit}:${tag}`;
}

function supersededOutput(b: PendingBake): CheckOutput {
  return { title: `Bake of ${b.ring} superseded by a newer apply`, summary: `A newer apply to ring **${b.ring}** started, so this bake of ${code(b.tag)} (from ${code(shortSha(b.commit))}) stops; the newer apply's bake decides about promotion.` };
}

/** What the promotion PR's evidence needs from a ring's result (no observations, no file diffs). */
function evidenceOnly(rr: RingResult): RingResult {
  return {
    ring: rr.ring,
    status: rr.status,
    ...(rr.reason ? { reason: rr.reason } : {}),
    hosts: rr.hosts.map((h) => ({
      customerId: h.customerId,
      target: h.target,
      ...(h.fromTag ? { fromTag: h.fromTag } : {}),
      toTag: h.toTag,
      outcome: h.outcome,
      message: h.message,
      steps: h.steps.filter((st) => st.step === 'health'),
      startedAt: h.startedAt,
      durationMs: h.durationMs,
    })),
    skipped: rr.skipped,
  };
}

function sameSsh(a: Customer, b: Customer): boolean {
  return a.ssh.host === b.ssh.host && a.ssh.port === b.ssh.port && a.ssh.user === b.ssh.user && a.ssh.hostKey === b.ssh.hostKey;
}

function runId(kind: string): string {
  return `${kind}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * The bot's own log is what an operator reads when GitHub is unreachable: one
 * line per host outcome and per ring, never step output (that may hold data
 * from the host; the check run carries it, masked).
 */
function logEvent(log: Pick<Console, 'info' | 'warn' | 'error'>, where: string, e: RolloutEvent): void {
  switch (e.type) {
    case 'rollout-started':
      log.info(`${where}: rollout ${e.runId} started: ${e.hosts} host(s) in ${e.rings.join(', ')}`);
      break;
    case 'host-finished': {
      const r = e.result;
      const line = `${where}: [${e.ring}] ${r.customerId} ${r.fromTag ?? '?'} -> ${r.toTag}: ${r.outcome} — ${redact(r.message)}`;
      if (r.outcome === 'rollback-failed') log.error(line);
      else if (r.outcome === 'upgraded' || r.outcome === 'unchanged') log.info(line);
      else log.warn(line);
      break;
    }
    case 'host-skipped':
      log.info(`${where}: [${e.ring}] ${e.customerId} not started: ${e.reason}`);
      break;
    case 'budget-exceeded':
      log.warn(`${where}: [${e.ring}] failure budget spent (${e.failures} > ${e.budget}): no new host starts`);
      break;
    case 'ring-finished':
      log.info(`${where}: ring ${e.ring} ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
      break;
    case 'tag-marked-bad':
      log.warn(`${where}: tag ${e.tag} marked bad: ${e.reason}`);
      break;
    case 'rollout-finished':
      log.info(`${where}: rollout ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
      break;
  }
}
