import { spawn } from 'node:child_process'

/** Run a TypeScript script in a fresh Node process and parse the one JSON value it prints on stdout. */
export function runJsonChild<T>(script: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${script} ${args[0] ?? ''} exited with ${code}`))
      else resolve(JSON.parse(out) as T)
    })
  })
}
