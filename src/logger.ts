import { type Logger, pino } from 'pino'

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'onbrand' },
      // Belt and braces: nothing should log these, and if something does they are masked.
      redact: {
        paths: ['authorization', '*.authorization', 'headers.authorization', 'apiKey', '*.apiKey', 'key'],
        censor: '[redacted]',
      },
    },
    destination,
  )
}
