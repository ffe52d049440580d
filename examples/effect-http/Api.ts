/**
 * The example server's API as an @effect/platform HttpApi: every JSON
 * route of the server contract (examples/server-kit/Contract.ts) with its
 * path, body, answer and errors, and the bearer-token middleware that
 * names the caller. Handlers.ts implements it, Events.ts frames the
 * progress events, and Static.ts serves the page and its files as plain
 * routes beside it.
 *
 * Insights and the health snapshot are declared with the library's own
 * schemas, so HttpApi sends them encoded as the contract's insightsView
 * and the other servers' healthView do.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity
} from "@effect/platform"
import { Context, Data, Schema } from "effect"
import { JobStatus, ProfileInsights } from "../../src/Domain.js"
import { HealthSnapshot } from "../../src/Health.js"
import {
  type ErrorAnswer,
  type ErrorBody,
  type ImportView,
  type JobView,
  SubmitBody
} from "../server-kit/Contract.js"
import type { SampleSummary } from "../server-kit/Samples.js"
import { metricsContentType } from "../server-kit/Node.js"

// ---------------------------------------------------------------------------
// Errors: the contract's ErrorBody, one class per status

/** ErrorBody of the contract as a Schema. */
export const ErrorBodySchema = Schema.Struct({
  error: Schema.String,
  message: Schema.String,
  field: Schema.optionalWith(Schema.String, { exact: true }),
  record: Schema.optionalWith(Schema.String, { exact: true })
})

export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly body: ErrorBody }> {}
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly body: ErrorBody }> {}
export class NotFound extends Data.TaggedError("NotFound")<{ readonly body: ErrorBody }> {}
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly body: ErrorBody
}> {}
export class InternalError extends Data.TaggedError("InternalError")<{
  readonly body: ErrorBody
}> {}

export type ApiError = BadRequest | Unauthorized | NotFound | PayloadTooLarge | InternalError

/**
 * An error class sent as its ErrorBody with `status`. The class is checked
 * with instanceof, so errors whose bodies look alike keep their statuses.
 */
const sentAs = <E extends { readonly body: ErrorBody }>(
  errorClass: new (args: { readonly body: ErrorBody }) => E,
  status: number
) =>
  Schema.transform(ErrorBodySchema, Schema.instanceOf(errorClass), {
    strict: true,
    decode: (body) => new errorClass({ body }),
    encode: (error) => error.body
  }).annotations(HttpApiSchema.annotations({ status }))

export const BadRequestSchema = sentAs(BadRequest, 400)
export const UnauthorizedSchema = sentAs(Unauthorized, 401)
export const NotFoundSchema = sentAs(NotFound, 404)
export const PayloadTooLargeSchema = sentAs(PayloadTooLarge, 413)
export const InternalErrorSchema = sentAs(InternalError, 500)

/** The error an answer of the contract is sent as. */
export const fromAnswer = (answer: {
  readonly status: ErrorAnswer["status"] | 413
  readonly body: ErrorBody
}): ApiError => {
  const body = answer.body
  switch (answer.status) {
    case 400:
      return new BadRequest({ body })
    case 401:
      return new Unauthorized({ body })
    case 404:
      return new NotFound({ body })
    case 413:
      return new PayloadTooLarge({ body })
    case 500:
      return new InternalError({ body })
  }
}

// ---------------------------------------------------------------------------
// What is sent

/** JobView of the contract as a Schema, field for field in the same order. */
export const JobViewSchema = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  profileId: Schema.String,
  status: JobStatus,
  done: Schema.Number,
  failed: Schema.Number,
  total: Schema.Number,
  processed: Schema.Number,
  percent: Schema.Number,
  attempt: Schema.Number,
  maxAttempts: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  finishedAt: Schema.NullOr(Schema.String)
})

export const ImportViewSchema = Schema.Struct({
  profileId: Schema.String,
  platform: Schema.String,
  handle: Schema.String,
  posts: Schema.Struct({ added: Schema.Number, changed: Schema.Number, removed: Schema.Number })
})

export const SampleSummarySchema = Schema.Struct({
  name: Schema.String,
  title: Schema.String,
  posts: Schema.Number
})

// The schemas above describe exactly the contract's types: a field added
// to one side and not the other fails to compile here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const fits: [
  Same<typeof JobViewSchema.Type, JobView>,
  Same<typeof ImportViewSchema.Type, ImportView>,
  Same<typeof SampleSummarySchema.Type, SampleSummary>
] = [true, true, true]
void fits

// ---------------------------------------------------------------------------
// Who is calling

/** The owner the caller's bearer token stands for. */
export class CurrentOwner extends Context.Tag("profile-insights/examples/CurrentOwner")<
  CurrentOwner,
  string
>() {}

/** A known bearer token, or 401 with the contract's `unauthorized` body. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: UnauthorizedSchema,
  provides: CurrentOwner,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// ---------------------------------------------------------------------------
// Routes

const ProfilePath = Schema.Struct({ profileId: Schema.String })
const JobPath = Schema.Struct({ jobId: Schema.String })

export class ProfilesGroup extends HttpApiGroup.make("profiles")
  .add(
    // Any profile export; the library detects its format. No body is a
    // 400 (malformedBody).
    HttpApiEndpoint.post("import", "/api/profiles")
      .setPayload(Schema.Unknown)
      .addSuccess(ImportViewSchema, { status: 201 })
  )
  .add(
    // No body at all is the same as {}.
    HttpApiEndpoint.post("submit", "/api/profiles/:profileId/jobs")
      .setPath(ProfilePath)
      .setPayload(Schema.NullOr(SubmitBody))
      .addSuccess(JobViewSchema, { status: 202 })
  )
  .add(
    HttpApiEndpoint.get("latestJob", "/api/profiles/:profileId/jobs/latest")
      .setPath(ProfilePath)
      .addSuccess(JobViewSchema)
  )
  .add(
    HttpApiEndpoint.get("insights", "/api/profiles/:profileId/insights")
      .setPath(ProfilePath)
      .addSuccess(ProfileInsights)
  )
  .middleware(Authorization)
{}

export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(HttpApiEndpoint.get("status", "/api/jobs/:jobId").setPath(JobPath).addSuccess(JobViewSchema))
  .add(
    // Server-Sent Events; the handler answers with the stream itself.
    HttpApiEndpoint.get("events", "/api/jobs/:jobId/events")
      .setPath(JobPath)
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Schema.String) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
  )
  .add(
    HttpApiEndpoint.post("cancel", "/api/jobs/:jobId/cancel")
      .setPath(JobPath)
      .addSuccess(JobViewSchema)
  )
  .middleware(Authorization)
{}

/** Routes anyone may call. */
export class PublicGroup extends HttpApiGroup.make("public")
  .add(HttpApiEndpoint.get("health", "/api/health").addSuccess(HealthSnapshot))
  .add(HttpApiEndpoint.get("samples", "/api/samples").addSuccess(Schema.Array(SampleSummarySchema)))
  .add(
    HttpApiEndpoint.get("sample", "/api/samples/:name")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Unknown)
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: metricsContentType }))
  )
{}

export class Api extends HttpApi.make("profile-insights")
  .add(ProfilesGroup)
  .add(JobsGroup)
  .add(PublicGroup)
  .addError(BadRequestSchema)
  .addError(UnauthorizedSchema)
  .addError(NotFoundSchema)
  .addError(PayloadTooLargeSchema)
  .addError(InternalErrorSchema)
{}
