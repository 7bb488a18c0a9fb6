/**
 * The contract between the harness and a system under test (nchan, pushpin, a Node server, a Herald hub…).
 *
 * A system module exports one {@link SystemDefinition}. The harness calls `check()` once, then, for every
 * run, `start()` with a fresh work directory, drives the {@link RunningSystem} it gets back, and calls
 * `stop()` at the end, also when the run failed. See bench/harness/README.md for a worked example.
 */

/** One HTTP request that publishes a message. */
export interface PublishRequest {
  readonly method: 'POST' | 'PUT'
  /** Path and query, e.g. `/pub?id=topic-0`. */
  readonly path: string
  /** Request headers (Content-Type, Authorization…); Content-Length is added by the harness. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Where and how to publish. Any 2xx answer counts as acknowledged. */
export interface PublishTarget {
  /** Loopback address of the publish endpoint (127.0.0.1). */
  readonly host: string
  readonly port: number
  /**
   * Builds the request that publishes `data` to `topic`. `data` is ASCII letters, digits and dots; the
   * system must deliver it unchanged inside one SSE event (`data:` lines; JSON-quoting is fine).
   */
  request(topic: string, data: string): PublishRequest
}

/** Hints a system gives the load generator. */
export interface SystemLimits {
  /** Most subscribe attempts in flight at once over all workers (some proxies answer 502 to big bursts). */
  readonly maxConnectConcurrency?: number
  /** Most subscribers this system can hold here; scenarios asking for more are capped (and say so). */
  readonly maxConnections?: number
}

/** A started system. */
export interface RunningSystem {
  /** Software and version, e.g. `nginx 1.22.1 + nchan 1.3.6`. */
  readonly version: string
  /**
   * Absolute `http://127.0.0.1:<port>/…` URL of the SSE stream of `topic`. It must answer
   * `GET` with `Accept: text/event-stream` by `200 text/event-stream` and keep the stream open.
   */
  subscribeUrl(topic: string): string
  /**
   * Several entry points to the same system (the nodes of a cluster): when given, subscriber `i` of a topic
   * connects to `subscribeUrls(topic)[⌊i / topics⌋ % length]` instead of `subscribeUrl(topic)`, so the
   * subscribers of every topic are spread evenly over the nodes.
   */
  subscribeUrls?(topic: string): readonly string[]
  /** Extra headers for every subscribe request (for example `Authorization`). */
  readonly subscribeHeaders?: Readonly<Record<string, string>>
  readonly publish: PublishTarget
  /**
   * PIDs whose CPU and memory are the server's cost. The harness adds all their descendants, so the
   * top process is enough (nginx master, pushpin runner plus the origin, a Node server).
   */
  pids(): readonly number[]
  readonly limits?: SystemLimits
  /** Stops every process that `start()` started (by PID, TERM then KILL), and resolves once they exited. */
  stop(): Promise<void>
}

/** What `start()` gets. */
export interface SystemStartOptions {
  /** Empty directory, owned by this run, for configs, logs and PID files. */
  readonly workDir: string
  /** Directory of the harness's compiled programs, for systems that run one (see `built-program.ts`). */
  readonly buildDir: string
  /** Subscribers the run will open (to size connection limits). */
  readonly expectedConnections: number
  /** Writes one line of progress or diagnostics to the terminal. */
  log(line: string): void
}

/** Result of {@link SystemDefinition.check}. */
export type Availability = { readonly available: true } | { readonly available: false; readonly reason: string }

/** A system module's export. */
export interface SystemDefinition {
  /** Short id used on the command line and in reports (kebab-case): `nchan`, `better-sse`. */
  readonly name: string
  /** One line for `--list` and the report. */
  readonly description: string
  /**
   * Makes the system runnable (for example installs a missing Debian package when allowed) or says why it
   * cannot run here; the harness then skips it with that reason.
   */
  check(log: (line: string) => void): Promise<Availability>
  /** Starts the system on free loopback ports; resolves once it accepts subscribers and publishes. */
  start(options: SystemStartOptions): Promise<RunningSystem>
}
