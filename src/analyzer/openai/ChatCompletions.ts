/**
 * One call of an OpenAI-compatible chat completions endpoint
 * (POST {baseUrl}/chat/completions), with the answer and every failure
 * mapped onto AnalyzerError:
 *
 * - 429: RateLimited, with the wait the server asks for (retry-after-ms or
 *   Retry-After, in seconds or as an HTTP date);
 * - 408, or no complete answer within the timeout: Timeout;
 * - 5xx, a refused or dropped connection: Unavailable (with Retry-After
 *   when a 503 gives one);
 * - any other status: Rejected, with the server's error message;
 * - a 200 whose body is not a chat completion: InvalidOutput (the server
 *   misbehaving; the analyzer asks again, as for an off-schema answer).
 *
 * The response is read leniently: only choices[0].message.content (or
 * refusal), finish_reason and usage are used, so servers that leave out
 * fields OpenAI sends (logprobs, refusal, system_fingerprint) still work.
 * Usage that is not two whole numbers of 0 or more is ignored, as if the
 * server had reported none: a bad count must not cost a valid answer.
 */
import { Headers, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Clock, Duration, Effect, Either, Option, Redacted, Schema } from "effect"
import { AnalyzerError } from "../../Errors.js"

export interface Message {
  readonly role: "system" | "user"
  readonly content: string
}

export interface Request {
  readonly model: string
  readonly messages: ReadonlyArray<Message>
  readonly temperature: number
  readonly max_tokens: number
  readonly response_format?: object | undefined
}

const Usage = Schema.Struct({
  prompt_tokens: Schema.NonNegativeInt,
  completion_tokens: Schema.NonNegativeInt
})

const Completion = Schema.Struct({
  choices: Schema.NonEmptyArray(
    Schema.Struct({
      message: Schema.Struct({
        content: Schema.optional(Schema.NullOr(Schema.String)),
        refusal: Schema.optional(Schema.NullOr(Schema.String))
      }),
      finish_reason: Schema.optional(Schema.NullOr(Schema.String))
    })
  ),
  usage: Schema.optional(Schema.Unknown)
})

const decodeUsage = Schema.decodeUnknownOption(Usage)

export interface Answer {
  readonly content: string | null
  readonly refusal: string | null
  readonly finishReason: string | null
  /** As reported by the server; none when it reports no usage. */
  readonly usage: Option.Option<{
    readonly promptTokens: number
    readonly completionTokens: number
  }>
}

export interface Endpoint {
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly timeout: Duration.Duration
}

const decodeCompletion = Schema.decodeUnknownEither(Schema.parseJson(Completion))

/** Milliseconds a response asks the client to wait, if it says. */
export const retryAfterMillis = (
  headers: Headers.Headers,
  now: number
): number | undefined => {
  const ms = Option.getOrUndefined(Headers.get(headers, "retry-after-ms"))
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) {
    return Math.ceil(Number(ms))
  }
  const value = Option.getOrUndefined(Headers.get(headers, "retry-after"))?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const clip = (text: string, max = 200) =>
  text.length <= max ? text : `${text.slice(0, max)}…`

/** The "error.message" of an OpenAI-style error body, or the body itself. */
const serverMessage = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string }
    const message = typeof parsed.error === "string" ? parsed.error : parsed.error?.message
    if (typeof message === "string") return clip(message)
  } catch {
    // not JSON: the text itself
  }
  return clip(body.replace(/\s+/g, " ").trim())
}

const fromResponse = (
  response: HttpClientResponse.HttpClientResponse,
  now: number
): Effect.Effect<Answer, AnalyzerError> =>
  Effect.flatMap(
    response.text.pipe(
      Effect.mapError((e) =>
        new AnalyzerError({
          reason: "Unavailable",
          detail: `the answer could not be read: ${e.message}`
        })
      )
    ),
    (body): Effect.Effect<Answer, AnalyzerError> => {
      const status = response.status
      const retryAfter = retryAfterMillis(response.headers, now)
      const withRetryAfter = retryAfter === undefined ? {} : { retryAfterMillis: retryAfter }
      if (status === 429) {
        return Effect.fail(
          new AnalyzerError({
            reason: "RateLimited",
            detail: `429 from the server: ${serverMessage(body)}`,
            ...withRetryAfter
          })
        )
      }
      if (status === 408) {
        return Effect.fail(
          new AnalyzerError({ reason: "Timeout", detail: `408 from the server` })
        )
      }
      if (status >= 500) {
        return Effect.fail(
          new AnalyzerError({
            reason: "Unavailable",
            detail: `${status} from the server: ${serverMessage(body)}`,
            ...withRetryAfter
          })
        )
      }
      if (status < 200 || status >= 300) {
        return Effect.fail(
          new AnalyzerError({
            reason: "Rejected",
            detail: `${status} from the server: ${serverMessage(body)}`
          })
        )
      }
      return Either.match(decodeCompletion(body), {
        onLeft: () =>
          Effect.fail(
            new AnalyzerError({
              reason: "InvalidOutput",
              detail: `not a chat completion: ${clip(JSON.stringify(body), 120)}`
            })
          ),
        onRight: (completion) => {
          const choice = completion.choices[0]
          const usage = decodeUsage(completion.usage)
          return Effect.succeed({
            content: choice.message.content ?? null,
            refusal: choice.message.refusal ?? null,
            finishReason: choice.finish_reason ?? null,
            usage: Option.map(usage, (u) => ({
              promptTokens: u.prompt_tokens,
              completionTokens: u.completion_tokens
            }))
          })
        }
      })
    }
  )

/**
 * Sends one request and reads the whole answer, within the endpoint's
 * timeout. No retries here: callers decide.
 */
export const create = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  body: Request
): Effect.Effect<Answer, AnalyzerError> => {
  const url = `${endpoint.baseUrl.replace(/\/+$/, "")}/chat/completions`
  const request = HttpClientRequest.post(url).pipe(
    HttpClientRequest.acceptJson,
    Option.match(endpoint.apiKey, {
      onNone: () => (r: HttpClientRequest.HttpClientRequest) => r,
      onSome: (key) => HttpClientRequest.bearerToken(Redacted.value(key))
    }),
    HttpClientRequest.bodyUnsafeJson(body)
  )
  return client.execute(request).pipe(
    Effect.mapError((e) =>
      new AnalyzerError({
        reason: "Unavailable",
        detail: `no answer from ${url}: ${e.message}${
          e.cause instanceof Error ? ` (${e.cause.message})` : ""
        }`
      })
    ),
    Effect.flatMap((response) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => fromResponse(response, now))
    ),
    Effect.timeoutFail({
      duration: endpoint.timeout,
      onTimeout: () =>
        new AnalyzerError({
          reason: "Timeout",
          detail: `no complete answer from ${url} within ${Duration.format(endpoint.timeout)}`
        })
    })
  )
}
