// `npm run demo`: fleetkeeper doing its real job on a local sandbox.
//
// One simulated host per customer of the example fleet (real sshd, Docker,
// Compose, registry), the GitHub stand-in serving a fleet repo built from
// fleet/, and the real app started as in production (`probot run`, pointed
// at the stand-in over HTTP). The demo then acts as the operator and as
// GitHub's webhook delivery: it opens a PR bumping the canary ring, merges
// it, waits for the bot's promotion PR and merges that too. Everything it
// shows about check runs and the bot's PRs is what the app sent; host state
// is read from the hosts themselves.
//
//   npm run demo [-- --keep] [-- --timeout-minutes N] [-- --rebuild] [-- --out DIR]
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setCustomerTag } from '../src/fleet/index.js';
import { APPLY_CHECK, BAKE_CHECK, PLAN_CHECK } from '../src/github/limits.js';
import { GitRepo } from '../test/github/standin/git-repo.js';
import { GitHubStandin, type StoredCheckRun, type StoredPull } from '../test/github/standin/server.js';
import { ensureSystem, startTestbed, stopTestbedByName, TAGS, type Testbed } from '../test/testbed/index.js';
import { AppProcess, freePort, ROOT } from './app-process.js';
import { buildDemoFleet, checkDemoFleet, demoReadme, readExampleFleet, type ExampleFleet } from './fleet-repo.js';
import { diffOf, recordOf, renderPage, type StoryEntry } from './html.js';
import { block, bold, cyan, dim, green, heading, ok, red, say, warn, yellow } from './term.js';
import { OPERATOR, Webhooks, type Person } from './webhooks.js';

const { values: opts } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    'timeout-minutes': { type: 'string', default: '40' },
    rebuild: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'demo-output') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(`npm run demo [-- --keep] [-- --timeout-minutes N] [-- --rebuild] [-- --out DIR]

  --keep              leave the sandbox (hosts, GitHub stand-in, app) running until Ctrl-C
  --timeout-minutes   give up (and tear down) after this long (default 40)
  --rebuild           run \`npm run build\` even if dist/ looks current
  --out DIR           where the HTML page and the app's log go (default demo-output/)`);
  process.exit(0);
}

const TOTAL = 8;
const timeoutMs = Number(opts['timeout-minutes']) * 60_000;
const deadline = Date.now() + timeoutMs;
const outDir = resolve(opts.out!);
const OWNER = 'acme-ops';
const REPO = 'erp-fleet';
const APP_ID = 424242;

// Everything that must be torn down, filled in as it comes up.
const sandbox: {
  testbedName?: string;
  tb?: Testbed;
  standin?: GitHubStandin;
  app?: AppProcess;
  work?: string;
  git?: GitRepo;
} = {};
const story: StoryEntry[] = [];
let current = 'starting';

class DemoError extends Error {}

// ------------------------------------------------------------------ helpers

function remaining(): number {
  return deadline - Date.now();
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms: number, everyMs = 500): Promise<T> {
  const end = Math.min(Date.now() + ms, deadline);
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (sandbox.app?.exited) throw new DemoError(`the app exited while waiting for ${what}`);
    if (Date.now() > end) throw new DemoError(`timed out waiting for ${what} (${Math.round(ms / 1000)} s${Date.now() >= deadline ? ', the overall --timeout-minutes' : ''})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function sh(cmd: string, args: string[], cwd = ROOT, inherit = false): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new DemoError(`${cmd} ${args.join(' ')} exited ${code}\n${out.trim().split('\n').slice(-30).join('\n')}`))));
  });
}

function has(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

/** Adds an operator's PR to the stand-in's store, numbered like GitHub numbers PRs (the app's come after). */
function addOperatorPull(standin: GitHubStandin, title: string, body: string, head: string): StoredPull {
  // The stand-in numbers the PRs the app creates; an operator's PR takes the next number the same way.
  const counter = standin as unknown as { nextPull: number; nextPullId: number };
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const pr: StoredPull = { id: counter.nextPullId++, number: counter.nextPull++, title, body, head, base: standin.defaultBranch, state: 'open', created_at: now, updated_at: now };
  standin.pulls.set(pr.number, pr);
  return pr;
}

function firstSummaryLine(md: string | null | undefined): string {
  return (md ?? '').split('\n').map((l) => l.replace(/<!--.*?-->/g, '').replace(/^#+\s*/, '').trim()).find(Boolean) ?? '';
}

/** "customer: last step" for each host the progress table shows as running. */
function runningHosts(summary: string): string[] {
  const out: string[] = [];
  for (const line of summary.split('\n')) {
    if (!line.startsWith('|') || !line.includes('running')) continue;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim().replace(/`/g, ''));
    // | Ring | Customer | Tag | State | Last step |
    const [, , customer, tag, state, step] = cells;
    if (!state?.includes('running')) continue;
    const text = `${customer} ${tag}${step ? ` — ${step}` : ''}`;
    out.push(text.length > 140 ? `${text.slice(0, 139)}…` : text);
  }
  return out;
}

function conclusionText(run: StoredCheckRun, width = 0): string {
  const c = run.conclusion ?? run.status;
  const paint = c === 'success' ? green : c === 'failure' ? red : yellow;
  return paint(bold(c.padEnd(width)));
}

async function hostLine(tb: Testbed, hostId: string): Promise<{ tag: string; running: string; db: string; ping: string }> {
  const [tag, running, db, ping] = await Promise.all([
    tb.envTag(hostId).catch(() => '?'),
    tb.runningTag(hostId).catch(() => undefined),
    tb.dbVersion(hostId).catch(() => '?'),
    tb.ping(hostId, 5000).then(
      (r) => (r.status === 200 && r.body.includes('pong') ? 'pong' : `HTTP ${r.status}`),
      (e: Error) => `no answer (${e.message})`,
    ),
  ]);
  return { tag, running: running ?? 'not running', db: db || '-', ping };
}

// ------------------------------------------------------------------ steps

async function prerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new DemoError('the demo must run as root: it starts dockerd, a registry and one sshd per simulated host, and creates their deploy users (try: sudo npm run demo)');
  }
  ok('running as root');
  const missing = [
    !has('dockerd') && 'dockerd',
    !existsSync('/usr/sbin/sshd') && 'sshd (openssh-server)',
    !existsSync('/usr/bin/docker-registry') && 'docker-registry',
    !has('docker', ['compose', 'version']) && 'Docker Compose v2',
    !existsSync('/bin/busybox') && 'busybox-static',
  ].filter(Boolean);
  if (missing.length) {
    say(`missing: ${missing.join(', ')} — installing with ${bold('bash .ci/install-system.sh')} (apt; takes a few minutes)`);
    await sh('bash', [join(ROOT, '.ci/install-system.sh')], ROOT, true);
    ok('system packages installed');
  } else ok('Docker engine, Compose v2, registry, sshd and busybox are installed');
  say(`starting dockerd and the registry on 127.0.0.1:5000 if needed (${dim('bash test/testbed/system.sh start')})`);
  await ensureSystem();
  ok('dockerd and the registry are up; stand-in ERPNext images are in the registry');
}

async function build(): Promise<string> {
  const dist = join(ROOT, 'dist/github/app.js');
  const stale = !existsSync(dist) || newestMtime(join(ROOT, 'src')) > statSync(dist).mtimeMs;
  if (!stale && !opts.rebuild) return 'dist/ is current (no file in src/ is newer)';
  await sh('npm', ['run', '--silent', 'build']);
  return 'built dist/ (npm run build)';
}

async function bringUpTestbed(example: ExampleFleet): Promise<Testbed> {
  const known = new Set<string>([...TAGS.good, TAGS.unhealthy, TAGS.migrateFails, TAGS.badBackup, TAGS.slowMigrate]);
  const initialTags: Record<number, string> = {};
  example.ids.forEach((id, i) => {
    const tag = example.fleet.customers[id]!.image.tag;
    if (!known.has(tag)) throw new DemoError(`fleet/customers: ${id} wants ${tag}, which the testbed has no stand-in image for (it has ${[...known].join(', ')})`);
    initialTags[i] = tag;
  });
  sandbox.testbedName = `demo-${randomBytes(3).toString('hex')}`;
  say(`starting testbed ${bold(sandbox.testbedName)}: ${example.ids.length} hosts, each running the tag its customer file names (takes a minute or two)`);
  const tb = await startTestbed({ name: sandbox.testbedName, hosts: example.ids.length, initialTags, concurrency: 4, log: (l) => say(dim(l)) });
  sandbox.tb = tb;
  return tb;
}

async function main(): Promise<void> {
  console.log(bold('fleetkeeper demo') + dim(` — the real app, real SSH and Docker hosts, a GitHub stand-in; everything local (timeout ${opts['timeout-minutes']} min)`));

  // 1 ---------------------------------------------------------------------
  heading(1, TOTAL, 'Prerequisites');
  current = 'prerequisites';
  await prerequisites();
  const example = await readExampleFleet();
  ok(`example fleet fleet/: ${example.ids.length} customers, rings ${example.fleet.ringOrder.join(' → ')}`);

  // 2 ---------------------------------------------------------------------
  heading(2, TOTAL, `Sandbox: ${example.ids.length} simulated customer hosts`);
  current = 'build and testbed';
  const building = build();
  building.catch(() => {}); // awaited below; a failure is reported there
  say(`building the app (npm run build) while the hosts come up`);
  const tb = await bringUpTestbed(example);
  ok(await building);
  for (const [i, id] of example.ids.entries()) {
    const h = tb.hosts[i]!;
    const c = example.fleet.customers[id]!;
    say(`${dim(h.id)} ${id.padEnd(22)} ${c.ring.padEnd(7)} ${h.user}@${h.address}  ${h.initialTag}`);
  }

  // 3 ---------------------------------------------------------------------
  heading(3, TOTAL, 'Fleet repo built from fleet/');
  current = 'fleet repo';
  sandbox.work = mkdtempSync(join(tmpdir(), 'fk-demo-'));
  const demo = buildDemoFleet(example, tb);
  const files = { ...demo.files, 'README.md': demoReadme(example, demo, tb) };
  const git = new GitRepo(join(sandbox.work, 'repo'));
  sandbox.git = git;
  const base = git.commit('main', files, 'Fleet: the example fleet, pointed at the demo testbed');
  const fleet = await checkDemoFleet(git.dir);
  ok(`git repo ${git.dir}, branch main at ${base.slice(0, 7)} (valid: ${Object.keys(fleet.customers).length} customers)`);
  const fields = [...new Set(demo.rewrites.map((r) => r.field))];
  say(`rewritten for the testbed (see the repo's README.md): ${fields.join(', ')}`);
  for (const r of fleet.ringOrder.map((n) => fleet.rings[n]!)) {
    say(`ring ${bold(r.name.padEnd(6))} ${Object.values(fleet.customers).filter((c) => c.ring === r.name).length} customers, concurrency ${r.concurrency}, bake ${r.bakeSeconds}s${r.next ? `, next ${r.next}${r.autoPromote ? ' (promotion PR opened automatically)' : ' (promoted by hand)'}` : ''}`);
  }

  // 4 ---------------------------------------------------------------------
  heading(4, TOTAL, 'GitHub stand-in and the app (probot run)');
  current = 'GitHub stand-in and app';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const standin = await new GitHubStandin({ appId: APP_ID, appPublicKey: publicKey, owner: OWNER, repo: REPO, defaultBranch: 'main', installationId: 1, git }).start();
  sandbox.standin = standin;
  ok(`GitHub stand-in on ${standin.url} serving ${standin.fullName} (every request checked against @octokit/openapi ${standin.openapiVersion})`);
  const port = await freePort();
  const secret = randomBytes(20).toString('hex');
  const stateDir = join(sandbox.work, 'state');
  mkdirSync(stateDir);
  mkdirSync(outDir, { recursive: true });
  const logFile = join(outDir, 'app.log');
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    APP_ID: String(APP_ID),
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: secret,
    GHE_HOST: standin.host,
    GHE_PROTOCOL: 'http',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath,
    FLEETKEEPER_STATE_DIR: stateDir,
    FLEETKEEPER_PROGRESS_SECONDS: '2',
  };
  say(`${dim('$')} probot run ./dist/github/app.js   ${dim(`with APP_ID=${APP_ID} PRIVATE_KEY=(throwaway RSA key) WEBHOOK_SECRET=(random) GHE_HOST=${standin.host} GHE_PROTOCOL=http PORT=${port}`)}`);
  say(`                                      ${dim(`FLEETKEEPER_SSH_KEY_FILE=${tb.privateKeyPath} FLEETKEEPER_STATE_DIR=${stateDir}`)}`);
  const app = new AppProcess({ env, cwd: sandbox.work, logFile });
  sandbox.app = app;
  await app.waitListening(Math.min(120_000, remaining()));
  const webhookUrl = `http://127.0.0.1:${port}/api/github/webhooks`;
  ok(`app listening; webhooks go to ${webhookUrl} (log: ${relative(process.cwd(), logFile) || logFile})`);
  const hooks = new Webhooks(standin, webhookUrl, secret);

  const canary = fleet.ringOrder[0]!;
  const canaryIds = Object.values(fleet.customers).filter((c) => c.ring === canary).map((c) => c.id).sort();
  const target = TAGS.good[TAGS.good.length - 1]!;
  if (canaryIds.some((id) => fleet.customers[id]!.image.tag === target)) throw new DemoError(`the ${canary} ring already runs ${target}: nothing to demonstrate`);

  // 5 ---------------------------------------------------------------------
  heading(5, TOTAL, `Pull request: ${canary} ring → ${target}`);
  current = 'plan check run of the operator PR';
  const branch = `bump-${canary}-${target}`;
  git.branch(branch, 'main');
  const edits: Record<string, string> = {};
  for (const id of canaryIds) {
    const file = fleet.customers[id]!.file;
    edits[file] = setCustomerTag(git.show('main', file)!, target);
  }
  const head = git.commit(branch, edits, `Roll out ${target} to the ${canary} ring`);
  const title = `Roll out ${target} to ${canary}`;
  const prBody = `ERPNext ${target} is out. Canary first: ${canaryIds.map((i) => `\`${i}\``).join(', ')}.\n\nThe plan check run below is the dry run.`;
  const pr1 = addOperatorPull(standin, title, prBody, branch);
  story.push({ kind: 'pr', number: pr1.number, title, body: prBody, author: OPERATOR.login, head: branch, headSha: head, baseSha: base, ...diffOf(git, base, head) });
  say(`${OPERATOR.login} pushes branch ${bold(branch)} (${head.slice(0, 7)}): image.tag ${canaryIds.map((id) => `${id} ${fleet.customers[id]!.image.tag}→${target}`).join(', ')}`);
  const d1 = await hooks.deliver('pull_request', hooks.pullRequestOpened({ number: pr1.number, title, body: prBody, head: branch, headSha: head, baseSha: base, author: OPERATOR }));
  say(`GitHub → app: ${bold('pull_request.opened')} #${pr1.number} → HTTP ${d1.status}`);
  if (d1.status !== 200) throw new DemoError(`the app answered the pull_request webhook with HTTP ${d1.status}`);
  const plan1 = await until(`the plan check run of PR #${pr1.number}`, () => standin.checkRunsNamed(PLAN_CHECK, head).find((r) => r.status === 'completed'), 5 * 60_000);
  ok(`check run ${bold(plan1.name)}: ${conclusionText(plan1)} — ${plan1.output.title}`);
  block(plan1.output.summary ?? '', 25);
  if (plan1.conclusion !== 'success') throw new DemoError(`the plan check run concluded ${plan1.conclusion}, not success`);

  // 6 ---------------------------------------------------------------------
  heading(6, TOTAL, `Merge #${pr1.number}: the app applies it to the ${canary} hosts`);
  current = `apply of PR #${pr1.number}`;
  const merged1 = await merge(pr1.number, branch, hooks);
  const watch1 = { tb, hostOf: demo.hostOf, ids: canaryIds, target };
  const apply1 = await followRun(APPLY_CHECK, merged1, watch1);
  if (apply1.conclusion !== 'success') throw new DemoError(`the apply check run concluded ${apply1.conclusion}: ${apply1.output.title}`);
  await verifyHosts(tb, demo.hostOf, canaryIds, target, true);
  const bake1 = await followBake(apply1, merged1, watch1);
  if (bake1 && bake1.conclusion !== 'success') throw new DemoError(`the bake check run concluded ${bake1.conclusion}: ${bake1.output.title}`);

  // 7 ---------------------------------------------------------------------
  const next = fleet.rings[canary]!.next;
  heading(7, TOTAL, `The bot's promotion PR for ${next ?? 'the next ring'}`);
  current = 'promotion pull request';
  const promo = [...standin.pulls.values()].find((p) => p.state === 'open' && p.head.startsWith('fleetkeeper/'));
  if (!promo) throw new DemoError(`the app opened no promotion PR; its ${bake1 ? 'bake' : 'apply'} check run says:\n${(bake1 ?? apply1).output.summary}`);
  const promoHead = git.revParse(`refs/heads/${promo.head}`);
  const promoBase = git.mergeBase('main', promoHead)!;
  const changed = git.diffNameStatus(promoBase, promoHead);
  story.push({ kind: 'pr', number: promo.number, author: hooks.bot.login, head: promo.head, headSha: promoHead, baseSha: promoBase, ...diffOf(git, promoBase, promoHead) });
  ok(`PR #${promo.number} ${bold(promo.title)} from ${promo.head} (${promoHead.slice(0, 7)}), opened by ${hooks.bot.login}`);
  block(promo.body ?? '', 18);
  say(`changed files (${changed.length}):`);
  for (const f of changed) {
    const tagLine = git.git(['diff', '-U0', promoBase, promoHead, '--', f.path]).split('\n').filter((l) => /^[+-]\s*tag:/.test(l)).map((l) => l.trim()).join('  ');
    say(`  ${f.path.padEnd(40)} ${dim(tagLine)}`);
  }
  // GitHub tells the app about the PR it opened, like any other; the app knows its own events.
  const d2 = await hooks.deliver('pull_request', hooks.pullRequestOpened({ number: promo.number, title: promo.title, body: promo.body ?? '', head: promo.head, headSha: promoHead, baseSha: promoBase, author: hooks.bot }));
  say(`GitHub → app: ${bold('pull_request.opened')} #${promo.number} (sender ${hooks.bot.login}) → HTTP ${d2.status}; the app ignores events it caused and planned the PR itself:`);
  const plan2 = await until(`the plan check run of PR #${promo.number}`, () => standin.checkRunsNamed(PLAN_CHECK, promoHead).find((r) => r.status === 'completed'), 2 * 60_000);
  ok(`check run ${bold(plan2.name)}: ${conclusionText(plan2)} — ${plan2.output.title}`);
  block(plan2.output.summary ?? '', 20);
  if (standin.checkRunsNamed(PLAN_CHECK, promoHead).length !== 1) warn('more than one plan check run on the promotion PR');

  // 8 ---------------------------------------------------------------------
  heading(8, TOTAL, `Merge #${promo.number}: the app applies it to ${next}`);
  current = `apply of PR #${promo.number}`;
  const nextIds = changed.map((f) => Object.values(fleet.customers).find((c) => c.file === f.path)?.id).filter((x): x is string => !!x).sort();
  const merged2 = await merge(promo.number, promo.head, hooks);
  const watch2 = { tb, hostOf: demo.hostOf, ids: nextIds, target };
  const apply2 = await followRun(APPLY_CHECK, merged2, watch2);
  await verifyHosts(tb, demo.hostOf, nextIds, target, false);
  if (apply2.conclusion === 'failure') throw new DemoError(`the apply check run of #${promo.number} concluded failure: ${apply2.output.title}`);
  const bake2 = await followBake(apply2, merged2, watch2);
  if (bake2 && bake2.conclusion === 'failure') throw new DemoError(`the bake check run of #${promo.number} concluded failure: ${bake2.output.title}`);
}

/** Merges a PR like GitHub's merge button (a merge commit on main) and delivers the push; returns the merge commit. */
async function merge(number: number, branch: string, hooks: Webhooks): Promise<string> {
  const git = sandbox.git!;
  const standin = sandbox.standin!;
  const before = git.revParse('refs/heads/main');
  git.git(['checkout', '-q', 'main']);
  git.git(['merge', '-q', '--no-ff', '-m', `Merge pull request #${number} from ${standin.owner}/${branch}\n\n${standin.pulls.get(number)?.title ?? ''}`, branch]);
  const after = git.revParse('HEAD');
  const pr = standin.pulls.get(number);
  if (pr) pr.state = 'closed';
  const entry = story.find((e) => e.kind === 'pr' && e.number === number);
  if (entry && entry.kind === 'pr') entry.mergedAs = after;
  story.push({ kind: 'push', before, sha: after, message: git.commitInfo(after).message, pusher: OPERATOR.login });
  say(`${OPERATOR.login} merges #${number}: main ${before.slice(0, 7)} → ${bold(after.slice(0, 7))}`);
  const d = await hooks.deliver('push', hooks.push(git, before, after, OPERATOR));
  say(`GitHub → app: ${bold('push')} to refs/heads/main → HTTP ${d.status}`);
  if (d.status !== 200) throw new DemoError(`the app answered the push webhook with HTTP ${d.status}`);
  return after;
}

/**
 * Follows one check run live: a line per update the app sent, and (while it
 * runs) the hosts' own state whenever it changes.
 */
async function followRun(name: string, sha: string, watch: { tb: Testbed; hostOf: Record<string, { id: string }>; ids: string[]; target: string }, appearMs = 60_000): Promise<StoredCheckRun> {
  const standin = sandbox.standin!;
  const label = name.replace(/^fleetkeeper \/ /, '').padEnd(5);
  const run = await until(`the ${name} check run`, () => standin.checkRunsNamed(name, sha)[0], appearMs, 200);
  say(`check run ${bold(run.name)} ${run.id} created on ${sha.slice(0, 7)}; following it live — each line is one update the app sent:`);
  let seen = 0;
  const hostSeen = new Map<string, string>();
  let lastHostPoll = 0;
  const done = await until(
    `the ${name} check run to complete`,
    async () => {
      for (; seen < run.writes.length; seen++) {
        const w = run.writes[seen]!;
        const out = w.output as { title?: string; summary?: string } | undefined;
        const summary = out?.summary ?? '';
        const progress = summary.split('\n').find((l) => /host\(s\) finished/.test(l)) ?? firstSummaryLine(summary);
        const rings = summary.split('\n').filter((l) => /^- Ring \*\*/.test(l)).map((l) => l.replace(/^- Ring \*\*(.+?)\*\*:/, 'ring $1:').replace(/`/g, ''));
        const state = w.conclusion ? conclusionText({ ...run, conclusion: w.conclusion as string }) : dim(String(w.status ?? run.status));
        const detail = [...(out?.title && /hosts? finished/.test(out.title) ? [] : [progress.replace(/`/g, '')]), ...rings].filter(Boolean);
        say(`${cyan(label)} ${state} ${out?.title ? bold(out.title) : ''} ${w.conclusion ? '' : dim(detail.join(' · '))}`);
        if (!w.conclusion) for (const l of runningHosts(summary)) say(`${' '.repeat(label.length)} ${dim('⏳')} ${l}`);
      }
      if (Date.now() - lastHostPoll > 3000) {
        lastHostPoll = Date.now();
        for (const id of watch.ids) {
          const h = watch.hostOf[id]!;
          const s = await hostLine(watch.tb, h.id);
          const key = `${s.tag}/${s.running}/${s.db}`;
          if (hostSeen.get(id) !== key) {
            if (hostSeen.has(id)) say(`${cyan('host'.padEnd(label.length))} ${id} (${h.id}): .env tag ${bold(s.tag)}, backend runs ${s.running}, database schema ${s.db}${s.tag === watch.target && s.running === watch.target && s.db === watch.target ? green(' ✓') : ''}`);
            hostSeen.set(id, key);
          }
        }
      }
      return run.status === 'completed' ? run : undefined;
    },
    Math.max(60_000, remaining()),
    500,
  );
  ok(`check run ${bold(done.name)}: ${conclusionText(done)} — ${done.output.title}`);
  block(done.output.summary ?? '', 40);
  return done;
}

/** The ring's bake: its own check run on the merge commit when the app bakes after the apply. */
async function followBake(apply: StoredCheckRun, sha: string, watch: Parameters<typeof followRun>[2]): Promise<StoredCheckRun | undefined> {
  const standin = sandbox.standin!;
  if (!(apply.output.summary ?? '').includes(BAKE_CHECK) && !standin.checkRunsNamed(BAKE_CHECK, sha).length) return undefined;
  return followRun(BAKE_CHECK, sha, watch, 2 * 60_000);
}

async function verifyHosts(tb: Testbed, hostOf: Record<string, { id: string }>, ids: string[], target: string, strict: boolean): Promise<void> {
  say(`the hosts, read directly (not from the app): ${dim('.env tag · running image tag · database schema · GET /api/method/ping')}`);
  const wrong: string[] = [];
  for (const id of ids) {
    const h = hostOf[id]!;
    const s = await hostLine(tb, h.id);
    const good = s.tag === target && s.running === target && s.db === target && s.ping === 'pong';
    if (!good) wrong.push(id);
    say(`  ${good ? green('✓') : yellow('·')} ${id.padEnd(22)} ${h.id}  ${s.tag.padEnd(9)} ${s.running.padEnd(9)} ${s.db.padEnd(9)} ${s.ping}`);
  }
  if (wrong.length && strict) throw new DemoError(`not at ${target} after the apply: ${wrong.join(', ')}`);
  if (wrong.length) {
    say(`${yellow('·')} ${wrong.join(', ')} left as they were — the apply check run above says why.`);
    say(dim('  A customer outside its maintenance window is skipped on purpose, as in production; the demo keeps'));
    say(dim('  the example fleet\'s windows, so whether one is skipped depends on the time of day you run it.'));
  }
}

// ------------------------------------------------------------------ report and teardown

function writeHtml(): string | undefined {
  const { standin } = sandbox;
  if (!standin) return undefined;
  mkdirSync(outDir, { recursive: true });
  const record = recordOf(standin, story, `fleetkeeper demo: ${standin.fullName}`, [
    'Check runs and the bot’s pull requests below are exactly what the app sent to the GitHub stand-in (recorded requests); the operator’s pull request is what the demo opened.',
    `Testbed ${sandbox.testbedName ?? ''}: every customer of the example fleet on a simulated host (sshd, Docker Compose, stand-in ERPNext images).`,
  ]);
  // The records too, so the page can be rendered again: npx tsx demo/render.ts demo-output/record.json
  writeFileSync(join(outDir, 'record.json'), JSON.stringify(record, null, 1));
  const file = join(outDir, 'index.html');
  writeFileSync(file, renderPage(record));
  return file;
}

async function teardown(): Promise<void> {
  const { app, standin, testbedName, work } = sandbox;
  say('tearing down: app, GitHub stand-in, testbed hosts…');
  await app?.stop().catch(() => {});
  await standin?.stop().catch(() => {});
  if (testbedName) await stopTestbedByName(testbedName).catch((e) => warn(`testbed teardown: ${(e as Error).message} — run: npx tsx test/testbed/cli.ts down --name ${testbedName}`));
  if (work) rmSync(work, { recursive: true, force: true });
  ok('sandbox torn down');
}

function printKeep(): void {
  const { tb, standin, git, app, work } = sandbox;
  console.log(`\n${bold('The sandbox stays up')} until you press Ctrl-C here (that tears it all down).`);
  if (standin) console.log(`  GitHub stand-in   ${standin.url}  (state: ${standin.url}/_standin/state)`);
  if (app) console.log(`  app               pid ${app.child.pid}, log ${join(outDir, 'app.log')}`);
  if (git) console.log(`  fleet repo        ${git.dir}  (git log --graph --oneline --all)`);
  if (tb) {
    console.log(`  testbed           ${tb.name}: ${tb.hosts.length} hosts, e.g.`);
    const h = tb.hosts[0]!;
    console.log(`                    ssh -i ${tb.privateKeyPath} -o UserKnownHostsFile=${tb.knownHostsPath} ${h.user}@${h.address} 'cd ${h.composeDir} && docker compose ps'`);
    console.log(`                    curl -H 'Host: ${h.site}' ${h.healthUrl}/api/method/ping`);
    console.log(`  if this process dies without tearing down: npx tsx test/testbed/cli.ts down --name ${tb.name}${work ? ` && rm -rf ${work}` : ''}`);
  }
}

let finishing = false;
/** Ctrl-C after a successful run with --keep is the normal way out. */
let succeeded = false;
async function finish(code: number): Promise<never> {
  if (finishing) process.exit(code);
  finishing = true;
  await teardown();
  process.exit(code);
}

const watchdog = setTimeout(() => {
  console.error(red(`\n✗ gave up after ${opts['timeout-minutes']} minute(s) during: ${current}`));
  const html = writeHtml();
  if (html) console.error(`  what was recorded so far: ${html}`);
  if (sandbox.app) console.error(dim(sandbox.app.tail(30).join('\n')));
  void finish(1);
}, timeoutMs + 30_000);

// Ctrl-C under `npm run` reaches this process twice (from the terminal and
// relayed by npm/tsx), and a second signal used to abandon the teardown half
// way, leaving hosts running. Only a deliberate third Ctrl-C abandons it.
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    signals++;
    if (signals === 1) {
      console.log(`\n${yellow(sig)} — stopping`);
      clearTimeout(watchdog);
      void finish(succeeded ? 0 : 130);
    } else if (signals >= 4) {
      console.log(red('abandoning the teardown: the sandbox may still be running (see the down command above)'));
      process.exit(130);
    } else if (signals === 3) {
      console.log(yellow('still tearing down; press Ctrl-C once more to abandon it (hosts would stay up)'));
    }
  });
}

try {
  await main();
  clearTimeout(watchdog);
  const html = writeHtml()!;
  sandbox.standin?.assertClean();
  console.log(`\n${green(bold('✓ demo complete'))} — the check runs the app posted:`);
  for (const r of [...sandbox.standin!.checkRuns.values()].sort((a, b) => a.id - b.id)) {
    console.log(`  ${conclusionText(r, 9)} ${r.name.padEnd(20)} on ${r.head_sha.slice(0, 7)}  ${r.output.title ?? ''}`);
  }
  for (const p of sandbox.standin!.pulls.values()) console.log(`  PR #${p.number} ${p.title} (${p.head})`);
  console.log(`  What GitHub would show (check runs, pull requests, diffs): ${bold(html)}`);
  console.log(`  The app's log: ${join(outDir, 'app.log')}`);
  console.log(`  ${sandbox.standin!.requests.length} GitHub API requests from the app, all valid against GitHub's OpenAPI description.`);
  if (opts.keep) {
    succeeded = true;
    printKeep();
    await new Promise(() => {}); // until Ctrl-C
  }
  await finish(0);
} catch (e) {
  clearTimeout(watchdog);
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`\n${red(bold(`✗ demo failed during: ${current}`))}\n${red(msg)}`);
  if (!(e instanceof DemoError) && e instanceof Error && e.stack) console.error(dim(e.stack));
  if (sandbox.standin?.problems.length) console.error(red(`GitHub stand-in problems:\n- ${sandbox.standin.problems.join('\n- ')}`));
  if (sandbox.app) {
    console.error(bold(`\nlast lines of the app's log (${join(outDir, 'app.log')}):`));
    console.error(sandbox.app.tail(40).join('\n'));
  }
  try {
    const html = writeHtml();
    if (html) console.error(`\nwhat was recorded so far: ${html}`);
  } catch (err) {
    console.error(`could not write the HTML page: ${(err as Error).message}`);
  }
  if (opts.keep && sandbox.tb) {
    printKeep();
    await new Promise(() => {});
  }
  await finish(1);
}
