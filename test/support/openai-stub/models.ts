/**
 * The Models API (`/v1/models`): the base models the stub was configured with or has been asked for,
 * plus the models its fine-tuning jobs produced. Ids in the stub's own fine-tuned namespace
 * (`ft:<base>:onbrand-stub:…`) exist only once a job has produced them, so a client that calls a
 * fine-tuned model before its job succeeded gets OpenAI's 404 `model_not_found`.
 */
import { StubHttpError } from './http.js'

export const STUB_ORGANISATION = 'onbrand-stub'

export interface ModelObject {
  id: string
  object: 'model'
  created: number
  owned_by: string
}

const isStubFineTune = (id: string): boolean => id.startsWith('ft:') && id.includes(`:${STUB_ORGANISATION}:`)

export class ModelRegistry {
  private readonly base = new Map<string, ModelObject>()
  private readonly fineTuned = new Map<string, ModelObject>()
  /** Checkpoint models (`…:ckpt-step-N`): callable, not listed, like OpenAI's. */
  private readonly checkpoints = new Set<string>()

  constructor(
    private readonly nowSeconds: () => number,
    private readonly preset: readonly string[],
  ) {
    this.reset()
  }

  noteUsed(id: string): void {
    if (id === '' || isStubFineTune(id) || this.base.has(id)) return
    this.base.set(id, { id, object: 'model', created: this.nowSeconds(), owned_by: 'system' })
  }

  addFineTuned(id: string, created: number, checkpointIds: string[]): void {
    this.fineTuned.set(id, { id, object: 'model', created, owned_by: STUB_ORGANISATION })
    for (const checkpoint of checkpointIds) this.checkpoints.add(checkpoint)
  }

  /** Whether chat and embeddings requests may name this model. */
  exists(id: string): boolean {
    return !isStubFineTune(id) || this.fineTuned.has(id) || this.checkpoints.has(id)
  }

  list(): { object: 'list'; data: ModelObject[] } {
    return { object: 'list', data: [...this.base.values(), ...this.fineTuned.values()] }
  }

  retrieve(id: string): ModelObject {
    const model = this.base.get(id) ?? this.fineTuned.get(id)
    if (model === undefined) {
      throw new StubHttpError(404, `The model '${id}' does not exist`, 'model', 'model_not_found')
    }
    return model
  }

  delete(id: string): { id: string; object: 'model'; deleted: true } {
    if (this.fineTuned.delete(id)) return { id, object: 'model', deleted: true }
    this.retrieve(id)
    throw new StubHttpError(403, `You do not have permission to delete the model '${id}'.`, 'model')
  }

  reset(): void {
    this.base.clear()
    this.fineTuned.clear()
    this.checkpoints.clear()
    for (const id of this.preset) this.noteUsed(id)
  }
}
