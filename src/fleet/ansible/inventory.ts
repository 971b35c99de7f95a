// Ansible inventories (YAML and the INI subset people actually write) read
// into hosts with their effective variables and group memberships.
import { parseDocument } from 'yaml';

export interface InventoryGroup {
  hosts: Map<string, Record<string, unknown>>;
  vars: Record<string, unknown>;
  children: Set<string>;
}

/** Groups as written, before variables are resolved. */
export type RawInventory = Map<string, InventoryGroup>;

export interface InventoryHost {
  name: string;
  /** Effective variables: group vars (parents first) overridden by host vars. */
  vars: Record<string, unknown>;
  /** Every group the host is in, directly or through children. */
  groups: Set<string>;
}

export class InventoryError extends Error {
  constructor(message: string, readonly line?: number) {
    super(line ? `line ${line}: ${message}` : message);
  }
}

function group(inv: RawInventory, name: string): InventoryGroup {
  let g = inv.get(name);
  if (!g) {
    g = { hosts: new Map(), vars: {}, children: new Set() };
    inv.set(name, g);
  }
  return g;
}

/** Expand Ansible host ranges: web[01:03].example, db-[a:c]. */
export function expandHostPattern(name: string): string[] {
  const m = /^(.*?)\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\](.*)$/.exec(name);
  if (!m) return [name];
  const [, pre, from, to, stepText, post] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = Number(stepText ?? 1);
  const out: string[] = [];
  if (/^[0-9]+$/.test(from) && /^[0-9]+$/.test(to)) {
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    for (let i = Number(from); i <= Number(to) && out.length < 10000; i += step) out.push(`${pre}${String(i).padStart(width, '0')}`);
  } else {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) out.push(`${pre}${String.fromCharCode(c)}`);
  }
  return out.flatMap((p) => expandHostPattern(p + post));
}

function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InventoryError(`${what} should be a mapping`);
  return v as Record<string, unknown>;
}

/** YAML inventory: top-level groups with hosts, vars and children. */
export function parseYamlInventory(text: string): RawInventory {
  const doc = parseDocument(text, { uniqueKeys: true, version: '1.2' });
  if (doc.errors.length) throw new InventoryError(`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  // `!vault` and other tags resolve to their text; we never use secret values.
  const data = asRecord(doc.toJS({ maxAliasCount: 100 }), 'the inventory');
  const inv: RawInventory = new Map();
  const visit = (name: string, body: unknown, depth: number) => {
    if (depth > 50) throw new InventoryError(`groups nested too deeply at '${name}'`);
    const g = group(inv, name);
    const b = asRecord(body, `group '${name}'`);
    for (const [pattern, vars] of Object.entries(asRecord(b.hosts, `hosts of group '${name}'`))) {
      for (const h of expandHostPattern(pattern)) g.hosts.set(h, { ...g.hosts.get(h), ...asRecord(vars, `host '${h}'`) });
    }
    Object.assign(g.vars, asRecord(b.vars, `vars of group '${name}'`));
    for (const [child, childBody] of Object.entries(asRecord(b.children, `children of group '${name}'`))) {
      g.children.add(child);
      visit(child, childBody, depth + 1);
    }
  };
  for (const [name, body] of Object.entries(data)) visit(name, body, 0);
  if (!inv.has('all')) group(inv, 'all');
  return inv;
}

/** Split a line into words, honouring '...' and "..." quotes and stopping at a # comment. */
function words(line: string, lineNo: number): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; has = true; }
    else if (/\s/.test(c)) { if (has) out.push(cur); cur = ''; has = false; }
    else if (c === '#' && !has) break;
    else { cur += c; has = true; }
  }
  if (quote) throw new InventoryError('unclosed quote', lineNo);
  if (has) out.push(cur);
  return out;
}

function keyValue(word: string, lineNo: number): [string, string] {
  const i = word.indexOf('=');
  if (i <= 0) throw new InventoryError(`expected key=value, found '${word}'`, lineNo);
  return [word.slice(0, i), word.slice(i + 1)];
}

/** INI inventory: [group], [group:vars], [group:children], host lines with key=value. */
export function parseIniInventory(text: string): RawInventory {
  const inv: RawInventory = new Map();
  group(inv, 'all');
  group(inv, 'ungrouped');
  let section = 'ungrouped';
  let mode: 'hosts' | 'vars' | 'children' = 'hosts';
  text.split(/\r?\n/).forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      mode = (header[2] as 'vars' | 'children' | undefined) ?? 'hosts';
      group(inv, section);
      return;
    }
    if (line.startsWith('[')) throw new InventoryError(`not a section header: ${line}`, lineNo);
    const g = group(inv, section);
    if (mode === 'children') {
      const [child] = words(line, lineNo);
      g.children.add(child!);
      group(inv, child!);
    } else if (mode === 'vars') {
      // `key = value` with spaces is allowed in vars sections.
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      if (!m) throw new InventoryError(`expected key=value in [${section}:vars], found '${line}'`, lineNo);
      const w = words(m[2]!, lineNo);
      g.vars[m[1]!] = w.join(' ');
    } else {
      const [name, ...rest] = words(line, lineNo);
      const vars: Record<string, unknown> = {};
      for (const w of rest) {
        const [k, v] = keyValue(w, lineNo);
        vars[k] = v;
      }
      let host = name!;
      // host:port (not IPv6, which has more colons)
      const hp = /^([^:]+):([0-9]+)$/.exec(host);
      if (hp) { host = hp[1]!; vars.ansible_port ??= hp[2]; }
      for (const h of expandHostPattern(host)) g.hosts.set(h, { ...g.hosts.get(h), ...vars });
    }
  });
  return inv;
}

/** Which groups contain which others, and each group's distance from `all`. */
function depths(inv: RawInventory): Map<string, number> {
  const parents = new Map<string, Set<string>>();
  for (const [name, g] of inv) for (const c of g.children) {
    if (!parents.has(c)) parents.set(c, new Set());
    parents.get(c)!.add(name);
  }
  const depth = new Map<string, number>();
  const visit = (name: string, stack: Set<string>): number => {
    if (depth.has(name)) return depth.get(name)!;
    if (name === 'all') return 0;
    if (stack.has(name)) throw new InventoryError(`group '${name}' is its own child (a loop in children)`);
    stack.add(name);
    const ps = [...(parents.get(name) ?? [])];
    const d = ps.length ? Math.max(...ps.map((p) => visit(p, stack))) + 1 : 1;
    stack.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const name of inv.keys()) visit(name, new Set());
  depth.set('all', 0);
  return depth;
}

/** Effective variables and groups per host (Ansible's precedence: all < parent < child < host). */
export function resolveInventory(inv: RawInventory): Map<string, InventoryHost> {
  const depth = depths(inv);
  const hosts = new Map<string, InventoryHost>();
  const memberOf = (g: string, seen = new Set<string>()): Set<string> => {
    // hosts of g and of all its descendants
    const out = new Set<string>();
    if (seen.has(g)) return out;
    seen.add(g);
    const grp = inv.get(g);
    if (!grp) return out;
    for (const h of grp.hosts.keys()) out.add(h);
    for (const c of grp.children) for (const h of memberOf(c, seen)) out.add(h);
    return out;
  };
  const groupsOf = new Map<string, Set<string>>();
  for (const name of inv.keys()) {
    for (const h of memberOf(name)) {
      if (!groupsOf.has(h)) groupsOf.set(h, new Set(['all']));
      groupsOf.get(h)!.add(name);
    }
  }
  for (const [h, groups] of groupsOf) {
    const ordered = [...groups].sort((a, b) => (depth.get(a) ?? 1) - (depth.get(b) ?? 1) || a.localeCompare(b));
    const vars: Record<string, unknown> = {};
    for (const g of ordered) Object.assign(vars, inv.get(g)?.vars ?? {});
    for (const g of ordered) Object.assign(vars, inv.get(g)?.hosts.get(h) ?? {});
    groups.delete('ungrouped');
    hosts.set(h, { name: h, vars, groups });
  }
  return hosts;
}

/** Parse by file name: .yml/.yaml/.json as YAML, anything else as INI. */
export function parseInventory(fileName: string, text: string): RawInventory {
  return /\.(ya?ml|json)$/i.test(fileName) ? parseYamlInventory(text) : parseIniInventory(text);
}
