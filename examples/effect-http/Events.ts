/**
 * The progress events of GET /api/jobs/:jobId/events: the job's states as
 * Server-Sent Events, framed by @effect/experimental's Sse encoder.
 *
 * The stream starts with `retry: 2000`, then sends one event per state of
 * the job (`progress`, or `end` for the terminal state, after which it
 * ends), each with the contract's id and the JobView as data. It also
 * ends when the server starts to shut down, so an open stream never holds
 * the shutdown up; the client reconnects with Last-Event-ID. The job is
 * only read here: the stream ending, or the client going away, leaves it
 * alone.
 */
import * as Sse from "@effect/experimental/Sse"
import { HttpServerResponse } from "@effect/platform"
import { Chunk, Context, Deferred, Duration, Effect, Layer, Stream } from "effect"
import type { Job } from "../../src/Domain.js"
import { eventId, eventName, eventRetryMillis, jobView } from "../server-kit/Contract.js"

/** Completed when the server starts to shut down. */
export class ShuttingDown extends Context.Tag("profile-insights/examples/ShuttingDown")<
  ShuttingDown,
  Deferred.Deferred<void>
>() {
  static readonly layer = Layer.effect(ShuttingDown, Deferred.make<void>())
}

const toEvent = (job: Job): Sse.Event => ({
  _tag: "Event",
  event: eventName(job),
  id: eventId(job),
  data: JSON.stringify(jobView(job))
})

/**
 * The events for a job's states, skipping a first event whose id is
 * `lastEventId`: a client that reconnects has it already.
 */
export const jobEvents = <E, R>(
  states: Stream.Stream<Job, E, R>,
  lastEventId: string | undefined
): Stream.Stream<Sse.Event, E, R> =>
  states.pipe(
    Stream.map(toEvent),
    Stream.zipWithIndex,
    Stream.filter(([event, index]) => index > 0 || event.id !== lastEventId),
    Stream.map(([event]) => event)
  )

const retry = new Sse.Retry({
  duration: Duration.millis(eventRetryMillis),
  lastEventId: undefined
})

/**
 * The response for a job's states, ending early when `until` completes.
 * A failure while reading the job is logged and ends the stream (the
 * status line is sent already).
 */
export const respond = <E>(
  states: Stream.Stream<Job, E>,
  options: {
    readonly lastEventId: string | undefined
    readonly until: Effect.Effect<void>
  }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(
    jobEvents(states, options.lastEventId).pipe(
      Stream.catchAll((error) =>
        Stream.drain(
          Stream.fromEffect(Effect.logWarning("progress events ended by an error", error))
        )
      ),
      Stream.prepend(Chunk.of<Sse.AnyEvent>(retry)),
      Stream.map((event) => Sse.encoder.write(event)),
      Stream.interruptWhen(options.until),
      Stream.encodeText
    ),
    { contentType: "text/event-stream", headers: { "cache-control": "no-cache" } }
  )
