/**
 * An analyzer over any OpenAI-compatible chat completions API: OpenAI
 * itself, or local and hosted servers such as vLLM, Ollama, llama.cpp or
 * LM Studio. docs/llm-analyzer.md describes configuration and behaviour.
 *
 * Each post is one request: a fixed system message and the post as JSON in
 * the user message (captions are data, never instructions). The answer is
 * asked for as JSON matching the analysis schema (`response_format`
 * json_schema where the server supports it), and decoded with Schema; JSON
 * in a markdown fence is accepted. An off-schema answer is asked again a
 * bounded number of times and then fails with InvalidOutput, which the job
 * records as the post's failure; it is never stored as a result.
 *
 * Every request passes, in order: a circuit breaker (which pauses calls
 * after consecutive failures), a concurrency bound, and a limiter of
 * requests and tokens per minute. All three belong to the layer, so every
 * job of a process that uses it shares them. 429 and 5xx answers, dropped
 * connections and timeouts are retried with exponential backoff that waits
 * at least as long as Retry-After asks. A Retry-After beyond maxRetryAfter,
 * or an open circuit, ends the call at once with the wait in
 * `retryAfterMillis`: a job then hands itself back rather than wait.
 *
 * Built on @effect/platform's HttpClient rather than @effect/ai with
 * @effect/ai-openai (0.37 / 0.41, the releases for effect 3.22):
 * OpenAiLanguageModel speaks OpenAI's Responses API (POST /responses),
 * which most OpenAI-compatible servers do not implement; the package's
 * generated chat completions client decodes OpenAI's full response schema,
 * which requires fields such as `logprobs` and `message.refusal` that
 * those servers leave out; and generateObject cannot accept an answer in a
 * markdown fence or report a 429's Retry-After to the caller.
 */
import { HttpClient } from "@effect/platform"
import {
  Cause,
  Config,
  ConfigError,
  Data,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  Redacted,
  Schedule
} from "effect"
import { Analyzer, type AnalyzerShape } from "../Analyzer.js"
import { AnalysisResult, type AnalysisUsage, type Post } from "../Domain.js"
import { AnalyzerError } from "../Errors.js"
import * as Answer from "./openai/Answer.js"
import * as ChatCompletions from "./openai/ChatCompletions.js"
import * as CircuitBreaker from "./openai/CircuitBreaker.js"
import * as Prompt from "./openai/Prompt.js"
import * as RequestLimiter from "./openai/RequestLimiter.js"

/** The analyzer id stored with every analysis. */
export const id = "openai"

/**
 * The analyzer version for a model: the adapter's revision, the model and
 * the prompt version, such as "openai-1/gpt-4o-mini/prompt-1". Changing
 * the model or the prompt makes earlier analyses stale.
 */
export const versionOf = (model: string): string =>
  `openai-1/${model}/prompt-${Prompt.promptVersion}`

export type ResponseFormat = Prompt.ResponseFormat

export interface Options {
  /** Default "https://api.openai.com/v1"; the path up to /chat/completions. */
  readonly baseUrl?: string | undefined
  /** The model name the server knows, such as "gpt-4o-mini" or "llama3.1:8b". */
  readonly model: string
  /** Sent as a bearer token; none for local servers that need none. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Longest one request may take, answer read included; above zero. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Requests in flight at once, over all jobs. Default 4. */
  readonly concurrency?: number | undefined
  /** Request starts per minute, evenly spaced; Infinity for none. Default 60. */
  readonly requestsPerMinute?: number | undefined
  /**
   * Tokens per minute, counted before a request as its estimated prompt
   * plus maxOutputTokens, corrected by the usage the answer reports;
   * Infinity for none. Default 60,000.
   */
  readonly tokensPerMinute?: number | undefined
  /** Retries of a 429, 5xx, dropped connection or timeout. Default 2. */
  readonly maxRetries?: number | undefined
  /** First backoff delay; doubles per retry, jittered. Default 1 second. */
  readonly retryBase?: Duration.DurationInput | undefined
  /**
   * Longest Retry-After waited for in place; a longer one fails the call at
   * once with the wait in `retryAfterMillis`. Default 60 seconds.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** Further requests after an off-schema answer. Default 2. */
  readonly invalidOutputRetries?: number | undefined
  /** `max_tokens` of each request. Default 800. */
  readonly maxOutputTokens?: number | undefined
  /** Default 0. */
  readonly temperature?: number | undefined
  /** Default "json_schema"; "json_object" or "none" for servers without it. */
  readonly responseFormat?: ResponseFormat | undefined
  /** Consecutive failed requests that open the circuit. Default 5. */
  readonly breakerThreshold?: number | undefined
  /** How long an open circuit pauses requests. Default 30 seconds. */
  readonly breakerCoolDown?: Duration.DurationInput | undefined
  /** USD per 1,000 prompt tokens, for the estimated cost. Default 0. */
  readonly promptPricePer1k?: number | undefined
  /** USD per 1,000 completion tokens, for the estimated cost. Default 0. */
  readonly completionPricePer1k?: number | undefined
}

const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "expected a whole number of 1 or more", validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )
const nonNegativeInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "expected a whole number of 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(fallback)
  )
const nonNegative = (name: string, fallback: number) =>
  Config.number(name).pipe(
    Config.validate({ message: "expected a number of 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(fallback)
  )
/**
 * A duration such as "30 seconds" or "500 millis". Effect's own reading
 * takes "-5 seconds" as zero and refuses "0" without saying why; this one
 * names what it wants, and refuses zero where zero cannot work.
 */
const duration = (name: string, fallback: Duration.Duration, allowZero: boolean) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const wanted = `expected a duration ${
        allowZero ? "of 0 or more" : "above zero"
      } with its unit, such as "30 seconds" or "500 millis"`
      const trimmed = text.trim()
      const parsed = trimmed.startsWith("-") ? Option.none() : Duration.decodeUnknown(trimmed)
      return Option.isSome(parsed) && (allowZero || Duration.toMillis(parsed.value) > 0)
        ? Either.right(parsed.value)
        : Either.left(
          ConfigError.InvalidData([], `${wanted}; got ${JSON.stringify(text)}`)
        )
    }),
    Config.withDefault(fallback)
  )

/** A per-minute limit where 0 means none. */
const perMinute = (name: string, fallback: number) =>
  Config.map(nonNegativeInt(name, fallback), (n) => (n === 0 ? Infinity : n))

/**
 * The options from the environment (or the current ConfigProvider); names
 * and defaults are listed in docs/llm-analyzer.md.
 */
export const config: Config.Config<Options> = Config.all({
  baseUrl: Config.string("PROFILE_INSIGHTS_OPENAI_BASE_URL").pipe(
    Config.validate({
      message: "expected an http:// or https:// URL, such as http://127.0.0.1:11434/v1",
      validation: (url) => /^https?:\/\/[^\s/]+/.test(url)
    }),
    Config.withDefault("https://api.openai.com/v1")
  ),
  model: Config.string("PROFILE_INSIGHTS_OPENAI_MODEL").pipe(
    Config.validate({
      message: "expected the model name the server knows, such as gpt-4o-mini; got an empty one",
      validation: (model) => model.trim() !== ""
    }),
    Config.withDefault("gpt-4o-mini")
  ),
  apiKey: Config.option(Config.redacted("PROFILE_INSIGHTS_OPENAI_API_KEY")).pipe(
    Config.map(Option.getOrUndefined)
  ),
  timeout: duration("PROFILE_INSIGHTS_OPENAI_TIMEOUT", Duration.seconds(30), false),
  concurrency: positiveInt("PROFILE_INSIGHTS_OPENAI_CONCURRENCY", 4),
  requestsPerMinute: perMinute("PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE", 60),
  tokensPerMinute: perMinute("PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE", 60_000),
  maxRetries: nonNegativeInt("PROFILE_INSIGHTS_OPENAI_MAX_RETRIES", 2),
  retryBase: duration("PROFILE_INSIGHTS_OPENAI_RETRY_BASE", Duration.seconds(1), true),
  maxRetryAfter: duration(
    "PROFILE_INSIGHTS_OPENAI_MAX_RETRY_AFTER",
    Duration.seconds(60),
    true
  ),
  invalidOutputRetries: nonNegativeInt("PROFILE_INSIGHTS_OPENAI_INVALID_OUTPUT_RETRIES", 2),
  maxOutputTokens: positiveInt("PROFILE_INSIGHTS_OPENAI_MAX_OUTPUT_TOKENS", 800),
  temperature: nonNegative("PROFILE_INSIGHTS_OPENAI_TEMPERATURE", 0),
  responseFormat: Config.literal("json_schema", "json_object", "none")(
    "PROFILE_INSIGHTS_OPENAI_RESPONSE_FORMAT"
  ).pipe(Config.withDefault("json_schema" as const)),
  breakerThreshold: positiveInt("PROFILE_INSIGHTS_OPENAI_BREAKER_THRESHOLD", 5),
  breakerCoolDown: duration(
    "PROFILE_INSIGHTS_OPENAI_BREAKER_COOL_DOWN",
    Duration.seconds(30),
    false
  ),
  promptPricePer1k: nonNegative("PROFILE_INSIGHTS_OPENAI_PROMPT_PRICE_PER_1K", 0),
  completionPricePer1k: nonNegative("PROFILE_INSIGHTS_OPENAI_COMPLETION_PRICE_PER_1K", 0)
})

const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8")

/** A deliberately high guess of a text's tokens, for the limiter. */
const reserveTokens = (text: string) => Math.ceil(utf8Bytes(text) / 3)

/** A text's tokens when the server reports none: a token per 4 bytes. */
const guessTokens = (text: string) => Math.ceil(utf8Bytes(text) / 4)

const roundCost = (usd: number) => Math.round(usd * 1e6) / 1e6

/**
 * Builds the analyzer, with the limiter, concurrency bound and circuit
 * breaker that every analysis through it shares.
 */
export const make = (
  options: Options
): Effect.Effect<AnalyzerShape, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const maxRetries = options.maxRetries ?? 2
    const invalidOutputRetries = options.invalidOutputRetries ?? 2
    const maxOutputTokens = options.maxOutputTokens ?? 800
    const maxRetryAfter = Duration.toMillis(options.maxRetryAfter ?? Duration.seconds(60))
    const promptPrice = options.promptPricePer1k ?? 0
    const completionPrice = options.completionPricePer1k ?? 0
    const endpoint: ChatCompletions.Endpoint = {
      baseUrl: options.baseUrl ?? "https://api.openai.com/v1",
      apiKey: Option.fromNullable(options.apiKey),
      timeout: Duration.decode(options.timeout ?? Duration.seconds(30))
    }
    const permits = yield* Effect.makeSemaphore(options.concurrency ?? 4)
    const limiter = yield* RequestLimiter.make({
      requestsPerMinute: options.requestsPerMinute ?? 60,
      tokensPerMinute: options.tokensPerMinute ?? 60_000
    })
    const breaker = yield* CircuitBreaker.make(
      {
        threshold: options.breakerThreshold ?? 5,
        coolDown: options.breakerCoolDown ?? Duration.seconds(30)
      },
      (millisLeft) => new CircuitOpen({ millisLeft })
    )
    const format = Prompt.responseFormat(options.responseFormat ?? "json_schema")

    // An open circuit is not waited out here: the refusal ends the call at
    // once, and the job hands itself back until the cool-down is over.
    const retryTransient = Schedule.identity<AnalyzerError | CircuitOpen>().pipe(
      Schedule.zipLeft(
        Schedule.exponential(options.retryBase ?? Duration.seconds(1)).pipe(Schedule.jittered)
      ),
      Schedule.zipLeft(Schedule.recurs(maxRetries)),
      Schedule.modifyDelay((error, delay) =>
        Duration.max(delay, Duration.millis(retryAfterOf(error)))
      ),
      Schedule.whileInput((error: AnalyzerError | CircuitOpen) =>
        error._tag === "AnalyzerError" && error.transient &&
        (error.retryAfterMillis ?? 0) <= maxRetryAfter
      )
    )

    /**
     * One request, retried while it fails for a transient reason; a
     * Retry-After beyond maxRetryAfter, or an open circuit, ends it at once
     * with the wait in `retryAfterMillis`.
     */
    const request = (
      body: ChatCompletions.Request,
      reserve: number
    ): Effect.Effect<ChatCompletions.Answer, AnalyzerError> =>
      breaker.protect(
        permits.withPermits(1)(
          limiter.take(reserve).pipe(
            Effect.zipRight(ChatCompletions.create(client, endpoint, body))
          )
        ),
        outcomeOf
      ).pipe(
        Effect.tap((answer) =>
          Option.match(answer.usage, {
            onNone: () => Effect.void,
            onSome: (u) => limiter.settle(u.promptTokens + u.completionTokens - reserve)
          })
        ),
        Effect.tapError((error) =>
          Effect.logDebug("request failed", error.message)
        ),
        Effect.retry(retryTransient),
        Effect.catchTag("CircuitOpen", (open) =>
          Effect.fail(
            new AnalyzerError({
              reason: "Unavailable",
              detail: "requests paused after consecutive failures of the server; " +
                `they resume in ${open.millisLeft} ms`,
              retryAfterMillis: open.millisLeft
            })
          )
        )
      )

    const priced = (
      requests: number,
      promptTokens: number,
      completionTokens: number
    ): AnalysisUsage => ({
      requests,
      promptTokens,
      completionTokens,
      costUsd: roundCost(
        (promptTokens / 1000) * promptPrice + (completionTokens / 1000) * completionPrice
      )
    })

    const analyze = (post: Post): Effect.Effect<AnalysisResult, AnalyzerError> =>
      Effect.gen(function* () {
        const user = Prompt.userMessage(post)
        const body: ChatCompletions.Request = {
          model: options.model,
          messages: [
            { role: "system", content: Prompt.systemMessage },
            { role: "user", content: user }
          ],
          temperature: options.temperature ?? 0,
          max_tokens: maxOutputTokens,
          ...(format === undefined ? {} : { response_format: format })
        }
        const promptReserve = reserveTokens(Prompt.systemMessage + user)
        let requests = 0
        let promptTokens = 0
        let completionTokens = 0
        let problem = ""

        for (let answers = 1; answers <= 1 + invalidOutputRetries; answers++) {
          // A 200 that is not a chat completion is the server misbehaving:
          // asked again like an off-schema answer.
          const reply = yield* request(body, promptReserve + maxOutputTokens).pipe(
            Effect.map(Either.right),
            Effect.catchIf(
              (error) => error.reason === "InvalidOutput",
              (error) => Effect.succeed(Either.left(error.detail))
            )
          )
          requests++
          if (Either.isLeft(reply)) {
            problem = reply.left
            yield* Effect.logDebug("not a chat completion", problem).pipe(
              Effect.annotateLogs("answer", answers)
            )
            continue
          }
          const answer = reply.right
          promptTokens += Option.match(answer.usage, {
            onNone: () => guessTokens(Prompt.systemMessage + user),
            onSome: (u) => u.promptTokens
          })
          completionTokens += Option.match(answer.usage, {
            onNone: () => guessTokens(answer.content ?? ""),
            onSome: (u) => u.completionTokens
          })
          if (answer.refusal !== null && answer.refusal !== "") {
            return yield* new AnalyzerError({
              reason: "Rejected",
              detail: `the model refused: ${answer.refusal.slice(0, 200)}`
            })
          }
          if (answer.finishReason === "content_filter") {
            return yield* new AnalyzerError({
              reason: "Rejected",
              detail: "the server's content filter withheld the answer"
            })
          }
          const decoded = answer.finishReason === "length"
            ? Either.left(`answer cut off at ${maxOutputTokens} tokens`)
            : Answer.decode(answer.content ?? "")
          if (Either.isRight(decoded)) {
            return new AnalysisResult({
              ...decoded.right,
              usage: priced(requests, promptTokens, completionTokens)
            })
          }
          problem = decoded.left
          yield* Effect.logDebug("off-schema answer", problem).pipe(
            Effect.annotateLogs("answer", answers)
          )
        }
        return yield* new AnalyzerError({
          reason: "InvalidOutput",
          detail: `${problem} (${requests} answers, none valid)`
        })
      }).pipe(
        Effect.annotateLogs({ module: "OpenAiAnalyzer", postId: post.id }),
        Effect.withSpan("OpenAiAnalyzer.analyze", { attributes: { postId: post.id } })
      )

    return Analyzer.of({ id, version: versionOf(options.model), analyze })
  })

/** The circuit breaker's refusal, turned into Unavailable by `request`. */
class CircuitOpen extends Data.TaggedError("CircuitOpen")<{
  readonly millisLeft: number
}> {}

const retryAfterOf = (error: AnalyzerError | CircuitOpen): number =>
  error._tag === "CircuitOpen" ? error.millisLeft : error.retryAfterMillis ?? 0

/**
 * What a request's outcome says about the server, for the circuit breaker:
 * timeouts, 5xx and dropped connections are failures; a 429 says nothing
 * (the server is up, and Retry-After is honoured); any answer is a success.
 */
const outcomeOf = (
  exit: Exit.Exit<ChatCompletions.Answer, AnalyzerError>
): CircuitBreaker.Outcome =>
  Exit.match(exit, {
    onSuccess: () => "success",
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onNone: () => "failure",
        onSome: (error) =>
          error.reason === "Unavailable" || error.reason === "Timeout"
            ? "failure"
            : error.reason === "RateLimited"
            ? "neutral"
            : "success"
      })
  })

/** The analyzer as the Analyzer service, over the HttpClient provided. */
export const layer = (options: Options): Layer.Layer<Analyzer, never, HttpClient.HttpClient> =>
  Layer.effect(Analyzer, make(options))

/** The analyzer configured from the environment (see `config`). */
export const layerConfig: Layer.Layer<
  Analyzer,
  ConfigError.ConfigError,
  HttpClient.HttpClient
> = Layer.effect(Analyzer, Effect.flatMap(config, make))
