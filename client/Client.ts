/**
 * The promise client, for hosts that do not use Effect: the same library
 * (runner fibers, durable jobs, validator, repairer, health) behind a
 * ManagedRuntime, with every call a Promise and every failure one of the
 * library's typed errors, thrown as itself so a TypeScript caller can
 * narrow it with `instanceof` or its `_tag`.
 *
 *     import { createClient, NotFound } from "profile-insights/client"
 *
 *     const client = await createClient({ storage: { sqlite: "insights.db" } })
 *     const { profile } = await client.importProfile(userId, exportJson)
 *     const job = await client.submit(userId, profile.id)
 *     for await (const state of client.watch(userId, job.id)) console.log(state.progressLine)
 *     const insights = await client.insights(userId, profile.id)
 *     await client.close()
 */
import {
  Cause,
  Data,
  Deferred,
  Effect,
  Either,
  Exit,
  ManagedRuntime,
  Option,
  type Redacted,
  Runtime,
  Schema,
  Stream
} from "effect"
import type { Job, ProfileInsights } from "../src/Domain.js"
import { Health, type HealthSnapshot } from "../src/Health.js"
import { Insights, type LayerOptions, type SubmitOptions } from "../src/Insights.js"
import type * as OpenAiAnalyzer from "../src/analyzer/OpenAiAnalyzer.js"
import type { SaveResult } from "../src/ProfileStore.js"
import { type RepairOptions, Repairer, type RepairReport } from "../src/Repairer.js"
import { Prometheus } from "../src/Telemetry.js"
import { type ValidateOptions, type ValidationReport, Validator } from "../src/Validator.js"
import { checkOptions, clientLayer, type ClientServices, invalidInput } from "./ClientLayer.js"

export type StorageChoice =
  /** A SQLite file, created if missing (the embedded default). */
  | { readonly sqlite: string }
  /**
   * A Postgres connection URL; a pool of `poolSize` connections (default
   * 10) plus one for LISTEN.
   */
  | { readonly postgres: string; readonly poolSize?: number | undefined }

export type AnalyzerChoice =
  /** The embedded offline analyzer (the default). */
  | "embedded"
  /** An OpenAI-compatible API configured by the PROFILE_INSIGHTS_OPENAI_* variables. */
  | "openai"
  /**
   * An OpenAI-compatible API configured here; unset fields take the
   * defaults of the PROFILE_INSIGHTS_OPENAI_* settings (the environment is
   * not read). `apiKey` may be a plain string.
   */
  | { readonly openai: OpenAiOptions }

export interface OpenAiOptions extends Partial<Omit<OpenAiAnalyzer.Options, "apiKey">> {
  readonly apiKey?: string | Redacted.Redacted | undefined
}

export interface ClientOptions {
  readonly storage: StorageChoice
  /** Default "embedded". */
  readonly analyzer?: AnalyzerChoice | undefined
  /**
   * The runner (and its repair sweep) in this process; `false` for a
   * process that only submits and reads while workers elsewhere run jobs.
   * Default: a runner with the library's defaults.
   */
  readonly runner?: LayerOptions | false | undefined
  /** Least level of the library's log lines, written to stderr. Default "warning". */
  readonly logLevel?: "none" | "error" | "warning" | "info" | "debug" | undefined
}

export interface WatchOptions {
  /**
   * How often the job is read, in milliseconds. Default 250. On Postgres a
   * notification also wakes the watcher at once.
   */
  readonly intervalMillis?: number | undefined
  /**
   * Stops waiting when aborted: `watch` ends its iteration, `awaitJob`
   * rejects with the signal's reason. The job itself goes on.
   */
  readonly signal?: AbortSignal | undefined
}

export interface InsightsClient {
  /** Imports a profile export (any supported format) as the owner's copy. */
  readonly importProfile: (owner: string, content: unknown, source?: string) => Promise<SaveResult>
  /** Records an analysis job; a runner, not the caller, runs it. */
  readonly submit: (owner: string, profileId: string, options?: SubmitOptions) => Promise<Job>
  readonly status: (owner: string, jobId: string) => Promise<Job>
  /** The owner's most recent job for the profile, or undefined. */
  readonly latestJob: (owner: string, profileId: string) => Promise<Job | undefined>
  /**
   * The job each time it changes, starting with its current state and
   * ending with its terminal state. Breaking out of the loop, or aborting
   * `signal`, stops reading; the job itself goes on.
   */
  readonly watch: (owner: string, jobId: string, options?: WatchOptions) => AsyncIterable<Job>
  /**
   * Resolves with the job's terminal state; rejects with ClientClosed when
   * the client is closed first.
   */
  readonly awaitJob: (owner: string, jobId: string, options?: WatchOptions) => Promise<Job>
  readonly insights: (owner: string, profileId: string) => Promise<ProfileInsights>
  readonly cancel: (owner: string, jobId: string) => Promise<Job>
  readonly validate: (options?: ValidateOptions) => Promise<ValidationReport>
  readonly repair: (options?: RepairOptions) => Promise<RepairReport>
  readonly health: () => Promise<HealthSnapshot>
  /** The metrics in the Prometheus text format. */
  readonly metrics: () => Promise<string>
  /**
   * Stops the runner (running jobs are handed back for the next runner),
   * ends open watches and closes the pool. Idempotent; calls made after it
   * reject with ClientClosed.
   */
  readonly close: () => Promise<void>
}

/** A call on a client after `close()`. */
export class ClientClosed extends Data.TaggedError("ClientClosed")<{}> {
  override get message(): string {
    return "the profile-insights client is closed"
  }
}

const WatchOptionsInput = Schema.Struct({
  intervalMillis: Schema.optional(
    Schema.Number.pipe(Schema.finite(), Schema.greaterThan(0))
  ),
  signal: Schema.optional(Schema.instanceOf(AbortSignal))
})

/** Ends when `signal` is aborted (at once if it already is). */
const aborted = (signal: AbortSignal): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (signal.aborted) return resume(Effect.void)
    const onAbort = () => resume(Effect.void)
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", onAbort))
  })

/** Why an aborted wait rejects: the signal's reason, as fetch does. */
const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new DOMException("The operation was aborted.", "AbortError")

/**
 * Opens the library over the storage and analyzer chosen and starts its
 * runner. Resolves once the database is open and migrated; rejects with
 * InvalidInput for bad options and with StoreError when the database
 * cannot be opened or migrated. The runner keeps the process alive until
 * `close()`.
 */
export const createClient = async (options: ClientOptions): Promise<InsightsClient> => {
  const checked = checkOptions(options)
  if (Either.isLeft(checked)) throw checked.left
  const managed = ManagedRuntime.make(clientLayer(checked.right))
  const built = await Effect.runPromiseExit(managed.runtimeEffect)
  if (Exit.isFailure(built)) {
    await managed.dispose()
    throw thrownFrom(built.cause, false)
  }
  return makeClient(managed, built.value)
}

/**
 * What a failed call rejects with: its first failure as itself, else its
 * defect when that is an Error, else an Error describing the cause.
 */
const thrownFrom = (cause: Cause.Cause<unknown>, closed: boolean): unknown => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return failure.value
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    return defect.value instanceof Error
      ? defect.value
      : new Error(`profile-insights failed unexpectedly: ${Cause.pretty(cause)}`, {
        cause: defect.value
      })
  }
  if (closed && Cause.isInterruptedOnly(cause)) return new ClientClosed()
  return new Error(`profile-insights call ended: ${Cause.pretty(cause)}`)
}

const makeClient = (
  managed: ManagedRuntime.ManagedRuntime<ClientServices, unknown>,
  runtime: Runtime.Runtime<ClientServices>
): InsightsClient => {
  const closed = Effect.runSync(Deferred.make<void>())
  const inFlight = new Set<Promise<unknown>>()
  let isClosed = false
  let closing: Promise<void> | undefined

  const run = <A, E>(effect: Effect.Effect<A, E, ClientServices>): Promise<A> => {
    if (isClosed) return Promise.reject(new ClientClosed())
    const call = Runtime.runPromiseExit(runtime)(effect).then((exit) =>
      Exit.isSuccess(exit)
        ? exit.value
        : Promise.reject(thrownFrom(exit.cause, isClosed))
    )
    const tracked = call.catch(() => undefined).finally(() => inFlight.delete(tracked))
    inFlight.add(tracked)
    return call
  }

  const withApi = <A, E>(f: (api: Insights["Type"]) => Effect.Effect<A, E, ClientServices>) =>
    run(Effect.flatMap(Insights, f))

  /** Checked watch options, with the interval as the API takes it. */
  const watchOptions = (call: string, options: WatchOptions | undefined) =>
    Schema.decodeUnknown(WatchOptionsInput)(options ?? {}).pipe(
      Effect.mapError((error) => invalidInput(call, "options", error)),
      Effect.map((checked) => ({
        api: { interval: checked.intervalMillis ?? 250 },
        signal: checked.signal
      }))
    )

  /** Fails once the client closes. */
  const whenClosed = Effect.zipRight(Deferred.await(closed), Effect.fail(new ClientClosed()))

  const watch: InsightsClient["watch"] = (owner, jobId, options) => {
    const live = Stream.unwrap(
      Effect.gen(function* () {
        if (isClosed) return yield* new ClientClosed()
        const { api: apiOptions, signal } = yield* watchOptions("watch", options)
        const api = yield* Insights
        const states = api.watch(owner, jobId, apiOptions).pipe(
          Stream.interruptWhen(Deferred.await(closed)),
          // A read cut short by close() ends the watch rather than failing it.
          Stream.catchAllCause((cause) =>
            isClosed ? Stream.empty : Stream.failCause(cause)
          )
        )
        return signal === undefined ? states : Stream.interruptWhen(states, aborted(signal))
      })
    ).pipe(
      Stream.catchAllCause((cause) =>
        Stream.fail(thrownFrom(cause, isClosed))
      )
    )
    return Stream.toAsyncIterableRuntime(live, runtime)
  }

  return {
    importProfile: (owner, content, source) =>
      withApi((api) => api.importProfile(owner, content, source)),
    submit: (owner, profileId, options) => withApi((api) => api.submit(owner, profileId, options)),
    status: (owner, jobId) => withApi((api) => api.status(owner, jobId)),
    latestJob: (owner, profileId) =>
      withApi((api) => Effect.map(api.latestJob(owner, profileId), Option.getOrUndefined)),
    watch,
    awaitJob: (owner, jobId, options) =>
      run(Effect.gen(function* () {
        const { api: apiOptions, signal } = yield* watchOptions("awaitJob", options)
        const api = yield* Insights
        const done = api.awaitJob(owner, jobId, apiOptions).pipe(Effect.raceFirst(whenClosed))
        if (signal === undefined) return yield* done
        const abort = Effect.flatMap(aborted(signal), () => Effect.fail(abortReason(signal)))
        return yield* Effect.raceFirst(done, abort)
      })),
    insights: (owner, profileId) => withApi((api) => api.insights(owner, profileId)),
    cancel: (owner, jobId) => withApi((api) => api.cancel(owner, jobId)),
    validate: (options) => run(Effect.flatMap(Validator, (v) => v.validate(options))),
    repair: (options) => run(Effect.flatMap(Repairer, (r) => r.repair(options))),
    health: () => run(Effect.flatMap(Health, (h) => h.snapshot)),
    metrics: () => run(Effect.flatMap(Prometheus, (p) => p.render)),
    close: () => {
      if (closing !== undefined) return closing
      isClosed = true
      Effect.runSync(Deferred.succeed(closed, undefined))
      closing = Promise.allSettled([...inFlight]).then(() => managed.dispose())
      return closing
    }
  }
}
