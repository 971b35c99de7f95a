// The JSON Schemas in schemas/ are the single source of truth for what a
// fleet file may say: editors read them, ajv checks against them, and the
// built-in defaults are their `default` values.
import { readFileSync } from 'node:fs';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';

export type SchemaName = 'customer' | 'ring' | 'defaults';

const SCHEMA_FILES: Record<SchemaName, string> = {
  customer: 'customer.schema.json',
  ring: 'ring.schema.json',
  defaults: 'defaults.schema.json',
};

/** Directory of the shipped schemas; works from src/fleet/ and dist/fleet/ alike. */
export const SCHEMA_DIR_URL = new URL('../../schemas/', import.meta.url);

function readSchema(file: string): AnySchemaObject {
  return JSON.parse(readFileSync(new URL(file, SCHEMA_DIR_URL), 'utf8')) as AnySchemaObject;
}

interface Compiled {
  ajv: Ajv;
  raw: Record<SchemaName, AnySchemaObject>;
  validate: Record<SchemaName, ValidateFunction>;
}

let compiled: Compiled | undefined;

function compile(): Compiled {
  // verbose: errors carry their schema, which holds the human messages.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, verbose: true });
  // Annotations editors understand (VS Code / yaml-language-server); we read them too.
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
  const raw = {} as Record<SchemaName, AnySchemaObject>;
  for (const [name, file] of Object.entries(SCHEMA_FILES) as Array<[SchemaName, string]>) {
    raw[name] = readSchema(file);
    ajv.addSchema(raw[name], file);
  }
  const validate = {} as Record<SchemaName, ValidateFunction>;
  for (const [name, file] of Object.entries(SCHEMA_FILES) as Array<[SchemaName, string]>) {
    const v = ajv.getSchema(file);
    if (!v) throw new Error(`schema ${file} did not compile`);
    validate[name] = v;
  }
  return { ajv, raw, validate };
}

function get(): Compiled {
  compiled ??= compile();
  return compiled;
}

export function schemaValidator(name: SchemaName): ValidateFunction {
  return get().validate[name];
}

export function rawSchema(name: SchemaName): AnySchemaObject {
  return get().raw[name];
}

export function schemaFileName(name: SchemaName): string {
  return SCHEMA_FILES[name];
}

/** Validate one value against a definition of the customer schema, e.g. "sshHost". */
const definitionValidators = new Map<string, ValidateFunction>();
export function checkDefinition(def: string, value: unknown): boolean {
  let v = definitionValidators.get(def);
  if (!v) {
    v = get().ajv.getSchema(`customer.schema.json#/definitions/${def}`);
    if (!v) throw new Error(`no schema definition ${def}`);
    definitionValidators.set(def, v);
  }
  return v(value) as boolean;
}

function rawSchemaByFile(file: string): AnySchemaObject | undefined {
  const entry = (Object.entries(SCHEMA_FILES) as Array<[SchemaName, string]>).find(([, f]) => f === file);
  return entry ? rawSchema(entry[0]) : undefined;
}

/** Follow $refs (local or to another schema file); sibling keywords of a $ref win. */
function deref(node: AnySchemaObject | undefined, root: AnySchemaObject): [AnySchemaObject | undefined, AnySchemaObject] {
  while (node && typeof node.$ref === 'string') {
    const [file, pointer = ''] = (node.$ref as string).split('#');
    if (file) root = rawSchemaByFile(file) ?? root;
    let target: unknown = root;
    for (const part of pointer.split('/').filter(Boolean)) {
      target = (target as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    const { $ref: _ref, ...siblings } = node;
    node = target ? { ...(target as AnySchemaObject), ...siblings } : undefined;
  }
  return [node, root];
}

/** The schema node that describes `path` in a document of the given kind. */
export function schemaAt(name: SchemaName, path: Array<string | number>): AnySchemaObject | undefined {
  let root = rawSchema(name);
  let node: AnySchemaObject | undefined;
  [node, root] = deref(root, root);
  for (const part of path) {
    if (!node) return undefined;
    if (typeof part === 'number' || /^\d+$/.test(part)) {
      const anyOf = node.anyOf as AnySchemaObject[] | undefined;
      const arr = anyOf?.find((s) => s.type === 'array') ?? node;
      node = arr.items as AnySchemaObject | undefined;
    } else {
      node = (node.properties as Record<string, AnySchemaObject> | undefined)?.[part];
    }
    [node, root] = deref(node, root);
  }
  return node;
}

/** Field names an object at `path` may have (for "did you mean" hints). */
export function allowedKeys(name: SchemaName, path: Array<string | number>): string[] {
  const s = schemaAt(name, path);
  return Object.keys((s?.properties as Record<string, unknown> | undefined) ?? {});
}

/**
 * Built-in defaults: the `default` of every customer field, as a nested
 * object (e.g. { ssh: { port: 22 }, backup: { keep: 3, ... } }).
 */
export function builtInCustomerDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (path: string[], target: Record<string, unknown>) => {
    const s = schemaAt('customer', path);
    const props = (s?.properties as Record<string, unknown> | undefined) ?? {};
    for (const key of Object.keys(props)) {
      const child = schemaAt('customer', [...path, key]);
      if (!child) continue;
      if (child.default !== undefined) target[key] = structuredClone(child.default);
      else if (child.type === 'object' && child.properties) {
        const sub: Record<string, unknown> = {};
        walk([...path, key], sub);
        if (Object.keys(sub).length) target[key] = sub;
      }
    }
  };
  walk([], out);
  return out;
}
