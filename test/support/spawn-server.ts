import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ServerProcess {
  child: ChildProcess
  baseUrl: string
  output(): string
  exited: Promise<number | null>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Start `onbrand server` from source in a child process, as `npm start` does, and wait until /readyz answers 200. */
export async function spawnServer(
  env: Record<string, string>,
  options: {
    readyTimeoutMs?: number /** Node options after tsx is registered, e.g. `--expose-gc`. */
    nodeArgs?: string[]
  } = {},
): Promise<ServerProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const port = await freePort()
  const dataDir = join(mkdtempSync(join(tmpdir(), 'onbrand-server-')), 'db')
  const args = ['--import', 'tsx', ...(options.nodeArgs ?? []), 'src/cli/onbrand.ts', 'server']
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += String(chunk)
  })
  child.stderr?.on('data', (chunk) => {
    output += String(chunk)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`)
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server not ready in ${readyTimeoutMs / 1000} s:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { child, baseUrl, output: () => output, exited }
}

/**
 * Start `onbrand worker` from source in a child process and wait until it says it started (it serves no
 * HTTP, so there is no /readyz to probe).
 */
export async function spawnWorker(
  env: Record<string, string>,
  options: { readyTimeoutMs?: number } = {},
): Promise<Omit<ServerProcess, 'baseUrl'>> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const dataDir = join(mkdtempSync(join(tmpdir(), 'onbrand-worker-')), 'db')
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/onbrand.ts', 'worker'], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += String(chunk)
  })
  child.stderr?.on('data', (chunk) => {
    output += String(chunk)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + readyTimeoutMs
  while (!output.includes('worker started')) {
    if (child.exitCode !== null) throw new Error(`worker exited early:\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`worker not started in ${readyTimeoutMs / 1000} s:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, output: () => output, exited }
}
