/**
 * Wakes runners when a job is submitted and watchers when a job moves, so
 * neither waits for its next poll.
 *
 * In one process the signal is direct. Across processes it needs a
 * Notifications service from the storage adapter (Postgres LISTEN/NOTIFY);
 * without one (SQLite), other processes find new jobs and progress by
 * polling.
 */
import { Context, Deferred, Duration, Effect, Layer, Option, Ref, Schedule, Stream } from "effect"

/** The channels the store notifies on; payload: a job id. */
export const channels = {
  submitted: "profile_insights_submitted",
  progress: "profile_insights_progress"
} as const

/**
 * Notifications other processes sent on a channel, as a storage adapter
 * provides them. Optional: provided by the Postgres adapter.
 */
export interface NotificationsShape {
  readonly listen: (channel: string) => Stream.Stream<string, unknown>
}

export class Notifications extends Context.Tag("profile-insights/Notifications")<
  Notifications,
  NotificationsShape
>() {}

export interface JobSignalShape {
  /** Wakes every runner of this process waiting now. */
  readonly notify: Effect.Effect<void>
  /**
   * A wait that ends at the next wake-up or after `timeout`, whichever is
   * first. Take it before looking for work, then wait on it, so a wake-up
   * in between is not missed.
   */
  readonly next: Effect.Effect<(timeout: Duration.DurationInput) => Effect.Effect<void>>
  /** Wake-ups when the job may have moved; empty without Notifications. */
  readonly progress: (jobId: string) => Stream.Stream<void>
}

export class JobSignal extends Context.Tag("profile-insights/JobSignal")<
  JobSignal,
  JobSignalShape
>() {}

/** Follows a channel for as long as the scope lives, reconnecting on failure. */
const follow = (
  notifications: NotificationsShape,
  channel: string
): Stream.Stream<string> =>
  notifications.listen(channel).pipe(
    Stream.tapErrorCause((cause) =>
      Effect.logWarning("notifications lost; reconnecting", cause).pipe(
        Effect.annotateLogs({ module: "JobSignal", channel })
      )
    ),
    Stream.retry(
      Schedule.exponential("100 millis").pipe(
        Schedule.union(Schedule.spaced("5 seconds"))
      )
    ),
    Stream.catchAll(() => Stream.empty)
  )

export const make = Effect.gen(function* () {
  const current = yield* Ref.make(yield* Deferred.make<void>())
  const notify = Effect.flatMap(Deferred.make<void>(), (fresh) =>
    Effect.flatMap(Ref.getAndSet(current, fresh), (old) =>
      Deferred.succeed(old, undefined)
    )
  ).pipe(Effect.asVoid)
  const next = Effect.map(
    Ref.get(current),
    (deferred) => (timeout: Duration.DurationInput) =>
      Deferred.await(deferred).pipe(Effect.timeoutOption(timeout), Effect.asVoid)
  )

  const notifications = yield* Effect.serviceOption(Notifications)
  if (Option.isSome(notifications)) {
    yield* follow(notifications.value, channels.submitted).pipe(
      Stream.runForEach(() => notify),
      Effect.forkScoped
    )
  }
  // Every watcher of this process reads one subscription to the progress
  // channel: it starts with the first watcher and ends a while after the
  // last, so the number of watchers costs no listeners. A watcher that
  // falls behind loses the oldest wake-ups, which its poll makes up for.
  const progressed: Stream.Stream<string> = Option.isSome(notifications)
    ? yield* Stream.share(follow(notifications.value, channels.progress), {
      capacity: 1024,
      strategy: "sliding",
      idleTimeToLive: "30 seconds"
    })
    : Stream.empty
  const progress = (jobId: string): Stream.Stream<void> =>
    progressed.pipe(
      Stream.filter((id) => id === jobId),
      Stream.as(undefined)
    )
  return JobSignal.of({ notify, next, progress })
})

export const layer = Layer.scoped(JobSignal, make)
