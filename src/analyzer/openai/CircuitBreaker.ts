/**
 * A circuit breaker that pauses calls to a failing server.
 *
 * Closed: calls go through; `threshold` consecutive failures open it.
 * Open: no call goes out until the cool-down has passed; a call made
 * meanwhile fails at once with the caller's `whenOpen` error, which says
 * how long is left (the analyzer retries it after that long, within its
 * bounded retries). Half-open: after the cool-down one call goes through
 * as a probe while the others wait for its outcome; success closes the
 * circuit, failure opens it for another cool-down. A probe that is
 * interrupted lets the next caller probe at once. What counts as a
 * failure is the caller's to say.
 */
import { Clock, Deferred, Duration, Effect, Exit, Option, SynchronizedRef } from "effect"

export interface Settings {
  /** Consecutive failures that open the circuit. */
  readonly threshold: number
  /** How long an open circuit holds calls back before a probe. */
  readonly coolDown: Duration.DurationInput
}

type State =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly settled: Deferred.Deferred<void> }

type Entry =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Probe"; readonly settled: Deferred.Deferred<void> }
  | { readonly _tag: "Refuse"; readonly millis: number }
  | { readonly _tag: "Await"; readonly settled: Deferred.Deferred<void> }

export type Outcome = "success" | "failure" | "neutral"

export interface CircuitBreaker<R> {
  /**
   * Runs `effect` when the circuit lets it, and records its outcome as
   * `classify` says: "neutral" outcomes (such as a 429: the server is up)
   * neither count as failures nor reset the count. While the circuit is
   * open, fails with the refusal for the cool-down left.
   */
  readonly protect: <A, E, Env>(
    effect: Effect.Effect<A, E, Env>,
    classify: (exit: Exit.Exit<A, E>) => Outcome
  ) => Effect.Effect<A, E | R, Env>
  readonly state: Effect.Effect<"closed" | "open" | "half-open">
}

export const make = <R>(
  settings: Settings,
  whenOpen: (millisLeft: number) => R
): Effect.Effect<CircuitBreaker<R>> =>
  Effect.gen(function* () {
    const coolDown = Duration.toMillis(settings.coolDown)
    const state = yield* SynchronizedRef.make<State>({ _tag: "Closed", failures: 0 })

    // Uninterruptible but for its wait, so that a caller made the probe
    // always gets to record the probe's outcome.
    const enter = (
      restore: <A, E, Env>(effect: Effect.Effect<A, E, Env>) => Effect.Effect<A, E, Env>
    ): Effect.Effect<Option.Option<Deferred.Deferred<void>>, R> =>
      Effect.gen(function* () {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const entry = yield* SynchronizedRef.modifyEffect(
            state,
            (s): Effect.Effect<readonly [Entry, State]> => {
              switch (s._tag) {
                case "Closed":
                  return Effect.succeed([{ _tag: "Pass" }, s])
                case "HalfOpen":
                  return Effect.succeed([{ _tag: "Await", settled: s.settled }, s])
                case "Open":
                  // Whole milliseconds: a wait of a fraction would end early.
                  return s.until - now >= 1
                    ? Effect.succeed([{ _tag: "Refuse", millis: Math.ceil(s.until - now) }, s])
                    : Effect.map(Deferred.make<void>(), (settled) => [
                      { _tag: "Probe", settled },
                      { _tag: "HalfOpen", settled }
                    ])
              }
            }
          )
          switch (entry._tag) {
            case "Pass":
              return Option.none()
            case "Probe":
              yield* Effect.logInfo("circuit half-open: probing")
              return Option.some(entry.settled)
            case "Refuse":
              return yield* Effect.fail(whenOpen(entry.millis))
            case "Await":
              yield* restore(Deferred.await(entry.settled))
              break
          }
        }
      })

    const record = (
      probe: Option.Option<Deferred.Deferred<void>>,
      outcome: Outcome | "interrupted"
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const change = yield* SynchronizedRef.modify(
          state,
          (s): readonly [string | null, State] => {
            if (Option.isSome(probe)) {
              if (outcome === "failure") {
                return ["reopened", { _tag: "Open", until: now + coolDown }]
              }
              if (outcome === "interrupted") return [null, { _tag: "Open", until: now }]
              return ["closed", { _tag: "Closed", failures: 0 }]
            }
            // Calls that started before the circuit opened do not move it.
            if (s._tag !== "Closed" || outcome === "neutral" || outcome === "interrupted") {
              return [null, s]
            }
            if (outcome === "success") return [null, { _tag: "Closed", failures: 0 }]
            const failures = s.failures + 1
            return failures >= settings.threshold
              ? ["opened", { _tag: "Open", until: now + coolDown }]
              : [null, { _tag: "Closed", failures }]
          }
        )
        if (Option.isSome(probe)) yield* Deferred.succeed(probe.value, undefined)
        if (change === "opened" || change === "reopened") {
          yield* Effect.logWarning(
            `circuit ${change}: no calls for ${Duration.format(coolDown)}`
          )
        } else if (change === "closed") {
          yield* Effect.logInfo("circuit closed: calls resume")
        }
      })

    return {
      protect: <A, E, Env>(
        effect: Effect.Effect<A, E, Env>,
        classify: (exit: Exit.Exit<A, E>) => Outcome
      ): Effect.Effect<A, E | R, Env> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(enter(restore), (probe) =>
            restore(effect).pipe(
              Effect.onExit((exit) =>
                record(probe, Exit.isInterrupted(exit) ? "interrupted" : classify(exit))
              )
            )
          )
        ),
      state: Effect.map(SynchronizedRef.get(state), (s) =>
        s._tag === "Closed" ? "closed" : s._tag === "Open" ? "open" : "half-open"
      )
    }
  })
