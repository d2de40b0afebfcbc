/**
 * Preloaded into the server by bench/load.ts (with `--expose-gc`): SIGUSR2 runs full garbage collections,
 * so the bench can tell memory the server holds from garbage not yet collected. Finalizers run between
 * collections (undici lets go of a request's signal listener from one), hence three, 500 ms apart.
 */
const gc = (globalThis as { gc?: () => void }).gc
process.on('SIGUSR2', () => {
  gc?.()
  setTimeout(() => gc?.(), 500)
  setTimeout(() => gc?.(), 1000)
})
