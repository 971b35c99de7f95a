// The demo's fleet repo: the example fleet (fleet/) with each customer's
// connection details pointed at its own testbed host, edited in place so
// every comment and the operators' layout stay as they are. Nothing else
// about a customer changes (ring, tag, hold, maintenance window, ...): the
// demo shows what the example fleet would really do.
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { LocalDirSource, loadFleet, setScalar, type Fleet } from '../src/fleet/index.js';
import type { Testbed, TestbedHost } from '../test/testbed/index.js';

export const EXAMPLE_FLEET = new URL('../fleet/', import.meta.url).pathname;

/** Ring bake times for the demo: long enough to watch, short enough to wait for. */
export const DEMO_BAKE = '20s';

export interface ExampleFleet {
  fleet: Fleet;
  /** customer ids in host order: customer i runs on testbed host i. */
  ids: string[];
  /** Every file of fleet/ by relative path. */
  files: Record<string, string>;
}

async function readTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const abs = join(d, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) out[relative(dir, abs)] = await readFile(abs, 'utf8');
    }
  };
  await walk(dir);
  return out;
}

function describeErrors(errors: Array<{ file: string; line: number; path: string; message: string }>): string {
  return errors.map((e) => `  ${e.file}:${e.line} ${e.path}: ${e.message}`).join('\n');
}

/** The example fleet, validated: the demo refuses to start from a broken one. */
export async function readExampleFleet(dir = EXAMPLE_FLEET): Promise<ExampleFleet> {
  const result = await loadFleet(new LocalDirSource(dir));
  if (!result.ok) throw new Error(`the example fleet in ${dir} is invalid:\n${describeErrors(result.errors)}`);
  const ids = Object.keys(result.fleet.customers).sort();
  return { fleet: result.fleet, ids, files: await readTree(dir) };
}

/** Like setScalar for a list value (compose.files), keeping comments; checked the same way. */
function setList(text: string, path: string[], value: string[]): string {
  const before = parseDocument(text).toJS() as Record<string, unknown>;
  const expected = structuredClone(before);
  let node = expected;
  for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
  const doc = parseDocument(text);
  doc.setIn(path, doc.createNode(value));
  const out = doc.toString();
  if (!isDeepStrictEqual(parseDocument(out).toJS(), expected)) throw new Error(`could not set ${path.join('.')} without changing anything else`);
  return out;
}

export interface Rewrite {
  file: string;
  field: string;
  from: string;
  to: string;
}

export interface DemoFleet {
  files: Record<string, string>;
  rewrites: Rewrite[];
  /** customer id -> testbed host */
  hostOf: Record<string, TestbedHost>;
}

const show = (v: unknown) => (v === undefined ? '(default)' : Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

/**
 * The example fleet's files with every customer pointed at its testbed host.
 * Customer i (ids order) is testbed host i.
 */
export function buildDemoFleet(example: ExampleFleet, tb: Testbed): DemoFleet {
  const files = { ...example.files };
  const rewrites: Rewrite[] = [];
  const hostOf: Record<string, TestbedHost> = {};
  const raw = (file: string) => parseDocument(files[file]!).toJS() as Record<string, any>;
  const edit = (file: string, path: string[], to: string | number, from: unknown) => {
    files[file] = setScalar(files[file]!, path, to);
    rewrites.push({ file, field: path.join('.'), from: show(from), to: String(to) });
  };

  example.ids.forEach((id, i) => {
    const c = example.fleet.customers[id]!;
    const h = tb.hosts[i];
    if (!h) throw new Error(`testbed ${tb.name} has ${tb.hosts.length} hosts; customer ${id} needs host ${i + 1}`);
    hostOf[id] = h;
    const file = c.file;
    const own = raw(file);
    edit(file, ['ssh', 'host'], h.address, c.ssh.host);
    if (c.ssh.port !== h.port) edit(file, ['ssh', 'port'], h.port, c.ssh.port);
    edit(file, ['ssh', 'user'], h.user, c.ssh.user);
    edit(file, ['ssh', 'hostKey'], h.hostKey, c.ssh.hostKey);
    edit(file, ['compose', 'dir'], h.composeDir, c.compose.dir);
    edit(file, ['compose', 'project'], h.project, c.compose.project);
    if (c.compose.files.length) {
      // The testbed host has frappe_docker's compose.yaml only (no generated file, no override).
      files[file] = setList(files[file]!, ['compose', 'files'], ['compose.yaml']);
      rewrites.push({ file, field: 'compose.files', from: show(c.compose.files), to: '[compose.yaml]' });
    }
    if (Array.isArray(own.sites)) {
      // Explicit site lists name the customer's sites; a testbed host has one. `all` stays `all`.
      files[file] = setList(files[file]!, ['sites'], [h.site]);
      rewrites.push({ file, field: 'sites', from: show(own.sites), to: `[${h.site}]` });
    }
    edit(file, ['health', 'url'], h.healthUrl, c.health.url);
    edit(file, ['backup', 'dir'], h.backupDir, c.backup.dir);
  });

  // The stand-in ERPNext images live in the testbed's registry.
  const defaults = 'defaults.yml';
  const d = raw(defaults);
  edit(defaults, ['image', 'repository'], tb.imageRepo, d.image?.repository);
  // Faster health gate: 10 s between probes would make each host take half a minute longer.
  if ((d.health?.intervalSeconds ?? 5) > 2) edit(defaults, ['health', 'intervalSeconds'], 2, d.health?.intervalSeconds);
  if ((d.health?.attempts ?? 3) > 2) edit(defaults, ['health', 'attempts'], 2, d.health?.attempts);

  // Short bakes, so promotion happens while you watch.
  for (const ring of Object.values(example.fleet.rings)) {
    if (ring.bakeSeconds <= 20) continue;
    const was = String(raw(ring.file).bakeTime);
    edit(ring.file, ['bakeTime'], DEMO_BAKE, was);
    // Keep the operator's comment, but say the value is the demo's.
    files[ring.file] = files[ring.file]!.replace(/^(bakeTime: \S+\s*)# (.*)$/m, `$1# demo: was ${was} — $2`);
  }
  return { files, rewrites, hostOf };
}

/** README.md at the root of the demo repo: the example fleet's README plus what the demo changed and why. */
export function demoReadme(example: ExampleFleet, demo: DemoFleet, tb: Testbed): string {
  const base = example.files['README.md'] ?? '# Fleet\n';
  const reasons: Record<string, string> = {
    'ssh.host': 'the customer host is simulated by an sshd on a loopback address of the testbed',
    'ssh.port': 'the testbed sshd listens on port 22',
    'ssh.user': 'each testbed host has its own deploy user (in the docker group, key-only login)',
    'ssh.hostKey': "the pinned fingerprint of the testbed host's own ed25519 host key",
    'compose.dir': 'where the frappe_docker-shaped Compose project of the testbed host lives',
    'compose.project': 'the Compose project name of the testbed host (namespaced per testbed)',
    'compose.files': 'the testbed host has frappe_docker\'s compose.yaml only',
    sites: 'a testbed host has one Frappe site',
    'health.url': "the testbed host's frontend is published on its own loopback address",
    'backup.dir': 'a directory the testbed deploy user owns (verified backups are copied there)',
    'image.repository': 'the stand-in ERPNext images are served by the local registry',
    'health.intervalSeconds': 'a faster health gate, so the demo takes minutes, not hours',
    'health.attempts': 'a faster health gate, so the demo takes minutes, not hours',
    bakeTime: 'short bake times, so the promotion pull request is opened while you watch',
  };
  const fields = [...new Set(demo.rewrites.map((r) => r.field))];
  const lines = [
    base.trimEnd(),
    '',
    '## This copy was made by `npm run demo`',
    '',
    `It is the example fleet (\`fleet/\` in the fleetkeeper repository) with every customer pointed at a`,
    `simulated host of testbed \`${tb.name}\` on this machine. Only these fields were rewritten (with`,
    'in-place edits: comments and layout are kept); rings, tags, holds and maintenance windows are',
    'exactly as in the example, so the demo shows what the example fleet would do:',
    '',
    '| field | why |',
    '| --- | --- |',
    ...fields.map((f) => `| \`${f}\` | ${reasons[f] ?? 'testbed host'} |`),
    '',
    '| customer | testbed host | address | site |',
    '| --- | --- | --- | --- |',
    ...Object.entries(demo.hostOf).map(([id, h]) => `| ${id} | ${h.id} | ${h.address} | ${h.site} |`),
    '',
  ];
  return lines.join('\n');
}

/** Validates the demo fleet exactly as the app will read it. */
export async function checkDemoFleet(dir: string): Promise<Fleet> {
  const result = await loadFleet(new LocalDirSource(dir));
  if (!result.ok) throw new Error(`the demo fleet built from fleet/ is invalid (a bug in demo/fleet-repo.ts):\n${describeErrors(result.errors)}`);
  return result.fleet;
}
