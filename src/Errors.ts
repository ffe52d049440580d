/**
 * Typed errors of profile-insights. Each class is named after its tag and
 * carries a literal `reason` where one error covers several causes.
 */
import { Data, Schema } from "effect"

/**
 * Input that does not fit the schema it claims: names the source (a file
 * path or "input"), the record (for example "posts[3]") and the field.
 * Nothing is stored when this is raised.
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()(
  "InvalidInput",
  {
    source: Schema.String,
    record: Schema.String,
    field: Schema.String,
    detail: Schema.String
  }
) {
  override get message(): string {
    const where = [this.record, this.field].filter((s) => s !== "").join(".")
    return `${this.source}: ${where === "" ? "" : `${where}: `}${this.detail}`
  }
}

/** No known import format fits the content; lists each format tried and why. */
export class UnknownFormat extends Schema.TaggedError<UnknownFormat>()(
  "UnknownFormat",
  {
    source: Schema.String,
    tried: Schema.Array(
      Schema.Struct({ format: Schema.String, reason: Schema.String })
    )
  }
) {
  override get message(): string {
    const tried = this.tried
      .map((t) => `${t.format} (${t.reason})`)
      .join("; ")
    return `${this.source}: not a format profile-insights can import; tried ${tried}`
  }
}

/**
 * An analyzer could not analyse a post. `Timeout`, `RateLimited` and
 * `Unavailable` are transient and retried; `InvalidOutput` and `Rejected`
 * are not worth retrying with the same input.
 */
export class AnalyzerError extends Schema.TaggedError<AnalyzerError>()(
  "AnalyzerError",
  {
    reason: Schema.Literal(
      "Timeout",
      "RateLimited",
      "Unavailable",
      "InvalidOutput",
      "Rejected"
    ),
    detail: Schema.String,
    retryAfterMillis: Schema.optional(Schema.Number)
  }
) {
  get transient(): boolean {
    return (
      this.reason === "Timeout" ||
      this.reason === "RateLimited" ||
      this.reason === "Unavailable"
    )
  }

  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/** A job or profile that does not exist, or belongs to another owner. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: Schema.Literal("job", "profile", "insights"),
  id: Schema.String
}) {
  override get message(): string {
    return `no ${this.entity} ${this.id}`
  }
}

/**
 * The runner no longer holds the job's lease: another runner claimed it,
 * or it reached a terminal state. The runner stops working on it.
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{
  readonly jobId: string
  readonly epoch: number
}> {}

/** The storage layer failed; wraps the driver's error with what was being done. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  /** The operation, then each cause's message down to the driver's. */
  override get message(): string {
    const reasons: Array<string> = []
    for (let c = this.cause, depth = 0; c !== undefined && c !== null && depth < 4; depth++) {
      const text = c instanceof Error || typeof c === "object" ? (c as Error).message : String(c)
      if (typeof text === "string" && text !== "" && !reasons.includes(text)) reasons.push(text)
      c = typeof c === "object" ? (c as { cause?: unknown }).cause : undefined
    }
    return `store ${this.operation} failed: ${reasons.join(": ") || "unknown cause"}`
  }
}
