/**
 * The third-party browser files the progress page loads, served straight
 * from node_modules: Chart.js's UMD build (the global `Chart`) and
 * eventsource-parser's ES modules (a Server-Sent Events parser for a fetch
 * body, since EventSource cannot send an Authorization header).
 *
 * Every server serves each entry of `vendorAssets` at its URL path, with
 * the content type `contentTypeOf` gives, next to the files of public/.
 * The files are resolved through Node's module resolution from this file,
 * so they are found whatever the working directory.
 */
import { createRequire } from "node:module"
import { dirname, extname, join } from "node:path"

const require = createRequire(import.meta.url)

const chartDist = dirname(require.resolve("chart.js"))
const parserDist = join(dirname(require.resolve("eventsource-parser/package.json")), "dist")

/** URL path (under /assets/vendor/) -> absolute path of the file to send. */
export const vendorAssets: ReadonlyMap<string, string> = new Map([
  ["/assets/vendor/chart.umd.js", join(chartDist, "chart.umd.js")],
  // stream.js imports ./parse.js, which imports ./errors.js: the three
  // are served side by side so the browser resolves those imports itself.
  ["/assets/vendor/eventsource-parser/stream.js", join(parserDist, "stream.js")],
  ["/assets/vendor/eventsource-parser/parse.js", join(parserDist, "parse.js")],
  ["/assets/vendor/eventsource-parser/errors.js", join(parserDist, "errors.js")]
])

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8"
}

/**
 * The Content-Type for a file of the page by its extension. Browsers run
 * a module script only when it is sent as JavaScript.
 */
export const contentTypeOf = (path: string): string =>
  contentTypes[extname(path).toLowerCase()] ?? "application/octet-stream"
