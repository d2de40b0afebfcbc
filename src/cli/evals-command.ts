import { readFileSync } from 'node:fs'
import { startWorker } from '../../ingest/jobs/worker.js'
import { findEvalSet } from '../db/eval-sets.js'
import { createEvalRun } from '../evals/create-eval-run.js'
import { createEvalSet } from '../evals/create-eval-set.js'
import { CreateEvalRunRequest } from '../evals/eval-run-request.js'
import { CreateEvalSetRequest } from '../evals/eval-set-request.js'
import { getEvalRun } from '../evals/get-eval-run.js'
import { withServices } from '../services.js'
import { failedGates, formatTable, parseArm, parseGate } from './evals-format.js'
import { EXIT, parseCommandArgs, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand evals create-set --task NAME --name SET --file cases.jsonl      (prints the set's id)
  onbrand evals run --set ID [--task NAME] --arm SPEC [--arm SPEC ...] [--judge MODEL] [--repetitions N]
      [--budget USD] [--baseline RUN-ID] [--concurrency N] [--gate "ARM:CHECK>=RATE" ...] [--json]
  An arm SPEC is key=value pairs: name=tuned,model=ft:…,variant=fine_tuned,retrieval=on,version=2.
  Exit 1 when the run fails or a gate fails (CHECK is a check name, or passAll).`

function parsed<T>(
  schema: {
    safeParse(
      value: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } }
  },
  value: unknown,
): T {
  const result = schema.safeParse(value)
  if (!result.success)
    throw new UsageError(
      `${result.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}\n\n${usage}`,
    )
  return result.data
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseCommandArgs(usage, args, {
    task: { type: 'string' },
    name: { type: 'string' },
    file: { type: 'string' },
    set: { type: 'string' },
    arm: { type: 'string', multiple: true },
    judge: { type: 'string' },
    repetitions: { type: 'string' },
    budget: { type: 'string' },
    baseline: { type: 'string' },
    concurrency: { type: 'string' },
    gate: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  })
  const [action, ...extra] = positionals
  if ((action !== 'run' && action !== 'create-set') || extra.length > 0)
    throw new UsageError(`${action ? `Unknown action "${action}"` : 'Name an action'}\n\n${usage}`)

  if (action === 'create-set') {
    if (!values.file) throw new UsageError(`create-set needs --file\n\n${usage}`)
    const request = parsed(CreateEvalSetRequest, {
      task: values.task,
      name: values.name,
      jsonl: readFileSync(values.file, 'utf8'),
    })
    return withServices({ quiet: true }, async ({ db }) => {
      const set = await createEvalSet(db.pool, undefined, request)
      process.stdout.write(
        values.json
          ? `${JSON.stringify(set)}\n`
          : `${set.id}\t${set.task}/${set.name} v${set.version}: ${set.caseCount} cases\n`,
      )
      return EXIT.ok
    })
  }

  const gates = (values.gate ?? []).map(parseGate)
  const request = parsed(CreateEvalRunRequest, {
    evalSetId: values.set,
    arms: (values.arm ?? []).map(parseArm),
    ...(values.judge ? { judge: { model: values.judge } } : {}),
    ...(values.repetitions ? { repetitions: Number(values.repetitions) } : {}),
    ...(values.budget ? { budgetUsd: Number(values.budget) } : {}),
    ...(values.baseline ? { baselineRunId: values.baseline } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
  })
  return withServices({ quiet: true }, async (services) => {
    const db = services.db.pool
    const set = await findEvalSet(db, request.evalSetId)
    if (set && values.task && set.taskName !== values.task)
      throw new UsageError(`Evaluation set ${set.id} belongs to task ${set.taskName}, not ${values.task}.`)
    const { runId, jobId } = await createEvalRun(db, services.models, undefined, request)
    // This process works on its own run; other workers may take part of nothing else of it.
    const worker = startWorker({
      deps: services.ingest,
      handlers: services.jobHandlers,
      onlyJobId: jobId,
      autoBackfill: false,
    })
    const progress = setInterval(() => {
      void getEvalRun(db, undefined, runId).then((view) => {
        if (view.progress && process.stderr.isTTY)
          process.stderr.write(`\r${view.progress.done}/${view.progress.total} results`)
      })
    }, 1000)
    try {
      await worker.done
    } finally {
      clearInterval(progress)
      if (process.stderr.isTTY) process.stderr.write('\n')
    }
    const view = await getEvalRun(db, undefined, runId)
    const failures = failedGates(view.report, gates)
    if (values.json) process.stdout.write(`${JSON.stringify({ ...view, gates: { failed: failures } })}\n`)
    else {
      process.stdout.write(`${formatTable(view)}\n`)
      for (const failure of failures) process.stdout.write(`gate failed: ${failure}\n`)
    }
    if (view.status === 'failed') {
      process.stderr.write(`The run failed: ${view.error ?? 'see the worker log'}\n`)
      return EXIT.failed
    }
    return failures.length > 0 ? EXIT.failed : EXIT.ok
  })
}
