/**
 * One database's half of bench/ingest.ts, in a fresh process so every target starts with cold caches
 * (a worker's first job after it starts):
 *
 *   tsx bench/ingest-run.ts <postgres|embedded> <server-url> <stub-url> <reps>
 *
 * 1. A profiled first ingest: a sampling CPU profile of this process, every statement timed, and (on
 *    PostgreSQL) the CPU its backends used.
 * 2. `reps` times, each into a fresh collection: Onbrand's first ingest, then LangChain's
 *    PGVectorStore.addDocuments of the same chunk texts (plain table, then HNSW-indexed table, each in
 *    its own process), then the floor: the very rows Onbrand stored, by binary COPY into fresh tables
 *    and every index built afterwards.
 * 3. `reps` re-ingests of the unchanged corpus, counting embedding requests.
 *
 * Prints one JSON object on stdout for bench/ingest.ts.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { openBenchTarget, type TargetKind } from './support/bench-target.js'
import { corpusSources } from './support/ingest-corpus.js'
import { type FloorResult, measureFloor, readStoredRows, type StoredRows } from './support/ingest-floor.js'
import { CpuProfiler, type StatementStat } from './support/ingest-profile.js'
import { DIMS, dropCollection, freshCollection, ingestAll, ingestSession } from './support/ingest-session.js'
import { runJsonChild } from './support/json-child.js'

const [kind, serverUrl, stubUrl, repsArg] = process.argv.slice(2) as [TargetKind, string, string, string]
const reps = Number(repsArg)

export interface TargetResult {
  kind: TargetKind
  label: string
  loadAverage: { start: number[]; end: number[] }
  files: number
  documents: number
  chunks: number
  errors: number
  firstCalls: number
  profile: {
    seconds: number
    cpu: Record<string, number>
    statements: Record<string, StatementStat>
    backendCpuSeconds?: number
  }
  onbrand: number[]
  langchain: number[]
  langchainHnsw: number[]
  floor: FloorResult[]
  rerun: number[]
  rerunCalls: number[]
}

async function runBaseline(
  spec: string,
  textsFile: string,
  table: string,
  index: 'none' | 'hnsw',
  batch: number,
  concurrency: number,
): Promise<number> {
  const args = [spec, textsFile, stubUrl, table, String(DIMS), String(batch), String(concurrency), index]
  return (await runJsonChild<{ seconds: number }>('bench/ingest-baseline.ts', args)).seconds
}

function embeddingTexts(rows: StoredRows): { text: string; sourceId: string; ordinal: number }[] {
  const sourceIds = new Map(rows.documents.map((d) => [d.id, d.sourceId]))
  return rows.chunks.map((c) => ({
    text: c.headingPath === '' ? c.text : `${c.headingPath}\n\n${c.text}`,
    sourceId: sourceIds.get(c.documentId)!,
    ordinal: c.ordinal,
  }))
}

const log = (line: string) => process.stderr.write(`[${kind}] ${line}\n`)
const startLoad = loadavg()
const sources = corpusSources()
const target = await openBenchTarget(kind, serverUrl)
try {
  const session = ingestSession(target, stubUrl)
  const { config, counter, timers } = session

  // 1. The profiled run: cold caches, profiler on.
  const profiled = await freshCollection(target, 'bench-profile')
  timers.reset()
  const cpuBefore = await target.backendCpuSeconds()
  const profiler = new CpuProfiler()
  await profiler.start()
  counter.calls = 0
  const profileRun = await ingestAll(session, profiled, sources)
  const cpu = await profiler.stop()
  const cpuAfter = await target.backendCpuSeconds()
  const firstCalls = counter.calls
  const statements = structuredClone(Object.fromEntries(timers.stats))
  log(`profiled first ingest ${profileRun.seconds.toFixed(2)} s`)
  await dropCollection(target, profiled)

  const result: TargetResult = {
    kind,
    label: target.label,
    loadAverage: { start: startLoad, end: [] },
    files: sources.reduce((n, s) => n + s.files.length, 0),
    documents: 0,
    chunks: 0,
    errors: profileRun.errors,
    firstCalls,
    profile: {
      seconds: profileRun.seconds,
      cpu: Object.fromEntries(cpu),
      statements,
      backendCpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    },
    onbrand: [],
    langchain: [],
    langchainHnsw: [],
    floor: [],
    rerun: [],
    rerunCalls: [],
  }

  // 2. Timed reps.
  let last = profiled
  for (let rep = 0; rep < reps; rep++) {
    const collection = await freshCollection(target, `bench-${rep}`)
    const run = await ingestAll(session, collection, sources)
    result.onbrand.push(run.seconds)
    const rows = await readStoredRows(target, collection.id)
    result.documents = rows.documents.length
    result.chunks = rows.chunks.length
    const textsFile = join(tmpdir(), `onbrand-bench-texts-${process.pid}.json`)
    writeFileSync(textsFile, JSON.stringify(embeddingTexts(rows)))
    const { EMBEDDING_BATCH_SIZE: batch, EMBEDDING_CONCURRENCY: concurrency } = config
    result.langchain.push(
      await runBaseline(target.baselineSpec, textsFile, `langchain_${rep}`, 'none', batch, concurrency),
    )
    result.langchainHnsw.push(
      await runBaseline(target.baselineSpec, textsFile, `langchain_hnsw_${rep}`, 'hnsw', batch, concurrency),
    )
    rmSync(textsFile)
    result.floor.push(await measureFloor(target, rows, collection.id, DIMS, String(rep)))
    log(
      `rep ${rep + 1}/${reps}: onbrand ${run.seconds.toFixed(2)} s, PGVectorStore ${result.langchain.at(-1)!.toFixed(2)} s ` +
        `(HNSW ${result.langchainHnsw.at(-1)!.toFixed(2)} s), floor ${result.floor.at(-1)!.seconds.toFixed(2)} s, ${rows.chunks.length} chunks`,
    )
    if (rep < reps - 1) await dropCollection(target, collection)
    last = collection
  }

  // 3. Unchanged re-ingest.
  for (let rep = 0; rep < reps; rep++) {
    counter.calls = 0
    result.rerun.push((await ingestAll(session, last, sources)).seconds)
    result.rerunCalls.push(counter.calls)
  }
  result.loadAverage.end = loadavg()
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await target.close()
}
