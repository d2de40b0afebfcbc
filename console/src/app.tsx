import { useEffect, useState } from 'preact/hooks'
import type { Abilities } from './abilities.js'
import { abilitiesOf } from './abilities.js'
import { call, forgetKey, messageOf, SIGNED_OUT_EVENT, storedKey } from './api.js'
import { CollectionPage } from './pages/collection.js'
import { CollectionsPage } from './pages/collections.js'
import { DocumentPage } from './pages/document.js'
import { EvalRunPage } from './pages/eval-run.js'
import { ModelsPage } from './pages/models.js'
import { RetrievalPage } from './pages/retrieval.js'
import { ReviewPage } from './pages/review.js'
import { SignIn } from './pages/sign-in.js'
import { TaskPage } from './pages/task.js'
import { TaskInsightsPage } from './pages/task-insights.js'
import { TasksPage } from './pages/tasks.js'
import { href, type Route, useRoute } from './router.js'
import type { CurrentKey } from './types.js'
import { PageTitle } from './ui.js'

type Session =
  | { state: 'checking' }
  | { state: 'signed-out'; notice?: string }
  | { state: 'in'; key: CurrentKey }

export function App() {
  const [session, setSession] = useState<Session>(() =>
    storedKey() ? { state: 'checking' } : { state: 'signed-out' },
  )
  const route = useRoute()

  useEffect(() => {
    if (session.state !== 'checking') return
    call<CurrentKey>('/v1/me')
      .then((key) => setSession({ state: 'in', key }))
      .catch((error: unknown) => {
        forgetKey()
        setSession({ state: 'signed-out', notice: `Please sign in again: ${messageOf(error)}` })
      })
  }, [session.state])

  useEffect(() => {
    const rejected = () => {
      forgetKey()
      setSession({
        state: 'signed-out',
        notice: 'The server no longer accepts this key. Sign in with another.',
      })
    }
    window.addEventListener(SIGNED_OUT_EVENT, rejected)
    return () => window.removeEventListener(SIGNED_OUT_EVENT, rejected)
  }, [])

  if (session.state === 'checking') return <p class="muted center">Checking your key…</p>
  if (session.state === 'signed-out') {
    return <SignIn notice={session.notice} onSignedIn={(key) => setSession({ state: 'in', key })} />
  }
  const signOut = () => {
    forgetKey()
    setSession({ state: 'signed-out', notice: 'You are signed out.' })
  }
  const can = abilitiesOf(session.key)
  return (
    <>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Onbrand</span>
        <nav aria-label="Console">
          <ul>
            {can.admin && (
              <NavLink to="#/collections" label="Collections" active={isUnder(route, 'collections')} />
            )}
            {can.generate && (
              <NavLink to="#/retrieval" label="Retrieval" active={route.page === 'retrieval'} />
            )}
            {can.admin && <NavLink to="#/tasks" label="Tasks" active={isUnder(route, 'tasks')} />}
            {can.admin && <NavLink to="#/models" label="Models" active={route.page === 'models'} />}
            {can.review && <NavLink to="#/review" label="Review" active={route.page === 'review'} />}
          </ul>
        </nav>
        <div class="who">
          <span>
            Signed in as <strong>{session.key.name}</strong> ({session.key.scopes.join(', ')}
            {session.key.collections ? `; collections: ${session.key.collections.join(', ')}` : ''})
          </span>
          <button type="button" class="secondary small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page route={route} can={can} />
      </main>
    </>
  )
}

// A button, not a link to #main: the hash is the console's route.
function skipToMain() {
  document.querySelector<HTMLElement>('main h1')?.focus()
}

function isUnder(route: Route, section: 'collections' | 'tasks'): boolean {
  if (section === 'collections') return ['collections', 'collection', 'document'].includes(route.page)
  return ['tasks', 'task', 'task-insights', 'eval-run'].includes(route.page)
}

function NavLink({ to, label, active }: { to: string; label: string; active: boolean }) {
  return (
    <li>
      <a href={to} aria-current={active ? 'page' : undefined}>
        {label}
      </a>
    </li>
  )
}

function Page({ route, can }: { route: Route; can: Abilities }) {
  switch (route.page) {
    case 'home':
      return can.admin ? (
        <CollectionsPage can={can} />
      ) : can.review ? (
        <ReviewPage />
      ) : can.generate ? (
        <RetrievalPage can={can} />
      ) : (
        <Nothing />
      )
    case 'collections':
      return can.admin ? <CollectionsPage can={can} /> : <NeedsScope scope="admin" />
    case 'collection':
      return can.admin ? (
        <CollectionPage key={route.name} name={route.name} can={can} />
      ) : (
        <NeedsScope scope="admin" />
      )
    case 'document':
      return can.admin ? (
        <DocumentPage key={`${route.collection}/${route.id}`} collection={route.collection} id={route.id} />
      ) : (
        <NeedsScope scope="admin" />
      )
    case 'retrieval':
      return can.generate ? (
        <RetrievalPage can={can} initial={route.collection} />
      ) : (
        <NeedsScope scope="generate" />
      )
    case 'tasks':
      return can.admin ? <TasksPage /> : <NeedsScope scope="admin" />
    case 'task':
      return can.admin ? (
        <TaskPage key={route.name} name={route.name} can={can} />
      ) : (
        <NeedsScope scope="admin" />
      )
    case 'task-insights':
      return can.review ? (
        <TaskInsightsPage key={route.name} name={route.name} />
      ) : (
        <NeedsScope scope="review" />
      )
    case 'models':
      return can.admin ? <ModelsPage /> : <NeedsScope scope="admin" />
    case 'eval-run':
      return can.admin ? <EvalRunPage key={route.id} id={route.id} /> : <NeedsScope scope="admin" />
    case 'review':
      return can.review ? (
        <ReviewPage key={route.task ?? ''} {...(route.task ? { task: route.task } : {})} />
      ) : (
        <NeedsScope scope="review" />
      )
    case 'not-found':
      return (
        <>
          <PageTitle>Page not found</PageTitle>
          <p>
            The console has no page at <code>{route.path}</code>.{' '}
            <a href={href('collections')}>Collections</a>
          </p>
        </>
      )
  }
}

function NeedsScope({ scope }: { scope: string }) {
  return (
    <>
      <PageTitle>Not available with this key</PageTitle>
      <p>This page needs a key with the {scope} scope. Sign out and sign in with one.</p>
    </>
  )
}

function Nothing() {
  return (
    <>
      <PageTitle>Nothing here yet for this key</PageTitle>
      <p>This key has no scope the console serves: sign in with an admin or review key.</p>
    </>
  )
}
