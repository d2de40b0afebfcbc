/** A problem an operator must fix before Onbrand can start; its message says how. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StartupError'
  }
}
