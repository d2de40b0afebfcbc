import { useEffect, useState } from 'preact/hooks'

/**
 * Hash routes (`#/collections/brand`): one page URL serves the whole console, and nothing in a route
 * is secret (the key is never in a URL).
 */
export type Route =
  | { page: 'collections' }
  | { page: 'collection'; name: string }
  | { page: 'document'; collection: string; id: number }
  | { page: 'retrieval'; collection?: string }
  | { page: 'tasks' }
  | { page: 'task'; name: string }
  | { page: 'task-insights'; name: string }
  | { page: 'review'; task?: string }
  | { page: 'eval-run'; id: string }
  | { page: 'models' }
  | { page: 'home' }
  | { page: 'not-found'; path: string }

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/'
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent)
  const [first, second, third, fourth] = parts
  if (parts.length === 0) return { page: 'home' }
  if (first === 'collections' && parts.length === 1) return { page: 'collections' }
  if (first === 'collections' && second && parts.length === 2) return { page: 'collection', name: second }
  if (first === 'collections' && second && third === 'documents' && fourth && /^\d+$/.test(fourth)) {
    return { page: 'document', collection: second, id: Number(fourth) }
  }
  if (first === 'retrieval') return second ? { page: 'retrieval', collection: second } : { page: 'retrieval' }
  if (first === 'tasks' && parts.length === 1) return { page: 'tasks' }
  if (first === 'tasks' && second && parts.length === 2) return { page: 'task', name: second }
  if (first === 'tasks' && second && third === 'insights' && parts.length === 3)
    return { page: 'task-insights', name: second }
  if (first === 'models' && parts.length === 1) return { page: 'models' }
  if (first === 'eval-runs' && second && parts.length === 2) return { page: 'eval-run', id: second }
  if (first === 'review' && parts.length === 1) return { page: 'review' }
  if (first === 'review' && second && parts.length === 2) return { page: 'review', task: second }
  return { page: 'not-found', path }
}

/** The href of a route's parts, each encoded. */
export function href(...parts: (string | number)[]): string {
  return `#/${parts.map((part) => encodeURIComponent(String(part))).join('/')}`
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash))
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return route
}

export function navigate(hash: string): void {
  location.hash = hash
}
