// Turns ajv's findings into sentences an operator understands, anchored at
// the line of the offending field. Wording comes from the schema itself
// (patternErrorMessage / errorMessage / description), so editors and the CLI
// say the same thing.
import type { AnySchemaObject, ErrorObject } from 'ajv';
import type { FleetError } from './types.js';
import { dotted, describeKind, type FieldPath, type ParsedFile } from './yaml-file.js';
import { closest } from './suggest.js';
import { schemaAt, type SchemaName } from './schemas.js';

/** A value as it appears in a message: quoted, one line, not too long. */
export function show(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v).slice(1, -1).replace(/\\"/g, '"');
    return `'${s.length > 80 ? s.slice(0, 77) + '...' : s}'`;
  }
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'a mapping';
  return String(v);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function firstSentence(s: unknown): string {
  if (typeof s !== 'string') return '';
  // A sentence ends at '.' followed by a capital letter or the end (so "e.g. x" does not end one).
  const m = /^(.*?[^.]\.)(?=\s+[A-Z`(]|$)/s.exec(s);
  return m ? m[1]! : s;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping of fields',
  array: 'a list',
};

/** Fields that exist on a customer but must not be fleet-wide defaults. */
const NOT_A_DEFAULT: Record<string, string> = {
  ring: 'each customer names its own ring',
  displayName: 'each customer has its own name',
  id: 'the id is the customer file name',
  'ssh.host': 'each customer has its own host',
  'ssh.hostKey': 'each host has its own key',
};

function pathOf(instancePath: string, root: unknown): FieldPath {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const out: FieldPath = [];
  let node: unknown = root;
  for (const p of parts) {
    const idx = Array.isArray(node) ? Number(p) : NaN;
    out.push(Number.isInteger(idx) ? idx : p);
    node = (node as Record<string, unknown> | undefined)?.[p];
  }
  return out;
}

interface Finding { path: FieldPath; which: 'key' | 'value'; message: string }

function explain(e: ErrorObject, path: FieldPath, file: ParsedFile, kind: SchemaName, anyOfMessage?: string): Finding {
  const parent = (e.parentSchema ?? {}) as AnySchemaObject;
  const data = e.data;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const full = [...path, key];
      const reason = kind === 'defaults' ? NOT_A_DEFAULT[dotted(full)] : undefined;
      if (reason) return { path: full, which: 'key', message: `'${dotted(full)}' cannot be set in defaults.yml: ${reason}; set it in the customer file` };
      const allowed = Object.keys((parent.properties as Record<string, unknown> | undefined) ?? {});
      const guess = closest(key, allowed);
      return {
        path: full,
        which: 'key',
        message: guess ? `unknown field '${key}' — did you mean '${guess}'?` : `unknown field '${key}' (allowed here: ${allowed.join(', ')})`,
      };
    }
    case 'required': {
      const missing = String(p.missingProperty);
      const child = schemaAt(kind, [...path, missing]);
      const hint = child?.description ? `: ${firstSentence(child.description)}` : '';
      return { path, which: 'key', message: `missing required field '${missing}'${hint}` };
    }
    case 'type': {
      const want = String(p.type).split(',').map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      if (data === null) return { path, which: 'key', message: `has no value; expected ${want}` };
      const src = file.sourceText(path);
      if (p.type === 'string' && (typeof data === 'number' || typeof data === 'boolean') && src && !/^["']/.test(src)) {
        // Quoting only helps if the quoted text would be valid.
        if (typeof parent.pattern === 'string' && !new RegExp(parent.pattern, 'u').test(src)) {
          const m = typeof parent.patternErrorMessage === 'string' ? lowerFirst(parent.patternErrorMessage) : 'not valid here';
          return { path, which: 'value', message: `${show(src)} is ${m}` };
        }
        return { path, which: 'value', message: `YAML reads ${src} as ${typeof data === 'number' ? 'a number' : 'true/false'}; put it in quotes: "${src}"` };
      }
      if (p.type === 'boolean' && typeof data === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(data)) {
        return { path, which: 'value', message: `${show(data)} is text; write true or false (without quotes)` };
      }
      if (p.type === 'integer' && typeof data === 'number') return { path, which: 'value', message: `${data} is not a whole number` };
      if ((p.type === 'integer' || p.type === 'number') && typeof data === 'string' && src && /^["']/.test(src) && data.trim() !== '' && !Number.isNaN(Number(data))) {
        return { path, which: 'value', message: `${src} is quoted text; write the number without quotes` };
      }
      return { path, which: 'value', message: `expected ${want}, found ${describeKind(data)}` };
    }
    case 'pattern': {
      const m = typeof parent.patternErrorMessage === 'string' ? lowerFirst(parent.patternErrorMessage) : `not in the expected form (${firstSentence(parent.description)})`;
      return { path, which: 'value', message: `${show(data)} is ${m}` };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const guess = typeof data === 'string' ? closest(data, allowed) : undefined;
      return { path, which: 'value', message: `${show(data)} is not one of ${allowed.join(', ')}${guess ? ` — did you mean '${guess}'?` : ''}` };
    }
    case 'const':
      return { path, which: 'value', message: `${show(data)}: ${lowerFirst(anyOfMessage ?? `expected ${show(p.allowedValue)}`)}` };
    case 'minimum':
    case 'exclusiveMinimum':
      return { path, which: 'value', message: `${show(data)} is too small (at least ${String(p.limit)})` };
    case 'maximum':
    case 'exclusiveMaximum':
      return { path, which: 'value', message: `${show(data)} is too large (at most ${String(p.limit)})` };
    case 'minLength':
      return { path, which: 'value', message: data === '' ? 'is empty' : `${show(data)} is too short (at least ${String(p.limit)} characters)` };
    case 'maxLength':
      return { path, which: 'value', message: `is too long (${(data as string).length} characters; at most ${String(p.limit)})` };
    case 'minItems':
      return { path, which: 'value', message: `needs at least ${String(p.limit)} ${p.limit === 1 ? 'entry' : 'entries'}` };
    case 'maxItems':
      return { path, which: 'value', message: `has too many entries (at most ${String(p.limit)})` };
    case 'uniqueItems': {
      const j = Number(p.j);
      const dup = Array.isArray(data) ? data[j] : undefined;
      return { path: [...path, Number(p.i)], which: 'value', message: `${show(dup)} is listed twice` };
    }
    default:
      return { path, which: 'value', message: `${e.message ?? 'is not valid'}` };
  }
}

/**
 * Translate ajv errors for one file. `skip` holds dotted paths already
 * reported (e.g. placeholders), so one mistake gives one message.
 */
export function translateAjvErrors(errors: ErrorObject[], file: ParsedFile, kind: SchemaName, skip: Set<string> = new Set()): FleetError[] {
  const root = file.data;
  // anyOf (only `sites` uses it): keep the branch whose type matches the
  // value, or say once what is expected.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const dropped = new Set<ErrorObject>(anyOfs);
  const anyOfMessageFor = new Map<ErrorObject, string>();
  for (const a of anyOfs) {
    const branches = (a.schema as AnySchemaObject[]) ?? [];
    const msg = String((a.parentSchema as AnySchemaObject | undefined)?.errorMessage ?? 'does not match any allowed form');
    const typeOf = Array.isArray(a.data) ? 'array' : a.data === null ? 'null' : typeof a.data;
    const match = branches.findIndex((b) => b.type === typeOf);
    // Errors below the anyOf's value came from its branches ($refs hide that in schemaPath).
    const inside = errors.filter((e) => e !== a && (e.instancePath === a.instancePath || e.instancePath.startsWith(a.instancePath + '/')));
    let kept = 0;
    for (const e of inside) {
      const fromMatch = match >= 0 && e.keyword !== 'type' && e.keyword !== 'const'
        && (e.instancePath !== a.instancePath || e.schemaPath.startsWith(`${a.schemaPath}/${match}/`));
      if (fromMatch) {
        anyOfMessageFor.set(e, msg);
        kept++;
      } else dropped.add(e);
    }
    if (kept === 0) {
      anyOfMessageFor.set(a, msg);
      dropped.delete(a);
    }
  }
  const out: FleetError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (dropped.has(e)) continue;
    const path = pathOf(e.instancePath, root);
    const f: Finding = e.keyword === 'anyOf'
      ? { path, which: 'value', message: `${show(e.data)}: ${lowerFirst(anyOfMessageFor.get(e)!)}` }
      : explain(e, path, file, kind, anyOfMessageFor.get(e));
    const key = dotted(f.path);
    if ([...skip].some((s) => key === s || key.startsWith(s + '.'))) continue;
    const id = `${key}|${f.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const pos = file.locate(f.path, f.which);
    out.push({ file: file.file, line: pos.line, column: pos.column, endLine: pos.endLine, endColumn: pos.endColumn, path: key, message: f.message, severity: 'error' });
  }
  return out;
}
