// Matches a request to one of the operations in openapi-subset.json and
// validates its path parameters, query and JSON body with ajv. Any request
// that matches no operation, or fails validation, is reported as a problem:
// the stand-in answers it like GitHub would (404 / 422) and the test fails.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

interface Param {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Record<string, unknown>;
}

export interface Operation {
  operationId: string;
  method: string;
  path: string;
  parameters: Param[];
  requestBody: { required: boolean; schema: Record<string, unknown> } | null;
}

interface Subset {
  source: { package: string; version: string };
  operations: Operation[];
}

/** Path parameters that span several segments on GitHub (x-multi-segment in the description). */
const MULTI_SEGMENT = new Set(['ref', 'path']);

interface Compiled {
  op: Operation;
  regex: RegExp;
  names: string[];
  params: ValidateFunction;
  body?: ValidateFunction;
}

export interface Matched {
  operationId: string;
  pathParams: Record<string, string>;
  query: Record<string, unknown>;
  problems: string[];
}

/** GitHub ignores unknown body fields; we do not, so a misspelt field fails the test instead of being silently dropped. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (!schema || typeof schema !== 'object') return schema;
  const s = { ...(schema as Record<string, unknown>) };
  for (const [k, v] of Object.entries(s)) s[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, closeObjects(pv)])) : closeObjects(v);
  if (s.type === 'object' && s.properties && s.additionalProperties === undefined) s.additionalProperties = false;
  return s;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`).join('; ');
}

export class OpenApiValidator {
  readonly version: string;
  private readonly compiled: Compiled[];

  constructor(subsetFile = new URL('./openapi-subset.json', import.meta.url)) {
    const subset = JSON.parse(readFileSync(subsetFile, 'utf8')) as Subset;
    this.version = subset.source.version;
    // Query values arrive as strings: coerce them for the parameter schemas only.
    const paramAjv = new Ajv({ allErrors: true, strict: false, coerceTypes: true });
    const bodyAjv = new Ajv({ allErrors: true, strict: false });
    for (const a of [paramAjv, bodyAjv]) {
      addFormats(a);
      a.addFormat('repo.nwo', /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/); // GitHub's own format name for "owner/repo"
    }
    this.compiled = subset.operations.map((op) => {
      const names: string[] = [];
      const pattern = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return MULTI_SEGMENT.has(name) ? '(.+)' : '([^/]+)';
      });
      const props: Record<string, unknown> = {};
      const required: string[] = [];
      for (const p of op.parameters) {
        if (p.in !== 'path' && p.in !== 'query') continue;
        props[p.name] = p.schema;
        if (p.required) required.push(p.name);
      }
      return {
        op,
        regex: new RegExp(`^${pattern}$`),
        names,
        params: paramAjv.compile({ type: 'object', properties: props, required, additionalProperties: false }),
        body: op.requestBody ? bodyAjv.compile(closeObjects(op.requestBody.schema) as object) : undefined,
      };
    });
  }

  /** Undefined when no operation has this method and path. */
  match(method: string, path: string, query: URLSearchParams, body: unknown): Matched | undefined {
    for (const c of this.compiled) {
      if (c.op.method !== method) continue;
      const m = c.regex.exec(path);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      c.names.forEach((n, i) => (pathParams[n] = decodeURIComponent(m[i + 1]!)));
      const problems: string[] = [];
      const q: Record<string, unknown> = {};
      for (const [k, v] of query) q[k] = v;
      const all: Record<string, unknown> = { ...q, ...pathParams };
      if (!c.params(all)) problems.push(`${c.op.operationId}: parameters: ${describe(c.params.errors)}`);
      // coerceTypes rewrote `all` in place: hand the coerced query back.
      for (const k of Object.keys(q)) q[k] = all[k];
      if (c.body) {
        if (body === undefined) {
          if (c.op.requestBody?.required) problems.push(`${c.op.operationId}: request body required`);
        } else if (!c.body(body)) problems.push(`${c.op.operationId}: body: ${describe(c.body.errors)}`);
      } else if (body !== undefined && method !== 'GET') {
        problems.push(`${c.op.operationId}: takes no request body`);
      }
      return { operationId: c.op.operationId, pathParams, query: q, problems };
    }
    return undefined;
  }
}
