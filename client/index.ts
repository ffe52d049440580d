/**
 * profile-insights for hosts that do not use Effect: `createClient` and
 * its types, with the error and domain classes a host narrows and reads.
 * Import the error classes from here, so `instanceof` sees the same
 * classes the client throws (in the CommonJS build each entry point has its
 * own copy of them; every error's `_tag` narrows across entry points).
 */
export {
  type AnalyzerChoice,
  ClientClosed,
  type ClientOptions,
  createClient,
  type InsightsClient,
  type OpenAiOptions,
  type StorageChoice,
  type WatchOptions
} from "./Client.js"
export { AnalyzerError, InvalidInput, NotFound, StoreError, UnknownFormat } from "../src/Errors.js"
export { Job, type JobKind, type JobStatus, ProfileInsights } from "../src/Domain.js"
export type { HealthSnapshot } from "../src/Health.js"
export type { LayerOptions, SubmitOptions } from "../src/Insights.js"
export type { SaveResult } from "../src/ProfileStore.js"
export type { RepairOptions, RepairReport } from "../src/Repairer.js"
export type { ValidateOptions, ValidationReport } from "../src/Validator.js"
