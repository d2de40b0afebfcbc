/**
 * Tokenizer: src/tokens/bpe.ts against js-tiktoken 1.0.21 (the encoder it replaces), in one process.
 *
 *   npm run bench:tokenizer   (BENCH_ROUNDS, default 7; BENCH_DRY_RUN=1 prints the section without
 *                              writing BENCHMARKS.md)
 *
 * 1. Tables: load time and heap of each encoding's tables (run with --expose-gc, as the npm script does).
 * 2. Ordinary text: tokens/s over the shared corpora (style guides and product files, read from
 *    ../shared, never copied), js-tiktoken and the new encoder in alternating order each round, cache
 *    warm and cache cleared; the ratio is taken per round, the median reported.
 * 3. One long word: 1–4 KB against js-tiktoken (whose merge is quadratic), then 10 KB, 100 KB and 1 MB
 *    with the new encoder alone, as ratios, with its operation counts.
 * 4. The event loop while 1 MB is counted: the sync call's single block against the async call's
 *    longest gap between two turns of a setImmediate chain.
 * 5. The pre-tokenisation pattern alone on hostile text at 1 MB and 10 MB.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Tiktoken } from 'js-tiktoken/lite'
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base'
import o200kRanks from 'js-tiktoken/ranks/o200k_base'
import {
  bpeOperations,
  cachedPieces,
  clearPieceCache,
  countTokens,
  countTokensAsync,
  ENCODING_NAMES,
  type EncodingName,
  encode,
  loadEncoding,
  SLICE_MS,
} from '../src/tokens/bpe.js'
import { countTokens as countTokensToday } from '../src/tokens/tokenizer.js'
import { CORPORA_DIR, filesUnder } from '../test/tokens/corpus-files.js'
import { cjkRun, lowercaseRun } from '../test/tokens/hostile-text.js'
import { percentile } from './retrieval-data.js'
import { writeSection } from './support/benchmarks-file.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const CORPORA = [
  'style-guide-govau',
  'style-guide-18f',
  'style-guide-mailchimp',
  'products-magento-luma',
  'products-bestbuy-typesense',
]
const RANK_FILES = { cl100k_base: cl100kRanks, o200k_base: o200kRanks }

const log = (message: string) => process.stderr.write(`[bench:tokenizer] ${message}\n`)
const median = (values: number[]) => percentile(values, 50)
const gc = (globalThis as { gc?: () => void }).gc
const fmt = (value: number, digits = 1) => value.toLocaleString('en-US', { maximumFractionDigits: digits })

function timed(work: () => void): number {
  const start = performance.now()
  work()
  return performance.now() - start
}

/** Wall and CPU milliseconds of `work`. CPU time is steadier when other processes share the cores. */
function timedBoth(work: () => void): { wall: number; cpu: number } {
  const cpuStart = process.cpuUsage()
  const wall = timed(work)
  const cpu = process.cpuUsage(cpuStart)
  return { wall, cpu: (cpu.user + cpu.system) / 1000 }
}

function heapAfterGc(): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

// 1. Tables.
const tableRows: string[] = []
const references = new Map<EncodingName, Tiktoken>()
for (const encoding of ENCODING_NAMES) {
  const before = heapAfterGc()
  const { loadMs } = loadEncoding(encoding)
  const ours = heapAfterGc() - before
  const referenceStart = performance.now()
  const reference = new Tiktoken(RANK_FILES[encoding])
  const referenceMs = performance.now() - referenceStart
  const theirs = heapAfterGc() - before - ours
  references.set(encoding, reference)
  const heap = (bytes: number) => (gc ? `${fmt(bytes / 2 ** 20)} MB` : 'n/a (no --expose-gc)')
  tableRows.push(
    `| ${encoding} | ${fmt(loadMs, 0)} | ${heap(ours)} | ${fmt(referenceMs, 0)} | ${heap(theirs)} |`,
  )
  log(`${encoding}: tables ${fmt(loadMs, 0)} ms, js-tiktoken ${fmt(referenceMs, 0)} ms`)
}

// 2. Ordinary text.
const files = CORPORA.flatMap((corpus) => filesUnder(join(CORPORA_DIR, corpus)))
const texts = files.map((file) => readFileSync(file, 'utf8'))
const corpusBytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0)
const throughputRows: string[] = []
const todaysCounter: string[] = []
for (const encoding of ENCODING_NAMES) {
  const reference = references.get(encoding)!
  const tokens = texts.reduce((sum, text) => sum + encode(text, encoding).length, 0)
  const contenders: Record<string, () => void> = {
    'js-tiktoken': () => {
      for (const text of texts) reference.encode(text, [], [])
    },
    'bpe.ts, cache warm': () => {
      for (const text of texts) encode(text, encoding)
    },
    'bpe.ts, cache cleared first': () => {
      clearPieceCache(encoding)
      for (const text of texts) encode(text, encoding)
    },
    'bpe.ts countTokens, cache warm': () => {
      for (const text of texts) countTokens(text, encoding)
    },
  }
  // What src/tokens/tokenizer.ts runs today: js-tiktoken per piece behind a cache of counts.
  contenders['tokenizer.ts countTokens (today), cache warm'] = () => {
    for (const text of texts) countTokensToday(text, encoding)
  }
  const names = Object.keys(contenders)
  for (const name of names) contenders[name]!()
  const times = new Map<string, { wall: number; cpu: number }[]>(names.map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so drift on the shared machine does not favour one contender.
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      times.get(name)!.push(timedBoth(contenders[name]!))
    }
  }
  const speedup = (name: string, over: string) => {
    const baseline = times.get(over)!
    return median(times.get(name)!.map((t, round) => baseline[round]!.cpu / t.cpu))
  }
  for (const name of names) {
    const cpu = median(times.get(name)!.map((t) => t.cpu))
    const wall = median(times.get(name)!.map((t) => t.wall))
    throughputRows.push(
      `| ${encoding} | ${name} | ${fmt(cpu, 0)} | ${fmt(tokens / (cpu / 1000) / 1e6, 2)} | ${fmt(speedup(name, 'js-tiktoken'), 1)}× | ${fmt(wall, 0)} |`,
    )
  }
  const overToday = speedup('bpe.ts countTokens, cache warm', 'tokenizer.ts countTokens (today), cache warm')
  todaysCounter.push(`${encoding} ${fmt(overToday, 2)}×`)
  log(`${encoding}: ordinary text done (${cachedPieces(encoding)} pieces cached)`)
}

// 3. One long word.
function wordTime(text: string, encoding: EncodingName, reps: number, run: (t: string) => void) {
  const ops: number[] = []
  const ms: number[] = []
  for (let i = 0; i < reps; i++) {
    clearPieceCache(encoding)
    const before = bpeOperations()
    ms.push(timedBoth(() => run(text)).cpu)
    ops.push(bpeOperations() - before)
  }
  return { ms: median(ms), ops: median(ops) }
}

const shortRows: string[] = []
let previousReference = 0
for (const bytes of [1_000, 2_000, 4_000]) {
  const text = lowercaseRun(bytes)
  const reference = references.get('cl100k_base')!
  const theirs = wordTime(text, 'cl100k_base', 3, (t) => reference.encode(t, [], []))
  const ours = wordTime(text, 'cl100k_base', 3, (t) => countTokens(t, 'cl100k_base'))
  const growth = previousReference === 0 ? '' : `${fmt(theirs.ms / previousReference, 1)}×`
  shortRows.push(
    `| ${fmt(bytes, 0)} | ${fmt(theirs.ms, 0)} | ${growth} | ${fmt(ours.ms, 2)} | ${fmt(theirs.ms / ours.ms, 0)}× |`,
  )
  previousReference = theirs.ms
}
log('short words done')

const longRows: string[] = []
const runs: Record<string, (bytes: number) => string> = {
  letters: (bytes) => lowercaseRun(bytes),
  'CJK (3 bytes each)': (bytes) => cjkRun(Math.floor(bytes / 3)),
}
for (const encoding of ENCODING_NAMES) {
  for (const [kind, make] of Object.entries(runs)) {
    let previous: { ms: number; ops: number } | undefined
    for (const bytes of [10_000, 100_000, 1_000_000]) {
      const result = wordTime(make(bytes), encoding, bytes === 1_000_000 ? 3 : 5, (t) =>
        countTokens(t, encoding),
      )
      const growth = previous
        ? `${fmt(result.ms / previous.ms, 1)}× | ${fmt(result.ops / previous.ops, 1)}×`
        : ' | '
      longRows.push(
        `| ${encoding} | ${kind} | ${fmt(bytes, 0)} | ${fmt(result.ms, 1)} | ${fmt(result.ops, 0)} | ${fmt(result.ops / bytes, 1)} | ${growth} |`,
      )
      previous = result
    }
  }
}
log('long words done')

// 4. The event loop while 1 MB is counted.
const cpuMs = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/**
 * Runs `work` beside a chain of setImmediate callbacks and reports the longest wall time between two
 * turns, and the most CPU time the process spent between two turns: on a shared machine the wall gap
 * includes time the process was not scheduled at all, the CPU figure is the work done in one stretch.
 */
async function longestGap(work: () => Promise<unknown>) {
  let last = performance.now()
  let lastCpu = cpuMs()
  let gap = 0
  let cpuGap = 0
  let turns = 0
  let running = true
  const turn = () => {
    const now = performance.now()
    const cpu = cpuMs()
    gap = Math.max(gap, now - last)
    cpuGap = Math.max(cpuGap, cpu - lastCpu)
    last = now
    lastCpu = cpu
    turns++
    if (running) setImmediate(turn)
  }
  setImmediate(turn)
  const start = performance.now()
  await work()
  const total = performance.now() - start
  running = false
  turn()
  return { gap, cpuGap, turns, total }
}

const megabyte = lowercaseRun(1_000_000, 99)
const loopRows: string[] = []
for (const [name, work] of [
  ['countTokens (sync)', async () => countTokens(megabyte, 'cl100k_base')],
  ['countTokensAsync', () => countTokensAsync(megabyte, 'cl100k_base')],
] as const) {
  const results: Awaited<ReturnType<typeof longestGap>>[] = []
  for (let i = 0; i < 3; i++) {
    clearPieceCache('cl100k_base')
    results.push(await longestGap(work))
  }
  const column = (pick: (r: (typeof results)[number]) => number, digits = 1) =>
    fmt(median(results.map(pick)), digits)
  loopRows.push(
    `| ${name} | ${column((r) => r.total, 0)} | ${column((r) => r.gap)} | ${column((r) => r.cpuGap)} | ${column((r) => r.turns, 0)} |`,
  )
}
log('event loop done')

// 5. The pattern alone.
const patternInputs: Record<string, (bytes: number) => string> = {
  'spaces, then a letter': (bytes) => `${' '.repeat(bytes - 1)}x`,
  'space-newline pairs': (bytes) => ' \n'.repeat(bytes / 2),
  digits: (bytes) => '7'.repeat(bytes),
  "'s repeated": (bytes) => "'s".repeat(bytes / 2),
  'space-symbol pairs': (bytes) => ' !'.repeat(bytes / 2),
  'capitals, then a digit, repeated': (bytes) => `${'A'.repeat(999)}1`.repeat(bytes / 1000),
  'mixed scripts': (bytes) => 'aЖ中1 '.repeat(bytes / 8),
}
const patternRows: string[] = []
for (const encoding of ENCODING_NAMES) {
  const pattern = RANK_FILES[encoding].pat_str
  for (const [kind, make] of Object.entries(patternInputs)) {
    const scan = (text: string) => () => {
      const regex = new RegExp(pattern, 'gu')
      while (regex.exec(text) !== null) {}
    }
    const small = make(1_000_000)
    const large = make(10_000_000)
    const count = (text: string) => () => {
      clearPieceCache(encoding)
      countTokens(text, encoding)
    }
    const cpu = (work: () => void) => median([0, 1, 2].map(() => timedBoth(work).cpu))
    const [scanSmall, scanLarge, countSmall, countLarge] = [
      scan(small),
      scan(large),
      count(small),
      count(large),
    ].map(cpu) as [number, number, number, number]
    patternRows.push(
      `| ${encoding} | ${kind} | ${fmt(scanSmall, 1)} | ${fmt(scanLarge, 1)} | ${fmt(scanLarge / scanSmall, 1)}× | ${fmt(countSmall, 1)} | ${fmt(countLarge, 1)} | ${fmt(countLarge / countSmall, 1)}× |`,
    )
  }
}
log('pattern done')

const section = `## Tokenizer

\`src/tokens/bpe.ts\` (byte-pair encoding with a heap, a hand-written ASCII pre-tokeniser, a piece cache
and an async API that yields)
against js-tiktoken 1.0.21, which it is to replace, measured in one process on ${new Date().toISOString().slice(0, 10)},
Node ${process.version}, a 2-core machine shared with other work: absolute times move from run to run,
ratios taken within a round move less. The new encoder's ids equal js-tiktoken's on every input the
tests compare (test/tokens/).

Command: \`npm run bench:tokenizer\` (${ROUNDS} rounds)

### Tables

Built on first use from js-tiktoken's own rank files. Heap after garbage collection; js-tiktoken's
figure is for its \`Tiktoken\` object with the rank file already imported.

| encoding | bpe.ts load ms | bpe.ts heap | js-tiktoken constructor ms | js-tiktoken heap |
| --- | ---: | ---: | ---: | ---: |
${tableRows.join('\n')}

### Ordinary text

${files.length} files of the shared corpora (${CORPORA.join(', ')}; ${fmt(corpusBytes / 2 ** 20)} MB), one pass
encoding each file. Medians of ${ROUNDS} rounds, contenders in rotating order. Times are the process's CPU
time, steadier than wall time when the cores are shared (wall time in the last column); the speed-up is
js-tiktoken's CPU time over the contender's, per round, median. "Cache cleared first" empties the piece
cache before each pass, as a fresh process ingesting a new corpus starts; "warm" is the steady state of
a long-running process.

| encoding | encoder | CPU ms per pass | M tokens per CPU second | speed-up over js-tiktoken | wall ms per pass |
| --- | --- | ---: | ---: | ---: | ---: |
${throughputRows.join('\n')}

Counting with \`countTokens\` against what \`src/tokens/tokenizer.ts\` runs today (js-tiktoken per piece
behind a cache of counts, warm): **${todaysCounter.join(', ')}** as fast.

### One long word

A single unbroken run of random lowercase letters, cl100k_base, cache cleared, median of 3. js-tiktoken's
time quadruples when the word doubles:

| bytes | js-tiktoken CPU ms | growth per doubling | bpe.ts CPU ms | js-tiktoken / bpe.ts |
| ---: | ---: | ---: | ---: | ---: |
${shortRows.join('\n')}

The new encoder alone on longer words (one piece each), median of 5 (3 at 1 MB). Operations are the
encoder's count of rank lookups, heap moves and merges (what test/tokens/bpe-linearity.test.ts bounds):
n log n predicts about 12× per tenfold, a quadratic merge 100×.

| encoding | run | bytes | CPU ms | operations | operations per byte | time growth | operation growth |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${longRows.join('\n')}

### The event loop while 1 MB is counted

One 1 MB word, cl100k_base, cache cleared, medians of 3 runs. A chain of setImmediate callbacks runs
alongside and records the longest wall time between two of its turns, and the most CPU time the
process spent between two turns (on this shared machine the process is often not running at all, which
stretches wall gaps but not CPU). The async API yields after ${SLICE_MS} ms of wall time.

| call | total ms | longest gap, wall ms | longest gap, CPU ms | turns |
| --- | ---: | ---: | ---: | ---: |
${loopRows.join('\n')}

### The pre-tokenisation pattern on hostile text

js-tiktoken's patterns, unchanged (the new encoder falls back to them for anything non-ASCII), run
alone over 1 MB and 10 MB of each input, then the whole count (hand-written ASCII scan, cache cleared
first, merges), median of 3. A backtracking blow-up would show as far more than 10× per tenfold.

| encoding | input | pattern, 1 MB CPU ms | pattern, 10 MB | growth | bpe.ts countTokens, 1 MB | countTokens, 10 MB | growth |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${patternRows.join('\n')}
`

if (process.env.BENCH_DRY_RUN) process.stdout.write(section)
else {
  writeSection('BENCHMARKS.md', '## Tokenizer', section)
  log('wrote the Tokenizer section of BENCHMARKS.md')
}
