/**
 * OpenTelemetry for the library's spans and metrics, and the metrics in
 * Prometheus's text format. All of it is off until a host adds one of these
 * layers: without them, the spans of `Effect.withSpan` stay inside the
 * process and the metrics of `Metrics` are only read by `Health`.
 *
 * Spans the library opens: Insights.submit, JobStore.submit,
 * JobRunner.claim (every claim, also the ones that find no job),
 * AnalyzeProfile (one job's run), AnalyzeProfile.post (one post, retries
 * included), JobStore.checkpoint (one transaction, of one post or a group;
 * attribute `posts`), AnalyzeProfile.aggregate and JobStore.complete,
 * Health.snapshot, Alerts.evaluate.
 *
 * Metrics go through @effect/opentelemetry's bridge from Effect's metric
 * registry; the Prometheus text is written by
 * @opentelemetry/exporter-prometheus from that bridge. Every Effect metric
 * of the process is exported, the host's own included.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Context, type Duration, Effect, Layer } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Metrics from "./Metrics.js"

const DEFAULT_SERVICE = "profile-insights"

export interface TelemetryOptions {
  /** service.name of the resource. Default "profile-insights"; OTEL_SERVICE_NAME wins. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /**
   * Where spans go, for example a BatchSpanProcessor over an OTLP exporter
   * of the host's choice. None: no tracer is installed.
   */
  readonly spanProcessor?: SpanProcessor | ReadonlyArray<SpanProcessor> | undefined
  /**
   * Readers the Effect metrics are registered with, for example a
   * PeriodicExportingMetricReader over an OTLP exporter.
   */
  readonly metricReader?: MetricReader | ReadonlyArray<MetricReader> | undefined
}

/**
 * The OpenTelemetry SDK for Node over the host's span processors and
 * metric readers: the library's spans (and the host's) become OTel spans.
 * Providers are flushed and shut down when the layer's scope closes.
 */
export const layer = (options: TelemetryOptions): Layer.Layer<never> =>
  Layer.discard(
    NodeSdk.layer(() => ({
      resource: {
        serviceName: options.serviceName ?? DEFAULT_SERVICE,
        ...(options.serviceVersion === undefined
          ? {}
          : { serviceVersion: options.serviceVersion })
      },
      spanProcessor: options.spanProcessor,
      metricReader: options.metricReader
    }))
  )

export interface OtlpOptions {
  /**
   * The collector's base URL, such as http://127.0.0.1:4318; /v1/traces
   * and /v1/metrics are appended.
   */
  readonly url: string
  readonly serviceName?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** How often spans and metrics are sent. Default 5 seconds for spans, 10 for metrics. */
  readonly exportInterval?: Duration.DurationInput | undefined
}

/**
 * Spans and metrics sent to an OTLP/HTTP collector as JSON, with
 * @effect/opentelemetry's own exporters (no OpenTelemetry SDK involved).
 * Needs an HttpClient, such as FetchHttpClient.layer.
 */
export const layerOtlp = (
  options: OtlpOptions
): Layer.Layer<never, never, HttpClient.HttpClient> => {
  const base = options.url.replace(/\/+$/, "")
  const resource = { serviceName: options.serviceName ?? DEFAULT_SERVICE }
  return Layer.mergeAll(
    OtlpTracer.layer({
      url: `${base}/v1/traces`,
      resource,
      headers: options.headers,
      exportInterval: options.exportInterval
    }),
    OtlpMetrics.layer({
      url: `${base}/v1/metrics`,
      resource,
      headers: options.headers,
      exportInterval: options.exportInterval
    })
  ).pipe(Layer.provide(OtlpSerialization.layerJson))
}

export interface PrometheusOptions {
  /**
   * Serve the metrics on this port from the exporter's own HTTP server.
   * Default: no server; the host serves `render` or `handler` itself.
   */
  readonly port?: number | undefined
  /** Interface of that server. Default: all. */
  readonly host?: string | undefined
  /** Path of that server's metrics. Default "/metrics". */
  readonly endpoint?: string | undefined
  readonly serviceName?: string | undefined
}

export interface PrometheusShape {
  /** The metrics now, in Prometheus's text exposition format (version 0.0.4). */
  readonly render: Effect.Effect<string>
  readonly contentType: string
  /** A node:http request handler answering with the metrics, for the host's own server. */
  readonly handler: (request: IncomingMessage, response: ServerResponse) => void
}

export class Prometheus extends Context.Tag("profile-insights/Prometheus")<
  Prometheus,
  PrometheusShape
>() {}

const makePrometheus = (options: PrometheusOptions) =>
  Effect.gen(function* () {
    const serve = options.port !== undefined
    yield* Metrics.register
    const exporter = new PrometheusExporter({
      preventServerStart: true,
      withoutScopeInfo: true,
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint })
    })
    // Registers the bridge from Effect's registry; shuts the exporter (and
    // its server) down with the scope.
    const producer = yield* OtelMetrics.makeProducer
    yield* OtelMetrics.registerProducer(producer, () => exporter)
    if (serve) {
      yield* Effect.promise(() => exporter.startServer())
    }
    const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
    return Prometheus.of({
      render: Effect.promise(() => exporter.collect()).pipe(
        Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      ),
      contentType: "text/plain; version=0.0.4; charset=utf-8",
      handler: (request, response) => exporter.getMetricsRequestHandler(request, response)
    })
  })

/**
 * Effect metrics in Prometheus's text format, through
 * @opentelemetry/exporter-prometheus: rendered on demand, served by the
 * host through `handler`, or served on `port` by the exporter itself.
 */
export const layerPrometheus = (
  options: PrometheusOptions = {}
): Layer.Layer<Prometheus> =>
  Layer.scoped(Prometheus, makePrometheus(options)).pipe(
    Layer.provide(
      Resource.layer({ serviceName: options.serviceName ?? DEFAULT_SERVICE })
    )
  )

/** The metrics now, in Prometheus's text format, without a layer. */
export const prometheusText: Effect.Effect<string> = Effect.flatMap(
  Prometheus,
  (p) => p.render
).pipe(Effect.provide(layerPrometheus()))
