// Extracts the operations the app calls from GitHub's OpenAPI description
// (@octokit/openapi, 13 MB) into openapi-subset.json, small enough to commit
// and to load in every test. Run again after upgrading @octokit/openapi:
//   npx tsx test/github/standin/extract-openapi.ts
// Only the request side (path/query parameters, request body) is kept: that
// is what the stand-in validates. Descriptions and examples are dropped;
// OpenAPI 3.0 `nullable` is rewritten to JSON Schema so ajv can use it as is.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** operationIds the app (src/github) calls; keep in sync with the stand-in's routes. */
export const OPERATIONS = [
  'apps/get-authenticated',
  'apps/create-installation-access-token',
  'checks/create',
  'checks/update',
  'checks/get',
  'checks/list-for-ref',
  'git/get-tree',
  'git/get-blob',
  'git/get-commit',
  'git/get-ref',
  'git/create-tree',
  'git/create-commit',
  'git/create-ref',
  'git/update-ref',
  'pulls/list',
  'pulls/create',
  'pulls/update',
  'repos/compare-commits-with-basehead',
] as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const require = createRequire(import.meta.url);
const specPath = require.resolve('@octokit/openapi/generated/api.github.com.json');
const pkg = JSON.parse(readFileSync(require.resolve('@octokit/openapi/package.json'), 'utf8')) as { version: string };
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Obj;
const components = spec.components as Obj;

function deref(node: Json): Json {
  if (node && typeof node === 'object' && !Array.isArray(node) && typeof node.$ref === 'string') {
    const parts = node.$ref.replace(/^#\//, '').split('/');
    let cur: Json = spec;
    for (const p of parts) cur = (cur as Obj)[p] as Json;
    return deref(cur);
  }
  return node;
}

const DROP = new Set(['description', 'example', 'examples', 'summary', 'externalDocs', 'title']);
/** Inline every $ref (request schemas are small and not recursive) and turn OAS 3.0 into JSON Schema. */
function toJsonSchema(node: Json, depth = 0): Json {
  if (depth > 40) throw new Error('schema nesting too deep (recursive $ref?)');
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n, depth + 1));
  if (!node || typeof node !== 'object') return node;
  const n = deref(node) as Obj;
  const out: Obj = {};
  for (const [k, v] of Object.entries(n)) {
    if (DROP.has(k) || k.startsWith('x-')) continue;
    if (k === 'properties') {
      const props: Obj = {};
      for (const [pk, pv] of Object.entries(v as Obj)) props[pk] = toJsonSchema(pv, depth + 1);
      out[k] = props;
    } else out[k] = toJsonSchema(v, depth + 1);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (out.enum) out.enum = [...(out.enum as Json[]), null];
    else return { anyOf: [out, { type: 'null' }] };
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  } else delete out.nullable;
  return out;
}

const operations: Obj[] = [];
for (const [path, item] of Object.entries(spec.paths as Obj)) {
  for (const [method, opJson] of Object.entries(item as Obj)) {
    const op = opJson as Obj;
    if (!OPERATIONS.includes(op.operationId as (typeof OPERATIONS)[number])) continue;
    const parameters = ((op.parameters as Json[]) ?? []).map((p) => {
      const d = deref(p) as Obj;
      return { name: d.name ?? null, in: d.in ?? null, required: d.required === true, schema: toJsonSchema(d.schema ?? {}) } as Json;
    });
    const body = op.requestBody ? (deref(op.requestBody) as Obj) : undefined;
    const bodySchema = body ? ((body.content as Obj)['application/json'] as Obj | undefined)?.schema : undefined;
    operations.push({
      operationId: op.operationId as string,
      method: method.toUpperCase(),
      path,
      parameters,
      requestBody: body ? { required: body.required === true, schema: toJsonSchema(bodySchema ?? {}) } : null,
    });
  }
}
const missing = OPERATIONS.filter((id) => !operations.some((o) => o.operationId === id));
if (missing.length) throw new Error(`operations not in the spec: ${missing.join(', ')}`);
void components;

const out = {
  source: { package: '@octokit/openapi', version: pkg.version, file: 'generated/api.github.com.json', openapi: spec.openapi },
  operations: operations.sort((a, b) => String(a.operationId).localeCompare(String(b.operationId))),
};
const target = fileURLToPath(new URL('./openapi-subset.json', import.meta.url));
writeFileSync(target, JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${operations.length} operations from @octokit/openapi ${pkg.version} to ${target}`);
