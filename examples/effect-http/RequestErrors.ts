/**
 * Makes the answers HttpApi gives on its own follow the server contract,
 * for every route, as the other servers answer:
 *
 * - every body is read as JSON, whatever its Content-Type (a profile
 *   export may be sent as a file);
 * - a body over the limit (by its Content-Length) is a 413, bodyTooLarge;
 * - a body that is not JSON is a 400, malformedBody;
 * - a body that does not fit its schema is a 400 naming the field, as
 *   decodeSubmitBody answers;
 * - a path no route serves is a 404, noRoute, or first a 401 under /api
 *   without a known token;
 * - a defect is logged and answered as a bare 500.
 */
import {
  Headers,
  HttpApiBuilder,
  HttpApiError,
  HttpIncomingMessage,
  HttpServerError,
  HttpServerRequest
} from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import { InvalidInput } from "../../src/Errors.js"
import { errorAnswer, malformedBody, ownerOf, unauthorized } from "../server-kit/Contract.js"
import { bodyLimitBytes, bodyTooLarge, needsOwner, noRoute } from "../server-kit/Node.js"
import { Api, type ApiError, fromAnswer } from "./Api.js"

/** A body that does not fit its schema, named by its first issue. */
export const invalidBody = (error: HttpApiError.HttpApiDecodeError): ApiError => {
  const issue = error.issues[0]
  return fromAnswer(errorAnswer(
    new InvalidInput({
      source: "body",
      record: "",
      field: issue?.path.join(".") ?? "",
      detail: issue?.message ?? error.message
    })
  ))
}

/** The answer for a failure of the framework's own, if it has one. */
const answerFailure = (
  error: unknown,
  request: HttpServerRequest.HttpServerRequest,
  tokens: ReadonlyMap<string, string>
): ApiError | undefined => {
  if (error instanceof HttpApiError.HttpApiDecodeError) return invalidBody(error)
  if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
    const path = request.url.split("?")[0] ?? ""
    const owner = ownerOf(tokens, request.headers.authorization)
    return fromAnswer(
      needsOwner(path) && owner === undefined ? unauthorized : noRoute(request.method, path)
    )
  }
  return undefined
}

/** HttpApi dies when a body is not JSON: that is the caller's doing. */
const answerDefect = (defect: unknown): ApiError | undefined => {
  if (
    !HttpServerError.isServerError(defect) || defect._tag !== "RequestError" ||
    defect.reason !== "Decode"
  ) return undefined
  const cause = defect.cause
  return fromAnswer(malformedBody(cause instanceof Error ? cause.message : String(cause)))
}

/**
 * The answer for what a route failed with. Its cause is typed `never`
 * (HttpApi hands middleware its app so), though it carries the
 * framework's own errors.
 */
const answerCause = (
  cause: Cause.Cause<never>,
  request: HttpServerRequest.HttpServerRequest,
  tokens: ReadonlyMap<string, string>
): Effect.Effect<never, ApiError> => {
  const failure = Cause.failureOption(cause as Cause.Cause<unknown>)
  if (Option.isSome(failure)) {
    const answer = answerFailure(failure.value, request, tokens)
    return answer === undefined ? Effect.failCause(cause) : Effect.fail(answer)
  }
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
  const defect = Option.getOrUndefined(Cause.dieOption(cause))
  const malformed = answerDefect(defect)
  return malformed !== undefined
    ? Effect.fail(malformed)
    : Effect.zipRight(
      Effect.logError("request failed", cause),
      Effect.fail(fromAnswer(errorAnswer(defect)))
    )
}

export const RequestErrorsLive = (tokens: ReadonlyMap<string, string>) =>
  HttpApiBuilder.middleware(Api, (app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const length = Number(request.headers["content-length"] ?? "0")
      if (length > bodyLimitBytes) return yield* Effect.fail(fromAnswer(bodyTooLarge))
      const asJson = request.modify({
        headers: Headers.set(request.headers, "content-type", "application/json")
      })
      return yield* app.pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(bodyLimitBytes)),
        Effect.provideService(HttpServerRequest.HttpServerRequest, asJson),
        Effect.catchAllCause((cause) => answerCause(cause, request, tokens))
      )
    }))
