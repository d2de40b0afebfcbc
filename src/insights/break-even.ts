/** Hours in an average month (365.25 × 24 / 12, rounded): what an hourly-billed deployment costs a month. */
export const HOURS_PER_MONTH = 730

export interface RouteCostInput {
  model: string
  /** How to name the priced thing when it has no price (default: the model id). */
  label?: string
  /** Registry prices per 1M tokens; null: not priced. */
  inputPer1M: number | null
  outputPer1M: number | null
  /** Mean tokens of one call on this route; null: no calls to measure. */
  promptTokens: number | null
  completionTokens: number | null
}

export interface BreakEvenInput {
  /** Calls a month at the observed volume, and a day. */
  projectedMonthly: number
  callsPerDay: number
  base: RouteCostInput
  fineTuned: RouteCostInput & { hostingPerHour: number | null }
  /** Training cost, or null with the reason it is unknown. */
  training: { costUsd: number | null; source: 'dataset' | 'estimate' | 'none'; unknownBecause?: string }
}

export interface BreakEven {
  /** False when a per-call price is unknown: no saving is given then (unknown is never $0). */
  priced: boolean
  blockedBy: string[]
  /** Why the training cost is unknown (then there is no payback either); null when it is known. */
  trainingUnknownBecause: string | null
  baseCostPerCallUsd: number | null
  fineTunedCostPerCallUsd: number | null
  hostingPerCallUsd: number | null
  /** Base route − fine-tuned route (hosting included), per call. */
  savingPerCallUsd: number | null
  monthlySavingUsd: number | null
  trainingCostUsd: number | null
  trainingCostSource: 'dataset' | 'estimate' | 'none'
  /** Calls and days at the observed volume until the saving has paid for the training; null: never. */
  paybackCalls: number | null
  paybackDays: number | null
}

const round = (usd: number) => Math.round(usd * 1e8) / 1e8

function perCall(route: RouteCostInput, blockedBy: string[]): number | null {
  const missing = [
    route.inputPer1M === null ? 'input' : undefined,
    route.outputPer1M === null ? 'output' : undefined,
  ].filter(Boolean)
  if (missing.length > 0) {
    blockedBy.push(
      `${route.label ?? route.model} has no ${missing.join(' or ')} price in the model registry (PATCH /v1/model-registry/${encodeURIComponent(route.model)})`,
    )
    return null
  }
  if (route.promptTokens === null || route.completionTokens === null) {
    blockedBy.push(`no calls with token usage to measure what a call to ${route.model} uses`)
    return null
  }
  return (route.promptTokens * route.inputPer1M! + route.completionTokens * route.outputPer1M!) / 1e6
}

/**
 * What moving the task to the fine-tuned route saves per call, and how long the training takes to pay
 * back at the observed volume. Any unknown price blocks the whole figure and says which.
 */
export function breakEven(input: BreakEvenInput): BreakEven {
  const blockedBy: string[] = []
  const base = perCall(input.base, blockedBy)
  const tuned = perCall(input.fineTuned, blockedBy)
  const hosting =
    input.fineTuned.hostingPerHour === null
      ? 0
      : (input.fineTuned.hostingPerHour * HOURS_PER_MONTH) / Math.max(1, input.projectedMonthly)
  const priced = blockedBy.length === 0
  const saving = base !== null && tuned !== null ? base - (tuned + hosting) : null
  const training = input.training.costUsd
  const pays = priced && saving !== null && saving > 0 && training !== null
  const paybackCalls = pays ? Math.ceil(training / saving) : null
  return {
    priced,
    blockedBy,
    trainingUnknownBecause:
      training === null ? (input.training.unknownBecause ?? 'the training cost is unknown') : null,
    baseCostPerCallUsd: base === null ? null : round(base),
    fineTunedCostPerCallUsd: tuned === null ? null : round(tuned + hosting),
    hostingPerCallUsd: round(hosting),
    savingPerCallUsd: saving === null ? null : round(saving),
    monthlySavingUsd: saving === null ? null : Math.round(saving * input.projectedMonthly * 100) / 100,
    trainingCostUsd: training === null ? null : round(training),
    trainingCostSource: input.training.source,
    paybackCalls,
    paybackDays:
      paybackCalls === null || input.callsPerDay <= 0
        ? null
        : Math.round((paybackCalls / input.callsPerDay) * 10) / 10,
  }
}
