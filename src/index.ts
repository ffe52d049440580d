/**
 * profile-insights: durable analysis of social-media profiles into
 * insights, as background jobs.
 *
 * Effect hosts compose `Insights.layer()` with a storage adapter
 * (profile-insights/sqlite or profile-insights/postgres) and an analyzer
 * (`EmbeddedAnalyzer.layer`, or `OpenAiAnalyzer.layerConfig` with an
 * HttpClient).
 */
export * from "./Domain.js"
export * from "./Errors.js"
export * as Aggregate from "./Aggregate.js"
export { Analyzer, type AnalyzerShape } from "./Analyzer.js"
export * as AnalyzeProfile from "./AnalyzeProfile.js"
export { EmbeddedAnalyzer } from "./analyzer/EmbeddedAnalyzer.js"
export * as OpenAiAnalyzer from "./analyzer/OpenAiAnalyzer.js"
export * as ProfileImporter from "./import/ProfileImporter.js"
export * as Alerts from "./Alerts.js"
export * as Health from "./Health.js"
export * as Insights from "./Insights.js"
export * as JobRunner from "./JobRunner.js"
export * as JobSignal from "./JobSignal.js"
export * as JobStore from "./JobStore.js"
export * as Metrics from "./Metrics.js"
export * as ProfileStore from "./ProfileStore.js"
export * as Repairer from "./Repairer.js"
export * as Migrations from "./store/Migrations.js"
export * as Telemetry from "./Telemetry.js"
export * as Validator from "./Validator.js"
export * as Usage from "./Usage.js"
