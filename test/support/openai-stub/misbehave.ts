/**
 * Hostile chat replies: what a model provider, a proxy in front of it or a broken network can send back
 * with a 200 (or a gateway status). Each kind applies to non-streaming and streaming requests; what it
 * does in each is said on the kind.
 */

/** Default pause between dripped bytes. */
export const DEFAULT_DRIP_INTERVAL_MS = 500

export type Misbehaviour =
  /** A NUL character (U+0000) in the middle of the assistant content (in one streamed delta). */
  | { kind: 'nul-in-content' }
  /** Usage of 1e12 prompt, completion and total tokens (streaming: in the usage chunk, when asked for). */
  | { kind: 'usage-huge' }
  /** Usage with negative token counts. */
  | { kind: 'usage-negative' }
  /** Usage whose token counts are strings such as "lots". */
  | { kind: 'usage-non-numeric' }
  /** No `usage` field at all (streaming: no usage chunk even when `include_usage` was asked for). */
  | { kind: 'usage-missing' }
  /**
   * Status 200 and a body that is not JSON: non-streaming, the completion's JSON cut in half (with a
   * Content-Length that matches, so the HTTP exchange itself is complete); streaming, the SSE chunk after
   * `afterChunks` content chunks (default 1) carries broken JSON, and the stream then goes on normally.
   */
  | { kind: 'invalid-json'; afterChunks?: number }
  /**
   * An HTML page (a proxy's error page) with `status` (default 200) and `content-type: text/html`
   * instead of JSON or SSE.
   */
  | { kind: 'html'; status?: number; html?: string }
  /** `choices: []` (streaming: every chunk has `choices: []`, then `[DONE]`). */
  | { kind: 'empty-choices' }
  /** The choice's `message.content` is null (streaming: the deltas carry `content: null`). */
  | { kind: 'null-content' }
  /** The choice's message has no `content` key (streaming: deltas without `content`). */
  | { kind: 'absent-content' }
  /**
   * Headers at once, then the body one byte every `intervalMs` (default 500). Non-streaming: the whole
   * JSON body is dripped. Streaming: the SSE chunk after `afterChunks` content chunks (default 0, the
   * first content chunk) is dripped; the rest of the stream flows normally.
   */
  | { kind: 'drip'; intervalMs?: number; afterChunks?: number }
  /**
   * The reply stops mid-way. Streaming: after `afterChunks` content chunks (default 2) the response ends
   * cleanly, with no finish chunk and no `[DONE]`. Non-streaming: the headers announce the full
   * Content-Length, half the body is sent, then the connection is closed.
   */
  | { kind: 'truncated'; afterChunks?: number }

export type MisbehaviourKind = Misbehaviour['kind']

export type MisbehaveNextOptions = Misbehaviour & {
  /** Only chat calls for this model id misbehave (default: any model). */
  model?: string
  /** How many matching chat calls misbehave (default 1). */
  times?: number
  /** Only streaming (true) or only non-streaming (false) requests (default: either). */
  stream?: boolean
}

export interface QueuedMisbehaviour {
  spec: Misbehaviour
  model: string | undefined
  stream: boolean | undefined
  remaining: number
}

export const DEFAULT_PROXY_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n' +
  '<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n'

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  [key: string]: unknown
}

/** The usage a misbehaviour reports instead of the true one (`undefined`: no usage at all). */
export function misreportedUsage(kind: MisbehaviourKind | undefined, usage: Usage): unknown {
  switch (kind) {
    case 'usage-huge':
      return { ...usage, prompt_tokens: 1e12, completion_tokens: 1e12, total_tokens: 2e12 }
    case 'usage-negative':
      return { ...usage, prompt_tokens: -5, completion_tokens: -12, total_tokens: -17 }
    case 'usage-non-numeric':
      return { ...usage, prompt_tokens: 'lots', completion_tokens: 'many', total_tokens: 'NaN' }
    case 'usage-missing':
      return undefined
    default:
      return usage
  }
}

/** The reply with a NUL character in its middle. */
export function withNul(reply: string): string {
  const middle = Math.floor(reply.length / 2)
  return `${reply.slice(0, middle)}\u0000${reply.slice(middle)}`
}
