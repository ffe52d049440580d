/**
 * Wakes idle runners of this process when a job is submitted, so pickup
 * does not wait for the next poll. Runners in other processes find the job
 * by polling.
 */
import { Context, Deferred, Duration, Effect, Layer, Ref } from "effect"

export interface JobSignalShape {
  /** Wakes every runner waiting now. */
  readonly notify: Effect.Effect<void>
  /**
   * A wait that ends at the next notify or after `timeout`, whichever is
   * first. Take it before looking for work, then wait on it, so a notify
   * in between is not missed.
   */
  readonly next: Effect.Effect<(timeout: Duration.DurationInput) => Effect.Effect<void>>
}

export class JobSignal extends Context.Tag("profile-insights/JobSignal")<
  JobSignal,
  JobSignalShape
>() {}

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
  return JobSignal.of({ notify, next })
})

export const layer = Layer.effect(JobSignal, make)
