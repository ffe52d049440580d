/**
 * The layer behind the promise client, built from its options: storage,
 * analyzer, the API with or without a runner, the validator, repairer,
 * health and Prometheus services, and logs on stderr.
 *
 * Options come from callers that may not use TypeScript, so they are
 * checked with Schema first; a bad one is an InvalidInput naming its path,
 * such as `storage.postgres` or `analyzer.openai.concurrency`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { SqlClient } from "@effect/sql"
import {
  Cause,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Layer,
  Logger,
  LogLevel,
  Option,
  ParseResult,
  Redacted,
  Schema
} from "effect"
import { PgStorage } from "../adapters/postgres/index.js"
import { SqliteStorage } from "../adapters/sqlite/index.js"
import type { Analyzer } from "../src/Analyzer.js"
import { EmbeddedAnalyzer } from "../src/analyzer/EmbeddedAnalyzer.js"
import * as OpenAiAnalyzer from "../src/analyzer/OpenAiAnalyzer.js"
import { InvalidInput, StoreError } from "../src/Errors.js"
import * as Health from "../src/Health.js"
import * as Insights from "../src/Insights.js"
import type * as JobSignal from "../src/JobSignal.js"
import type * as JobStore from "../src/JobStore.js"
import type * as ProfileStore from "../src/ProfileStore.js"
import * as Repairer from "../src/Repairer.js"
import * as Telemetry from "../src/Telemetry.js"
import * as Validator from "../src/Validator.js"
import type { AnalyzerChoice, ClientOptions, OpenAiOptions, StorageChoice } from "./Client.js"

// ---------------------------------------------------------------------------
// Checking options

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))
const NonNegative = Schema.Number.pipe(Schema.greaterThanOrEqualTo(0))
/** A per-minute limit: a positive number, or Infinity for none. */
const PerMinute = Schema.Number.pipe(Schema.greaterThan(0))

/** The Duration a caller's value stands for: milliseconds (not negative) or any DurationInput. */
const durationOf = (u: unknown): Option.Option<Duration.Duration> =>
  typeof u === "number"
    ? (u >= 0 ? Option.some(Duration.millis(u)) : Option.none())
    : Duration.decodeUnknown(u)

/** What Duration.decode accepts: a Duration, milliseconds, or "30 seconds". */
const DurationInput = Schema.declare(
  (u: unknown): u is Duration.DurationInput => Option.isSome(durationOf(u)),
  {
    identifier: "DurationInput",
    description: "a Duration, milliseconds, or text such as \"30 seconds\""
  }
)

/** A DurationInput of more than zero. */
const PositiveDurationInput = Schema.declare(
  (u: unknown): u is Duration.DurationInput =>
    Option.exists(durationOf(u), (d) => Duration.toMillis(d) > 0),
  {
    identifier: "PositiveDurationInput",
    description: "a Duration above zero, milliseconds, or text such as \"30 seconds\""
  }
)

/** The runner's options (Insights.LayerOptions) as a caller may pass them. */
const RunnerInput = Schema.Struct({
  runnerId: Schema.optional(Schema.NonEmptyTrimmedString),
  jobConcurrency: Schema.optional(PositiveInt),
  pollInterval: Schema.optional(PositiveDurationInput),
  leaseDuration: Schema.optional(PositiveDurationInput),
  heartbeatInterval: Schema.optional(PositiveDurationInput),
  retryBase: Schema.optional(PositiveDurationInput),
  postConcurrency: Schema.optional(PositiveInt),
  postTimeout: Schema.optional(PositiveDurationInput),
  postRetries: Schema.optional(NonNegativeInt),
  postRetryBase: Schema.optional(PositiveDurationInput),
  repair: Schema.optional(Schema.Union(Schema.Literal(false), Schema.Object))
})

const StorageInput = Schema.Union(
  Schema.Struct({ sqlite: Schema.NonEmptyTrimmedString }),
  Schema.Struct({
    postgres: Schema.String.pipe(
      Schema.pattern(/^postgres(ql)?:\/\//, {
        message: () => "expected a postgres:// or postgresql:// URL"
      })
    ),
    poolSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
  })
)

const OpenAiInput = Schema.Struct({
  baseUrl: Schema.optional(
    Schema.String.pipe(
      Schema.pattern(/^https?:\/\/[^\s/]+/, {
        message: () => "expected an http:// or https:// URL, such as http://127.0.0.1:11434/v1"
      })
    )
  ),
  model: Schema.optional(Schema.NonEmptyTrimmedString),
  apiKey: Schema.optional(Schema.Union(Schema.String, Schema.RedactedFromSelf(Schema.String))),
  timeout: Schema.optional(DurationInput),
  concurrency: Schema.optional(PositiveInt),
  requestsPerMinute: Schema.optional(PerMinute),
  tokensPerMinute: Schema.optional(PerMinute),
  maxRetries: Schema.optional(NonNegativeInt),
  retryBase: Schema.optional(DurationInput),
  maxRetryAfter: Schema.optional(DurationInput),
  invalidOutputRetries: Schema.optional(NonNegativeInt),
  maxOutputTokens: Schema.optional(PositiveInt),
  temperature: Schema.optional(NonNegative),
  responseFormat: Schema.optional(Schema.Literal("json_schema", "json_object", "none")),
  breakerThreshold: Schema.optional(PositiveInt),
  breakerCoolDown: Schema.optional(DurationInput),
  promptPricePer1k: Schema.optional(NonNegative),
  completionPricePer1k: Schema.optional(NonNegative)
})

const AnalyzerInput = Schema.Union(
  Schema.Literal("embedded", "openai"),
  Schema.Struct({ openai: OpenAiInput })
)

const LogLevelInput = Schema.Literal("none", "error", "warning", "info", "debug")

/** The options checked, the runner's values among them. */
const ClientOptionsInput = Schema.Struct({
  storage: StorageInput,
  analyzer: Schema.optional(AnalyzerInput),
  runner: Schema.optional(Schema.Union(Schema.Literal(false), RunnerInput)),
  logLevel: Schema.optional(LogLevelInput)
})

/**
 * An InvalidInput for what a Schema found wrong in `record`. Of the issues
 * the alternatives of a union report, the one deepest in the input is
 * reported, and a value that is wrong before a field that is missing: for
 * `{ openai: { concurrency: 0 } }` that is `openai.concurrency`, not that
 * the value is not "embedded".
 */
export const invalidInput = (
  source: string,
  record: string,
  error: ParseResult.ParseError
): InvalidInput => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const rank = (i: ParseResult.ArrayFormatterIssue) =>
    i.path.length * 2 + (i._tag === "Missing" ? 0 : 1)
  const issue = issues.reduce<ParseResult.ArrayFormatterIssue | undefined>(
    (best, i) => (best === undefined || rank(i) > rank(best) ? i : best),
    undefined
  )
  return new InvalidInput({
    source,
    record,
    field: issue?.path.join(".") ?? "",
    detail: issue?.message ?? error.message
  })
}

/** Checks options as a JavaScript caller may pass them. */
export const checkOptions = (options: unknown): Either.Either<ClientOptions, InvalidInput> =>
  Schema.decodeUnknownEither(ClientOptionsInput)(options).pipe(
    Either.mapBoth({
      onLeft: (error) => invalidInput("createClient", "options", error),
      // The checked value loses the runner's fields; the original keeps them.
      onRight: () => options as ClientOptions
    })
  )

// ---------------------------------------------------------------------------
// Parts

/**
 * Storage whose every failure to open (a path that cannot be created, a
 * file that is not a database, a server that cannot be reached) is a
 * StoreError.
 */
const storageLayer = (
  choice: StorageChoice
): Layer.Layer<SqlClient.SqlClient, StoreError> => {
  // Postgres also provides JobSignal.Notifications, which JobSignal picks up.
  const layer: Layer.Layer<SqlClient.SqlClient, unknown> =
    "sqlite" in choice
      ? SqliteStorage.layer({ filename: choice.sqlite })
      : PgStorage.layer({ url: choice.postgres, maxConnections: choice.poolSize })
  return Layer.catchAllCause(layer, (cause) =>
    Layer.fail(new StoreError({ operation: "open", cause: Cause.squash(cause) }))
  )
}

/** Runs a Config against no settings at all: every value its default. */
const defaultsOf = <A>(config: Effect.Effect<A, ConfigError.ConfigError>): A =>
  Effect.runSync(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map())))

/**
 * OpenAI options from the caller's partial ones: each field the caller set,
 * else the default that `OpenAiAnalyzer.config` gives it.
 */
export const openAiOptions = (partial: OpenAiOptions): OpenAiAnalyzer.Options => {
  const set = Object.fromEntries(
    Object.entries(partial).filter(([, value]) => value !== undefined)
  )
  const apiKey = partial.apiKey
  // Fields left undefined were dropped above, so the defaults stand for them.
  return {
    ...defaultsOf(OpenAiAnalyzer.config),
    ...set,
    apiKey: typeof apiKey === "string" ? Redacted.make(apiKey) : apiKey
  } as OpenAiAnalyzer.Options
}

/** A ConfigError of the PROFILE_INSIGHTS_OPENAI_* variables, as InvalidInput. */
const configInvalid = (error: ConfigError.ConfigError): InvalidInput => {
  const first = ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left, right) => left ?? right,
    orCase: (_, left, right) => left ?? right,
    invalidDataCase: (_, path, message) => ({ path, message }),
    missingDataCase: (_, path, message) => ({ path, message }),
    sourceUnavailableCase: (_, path, message) => ({ path, message }),
    unsupportedCase: (_, path, message) => ({ path, message })
  }) as { path: ReadonlyArray<string>; message: string } | undefined
  return new InvalidInput({
    source: "environment",
    record: "",
    field: first?.path.join(".") ?? "",
    detail: first?.message ?? String(error)
  })
}

const analyzerLayer = (
  choice: AnalyzerChoice | undefined
): Layer.Layer<Analyzer, InvalidInput> => {
  if (choice === undefined || choice === "embedded") return EmbeddedAnalyzer.layer
  const openai = choice === "openai"
    ? Layer.mapError(OpenAiAnalyzer.layerConfig, configInvalid)
    : OpenAiAnalyzer.layer(openAiOptions(choice.openai))
  return openai.pipe(Layer.provide(NodeHttpClient.layerUndici))
}

const levels = {
  none: LogLevel.None,
  error: LogLevel.Error,
  warning: LogLevel.Warning,
  info: LogLevel.Info,
  debug: LogLevel.Debug
} as const

/** Log lines in logfmt on stderr, from `level` up. */
const loggingLayer = (level: keyof typeof levels): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
    Logger.minimumLogLevel(levels[level])
  )

// ---------------------------------------------------------------------------
// The whole

export type ClientServices =
  | Insights.Insights
  | ProfileStore.ProfileStore
  | JobStore.JobStore
  | JobSignal.JobSignal
  | Validator.Validator
  | Repairer.Repairer
  | Health.Health
  | Telemetry.Prometheus

/** Everything a client calls, over the storage and analyzer chosen. */
export const clientLayer = (
  options: ClientOptions
): Layer.Layer<ClientServices, StoreError | InvalidInput> => {
  const insights = options.runner === false
    ? Insights.layerWithoutRunner
    : Insights.layer(options.runner ?? {})
  return Layer.mergeAll(Repairer.layer, Health.layer(), Telemetry.layerPrometheus()).pipe(
    Layer.provideMerge(Validator.layer),
    Layer.provideMerge(insights),
    Layer.provide(analyzerLayer(options.analyzer)),
    Layer.provide(storageLayer(options.storage)),
    Layer.provide(loggingLayer(options.logLevel ?? "warning"))
  )
}
