import { spawn } from 'node:child_process'

/**
 * The real `onbrand` command in a process of its own, from source through tsx (as `npm run` does), with
 * stdout and stderr together. Async on purpose: a model stub in the test's process answers while it runs.
 */
export function runOnbrand(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/onbrand.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  child.stderr.on('data', (chunk) => {
    out += String(chunk)
  })
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, out })))
}
