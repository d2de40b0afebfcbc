import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { claimForEvaluation } from '../db/datasets.js'
import {
  type EvalCaseRow,
  type EvalSetRow,
  findEvalCandidates,
  findEvalSet,
  insertEvalCases,
  insertEvalSet,
  listEvalSets,
  readEvalCases,
} from '../db/eval-sets.js'
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-errors.js'
import { findTask } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import type { Check } from './checks.js'
import { type CreateEvalSetRequest, EvalCase, MAX_EVAL_CASES } from './eval-set-request.js'

export type EvalSetView = Omit<EvalSetRow, 'taskId' | 'taskName' | 'createdBy' | 'createdAt'> & {
  task: string
  createdAt: string
  cases: (EvalCase & { ordinal: number; generationId: string | null })[]
}

type NewCase = Omit<EvalCaseRow, 'ordinal'>

/** The cases of a JSONL text, each line checked; every bad line is named (up to 20). */
export function parseCasesJsonl(text: string): EvalCase[] {
  const cases: EvalCase[] = []
  const errors: { path: string; message: string }[] = []
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      errors.push({ path: `jsonl:${index + 1}`, message: 'not valid JSON' })
      continue
    }
    const parsed = EvalCase.safeParse(value)
    if (parsed.success) cases.push(parsed.data)
    else
      for (const issue of parsed.error.issues.slice(0, 3))
        errors.push({ path: `jsonl:${index + 1}.${issue.path.join('.')}`, message: issue.message })
  }
  if (errors.length > 0)
    throw new AppError('validation_failed', 'Some lines of the JSONL are not evaluation cases.', {
      errors: errors.slice(0, 20),
    })
  if (cases.length === 0) throw new AppError('validation_failed', 'The JSONL holds no cases.')
  if (cases.length > MAX_EVAL_CASES)
    throw new AppError('validation_failed', `An evaluation set holds at most ${MAX_EVAL_CASES} cases.`)
  return cases
}

/** Two sets of one name posted at once both want the next version: the second is told to retry. */
async function insertEvalSetVersion(...args: Parameters<typeof insertEvalSet>): Promise<string> {
  try {
    return await insertEvalSet(...args)
  } catch (error) {
    if (pgErrorCode(error) !== UNIQUE_VIOLATION) throw error
    throw new AppError(
      'conflict',
      `Another version of evaluation set ${args[1].name} was being created; try again.`,
    )
  }
}

/** A stable number in [0, 1) for a seed and a generation: sampling is a pure function of both. */
function sampleKey(seed: string, generationId: string): number {
  return createHash('sha256').update(`eval:${seed}:${generationId}`).digest().readUIntBE(0, 6) / 2 ** 48
}

function hashCases(cases: NewCase[]): string {
  const hash = createHash('sha256')
  for (const c of cases)
    hash.update(JSON.stringify([c.input, c.variables, c.subject, c.reference, c.checks, c.generationId]))
  return hash.digest('hex')
}

/**
 * Freeze a new evaluation set (the next version of its name): the cases given, or a seeded sample of the
 * task's reviewed generations that no dataset trained on, whose corrected (else approved) output becomes
 * the reference. Sampled generations are recorded as evaluation cases in the same transaction, under
 * the lock datasets take to record training examples, so the two can never share a generation.
 */
export async function createEvalSet(
  db: pg.Pool,
  key: ApiKey | undefined,
  request: CreateEvalSetRequest,
): Promise<EvalSetView> {
  const task = await findTask(db, request.task, key?.collections)
  if (!task) throw new AppError('not_found', `No task named ${request.task}.`)
  const shared: Check[] = request.checks
  const withShared = (own: Check[]) => [...shared, ...own]
  let cases: NewCase[]
  let params: Record<string, unknown>
  if (request.sample) {
    const { sample } = request
    const candidates = await findEvalCandidates(db, {
      taskId: task.id,
      states: sample.review === 'approved' ? ['approved'] : ['approved', 'corrected'],
      ...(sample.versions ? { versions: sample.versions } : {}),
      ...(sample.since ? { since: new Date(sample.since) } : {}),
      ...(key?.collections !== undefined ? { collections: key.collections } : {}),
    })
    const picked = candidates
      .map((candidate) => ({ candidate, key: sampleKey(sample.seed, candidate.id) }))
      .sort((a, b) => a.key - b.key)
      .slice(0, sample.count)
      .map(({ candidate }) => candidate)
    if (picked.length === 0)
      throw new AppError(
        'validation_failed',
        'No reviewed generation of the task can become an evaluation case (approved or corrected, and not used for training).',
      )
    cases = picked.map((g) => ({
      input: g.input.input ?? '',
      variables: g.input.variables ?? {},
      subject: g.subject,
      reference: g.corrected ?? g.output,
      checks: withShared([]),
      generationId: g.id,
    }))
    params = { sample: { ...sample, available: candidates.length } }
  } else {
    const given = request.cases ?? parseCasesJsonl(request.jsonl ?? '')
    cases = given.map((c) => ({
      input: c.input,
      variables: c.variables,
      subject: c.subject ?? null,
      reference: c.reference ?? null,
      checks: withShared(c.checks),
      generationId: null,
    }))
    params = { upload: request.jsonl !== undefined ? 'jsonl' : 'cases' }
  }
  const id = await withTransaction(db, async (client) => {
    const setId = await insertEvalSetVersion(client, {
      taskId: task.id,
      name: request.name,
      source: request.sample ? 'sampled' : 'upload',
      params,
      caseCount: cases.length,
      contentHash: hashCases(cases),
      createdBy: key?.id ?? null,
    })
    const sampled = cases.flatMap((c) => (c.generationId ? [c.generationId] : []))
    if (sampled.length > 0) {
      const { refused } = await claimForEvaluation(client, sampled, setId)
      // A dataset took some of the sampled generations for training meanwhile.
      if (refused.length > 0)
        throw new AppError(
          'conflict',
          `${refused.length} of the sampled generations were used for training meanwhile; create the set again.`,
        )
    }
    await insertEvalCases(client, setId, cases)
    return setId
  })
  return getEvalSet(db, key, id)
}

export async function getEvalSet(db: pg.Pool, key: ApiKey | undefined, id: string): Promise<EvalSetView> {
  const row = await findEvalSet(db, id)
  // A key limited to some collections sees the sets of tasks within them only.
  const visible =
    row && (key?.collections === undefined || (await findTask(db, row.taskName, key.collections)))
  if (!row || !visible) throw new AppError('not_found', `No evaluation set ${id}.`)
  const cases = await readEvalCases(db, id)
  return {
    ...summaryOf(row),
    cases: cases.map((c) => ({
      ordinal: c.ordinal,
      input: c.input,
      variables: c.variables,
      ...(c.subject !== null ? { subject: c.subject } : {}),
      ...(c.reference !== null ? { reference: c.reference } : {}),
      checks: c.checks as Check[],
      generationId: c.generationId,
    })),
  }
}

export type EvalSetSummary = Omit<EvalSetView, 'cases'>

/** A task's evaluation sets without their cases, newest first (a limited key: tasks within its collections). */
export async function listEvalSetsOfTask(
  db: pg.Pool,
  key: ApiKey | undefined,
  taskName: string,
  limit: number,
): Promise<EvalSetSummary[]> {
  const task = await findTask(db, taskName, key?.collections)
  if (!task) throw new AppError('not_found', `No task named ${taskName}.`)
  return (await listEvalSets(db, task.id, limit)).map(summaryOf)
}

function summaryOf(row: EvalSetRow): EvalSetSummary {
  return {
    id: row.id,
    task: row.taskName,
    name: row.name,
    version: row.version,
    source: row.source,
    params: row.params,
    caseCount: row.caseCount,
    contentHash: row.contentHash,
    createdAt: row.createdAt.toISOString(),
  }
}
