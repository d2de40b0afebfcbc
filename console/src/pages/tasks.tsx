import { call } from '../api.js'
import { dateTime } from '../format.js'
import { href } from '../router.js'
import type { TaskVersion } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useCall } from '../use-call.js'

export function TasksPage() {
  const { data, error, loading } = useCall(
    (signal) => call<{ data: TaskVersion[] }>('/v1/tasks', { signal }),
    [],
  )
  return (
    <>
      <PageTitle>Tasks</PageTitle>
      <ErrorMessage error={error} />
      {loading && !data && <Loading what="tasks" />}
      {data && data.data.length === 0 && (
        <p>
          No tasks yet. Load the examples with <code>npm run tasks:load</code> or PUT a definition to{' '}
          <code>/v1/tasks/&lt;name&gt;</code>.
        </p>
      )}
      {data && data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Active version</th>
              <th scope="col">Route</th>
              <th scope="col">Collection</th>
              <th scope="col">Output</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {data.data.map((t) => (
              <tr key={t.task}>
                <td>
                  <a href={href('tasks', t.task)}>{t.task}</a>
                  {t.definition.description && <div class="muted small">{t.definition.description}</div>}
                </td>
                <td>v{t.version}</td>
                <td>
                  {t.definition.route.strategy}: {t.definition.route.foundationModel}
                  {t.definition.route.fineTunedModel && <> / {t.definition.route.fineTunedModel}</>}
                </td>
                <td>{t.definition.retrieval.collection ?? <span class="muted">none</span>}</td>
                <td>{t.definition.output.type}</td>
                <td>{dateTime(t.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
