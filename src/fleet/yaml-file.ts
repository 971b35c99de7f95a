// Turns the bytes of one fleet file into plain data plus a way to find the
// line and column of any field, without ever throwing on bad input.
import { Alias, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node, type Pair } from 'yaml';
import type { FleetError, SourcePos } from './types.js';

/** Files bigger than this are refused: a fleet file is a few dozen lines. */
export const MAX_FILE_BYTES = 64 * 1024;
/** Aliases are resolved at most this many times per file (guards against alias bombs). */
export const MAX_ALIAS_COUNT = 50;

export type FieldPath = Array<string | number>;

export interface Located extends SourcePos {
  endLine?: number;
  endColumn?: number;
}

export interface ParsedFile {
  file: string;
  text: string;
  /** Plain data, or undefined when the file could not be read as one YAML mapping. */
  data: Record<string, unknown> | undefined;
  errors: FleetError[];
  /** Position of the value at `path` (or of its key), falling back to the nearest enclosing field. */
  locate(path: FieldPath, which?: 'key' | 'value'): Located & { found: boolean };
  /** Exact source text of the scalar at `path`, if there is one. */
  sourceText(path: FieldPath): string | undefined;
  /** Every leaf (scalar or list) path in the file with its position. */
  leaves(): Array<{ path: FieldPath; pos: Located }>;
}

export function dotted(path: FieldPath): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[');
}

/** First byte offset that is not valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

function lineColOfByte(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) { line++; lineStart = i + 1; }
  return { line, column: offset - lineStart + 1 };
}

function failed(file: string, errors: FleetError[], text = ''): ParsedFile {
  const pos = { file, line: 1, column: 1, found: false };
  return { file, text, data: undefined, errors, locate: () => pos, sourceText: () => undefined, leaves: () => [] };
}

function fileError(file: string, message: string, line = 1, column = 1): FleetError {
  return { file, line, column, path: '', message, severity: 'error' };
}

export function parseYamlFile(file: string, bytes: Uint8Array): ParsedFile {
  if (bytes.length > MAX_FILE_BYTES) {
    return failed(file, [fileError(file, `file is ${Math.ceil(bytes.length / 1024)} KiB; fleet files may be at most ${MAX_FILE_BYTES / 1024} KiB`)]);
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const { line, column } = lineColOfByte(bytes, bad);
    return failed(file, [fileError(file, `file is not valid UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')}); save it as UTF-8`, line, column)]);
  }
  let text = new TextDecoder('utf-8').decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const lc = new LineCounter();
  const at = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });
  const errors: FleetError[] = [];
  const list = Array.from(docs as Iterable<Document.Parsed>);
  if (list.length === 0 || (list.length === 1 && list[0]!.contents == null && list[0]!.errors.length === 0)) {
    return failed(file, [fileError(file, 'file is empty; expected a YAML mapping of fields')], text);
  }
  if (list.length > 1) {
    const second = list[1]!;
    const { line, column } = at(second.range[0]);
    errors.push(fileError(file, 'file holds more than one YAML document (a second `---`); put everything in one', line, column));
  }
  const doc = list[0]!;
  const linesWithErrors = new Set<number>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, column } = at(e.pos[0]);
    // One syntax slip often yields several parser complaints on its line; the first is the useful one.
    if (linesWithErrors.has(line)) continue;
    linesWithErrors.add(line);
    const key = (/^[^:\n]*/.exec(text.slice(e.pos[0], e.pos[0] + 80))?.[0] ?? '').trim();
    const msg = e.code === 'DUPLICATE_KEY'
      ? `${key && key.length < 60 ? `'${key}'` : 'a field'} appears twice in one mapping; keep one`
      : `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
    errors.push({ ...fileError(file, msg, line, column), severity: 'error' });
  }
  let data: unknown;
  if (errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      const msg = e instanceof ReferenceError && /alias/i.test(e.message)
        ? `too many YAML alias expansions (more than ${MAX_ALIAS_COUNT}); write the values out`
        : `YAML could not be read: ${(e as Error).message}`;
      errors.push(fileError(file, msg));
    }
  }
  if (errors.length === 0 && (data === null || typeof data !== 'object' || Array.isArray(data))) {
    const { line, column } = doc.contents ? at(doc.contents.range[0]) : { line: 1, column: 1 };
    errors.push(fileError(file, `expected a mapping of fields (key: value) at the top of the file, found ${describeKind(data)}`, line, column));
  }

  const resolve = (n: unknown): unknown => (isAlias(n) ? (n as Alias).resolve(doc) : n);
  const posOf = (n: Node | null | undefined): Located | undefined => {
    if (!n?.range) return undefined;
    const s = at(n.range[0]);
    const e = at(n.range[1]);
    return { file, line: s.line, column: s.column, endLine: e.line, endColumn: e.column };
  };

  const locate = (path: FieldPath, which: 'key' | 'value' = 'value'): Located & { found: boolean } => {
    let node: unknown = resolve(doc.contents);
    let best: Located = posOf(node as Node) ?? { file, line: 1, column: 1 };
    for (let i = 0; i < path.length; i++) {
      const part = path[i]!;
      let pair: Pair | undefined;
      let next: unknown;
      if (isMap(node)) {
        pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
        next = pair ? resolve(pair.value) : undefined;
      } else if (isSeq(node) && typeof part === 'number') {
        next = resolve(node.items[part]);
      }
      if (next === undefined && !pair) return { ...best, found: false };
      const last = i === path.length - 1;
      const keyPos = pair ? posOf(pair.key as Node) : undefined;
      const valPos = posOf(next as Node);
      if (last) {
        const p = which === 'key' ? keyPos ?? valPos : valPos ?? keyPos;
        return { ...(p ?? best), found: true };
      }
      best = keyPos ?? valPos ?? best;
      node = next;
    }
    return { ...best, found: true };
  };

  const sourceText = (path: FieldPath): string | undefined => {
    const n = resolve(doc.getIn(path, true));
    if (!isScalar(n) || !n.range) return undefined;
    return text.slice(n.range[0], n.range[1]);
  };

  let leafCache: Array<{ path: FieldPath; pos: Located }> | undefined;
  const leaves = (): Array<{ path: FieldPath; pos: Located }> => {
    if (leafCache) return leafCache;
    const out: Array<{ path: FieldPath; pos: Located }> = [];
    leafCache = out;
    const walk = (n: unknown, path: FieldPath, depth: number) => {
      n = resolve(n);
      if (depth > 20) return;
      if (isMap(n)) {
        for (const p of n.items) {
          if (isPair(p) && isScalar(p.key)) walk(p.value, [...path, String(p.key.value)], depth + 1);
        }
      } else {
        const pos = posOf(n as Node);
        if (pos && path.length) out.push({ path, pos });
      }
    };
    walk(doc.contents, [], 0);
    return out;
  };

  const parsed = errors.length ? undefined : (data as Record<string, unknown>);
  return { file, text, data: parsed, errors, locate, sourceText, leaves };
}

export function describeKind(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v} (true/false)`;
  return `the text '${String(v)}'`;
}
