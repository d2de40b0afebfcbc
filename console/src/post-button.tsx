import type { ComponentChildren } from 'preact'
import { call } from './api.js'
import type { useAction } from './use-call.js'

type Action = ReturnType<typeof useAction>

/**
 * A button that POSTs (no body) to an API path, then calls `onDone`. It runs through `action`, so buttons
 * sharing one action are all disabled while any of them runs, and the action keeps the error to show.
 */
export function PostButton(props: {
  action: Action
  path: string
  onDone: () => void
  class: string
  label?: string
  children: ComponentChildren
}) {
  return (
    <button
      type="button"
      class={props.class}
      disabled={props.action.busy}
      aria-label={props.label}
      onClick={() =>
        props.action.run(async () => {
          await call(props.path, { method: 'POST' })
          props.onDone()
        })
      }
    >
      {props.children}
    </button>
  )
}
