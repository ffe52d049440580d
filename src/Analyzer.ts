/**
 * The Analyzer service: turns one post into an AnalysisResult.
 *
 * An analyzer has an id and a version. Analyses are stored per (post,
 * analyzer version), so changing the version makes earlier analyses stale
 * and a later job re-analyses only those.
 */
import { Context, type Effect } from "effect"
import type { AnalysisResult, Post } from "./Domain.js"
import type { AnalyzerError } from "./Errors.js"

export interface AnalyzerShape {
  /** A stable name, such as "embedded" or "openai". */
  readonly id: string
  /** Changes whenever results for the same post could change. */
  readonly version: string
  readonly analyze: (post: Post) => Effect.Effect<AnalysisResult, AnalyzerError>
}

export class Analyzer extends Context.Tag("profile-insights/Analyzer")<
  Analyzer,
  AnalyzerShape
>() {}
