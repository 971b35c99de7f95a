// Reads a fleet (defaults.yml, rings/*.yml, customers/*.yml) from any
// FleetSource into fully resolved, validated data, collecting every problem
// with its file, line and field instead of stopping at the first.
import type { Customer, Fleet, FleetError, FleetSource, LoadResult, Ring, SourcePos } from './types.js';
import { parseYamlFile, dotted, type FieldPath, type ParsedFile } from './yaml-file.js';
import { schemaValidator, builtInCustomerDefaults, checkDefinition, type SchemaName } from './schemas.js';
import { translateAjvErrors } from './messages.js';
import { checkCustomers, checkRings, checkTagOrder, checkValues, problem, type CustomerFacts, type RingDraft } from './rules.js';
import { parseDuration } from './duration.js';
import { byText, closest } from './suggest.js';
import { LocalDirSource } from './source-local.js';

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Import leaves these where it cannot know a value; they always fail validation. */
export const PLACEHOLDER_PREFIX = 'REPLACE-ME';

export interface LoadOptions {
  /** "Today" for hold expiry warnings; defaults to the current time. */
  now?: Date;
  /** How to name the fleet directory in hints such as `fleetkeeper keyscan DIR` (default: the local dir, else "DIR"). */
  dirForHints?: string;
}

/** A customer file merged with the defaults, before it is known to be complete. */
export interface CustomerDraftRaw {
  id: string;
  file: ParsedFile;
  /** Built-in defaults ← defaults.yml ← customer file (undefined if the file did not parse). */
  merged: Record<string, unknown> | undefined;
  /** Whether the customer file itself passed its schema. */
  valid: boolean;
}

export interface FleetDraft {
  result: LoadResult;
  customers: Map<string, CustomerDraftRaw>;
  defaults?: ParsedFile;
}

type Kind = 'defaults' | 'ring' | 'customer';
interface Classified { path: string; kind: Kind; name: string }

const YAML_EXT = /\.ya?ml$/;

function stripExt(name: string): string {
  return name.replace(YAML_EXT, '');
}

function at(file: string, message: string, severity: 'error' | 'warning' = 'error'): FleetError {
  return { file, line: 1, column: 1, path: '', message, severity };
}

/** Decide what each file in the source is; report files that look misplaced. */
function classify(paths: string[], errors: FleetError[], warnings: FleetError[]): Classified[] {
  const out: Classified[] = [];
  const seen = new Map<string, string>();
  for (const path of [...paths].sort()) {
    const parts = path.split('/');
    if (parts.some((p) => p.startsWith('.'))) continue;
    const base = parts[parts.length - 1]!;
    const isYaml = YAML_EXT.test(base);
    const [top] = parts;
    let c: Classified | undefined;
    if (parts.length === 1) {
      if (!isYaml) continue;
      if (stripExt(base) === 'defaults') c = { path, kind: 'defaults', name: 'defaults' };
      else {
        const guess = closest(stripExt(base), ['defaults']);
        warnings.push(at(path, `not a fleet file, ignored (a fleet has defaults.yml, rings/ and customers/)${guess ? ` — did you mean 'defaults.yml'?` : ''}`, 'warning'));
        continue;
      }
    } else if (top === 'rings' || top === 'customers') {
      const what = top === 'rings' ? 'ring' : 'customer';
      if (base.endsWith('.md')) continue;
      if (parts.length > 2) {
        errors.push(at(path, `${what} files must be directly in ${top}/; this file is not read (move it to ${top}/${base})`));
        continue;
      }
      if (!isYaml) {
        warnings.push(at(path, `not a .yml file, ignored`, 'warning'));
        continue;
      }
      const name = stripExt(base);
      if (!ID_PATTERN.test(name)) {
        const fix = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
        errors.push(at(path, `'${name}' is not a valid ${what} name (lower-case letters, digits and '-', starting with a letter or digit; at most 63 characters)${fix && ID_PATTERN.test(fix) ? `; rename the file to ${top}/${fix}.yml` : ''}`));
        continue;
      }
      c = { path, kind: what, name };
    } else continue;
    const key = `${c.kind}:${c.name}`;
    const twin = seen.get(key);
    if (twin) {
      errors.push(at(path, `${c.kind === 'defaults' ? 'defaults' : `${c.kind} '${c.name}'`} is defined twice: here and in ${twin}; keep one file`));
      continue;
    }
    seen.set(key, path);
    out.push(c);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function copy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copy);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
  return v;
}

/** Objects merge field by field; anything else (lists included) replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : copy(v);
  }
  return out;
}

const PLACEHOLDER_HINTS: Record<string, string> = {
  'ssh.hostKey': "run `fleetkeeper keyscan DIR` to record the host's key after checking it",
  'image.tag': 'set the tag the hosts run today, e.g. v15.38.0',
  'ssh.user': 'set the user fleetkeeper logs in as (member of the docker group)',
  'ssh.host': "set the host's DNS name or IP address",
  'compose.dir': 'set the directory of the frappe_docker Compose project on the host',
};

/** Placeholders written by import: one clear error each, and no schema noise about the same field. */
function findPlaceholders(file: ParsedFile, fleetLabel: string): { errors: FleetError[]; paths: Set<string> } {
  const errors: FleetError[] = [];
  const paths = new Set<string>();
  const walk = (v: unknown, path: FieldPath) => {
    if (typeof v === 'string' && v.startsWith(PLACEHOLDER_PREFIX)) {
      const key = dotted(path);
      paths.add(key);
      const how = PLACEHOLDER_HINTS[key]?.replace('DIR', fleetLabel) ?? 'replace it with the real value';
      errors.push(problem(file, path, `placeholder '${v}' still needs a value: ${how}`));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(file.data, []);
  return { errors, paths };
}

function checkFile(file: ParsedFile, kind: SchemaName, now: Date, fleetLabel: string): FleetError[] {
  if (!file.data) return file.errors;
  const ph = findPlaceholders(file, fleetLabel);
  const validate = schemaValidator(kind);
  const schemaErrors = validate(file.data) ? [] : translateAjvErrors(validate.errors ?? [], file, kind, ph.paths);
  const bad = new Set(schemaErrors.map((e) => e.path));
  const valueErrors = kind === 'ring' ? [] : checkValues(file, file.data, now).filter((e) => !ph.paths.has(e.path) && !bad.has(e.path));
  return [...ph.errors, ...schemaErrors, ...valueErrors];
}

/** Fields a resolved customer must have that no built-in default provides. */
const MUST_BE_SET: string[][] = [['ssh', 'user'], ['compose', 'dir'], ['image', 'tag']];

function toCustomer(id: string, file: string, m: Record<string, unknown>): Customer {
  const g = m as Record<string, any>; // the schema has proven the shape
  const c: Customer = {
    id,
    file,
    ring: g.ring,
    ssh: { host: g.ssh.host, port: g.ssh.port, user: g.ssh.user, hostKey: g.ssh.hostKey },
    compose: { dir: g.compose.dir, files: [...(g.compose.files ?? [])] },
    sites: g.sites === 'all' ? 'all' : [...g.sites],
    image: { repository: g.image.repository, tag: g.image.tag },
    backup: { ...g.backup },
    health: { ...g.health },
    preflight: { ...g.preflight },
    timeouts: { ...g.timeouts },
  };
  if (g.displayName !== undefined) c.displayName = g.displayName;
  if (g.compose.project !== undefined) c.compose.project = g.compose.project;
  if (g.hold !== undefined) c.hold = { ...g.hold };
  if (g.maintenanceWindow !== undefined) c.maintenanceWindow = { ...g.maintenanceWindow, days: [...g.maintenanceWindow.days] };
  return c;
}

/** The values cross-customer rules need, each only if it is valid by itself. */
function factsOf(id: string, file: ParsedFile, m: Record<string, unknown>): CustomerFacts {
  const ssh = (m.ssh ?? {}) as Record<string, unknown>;
  const compose = (m.compose ?? {}) as Record<string, unknown>;
  const f: CustomerFacts = { id, file };
  if (checkDefinition('ringName', m.ring)) f.ring = m.ring as string;
  if (checkDefinition('sshHost', ssh.host)) f.host = ssh.host as string;
  if (checkDefinition('sshPort', ssh.port)) f.port = ssh.port as number;
  if (checkDefinition('absDir', compose.dir)) f.dir = compose.dir as string;
  if (compose.project !== undefined && typeof compose.project === 'string' && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(compose.project)) f.project = compose.project;
  return f;
}

function pointer(path: FieldPath): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Like loadFleet, but also hands back per-customer merged data even when the fleet has errors (for keyscan). */
export async function loadFleetDraft(source: FleetSource, options: LoadOptions = {}): Promise<FleetDraft> {
  const now = options.now ?? new Date();
  const hintDir = options.dirForHints ?? (source instanceof LocalDirSource ? source.dir : 'DIR');
  const errors: FleetError[] = [];
  const warnings: FleetError[] = [];
  const add = (list: FleetError[]) => {
    for (const e of list) (e.severity === 'warning' ? warnings : errors).push(e);
  };

  let paths: string[];
  try {
    paths = await source.list();
  } catch (e) {
    errors.push(at('.', `cannot list the fleet files of ${source.label}: ${(e as Error).message}`));
    return { result: { ok: false, errors, warnings }, customers: new Map() };
  }
  const files = classify(paths, errors, warnings);
  const parsed = await Promise.all(files.map(async (f) => {
    try {
      return { f, p: parseYamlFile(f.path, await source.read(f.path)) };
    } catch (e) {
      errors.push(at(f.path, `cannot read the file: ${(e as Error).message}`));
      return undefined;
    }
  }));
  const positions: Record<string, SourcePos> = {};
  const record = (key: string, p: ParsedFile) => {
    for (const leaf of p.leaves()) positions[`${key}#${pointer(leaf.path)}`] = { file: leaf.pos.file, line: leaf.pos.line, column: leaf.pos.column };
  };

  // defaults.yml
  let defaults: ParsedFile | undefined;
  let defaultsOk = true;
  const defaultsEntry = parsed.find((x) => x?.f.kind === 'defaults');
  if (defaultsEntry) {
    defaults = defaultsEntry.p;
    const errs = checkFile(defaults, 'defaults', now, hintDir);
    add(errs);
    defaultsOk = !errs.some((e) => e.severity === 'error');
    record(defaults.file, defaults);
  }
  const base = deepMerge(builtInCustomerDefaults(), defaultsOk && defaults?.data ? defaults.data : {});

  // rings
  const rings: RingDraft[] = [];
  let ringsOk = true;
  for (const x of parsed) {
    if (x?.f.kind !== 'ring') continue;
    const errs = checkFile(x.p, 'ring', now, hintDir);
    add(errs);
    if (errs.some((e) => e.severity === 'error') || !x.p.data) { ringsOk = false; continue; }
    const d = x.p.data as Record<string, any>; // validated against ring.schema.json
    const ring: Ring = {
      name: x.f.name,
      file: x.f.path,
      order: d.order,
      concurrency: d.concurrency,
      failureBudget: d.failureBudget,
      bakeSeconds: parseDuration(d.bakeTime)!,
      autoPromote: d.autoPromote ?? false,
    };
    if (d.next !== undefined) ring.next = d.next;
    rings.push({ ring, file: x.p });
    record(x.f.path, x.p);
  }
  if (!parsed.some((x) => x?.f.kind === 'ring')) {
    errors.push(at('rings/', 'the fleet has no rings: add at least one file rings/<name>.yml (e.g. rings/canary.yml)'));
    ringsOk = false;
  }
  add(checkRings(rings, new Set(files.filter((f) => f.kind === 'ring').map((f) => f.name))));

  // customers
  const drafts = new Map<string, CustomerDraftRaw>();
  const customers: Customer[] = [];
  const facts: CustomerFacts[] = [];
  for (const x of parsed) {
    if (x?.f.kind !== 'customer') continue;
    const errs = checkFile(x.p, 'customer', now, hintDir);
    add(errs);
    const valid = x.p.data !== undefined && !errs.some((e) => e.severity === 'error');
    const merged = x.p.data ? deepMerge(base, x.p.data) : undefined;
    drafts.set(x.f.name, { id: x.f.name, file: x.p, merged, valid });
    if (merged) facts.push(factsOf(x.f.name, x.p, merged));
    if (!valid || !merged) continue;
    let complete = true;
    for (const path of MUST_BE_SET) {
      const parent = merged[path[0]!] as Record<string, unknown> | undefined;
      if (parent?.[path[1]!] === undefined) {
        complete = false;
        if (defaultsOk) {
          const where = x.p.locate([path[0]!], 'key');
          errors.push({
            file: x.p.file, line: where.line, column: where.column, path: dotted(path), severity: 'error',
            message: `${dotted(path)} is not set, neither here nor in defaults.yml`,
          });
        }
      }
    }
    if (!complete) continue;
    // The parts were valid on their own; the merged whole must be too.
    const validate = schemaValidator('customer');
    if (!validate(merged)) {
      add(translateAjvErrors(validate.errors ?? [], x.p, 'customer'));
      continue;
    }
    const customer = toCustomer(x.f.name, x.f.path, merged);
    customers.push(customer);
    if (defaults) record(x.f.path, defaults);
    record(x.f.path, x.p);
  }
  const ringMap = new Map([...rings].sort((a, b) => a.ring.order - b.ring.order).map((r) => [r.ring.name, r.ring]));
  add(checkCustomers(facts, ringMap, ringsOk));

  for (const r of rings) {
    if (ringsOk && !facts.some((c) => c.ring === r.ring.name)) {
      warnings.push(problem(r.file, [], `ring '${r.ring.name}' has no customers (add \`ring: ${r.ring.name}\` to a customer file)`, 'warning'));
    }
  }
  if (drafts.size === 0) warnings.push(at('customers/', 'the fleet has no customers yet (add customers/<id>.yml)', 'warning'));

  const sortErrors = (list: FleetError[]) => list.sort((a, b) => byText(a.file, b.file) || a.line - b.line || a.column - b.column);
  sortErrors(errors);
  sortErrors(warnings);
  if (errors.length) return { result: { ok: false, errors, warnings }, customers: drafts, defaults };

  const fileOf = new Map([...drafts.values()].map((d) => [d.id, d.file]));
  const sortedRings = rings.map((r) => r.ring).sort((a, b) => a.order - b.order);
  const fleet: Fleet = {
    customers: Object.fromEntries(customers.map((c) => [c.id, c]).sort(([a], [b]) => byText(String(a), String(b)))),
    rings: Object.fromEntries(sortedRings.map((r) => [r.name, r])),
    ringOrder: sortedRings.map((r) => r.name),
    positions,
  };
  warnings.push(...checkTagOrder(customers.map((c) => ({ file: fileOf.get(c.id)!, ring: c.ring, tag: c.image.tag, held: c.hold !== undefined })), fleet.ringOrder));
  sortErrors(warnings);
  return { result: { ok: true, fleet, warnings }, customers: drafts, defaults };
}

/** Read and validate a whole fleet. Never throws for bad content: problems come back as errors. */
export async function loadFleet(source: FleetSource, options: LoadOptions = {}): Promise<LoadResult> {
  return (await loadFleetDraft(source, options)).result;
}
