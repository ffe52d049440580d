/**
 * The handlers of Api: each calls the library's Insights API as the owner
 * the bearer token stands for, and answers with the contract's JSON. A
 * library error becomes the contract's answer for it (errorAnswer); one
 * that is not the caller's doing is logged and answered as a bare 500.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Cause, Deferred, Effect, Layer, Option } from "effect"
import { NotFound as NoSuchEntity } from "../../src/Errors.js"
import * as Health from "../../src/Health.js"
import * as Insights from "../../src/Insights.js"
import * as Telemetry from "../../src/Telemetry.js"
import {
  errorAnswer,
  importView,
  jobView,
  malformedBody,
  ownerOf,
  unauthorized
} from "../server-kit/Contract.js"
import { noSample } from "../server-kit/Node.js"
import * as Samples from "../server-kit/Samples.js"
import {
  Api,
  type ApiError,
  Authorization,
  CurrentOwner,
  fromAnswer,
  Unauthorized
} from "./Api.js"
import * as Events from "./Events.js"

/** The contract's answer for a failed library call, as an API error. */
export const answering = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, ApiError, R> =>
  Effect.catchAll(effect, (error) => {
    const answer = errorAnswer(error)
    const failed = Effect.fail(fromAnswer(answer))
    return answer.status === 500
      ? Effect.zipRight(Effect.logError("request failed", Cause.fail(error)), failed)
      : failed
  })

/**
 * The routes that change something run to the end once their request has
 * arrived, even if the client goes away meanwhile: a submit whose caller
 * left still records its job, as it would on the other servers.
 */
const carriedOut = { uninterruptible: true } as const

/**
 * The bearer token middleware. The owner is read from the raw
 * Authorization header with the contract's ownerOf, so every server
 * accepts exactly the same headers.
 */
export const AuthorizationLive = (tokens: ReadonlyMap<string, string>) =>
  Layer.succeed(
    Authorization,
    Authorization.of({
      bearer: () =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const owner = ownerOf(tokens, request.headers.authorization)
          return owner === undefined
            ? Effect.fail(new Unauthorized({ body: unauthorized.body }))
            : Effect.succeed(owner)
        })
    })
  )

export const ProfilesLive = HttpApiBuilder.group(Api, "profiles", (handlers) =>
  Effect.gen(function* () {
    const api = yield* Insights.Insights
    return handlers
      .handle(
        "import",
        ({ payload }) =>
          payload === null
            ? Effect.fail(fromAnswer(malformedBody("expected a JSON profile export")))
            : Effect.flatMap(CurrentOwner, (owner) => api.importProfile(owner, payload, "body"))
              .pipe(Effect.map(importView), answering),
        carriedOut
      )
      .handle(
        "submit",
        ({ path, payload }) =>
          Effect.flatMap(CurrentOwner, (owner) =>
            api.submit(owner, path.profileId, payload ?? {})).pipe(
            Effect.map(jobView),
            answering
          ),
        carriedOut
      )
      .handle("latestJob", ({ path }) =>
        Effect.flatMap(CurrentOwner, (owner) => api.latestJob(owner, path.profileId)).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new NoSuchEntity({ entity: "job", id: path.profileId })),
            onSome: (job) => Effect.succeed(jobView(job))
          })),
          answering
        ))
      .handle("insights", ({ path }) =>
        Effect.flatMap(CurrentOwner, (owner) => api.insights(owner, path.profileId)).pipe(
          answering
        ))
  }))

export const JobsLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function* () {
    const api = yield* Insights.Insights
    const shuttingDown = yield* Events.ShuttingDown
    return handlers
      .handle("status", ({ path }) =>
        Effect.flatMap(CurrentOwner, (owner) => api.status(owner, path.jobId)).pipe(
          Effect.map(jobView),
          answering
        ))
      .handle("events", ({ path, headers }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          // Not found answers as JSON before any event is sent.
          yield* api.status(owner, path.jobId)
          return Events.respond(api.watch(owner, path.jobId), {
            lastEventId: headers["last-event-id"],
            until: Deferred.await(shuttingDown)
          })
        }).pipe(answering))
      .handle(
        "cancel",
        ({ path }) =>
          Effect.flatMap(CurrentOwner, (owner) => api.cancel(owner, path.jobId)).pipe(
            Effect.map(jobView),
            answering
          ),
        carriedOut
      )
  }))

export const PublicLive = HttpApiBuilder.group(Api, "public", (handlers) =>
  Effect.gen(function* () {
    const health = yield* Health.Health
    const prometheus = yield* Telemetry.Prometheus
    return handlers
      .handle("health", () => answering(health.snapshot))
      .handle("samples", () =>
        answering(Effect.tryPromise(() => Samples.sampleSummaries())))
      .handle("sample", ({ path }) =>
        Effect.tryPromise(() => Samples.findSample(path.name)).pipe(
          answering,
          Effect.flatMap((sample) =>
            sample === undefined
              ? Effect.fail(fromAnswer(noSample(path.name)))
              : Effect.succeed(sample.content)
          )
        ))
      .handle("metrics", () => prometheus.render)
  }))
