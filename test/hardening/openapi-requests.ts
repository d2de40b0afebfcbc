/**
 * Builds plausible requests for every route in the app's OpenAPI registry, so security tests can call
 * each route without a hand-kept list. Values are the smallest that satisfy the route's schemas.
 */

import type { OpenAPIHono } from '@hono/zod-openapi'
import { type ZodType, z } from 'zod'
import { SCOPE_EXTENSION } from '../../src/http/protected-route.js'

type JsonSchema = Record<string, any>

/** One route as registered (not as rendered into /openapi.json), with its schemas as JSON Schema. */
export interface Operation {
  method: string
  /** OpenAPI path, e.g. `/v1/keys/{id}`. */
  path: string
  /** The route's scope extension: one scope, or several of which a key needs one. */
  scope: string | string[] | undefined
  /** The same as a list (empty for public routes). */
  scopes: string[]
  security: unknown
  responseCodes: string[]
  params: JsonSchema | undefined
  /** Request body schema per content type. */
  bodies: Record<string, JsonSchema>
}

function jsonSchema(schema: unknown): JsonSchema | undefined {
  if (!schema) return undefined
  try {
    return z.toJSONSchema(schema as ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  } catch {
    return {}
  }
}

/**
 * Every route registered through the OpenAPI registry. Read from the registry rather than the
 * rendered document so the matrix still runs (and says what is wrong) if rendering the document fails.
 */
export function operationsOf(app: OpenAPIHono<any>): Operation[] {
  return (app.openAPIRegistry.definitions as { type: string; route?: Record<string, any> }[])
    .filter((d) => d.type === 'route' && d.route)
    .map(({ route }) => {
      const r = route as Record<string, any>
      const content = (r.request?.body?.content ?? {}) as Record<string, { schema?: unknown }>
      return {
        method: String(r.method),
        path: String(r.path),
        scope: r[SCOPE_EXTENSION] as string | string[] | undefined,
        scopes: [r[SCOPE_EXTENSION] ?? []].flat() as string[],
        security: r.security,
        responseCodes: Object.keys(r.responses ?? {}),
        params: jsonSchema(r.request?.params),
        bodies: Object.fromEntries(
          Object.entries(content).map(([type, entry]) => [type, jsonSchema(entry.schema) ?? {}]),
        ),
      }
    })
}

/** `/v1/keys/:id` (Hono) → `/v1/keys/{id}` (OpenAPI); Hono's inline regexes (`:id{[0-9]+}`) dropped. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^/]*\})?\??/g, '{$1}')
}

/** Path parameters that name a collection: `{collection}`, or the segment right after /v1/collections/. */
function collectionParam(path: string): string | undefined {
  const named = /\{(collection|collectionName)\}/.exec(path)?.[1]
  if (named) return named
  return /^\/v1\/collections\/\{([^}]+)\}/.exec(path)?.[1]
}

/** Follows `$ref`s into the root schema's `$defs` (recursive types such as JSON values use them). */
function resolve(root: JsonSchema, schema: JsonSchema | undefined): JsonSchema {
  let current = schema ?? {}
  for (let depth = 0; current.$ref && depth < 10; depth++) {
    const name = String(current.$ref).replace(/^#\/\$defs\//, '')
    current = root.$defs?.[name] ?? {}
  }
  return current
}

const STRING_CANDIDATES = [
  'aaaaaaaaaaaa',
  'test-value',
  'a',
  '00000000-0000-4000-8000-000000000000',
  'https://example.com/',
  'hello world',
  '1',
]

function sampleString(schema: JsonSchema): string {
  if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000'
  if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com/'
  const fits = (value: string) =>
    (schema.minLength === undefined || value.length >= schema.minLength) &&
    (schema.maxLength === undefined || value.length <= schema.maxLength) &&
    (schema.pattern === undefined || new RegExp(schema.pattern).test(value))
  return STRING_CANDIDATES.find(fits) ?? 'a'.repeat(Math.max(1, schema.minLength ?? 1))
}

/** A minimal value valid against `schema`: required properties only, first enum member, lowest numbers. */
function sampleValue(doc: JsonSchema, raw: JsonSchema | undefined, depth = 0): unknown {
  const schema = resolve(doc, raw)
  if (depth > 8) return null
  if ('const' in schema) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if ('default' in schema) return schema.default
  for (const key of ['anyOf', 'oneOf']) {
    const options = (schema[key] as JsonSchema[] | undefined)?.filter((o) => resolve(doc, o).type !== 'null')
    if (options?.length) return sampleValue(doc, options[0], depth + 1)
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((part: JsonSchema) => sampleValue(doc, part, depth + 1)))
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const name of (schema.required as string[] | undefined) ?? []) {
        out[name] = sampleValue(doc, schema.properties?.[name], depth + 1)
      }
      return out
    }
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sampleValue(doc, schema.items, depth + 1))
    case 'string':
      return sampleString(schema)
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1)
    case 'boolean':
      return false
    default:
      return schema.properties ? sampleValue(doc, { ...schema, type: 'object' }, depth) : null
  }
}

export interface BuiltRequest {
  url: string
  init: RequestInit
  /** Where the collection went, if the operation takes one. */
  collectionIn?: 'path' | 'body'
}

/** An unrepresentable schema (`{}`, or an anyOf holding one) is where zod has a File: send a file. */
function isFileField(root: JsonSchema, field: JsonSchema): boolean {
  const options = (field.anyOf as JsonSchema[] | undefined) ?? [field]
  return options.some((o) => {
    const r = resolve(root, o)
    return r.format === 'binary' || Object.keys(r).length === 0
  })
}

/**
 * A request for `operation` with every path parameter filled and a minimal valid body; `collection`
 * goes into the collection path parameter or the body's top-level `collection` / `collections` field.
 */
export function buildRequest(
  operation: Operation,
  options: { collection: string; authorization?: string },
): BuiltRequest {
  const collectionName = collectionParam(operation.path)
  let collectionIn: BuiltRequest['collectionIn'] = collectionName ? 'path' : undefined
  const params = operation.params ?? {}
  const url = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name === collectionName) return options.collection
    return encodeURIComponent(String(sampleValue(params, params.properties?.[name] ?? { type: 'string' })))
  })
  const headers = new Headers()
  if (options.authorization) headers.set('authorization', options.authorization)
  const init: RequestInit = { method: operation.method.toUpperCase(), headers }
  const json = operation.bodies['application/json']
  const multipart = operation.bodies['multipart/form-data']
  if (json) {
    const body = (sampleValue(json, json) ?? {}) as Record<string, unknown>
    if (!collectionIn && json.properties?.collection) {
      body.collection = options.collection
      collectionIn = 'body'
    } else if (!collectionIn && json.properties?.collections) {
      body.collections = [options.collection]
      collectionIn = 'body'
    }
    headers.set('content-type', 'application/json')
    init.body = JSON.stringify(body)
  } else if (multipart) {
    const form = new FormData()
    for (const name of (multipart.required as string[] | undefined) ??
      Object.keys(multipart.properties ?? {})) {
      const field = resolve(multipart, multipart.properties?.[name])
      if (isFileField(multipart, field)) {
        form.append(name, new File(['# Voice\n\nPlain words.\n'], 'voice.md', { type: 'text/markdown' }))
      } else {
        form.append(name, String(sampleValue(multipart, field)))
      }
    }
    init.body = form
  }
  return { url, init, ...(collectionIn ? { collectionIn } : {}) }
}
