/**
 * What the `herald serve --workers N` processes tell each other besides the hub's own IPC traffic (broker and
 * history messages, which `src/hub/cluster` handles):
 * - worker → primary `listening`: the worker serves HTTP on `port`;
 * - worker → primary `failed`: the worker could not start (`code` and `message` of the error);
 * - primary → worker `clock`: start (`on: true`) or stop publishing the demo clock; one worker of the group does.
 */
export type ServeClusterMessage =
  | { readonly herald: 'listening'; readonly port: number }
  | { readonly herald: 'failed'; readonly code: string | null; readonly message: string }
  | { readonly herald: 'clock'; readonly on: boolean }

/** Whether `value` is one of the messages of {@link ServeClusterMessage} named `kind`. */
export function isServeClusterMessage<K extends ServeClusterMessage['herald']>(value: unknown, kind: K): value is Extract<ServeClusterMessage, { herald: K }> {
  return typeof value === 'object' && value !== null && (value as { herald?: unknown }).herald === kind
}

/**
 * Whether a history setting names a store private to one process (`memory`, `sqlite::memory:`): with several
 * workers, the primary keeps it and the workers reach it over IPC, so that all of them share one history.
 */
export function isProcessPrivateHistory(history: string): boolean {
  return history === 'memory' || history === 'sqlite::memory:'
}
