import { useState } from 'preact/hooks'
import { ApiError, call, storeKey } from '../api.js'
import type { CurrentKey } from '../types.js'
import { ErrorMessage, PageTitle } from '../ui.js'

/** The scopes that open the console; a key with only `generate` belongs in an app, not here. */
export const CONSOLE_SCOPES = ['admin', 'review']

export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: (key: CurrentKey) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    const presented = key.trim()
    if (!presented) return
    setBusy(true)
    setError(undefined)
    try {
      const me = await call<CurrentKey>('/v1/me', { key: presented })
      if (!me.scopes.some((scope) => CONSOLE_SCOPES.includes(scope))) {
        throw new Error(
          `The key "${me.name}" has the ${me.scopes.join(', ')} scope only; the console needs an admin or review key.`,
        )
      }
      storeKey(presented)
      setKey('')
      onSignedIn(me)
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? new Error('That key is unknown or revoked. Check that you copied all of it.')
          : caught,
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit}>
        <PageTitle>Sign in to the Onbrand console</PageTitle>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="api-key">API key (admin or review scope)</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="onb_…"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          required
        />
        <p class="hint">
          The key stays in this browser tab (sessionStorage) until you sign out or close the tab. It is never
          stored in a cookie or put in a URL.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <ErrorMessage error={error} />
      </form>
    </main>
  )
}
