// Checks a JSON Schema cannot express: real time zones and dates, IP
// literals, and rules that span files (rings, duplicate hosts).
import { isIPv4, isIPv6 } from 'node:net';
import type { FleetError, Ring } from './types.js';
import type { FieldPath, ParsedFile } from './yaml-file.js';
import { dotted } from './yaml-file.js';
import { byText, closest } from './suggest.js';
import { show } from './messages.js';

export function problem(file: ParsedFile, path: FieldPath, message: string, severity: 'error' | 'warning' = 'error', which: 'key' | 'value' = 'value'): FleetError {
  const pos = file.locate(path, which);
  return { file: file.file, line: pos.line, column: pos.column, endLine: pos.endLine, endColumn: pos.endColumn, path: dotted(path), message, severity };
}

let zones: string[] | undefined;
function knownZones(): string[] {
  zones ??= [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  return zones;
}

/** The canonical spelling of an IANA zone, or undefined if the runtime does not know it. */
const zoneCache = new Map<string, string | undefined>();
export function canonicalZone(tz: string): string | undefined {
  if (!zoneCache.has(tz)) {
    let canon: string | undefined;
    try {
      canon = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    } catch {
      canon = undefined;
    }
    zoneCache.set(tz, canon);
  }
  return zoneCache.get(tz);
}

function isRealDate(s: string): boolean {
  const [y, m, d] = s.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

function get(data: Record<string, unknown>, path: string[]): unknown {
  let n: unknown = data;
  for (const p of path) n = n && typeof n === 'object' ? (n as Record<string, unknown>)[p] : undefined;
  return n;
}

/** Value checks on a customer or defaults file whose shape already passed the schema. */
export function checkValues(file: ParsedFile, data: Record<string, unknown>, now: Date): FleetError[] {
  const out: FleetError[] = [];
  const host = get(data, ['ssh', 'host']);
  if (typeof host === 'string') {
    if (/^[0-9.]+$/.test(host) && !isIPv4(host)) out.push(problem(file, ['ssh', 'host'], `${show(host)} is not a valid IPv4 address`));
    if (host.includes(':') && !isIPv6(host)) out.push(problem(file, ['ssh', 'host'], `${show(host)} is not a valid IPv6 address`));
  }
  const url = get(data, ['health', 'url']);
  if (typeof url === 'string') {
    const port = /:([0-9]+)\/?$/.exec(url.replace(/^https?:\/\/\[[^\]]*\]/, 'x://h'))?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) out.push(problem(file, ['health', 'url'], `${show(url)} has port ${port}; ports are 1-65535`));
  }
  const tz = get(data, ['maintenanceWindow', 'timezone']);
  if (typeof tz === 'string') {
    const canon = canonicalZone(tz);
    if (!canon) {
      const guess = closest(tz, knownZones());
      out.push(problem(file, ['maintenanceWindow', 'timezone'], `${show(tz)} is not a known IANA time zone${guess ? ` — did you mean '${guess}'?` : ' (e.g. Europe/Berlin, Asia/Tokyo)'}`));
    } else if (canon.toLowerCase() === tz.toLowerCase() && canon !== tz) {
      out.push(problem(file, ['maintenanceWindow', 'timezone'], `write the time zone as '${canon}'`));
    }
  }
  const start = get(data, ['maintenanceWindow', 'start']);
  const end = get(data, ['maintenanceWindow', 'end']);
  if (typeof start === 'string' && start === end) {
    out.push(problem(file, ['maintenanceWindow', 'end'], `end is the same as start (${start}); the window would be empty`));
  }
  const until = get(data, ['hold', 'until']);
  if (typeof until === 'string') {
    if (!isRealDate(until)) out.push(problem(file, ['hold', 'until'], `${show(until)} is not a real calendar date`));
    else if (until < now.toISOString().slice(0, 10)) {
      out.push(problem(file, ['hold', 'until'], `the hold ended on ${until}; it still applies until you remove the hold block`, 'warning'));
    }
  }
  const sites = get(data, ['sites']);
  if (Array.isArray(sites)) {
    const i = sites.indexOf('all');
    if (i >= 0) out.push(problem(file, ['sites', i], `'all' cannot be one site among others; write \`sites: all\` to mean every site`));
  }
  return out;
}

export interface RingDraft { ring: Ring; file: ParsedFile }

/** Ring orders are unique and `next` links form one chain in ascending order. */
export function checkRings(rings: RingDraft[], allNames: Set<string> = new Set(rings.map((r) => r.ring.name))): FleetError[] {
  const out: FleetError[] = [];
  if (rings.length === 0) return out;
  const byName = new Map(rings.map((r) => [r.ring.name, r]));
  const byOrder = new Map<number, RingDraft>();
  let duplicateOrder = false;
  for (const r of [...rings].sort((a, b) => byText(a.ring.file, b.ring.file))) {
    const other = byOrder.get(r.ring.order);
    if (other) {
      duplicateOrder = true;
      out.push(problem(r.file, ['order'], `order ${r.ring.order} is also used by ${other.ring.file}; each ring needs its own order`));
    } else byOrder.set(r.ring.order, r);
  }
  for (const r of rings) {
    const next = r.ring.next;
    if (next === undefined) continue;
    if (next === r.ring.name) out.push(problem(r.file, ['next'], `ring '${next}' cannot be its own next ring`));
    else if (!allNames.has(next)) {
      const guess = closest(next, allNames);
      out.push(problem(r.file, ['next'], `ring '${next}' does not exist (no rings/${next}.yml)${guess ? ` — did you mean '${guess}'?` : ''}`));
    }
  }
  // The chain is only judged when every ring file could be read.
  if (duplicateOrder || out.length || rings.length !== allNames.size) return out;
  const sorted = [...rings].sort((a, b) => a.ring.order - b.ring.order);
  sorted.forEach((r, i) => {
    const after = sorted[i + 1];
    const next = r.ring.next;
    if (after && next === undefined) {
      out.push(problem(r.file, [], `ring '${r.ring.name}' has no \`next\`, but '${after.ring.name}' (order ${after.ring.order}) comes after it; add \`next: ${after.ring.name}\``));
    } else if (after && next !== after.ring.name) {
      out.push(problem(r.file, ['next'], `next is '${next}', but the ring after this one by order is '${after.ring.name}' (order ${after.ring.order}); rings must form one chain in ascending order`));
    } else if (!after && next !== undefined) {
      out.push(problem(r.file, ['next'], `this is the last ring (highest order ${r.ring.order}), so it cannot have a next ring; '${next}' would form a loop`));
    }
  });
  return out;
}

/** What the cross-customer rules need; fields are present only when their own value is valid. */
export interface CustomerFacts {
  id: string;
  file: ParsedFile;
  ring?: string;
  host?: string;
  port?: number;
  dir?: string;
  project?: string;
}

/** Rules across customers: rings exist, no two customers share a Compose project on one host. */
export function checkCustomers(customers: CustomerFacts[], rings: Map<string, Ring>, ringsKnown: boolean): FleetError[] {
  const out: FleetError[] = [];
  if (ringsKnown) {
    for (const c of customers) {
      if (c.ring !== undefined && !rings.has(c.ring)) {
        const guess = closest(c.ring, rings.keys());
        const list = [...rings.keys()].join(', ') || 'none';
        out.push(problem(c.file, ['ring'], `ring '${c.ring}' does not exist (rings: ${list})${guess ? ` — did you mean '${guess}'?` : ''}`));
      }
    }
  }
  const byTarget = new Map<string, CustomerFacts>();
  const byProject = new Map<string, CustomerFacts>();
  for (const c of [...customers].sort((a, b) => byText(a.id, b.id))) {
    if (c.host === undefined || c.port === undefined || c.dir === undefined) continue;
    const host = `${c.host.toLowerCase().replace(/\.$/, '')}|${c.port}`;
    const target = `${host}|${c.dir}`;
    const first = byTarget.get(target);
    if (first) {
      out.push(problem(c.file, ['ssh', 'host'], `same host, port and compose.dir as ${first.file.file}; two customers cannot manage one Compose project`));
      continue;
    }
    byTarget.set(target, c);
    // Compose's default project name is the directory's base name.
    const project = c.project ?? c.dir.split('/').pop()!.toLowerCase().replace(/[^a-z0-9_-]/g, '');
    const same = byProject.get(`${host}|${project}`);
    if (same) {
      out.push(problem(c.file, c.project ? ['compose', 'project'] : ['compose', 'dir'],
        `Compose project name '${project}' is also used on this host by ${same.file.file}; Compose would treat both as one project: set a distinct compose.project`));
    } else byProject.set(`${host}|${project}`, c);
  }
  return out;
}

/** v15.40.1 → [15, 40, 1]; undefined for tags that are not plain versions. */
function versionOf(tag: string): number[] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(tag);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function newer(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

export interface TagFacts { file: ParsedFile; ring: string; tag: string; held: boolean }

/**
 * Tags move canary → early → broad. A later ring running a newer version
 * than every earlier ring skipped the canary: warn (it may be deliberate).
 */
export function checkTagOrder(customers: TagFacts[], ringOrder: string[]): FleetError[] {
  const out: FleetError[] = [];
  let best: { version: number[]; tag: string; ring: string } | undefined;
  for (const ring of ringOrder) {
    const members = customers.filter((c) => c.ring === ring && !c.held);
    for (const c of members) {
      const v = versionOf(c.tag);
      if (v && best && newer(v, best.version)) {
        out.push(problem(c.file, ['image', 'tag'], `${c.tag} is newer than every tag in the earlier ring '${best.ring}' (${best.tag}); new tags should go through the earlier rings first`, 'warning'));
      }
    }
    for (const c of members) {
      const v = versionOf(c.tag);
      if (v && (!best || newer(v, best.version))) best = { version: v, tag: c.tag, ring };
    }
  }
  return out;
}
