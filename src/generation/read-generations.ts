import type { ApiKey } from '../auth/api-keys.js'
import { type FeedbackRow, listFeedback } from '../db/feedback.js'
import {
  findGenerationRow,
  type GenerationCursor,
  type GenerationFilters,
  type GenerationRow,
  type GenerationScope,
  listGenerationRows,
} from '../db/generation-reads.js'
import type { StoredMessage, StoredPassage } from '../db/generations.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { buildCitations, type CitationReport } from './citations.js'

/**
 * What a key may read: admin and review keys every generation of the collections on their allowlist
 * (all, without one); a key with neither scope (generate) only the generations it made.
 */
export function generationScopeOf(key: ApiKey): GenerationScope {
  const admin = key.scopes.includes('admin')
  if (!admin && !key.scopes.includes('review')) return { ownKeyId: key.id }
  return {
    ...(key.collections !== undefined ? { collections: key.collections } : {}),
    // Reviewers review blind: which model or arm produced an output shows once they have submitted.
    ...(admin ? {} : { blindFor: key.id }),
  }
}

/** Filters a blind reader may not use: they would tell which model or arm produced what. */
export function assertNotRevealing(key: ApiKey, filters: GenerationFilters): void {
  if (generationScopeOf(key).blindFor === undefined) return
  const revealing = (['model', 'strategy', 'arm'] as const).filter((name) => filters[name] !== undefined)
  if (revealing.length > 0) {
    throw new AppError('forbidden', 'Review keys review blind and cannot filter by model, strategy or arm.', {
      errors: revealing.map((name) => ({ path: name, message: 'not available to review keys' })),
    })
  }
}

export interface GenerationSummary {
  id: string
  createdAt: string
  task: { name: string; version: number } | null
  endpoint: string
  subject: string | null
  collection: string | null
  apiKeyId: string | null
  status: 'succeeded' | 'failed'
  error: string | null
  reviewState: string
  input: string | null
  variables: Record<string, string> | null
  output: string | null
  route: {
    model: string | null
    strategy: string | null
    arm: string | null
    reason: string | null
    fellBack: boolean
    template: string | null
  }
  usage: { promptTokens: number | null; completionTokens: number | null; costUsd: number | null }
  latencyMs: number | null
}

export interface FeedbackView {
  apiKeyId: string | null
  rating: number | 'up' | 'down' | null
  approved: boolean | null
  correctedOutput: string | null
  comment: string | null
  labels: string[]
  revision: number
  updatedAt: string
}

export interface GenerationDetail extends GenerationSummary, CitationReport {
  messages: StoredMessage[] | null
  passages: StoredPassage[] | null
  promptDroppedAt: string | null
  feedback: FeedbackView[]
}

const HIDDEN_ROUTE = { model: null, strategy: null, arm: null, reason: null, fellBack: false, template: null }

export function summarize(row: GenerationRow): GenerationSummary {
  const input = row.input as { input?: unknown; variables?: unknown }
  const summary: GenerationSummary = {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    task:
      row.taskName !== null && row.taskVersion !== null
        ? { name: row.taskName, version: row.taskVersion }
        : null,
    endpoint: row.endpoint,
    subject: row.subject,
    collection: row.collection,
    apiKeyId: row.apiKeyId,
    status: row.status,
    error: row.error,
    reviewState: row.reviewState,
    input: typeof input.input === 'string' ? input.input : null,
    variables: isStringRecord(input.variables) ? input.variables : null,
    output: row.output,
    route: {
      model: row.model,
      strategy: row.strategy,
      arm: row.routeArm,
      reason: row.routeReason,
      fellBack: row.fellBack,
      template: row.promptTemplate,
    },
    usage: { promptTokens: row.promptTokens, completionTokens: row.completionTokens, costUsd: row.costUsd },
    latencyMs: row.latencyMs,
  }
  if (row.revealed) return summary
  return {
    ...summary,
    route: HIDDEN_ROUTE,
    usage: { promptTokens: null, completionTokens: null, costUsd: null },
    latencyMs: null,
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function feedbackView(row: Omit<FeedbackRow, 'generationId' | 'createdAt'>): FeedbackView {
  return {
    apiKeyId: row.apiKeyId,
    rating: row.rating ?? row.thumb,
    approved: row.approved,
    correctedOutput: row.correctedOutput,
    comment: row.comment,
    labels: row.labels,
    revision: row.revision,
    updatedAt: row.updatedAt.toISOString(),
  }
}

export function encodeCursor(row: GenerationRow): string {
  return Buffer.from(JSON.stringify([row.cursorAt, row.id])).toString('base64url')
}

export function decodeCursor(cursor: string): GenerationCursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[]
    if (
      typeof at === 'string' &&
      typeof id === 'string' &&
      /^[0-9a-f-]{36}$/.test(id) &&
      /^\d{4}-\d\d-\d\d[ T][\d:.]+([+-]\d\d(:?\d\d)?|Z)?$/.test(at)
    ) {
      return { at, id }
    }
  } catch {
    // falls through to the error below
  }
  throw new AppError('bad_request', 'The cursor is not one this API returned.', {
    errors: [{ path: 'cursor', message: 'use the nextCursor of the previous page' }],
  })
}

export async function listGenerations(
  db: Queryable,
  key: ApiKey,
  filters: GenerationFilters,
  page: { limit: number; cursor?: string },
): Promise<{ data: GenerationSummary[]; nextCursor: string | null }> {
  assertNotRevealing(key, filters)
  const rows = await listGenerationRows(
    db,
    generationScopeOf(key),
    filters,
    page.limit,
    page.cursor === undefined ? undefined : decodeCursor(page.cursor),
  )
  const shown = rows.slice(0, page.limit)
  const last = shown.at(-1)
  return {
    data: shown.map(summarize),
    nextCursor: rows.length > page.limit && last ? encodeCursor(last) : null,
  }
}

/** One generation with its prompt, citations and feedback; 404 for one the key may not see. */
export async function getGeneration(db: Queryable, key: ApiKey, id: string): Promise<GenerationDetail> {
  const scope = generationScopeOf(key)
  const row = await findGenerationRow(db, id, scope)
  if (!row) throw new AppError('not_found', `No generation ${id} that this key may read.`)
  const feedback = await listFeedback(db, id, scope.ownKeyId)
  return {
    ...summarize(row),
    ...buildCitations(row.passages ?? [], row.output ?? ''),
    // The system message's template differs between arms: a blind reader sees the conversation only.
    messages: row.revealed
      ? row.messages
      : (row.messages?.filter((m, i) => !(i === 0 && m.role === 'system')) ?? null),
    passages: row.passages,
    promptDroppedAt: row.promptDroppedAt?.toISOString() ?? null,
    feedback: feedback.map(feedbackView),
  }
}
