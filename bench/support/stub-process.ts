import { spawn } from 'node:child_process'
import { join } from 'node:path'

/**
 * The OpenAI-wire stub in a process of its own, as a real provider would be: its CPU does not compete
 * with the ingest being measured, for Onbrand and for the LangChain baseline alike.
 */
export async function startStubProcess(dimensions: number): Promise<{ url: string; close(): Promise<void> }> {
  const root = join(import.meta.dirname, '..', '..')
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/openai-stub-cli.ts', '--port', '0', '--dimensions', String(dimensions)],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (data) => {
      out += String(data)
      const match = /listening on (\S+)/.exec(out)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the stub exited with ${code}`)))
  })
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
