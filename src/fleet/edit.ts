// Surgical edits of fleet files for the bot's own pull requests (promotion,
// keyscan, import): change one value and leave every other byte, comment and
// blank line where the operator put it.
import { isMap, isScalar, parseDocument, Scalar, stringify, type YAMLMap } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { checkDefinition } from './schemas.js';

export type ScalarValue = string | number | boolean;

function parseStrict(text: string) {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, version: '1.2' });
  if (doc.errors.length) throw new Error(`cannot edit a file with YAML errors: ${doc.errors[0]!.message.split('\n')[0]}`);
  return doc;
}

/** YAML text for a scalar: plain when YAML reads it back unchanged, else double-quoted. */
function render(value: ScalarValue, style?: Scalar.Type): string {
  if (typeof value !== 'string') return String(value);
  if (style === Scalar.QUOTE_SINGLE && !value.includes("'")) return `'${value}'`;
  if (style === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  const plain = value;
  try {
    const back = parseDocument(`k: ${plain}\n`).toJS() as { k?: unknown };
    if (back.k === value && !/[#\n]/.test(plain) && plain.trim() === plain) return plain;
  } catch { /* fall through to quoting */ }
  return JSON.stringify(value);
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Indentation step used in the file (2 unless the file shows otherwise). */
function indentStep(root: YAMLMap, text: string): number {
  for (const pair of root.items) {
    const v = pair.value;
    if (isMap(v) && v.items[0] && isScalar(v.items[0].key) && v.items[0].key.range && !v.flow) {
      const off = v.items[0].key.range[0];
      return off - lineStartOf(text, off);
    }
  }
  return 2;
}

function editInPlace(text: string, path: string[], value: ScalarValue): string | undefined {
  const doc = parseStrict(text);
  const existing = doc.getIn(path, true);
  if (isScalar(existing) && existing.range) {
    const style = existing.type === Scalar.BLOCK_FOLDED || existing.type === Scalar.BLOCK_LITERAL ? undefined : existing.type;
    const [start, end] = existing.range;
    return text.slice(0, start) + render(value, style) + text.slice(end);
  }
  if (existing !== undefined) return undefined;
  // Missing: add it under the deepest existing block mapping on the path.
  let depth = path.length - 1;
  while (depth > 0 && !isMap(doc.getIn(path.slice(0, depth), true))) depth--;
  const parent = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
  if (!isMap(parent) || parent.flow || !parent.range) return undefined;
  for (let d = depth; d < path.length - 1; d++) if (doc.getIn(path.slice(0, d + 1), true) !== undefined) return undefined;
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const step = indentStep(root, text);
  const firstKey = parent.items[0]?.key;
  const baseIndent = isScalar(firstKey) && firstKey.range ? firstKey.range[0] - lineStartOf(text, firstKey.range[0]) : depth * step;
  let lines = '';
  path.slice(depth).forEach((key, i, rest) => {
    const pad = ' '.repeat(baseIndent + i * step);
    lines += i === rest.length - 1 ? `${pad}${key}: ${render(value)}\n` : `${pad}${key}:\n`;
  });
  const at = parent.range[1];
  const before = text.slice(0, at);
  return before + (before.endsWith('\n') || before === '' ? '' : '\n') + lines + text.slice(at);
}

/**
 * Set one scalar (e.g. ["image", "tag"]) in a YAML file's text, keeping
 * comments and layout. Adds the field (and missing parents) if absent.
 * The result is re-read and checked to differ from the input in exactly
 * that value; otherwise this throws rather than write something unexpected.
 */
export function setScalar(yamlText: string, path: string[], value: ScalarValue): string {
  const before = parseStrict(yamlText).toJS() as unknown;
  const expected = structuredClone(before ?? {}) as Record<string, unknown>;
  let node = expected;
  for (const k of path.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
  const candidates = [() => editInPlace(yamlText, path, value), () => {
    // Fallback for layouts we do not edit by hand (flow mappings): let yaml re-render.
    const doc = parseStrict(yamlText);
    doc.setIn(path, value);
    return doc.toString();
  }];
  for (const make of candidates) {
    try {
      const out = make();
      if (out === undefined) continue;
      if (isDeepStrictEqual(parseStrict(out).toJS(), expected)) return out;
    } catch { /* try the next way */ }
  }
  throw new Error(`could not set ${path.join('.')} in this file without changing anything else`);
}

/** Rewrite a customer file's image.tag (promotion PRs). Refuses tags that would not pass the schema. */
export function setCustomerTag(yamlText: string, tag: string): string {
  if (!checkDefinition('image', { tag })) throw new Error(`refusing to write invalid image tag ${JSON.stringify(tag)}`);
  return setScalar(yamlText, ['image', 'tag'], tag);
}

/** Record a pinned host key fingerprint in a customer file (keyscan). */
export function setCustomerHostKey(yamlText: string, fingerprint: string): string {
  if (!checkDefinition('sshHostKey', fingerprint)) throw new Error(`refusing to write invalid host key fingerprint ${JSON.stringify(fingerprint)}`);
  return setScalar(yamlText, ['ssh', 'hostKey'], fingerprint);
}

export interface CustomerFileInput {
  schemaPath: string;
  comment?: string[];
  displayName?: string;
  ring: string;
  ssh: { host: string; port?: number; user?: string; hostKey: string };
  compose: { dir: string; project?: string };
  image?: { tag?: string };
}

/** A new customer file in the house layout (used by import). */
export function renderCustomerFile(c: CustomerFileInput): string {
  const body: Record<string, unknown> = {};
  if (c.displayName) body.displayName = c.displayName;
  body.ring = c.ring;
  body.ssh = Object.fromEntries(Object.entries({ host: c.ssh.host, port: c.ssh.port, user: c.ssh.user, hostKey: c.ssh.hostKey }).filter(([, v]) => v !== undefined));
  body.compose = Object.fromEntries(Object.entries(c.compose).filter(([, v]) => v !== undefined));
  if (c.image?.tag) body.image = { tag: c.image.tag };
  const head = [`# yaml-language-server: $schema=${c.schemaPath}`, ...(c.comment ?? []).map((l) => (l ? `# ${l}` : '#'))];
  return head.join('\n') + '\n' + stringify(body, { lineWidth: 0 });
}
