/**
 * Every call the console makes goes to the /v1 API of this origin, with the API key in an Authorization
 * header. The key lives in sessionStorage only: never in a cookie (so no request carries it unasked) and
 * never in a URL (so it reaches no history, log or Referer).
 */

const KEY_ITEM = 'onbrand.console.key'

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM)
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key)
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM)
}

/** A problem+json answer: `detail` says what went wrong, `errors` names each bad field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail)
    this.name = 'ApiError'
  }
}

/** Dispatched when the API answers 401 to the stored key (revoked meanwhile): the app signs out. */
export const SIGNED_OUT_EVENT = 'onbrand:key-rejected'

export interface CallOptions {
  method?: string
  json?: unknown
  body?: FormData
  /** A key to try instead of the stored one (sign-in). */
  key?: string
  signal?: AbortSignal
}

async function problemOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { code?: string; detail?: string; title?: string; errors?: unknown }
    const errors = Array.isArray(body.errors) ? (body.errors as { path: string; message: string }[]) : []
    return new ApiError(res.status, body.code ?? 'error', body.detail ?? body.title ?? res.statusText, errors)
  } catch {
    return new ApiError(res.status, 'error', `The server answered ${res.status} ${res.statusText}.`)
  }
}

export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  const res = await send(path, options)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** A file the API serves (it needs the key in a header, so a plain link cannot fetch it). */
export async function download(path: string): Promise<Blob> {
  return (await send(path)).blob()
}

/** One request with the key; an answer that is not OK is thrown as an ApiError. */
async function send(path: string, options: CallOptions = {}): Promise<Response> {
  const key = options.key ?? storedKey()
  const headers = new Headers()
  if (key) headers.set('Authorization', `Bearer ${key}`)
  let body: BodyInit | undefined = options.body
  if (options.json !== undefined) {
    headers.set('Content-Type', 'application/json')
    body = JSON.stringify(options.json)
  }
  let res: Response
  try {
    res = await fetch(path, {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: options.signal,
      credentials: 'omit',
      cache: 'no-store',
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that it is running.')
  }
  if (!res.ok) {
    const problem = await problemOf(res)
    if (res.status === 401 && options.key === undefined) window.dispatchEvent(new Event(SIGNED_OUT_EVENT))
    throw problem
  }
  return res
}

/**
 * A multipart upload with its byte progress (fetch cannot report upload progress; XMLHttpRequest can).
 * Resolves with the JSON answer, rejects with an ApiError.
 */
export function upload<T>(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    const key = storedKey()
    if (key) xhr.setRequestHeader('Authorization', `Bearer ${key}`)
    xhr.withCredentials = false
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload failed: the server cannot be reached.'))
    xhr.onload = () => {
      const res = new Response(xhr.responseText, {
        status: xhr.status,
        headers: { 'Content-Type': xhr.getResponseHeader('Content-Type') ?? 'application/json' },
      })
      if (res.ok) resolve(res.json() as Promise<T>)
      else void problemOf(res).then(reject)
    }
    xhr.send(form)
  })
}

/** A message for any error a call can throw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.detail
  if (error instanceof Error) return error.message
  return String(error)
}
