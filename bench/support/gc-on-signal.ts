/**
 * Preloaded into the server by bench/load.ts (with `--expose-gc`): SIGUSR2 runs a full garbage collection,
 * so the bench can tell memory the server holds from garbage not yet collected.
 */
const gc = (globalThis as { gc?: () => void }).gc
process.on('SIGUSR2', () => gc?.())
