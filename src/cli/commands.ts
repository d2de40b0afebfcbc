import type { Command } from './run-command.js'

/** Every `onbrand` subcommand, in the order `onbrand --help` lists them; a new one is a module and a line here. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'server',
    summary: 'Run the API (and a job worker, unless RUN_WORKER=false)',
    load: () => import('./server-command.js'),
  },
  {
    name: 'worker',
    summary:
      'Run a standalone job worker: ingest and every other job kind (run as many as you like on PostgreSQL)',
    load: () => import('./worker-command.js'),
  },
  {
    name: 'migrate',
    summary: 'Apply pending database migrations and exit',
    load: () => import('./migrate-command.js'),
  },
  { name: 'keys', summary: 'Create, list and revoke API keys', load: () => import('./keys-command.js') },
  {
    name: 'tasks',
    summary: 'Load task definitions from a folder; list tasks',
    load: () => import('./tasks-command.js'),
  },
  {
    name: 'models',
    summary: 'List the model registry: prices, context windows, shutdown dates, endpoints',
    load: () => import('./models-command.js'),
  },
  {
    name: 'datasets',
    summary: 'Build, show and export fine-tuning datasets of reviewed generations',
    load: () => import('./datasets-command.js'),
  },
  {
    name: 'evals',
    summary: 'Create evaluation sets and run them through arms side by side, with gates for CI',
    load: () => import('./evals-command.js'),
  },
  {
    name: 'insights',
    summary:
      'Volume, cost, quality per arm, break-even and a verdict: should this task move to a fine-tuned model?',
    load: () => import('./insights-command.js'),
  },
  {
    name: 'ingest',
    summary: 'Ingest files or folders into a collection, or embed chunks stored without embeddings',
    load: () => import('./ingest-command.js'),
  },
]
