import type { PromptSampleRow } from '../db/insights.js'
import { formatReferenceData } from '../generation/prompt.js'
import { CONTEXT_PLACEHOLDER, renderTemplate, templateVariables } from '../generation/template.js'
import { countTokensAsync, type Encoding, encodingForModel } from '../tokens/tokenizer.js'

export interface Composition {
  template: 'foundation' | 'fine_tuned'
  /** Generations measured: the newest of the window that kept their prompt. */
  sampled: number
  /** Mean tokens per call: the system message without the passages, the passages block, the caller's messages. */
  meanTokens: { instructions: number; passages: number; input: number } | null
}

export interface TemplateSaving {
  /** Tokens of the full template and of route.fineTunedSystemPrompt, variables and {{context}} left empty. */
  foundationTokens: number
  fineTunedTokens: number | null
  /** Tokens a call to the fine-tuned model saves by its shorter template; null without one. */
  savedTokens: number | null
}

/** Where a sampled prompt's tokens go. Passages are found as the block the prompt assembler wrote. */
export async function composition(
  template: Composition['template'],
  samples: PromptSampleRow[],
  fallbackModel: string,
): Promise<Composition> {
  if (samples.length === 0) return { template, sampled: 0, meanTokens: null }
  let instructions = 0
  let passages = 0
  let input = 0
  for (const sample of samples) {
    const encoding = encodingForModel(sample.model ?? fallbackModel)
    const tokens = (text: string) => countTokensAsync(text, encoding)
    for (const message of sample.messages) {
      if (message.role !== 'system') {
        input += await tokens(message.content)
        continue
      }
      const block = formatReferenceData(sample.passages ?? [])
      if (message.content.includes(block)) {
        passages += await tokens(block)
        instructions += await tokens(message.content.replace(block, ''))
      } else instructions += await tokens(message.content)
    }
  }
  const mean = (n: number) => Math.round((n / samples.length) * 10) / 10
  return {
    template,
    sampled: samples.length,
    meanTokens: { instructions: mean(instructions), passages: mean(passages), input: mean(input) },
  }
}

function templateTokens(template: string, encoding: Encoding): Promise<number> {
  // Variables and the passages slot are per request: only the static instructions are counted.
  const empty = Object.fromEntries(
    [...templateVariables(template), CONTEXT_PLACEHOLDER].map((name) => [name, '']),
  )
  return countTokensAsync(renderTemplate(template, empty), encoding)
}

/** What the fine-tuned template saves per call against the full one, in tokens. */
export async function templateSaving(
  systemPrompt: string,
  fineTunedSystemPrompt: string | undefined,
  model: string,
): Promise<TemplateSaving> {
  const encoding = encodingForModel(model)
  const full = await templateTokens(systemPrompt, encoding)
  if (fineTunedSystemPrompt === undefined)
    return { foundationTokens: full, fineTunedTokens: null, savedTokens: null }
  const short = await templateTokens(fineTunedSystemPrompt, encoding)
  return { foundationTokens: full, fineTunedTokens: short, savedTokens: full - short }
}
