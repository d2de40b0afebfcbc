import type { Queryable } from './transaction.js'

export type ModelKind = 'foundation' | 'fine_tuned'
export type ModelSource = 'catalog' | 'file' | 'api' | 'fine_tune' | 'task'

/** The fields of a registry row a caller may set (all but id, source and timestamps). */
export interface ModelFields {
  kind: ModelKind
  baseModel: string | null
  baseURL: string | null
  apiKeyEnv: string | null
  inputPricePer1M: number | null
  outputPricePer1M: number | null
  trainingPricePer1M: number | null
  fineTunedInputPricePer1M: number | null
  fineTunedOutputPricePer1M: number | null
  hostingPerHour: number | null
  contextWindow: number | null
  trainingExampleTokenLimit: number | null
  /** YYYY-MM-DD */
  shutdownDate: string | null
  pricesAsOf: string | null
  fineTuneId: string | null
  providerJobId: string | null
  datasetId: string | null
}

export interface ModelRow extends ModelFields {
  id: string
  source: ModelSource
  createdBy: string | null
  createdAt: Date
  updatedAt: Date
}

/** Column of each field, in one place for the SELECT, the INSERT and the UPDATE. */
const COLUMNS: Record<keyof ModelFields, string> = {
  kind: 'kind',
  baseModel: 'base_model',
  baseURL: 'base_url',
  apiKeyEnv: 'api_key_env',
  inputPricePer1M: 'input_price_per_1m',
  outputPricePer1M: 'output_price_per_1m',
  trainingPricePer1M: 'training_price_per_1m',
  fineTunedInputPricePer1M: 'fine_tuned_input_price_per_1m',
  fineTunedOutputPricePer1M: 'fine_tuned_output_price_per_1m',
  hostingPerHour: 'hosting_per_hour',
  contextWindow: 'context_window',
  trainingExampleTokenLimit: 'training_example_token_limit',
  shutdownDate: 'shutdown_date',
  pricesAsOf: 'prices_as_of',
  fineTuneId: 'fine_tune_id',
  providerJobId: 'provider_job_id',
  datasetId: 'dataset_id',
}
const FIELDS = Object.keys(COLUMNS) as (keyof ModelFields)[]
const NUMERIC = new Set<keyof ModelFields>([
  'inputPricePer1M',
  'outputPricePer1M',
  'trainingPricePer1M',
  'fineTunedInputPricePer1M',
  'fineTunedOutputPricePer1M',
  'hostingPerHour',
])
const DATES = new Set<keyof ModelFields>(['shutdownDate', 'pricesAsOf'])

const SELECT = `SELECT id, source, created_by, created_at, updated_at, ${FIELDS.map((f) => {
  const column = COLUMNS[f]
  return DATES.has(f) ? `to_char(${column}, 'YYYY-MM-DD') AS ${column}` : column
}).join(', ')} FROM models`

function toRow(raw: Record<string, unknown>): ModelRow {
  const row = {
    id: raw.id as string,
    source: raw.source as ModelSource,
    createdBy: (raw.created_by as string | null) ?? null,
    createdAt: raw.created_at as Date,
    updatedAt: raw.updated_at as Date,
  } as ModelRow
  for (const field of FIELDS) {
    const value = raw[COLUMNS[field]] ?? null
    // numeric comes back as a string (exact); prices fit a double comfortably.
    ;(row as unknown as Record<string, unknown>)[field] =
      value !== null && NUMERIC.has(field) ? Number(value) : value
  }
  return row
}

export async function listModelRows(db: Queryable): Promise<ModelRow[]> {
  const { rows } = await db.query(`${SELECT} ORDER BY id`)
  return rows.map(toRow)
}

export async function findModelRow(db: Queryable, id: string): Promise<ModelRow | undefined> {
  const { rows } = await db.query(`${SELECT} WHERE id = $1`, [id])
  return rows[0] ? toRow(rows[0]) : undefined
}

/** The ids of `ids` that have no registry row. */
export async function findUnknownModels(db: Queryable, ids: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT x.id FROM unnest($1::text[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.id = x.id)',
    [ids],
  )
  return rows.map((row) => row.id)
}

export type SeedMode =
  /** Insert; an existing row is left alone unless it only came from an existing task (then filled in). */
  | 'catalog'
  /** Insert, or overwrite the fields the entry sets: the models file is the operator's configuration. */
  | 'file'

/** Seed one row from the catalog or the models file; `fields` holds only the fields the entry sets. */
export async function seedModelRow(
  db: Queryable,
  id: string,
  fields: Partial<ModelFields> & { kind: ModelKind },
  mode: SeedMode,
): Promise<void> {
  const set = FIELDS.filter((field) => fields[field] !== undefined)
  const values = set.map((field) => fields[field])
  const columns = set.map((field) => COLUMNS[field])
  const placeholders = set.map((_, i) => `$${i + 3}`)
  const update = columns.map((column) => `${column} = EXCLUDED.${column}`).join(', ')
  const onConflict =
    mode === 'catalog'
      ? `DO UPDATE SET ${update}, source = 'catalog', updated_at = now() WHERE models.source = 'task'`
      : `DO UPDATE SET ${update}, source = CASE WHEN models.source IN ('catalog', 'task') THEN 'file' ELSE models.source END, updated_at = now()`
  await db.query(
    `INSERT INTO models (id, source, ${columns.join(', ')}) VALUES ($1, $2, ${placeholders.join(', ')})
     ON CONFLICT (id) ${onConflict}`,
    [id, mode, ...values],
  )
}

/** A new row; a duplicate id fails with UNIQUE_VIOLATION. */
export async function insertModelRow(
  db: Queryable,
  id: string,
  fields: Partial<ModelFields> & { kind: ModelKind },
  source: ModelSource,
  createdBy: string | null,
): Promise<ModelRow> {
  const set = FIELDS.filter((field) => fields[field] !== undefined)
  const columns = set.map((field) => COLUMNS[field])
  const placeholders = set.map((_, i) => `$${i + 4}`)
  await db.query(
    `INSERT INTO models (id, source, created_by${columns.map((c) => `, ${c}`).join('')})
     VALUES ($1, $2, $3${placeholders.map((p) => `, ${p}`).join('')})`,
    [id, source, createdBy, ...set.map((field) => fields[field])],
  )
  return (await findModelRow(db, id))!
}

/** Set the given fields (null clears one); undefined when there is no such model. */
export async function updateModelRow(
  db: Queryable,
  id: string,
  fields: Partial<ModelFields>,
): Promise<ModelRow | undefined> {
  const set = FIELDS.filter((field) => fields[field] !== undefined)
  if (set.length > 0) {
    await db.query(
      `UPDATE models SET ${set.map((field, i) => `${COLUMNS[field]} = $${i + 2}`).join(', ')}, updated_at = now()
       WHERE id = $1`,
      [id, ...set.map((field) => fields[field])],
    )
  }
  return findModelRow(db, id)
}
