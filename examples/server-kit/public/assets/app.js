// The progress page: imports a sample profile, starts one analysis job,
// follows its progress over Server-Sent Events read with fetch (so the
// bearer token can be sent), and shows the insights once it ends.
//
// The profile id lives in the URL (?profile=<id>). Loading the page with
// one asks the server for the profile's latest job and shows that: it
// resumes following a running job or shows the insights of a finished
// one, and never starts a job by itself.
import { EventSourceParserStream } from "/assets/vendor/eventsource-parser/stream.js"

const TOKEN_KEY = "profile-insights.token"
const HANDLES_KEY = "profile-insights.handles"
const POLL_MILLIS = 1000
const DEFAULT_RETRY_MILLIS = 2000
// Stream connections that fail in a row (each after the first without
// delivering an event) before the page gives up on streaming and polls.
const MAX_STREAM_FAILURES = 3

const $ = (id) => document.getElementById(id)

const terminal = (status) =>
  status === "succeeded" || status === "failed" || status === "cancelled"

// ---------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error ?? "http_error"
    this.field = body?.field
  }

  // 5xx answers and lost connections may pass; 4xx answers will not.
  get retryable() {
    return this.status >= 500
  }
}

const token = () => $("token").value

const authHeaders = (extra = {}) => ({ authorization: `Bearer ${token()}`, ...extra })

const readError = async (response) => {
  const body = await response.json().catch(() => undefined)
  return new ApiError(response.status, body)
}

const api = async (path, { method = "GET", body, signal } = {}) => {
  const response = await fetch(path, {
    method,
    signal,
    headers: authHeaders(body === undefined ? {} : { "content-type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  if (!response.ok) throw await readError(response)
  return response.json()
}

// ---------------------------------------------------------------------------
// The status line

const showMessage = (text, kind = "info") => {
  const message = $("message")
  message.textContent = text
  message.dataset.kind = kind
  message.hidden = false
}

const clearMessage = () => {
  $("message").hidden = true
  $("message").textContent = ""
}

const describeError = (error) => {
  if (error instanceof ApiError) {
    const field = error.field ? ` (field: ${error.field})` : ""
    return `Error ${error.status} ${error.code}: ${error.message}${field}`
  }
  return `Cannot reach the server: ${error?.message ?? error}`
}

const showError = (error) => showMessage(describeError(error), "error")

// ---------------------------------------------------------------------------
// Where the page is

const profileInUrl = () => new URLSearchParams(location.search).get("profile")

const setProfileInUrl = (profileId) => {
  const url = new URL(location.href)
  url.searchParams.set("profile", profileId)
  history.pushState({ profile: profileId }, "", url)
  linkAboutPage(profileId)
}

// The about page links back to the profile being shown.
const linkAboutPage = (profileId) => {
  for (const link of document.querySelectorAll("a[href^='/about.html']")) {
    link.href = profileId ? `/about.html?profile=${encodeURIComponent(profileId)}` : "/about.html"
  }
}

const handles = () => {
  try {
    return JSON.parse(sessionStorage.getItem(HANDLES_KEY) ?? "{}")
  } catch {
    return {}
  }
}

const rememberHandle = (imported) => {
  const known = handles()
  known[imported.profileId] = `${imported.platform} @${imported.handle}`
  sessionStorage.setItem(HANDLES_KEY, JSON.stringify(known))
}

// ---------------------------------------------------------------------------
// Samples

let samples = []

const renderSamples = () => {
  const box = $("samples")
  box.replaceChildren()
  const legend = document.createElement("legend")
  legend.className = "visually-hidden"
  legend.textContent = "Sample profiles"
  box.append(legend)
  samples.forEach((sample, index) => {
    const label = document.createElement("label")
    label.className = "sample"
    label.dataset.testid = `sample-${sample.name}`
    const input = document.createElement("input")
    input.type = "radio"
    input.name = "sample"
    input.value = sample.name
    input.checked = index === 0
    const title = document.createElement("span")
    title.className = "sample-title"
    title.textContent = sample.title
    const meta = document.createElement("span")
    meta.className = "sample-meta"
    meta.textContent = `${sample.name} · ${sample.posts} posts`
    const text = document.createElement("span")
    text.className = "sample-text"
    text.append(title, meta)
    label.append(input, text)
    box.append(label)
  })
  $("analyse").disabled = samples.length === 0
}

const loadSamples = async () => {
  try {
    samples = await api("/api/samples")
    renderSamples()
  } catch (error) {
    $("samples").replaceChildren()
    showError(error)
  }
}

// ---------------------------------------------------------------------------
// The job

let following = undefined

const stopFollowing = () => {
  following?.abort()
  following = undefined
}

const setTransport = (text) => {
  $("transport").textContent = text
}

const renderJob = (job) => {
  $("job").hidden = false
  const status = $("status")
  status.textContent = job.status
  status.dataset.status = job.status
  const progress = $("progress")
  progress.value = job.percent
  progress.setAttribute(
    "aria-valuetext",
    `${job.percent}%, ${job.processed} of ${job.total} posts, ${job.status}`
  )
  $("percent").textContent = `${job.percent}%`
  $("processed").textContent = `${job.processed} of ${job.total} posts`
  $("failed").hidden = job.failed === 0
  $("failed").textContent = `${job.failed} failed`
  $("job-id").textContent = job.id
  $("attempt").textContent = `${job.attempt} of ${job.maxAttempts}`
  $("cancel").hidden = terminal(job.status)
  $("cancel").dataset.job = job.id
  $("last-error").hidden = job.lastError === null
  $("last-error").textContent = job.lastError ?? ""
  $("profile-name").textContent = handles()[job.profileId] ?? `Profile ${job.profileId}`
}

const sleep = (millis, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, millis)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

// One connection to the event stream: calls onEvent for every event and
// resolves once the server ends the stream; rejects when the connection
// fails or the server answers with an error.
const streamOnce = async (jobId, lastEventId, signal, onEvent, onRetry) => {
  const headers = authHeaders({ accept: "text/event-stream" })
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId
  const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/events`, {
    headers,
    signal,
    cache: "no-store"
  })
  if (!response.ok) throw await readError(response)
  const events = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ onRetry }))
  for await (const event of events) {
    if (onEvent(event)) return
  }
}

const follow = async (job) => {
  stopFollowing()
  const controller = new AbortController()
  following = controller
  const { signal } = controller
  renderJob(job)
  if (terminal(job.status)) return finish(job, signal)

  let latest = job
  let lastEventId = undefined
  let retry = DEFAULT_RETRY_MILLIS
  let failures = 0
  let ended = false
  let received = 0
  const onEvent = (event) => {
    received++
    if (event.id !== undefined) lastEventId = event.id
    latest = JSON.parse(event.data)
    renderJob(latest)
    ended = event.event === "end" || terminal(latest.status)
    return ended
  }
  const onRetry = (millis) => {
    retry = millis
  }
  setTransport("live")
  while (!signal.aborted) {
    received = 0
    try {
      await streamOnce(latest.id, lastEventId, signal, onEvent, onRetry)
      if (ended) return finish(latest, signal)
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof ApiError && !error.retryable) {
        setTransport("stopped")
        return showError(error)
      }
    }
    // A connection that delivered events was working: only connections in
    // a row that delivered nothing count towards giving up.
    failures = received > 0 ? 1 : failures + 1
    if (failures >= MAX_STREAM_FAILURES) return poll(latest, signal)
    setTransport("reconnecting…")
    await sleep(retry, signal)
    if (!signal.aborted) setTransport("live")
  }
}

// The fallback when streaming keeps failing: the job every second until
// it ends.
const poll = async (job, signal) => {
  setTransport(`polling every ${POLL_MILLIS / 1000} s`)
  let latest = job
  while (!signal.aborted) {
    try {
      latest = await api(`/api/jobs/${encodeURIComponent(latest.id)}`, { signal })
      renderJob(latest)
      if (terminal(latest.status)) return finish(latest, signal)
      if ($("message").dataset.kind === "warning") clearMessage()
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof ApiError && !error.retryable) return showError(error)
      showMessage(`${describeError(error)}; trying again`, "warning")
    }
    await sleep(POLL_MILLIS, signal)
  }
}

const finish = async (job, signal) => {
  setTransport("finished")
  renderJob(job)
  if (job.status === "cancelled") return showMessage("The analysis was cancelled.", "warning")
  if (job.status === "failed") {
    return showMessage(`The analysis failed: ${job.lastError ?? "no reason given"}`, "error")
  }
  try {
    const insights = await api(`/api/profiles/${encodeURIComponent(job.profileId)}/insights`, {
      signal
    })
    if (signal.aborted) return
    renderInsights(insights)
    showMessage("Analysis complete.", "success")
  } catch (error) {
    if (!signal.aborted) showError(error)
  }
}

// ---------------------------------------------------------------------------
// Insights

const charts = new Map()

const percent = (share, digits = 0) =>
  share === null || share === undefined ? "–" : `${(share * 100).toFixed(digits)}%`

const number = (value, digits = 1) =>
  value === null || value === undefined ? "–" : value.toLocaleString("en", {
    maximumFractionDigits: digits
  })

const languageName = (() => {
  let names
  try {
    names = new Intl.DisplayNames(["en"], { type: "language" })
  } catch {
    names = undefined
  }
  return (code) => {
    if (code === "und") return "Undetermined"
    try {
      return names?.of(code) ?? code
    } catch {
      return code
    }
  }
})()

const colors = {
  positive: "#16a34a",
  neutral: "#94a3b8",
  negative: "#dc2626",
  notComputed: "#e2e8f0",
  bar: "#4f46e5",
  grid: "#e5e7eb",
  text: "#475569"
}

const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches

const drawChart = (id, config) => {
  charts.get(id)?.destroy()
  if (typeof window.Chart !== "function") return
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily
  window.Chart.defaults.color = colors.text
  const canvas = $(id)
  const chart = new window.Chart(canvas, {
    ...config,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion() ? false : { duration: 400 },
      ...config.options
    }
  })
  charts.set(id, chart)
}

const barOptions = {
  plugins: { legend: { display: false } },
  scales: {
    x: { grid: { display: false }, ticks: { color: colors.text } },
    y: {
      beginAtZero: true,
      ticks: { precision: 0, color: colors.text },
      grid: { color: colors.grid }
    }
  }
}

const renderCharts = (insights) => {
  const d = insights.sentiment.distribution
  drawChart("sentiment-chart", {
    type: "doughnut",
    data: {
      labels: [
        `Positive (${d.positive})`,
        `Neutral (${d.neutral})`,
        `Negative (${d.negative})`,
        `Not computed (${d.notComputed})`
      ],
      datasets: [{
        data: [d.positive, d.neutral, d.negative, d.notComputed],
        backgroundColor: [colors.positive, colors.neutral, colors.negative, colors.notComputed],
        borderWidth: 2,
        borderColor: "#ffffff"
      }]
    },
    options: {
      cutout: "58%",
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, color: colors.text } }
      }
    }
  })
  drawChart("cadence-chart", {
    type: "bar",
    data: {
      labels: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
      datasets: [{
        label: "Posts",
        data: insights.cadence.byWeekday,
        backgroundColor: colors.bar,
        borderRadius: 4,
        maxBarThickness: 40
      }]
    },
    options: barOptions
  })
  drawChart("hour-chart", {
    type: "bar",
    data: {
      labels: Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, "0")),
      datasets: [{
        label: "Posts",
        data: insights.cadence.byHour,
        backgroundColor: "#0ea5e9",
        borderRadius: 3,
        maxBarThickness: 22
      }]
    },
    options: barOptions
  })
}

const barItem = (name, share, detail) => {
  const item = document.createElement("li")
  const label = document.createElement("span")
  label.className = "bar-name"
  label.textContent = name
  const track = document.createElement("span")
  track.className = "bar-track"
  const fill = document.createElement("span")
  fill.className = "bar-fill"
  fill.style.width = `${Math.max(2, Math.round(share * 100))}%`
  track.append(fill)
  const value = document.createElement("span")
  value.className = "bar-value"
  value.textContent = detail
  item.append(label, value, track)
  return item
}

const emptyItem = (text) => {
  const item = document.createElement("li")
  item.className = "muted"
  item.textContent = text
  return item
}

const renderInsights = (insights) => {
  $("insights").hidden = false
  $("analyzer").textContent =
    `${insights.analyzerVersion} · ${new Date(insights.computedAt).toLocaleString()}`
  $("posts-count").textContent = String(insights.posts.total)
  $("posts-analysed").textContent = String(insights.posts.analysed)
  $("posts-failed").textContent = String(insights.posts.failed)
  const mean = insights.sentiment.meanScore
  $("mean-sentiment").textContent = mean === null ? "–" : (mean > 0 ? "+" : "") + mean.toFixed(2)
  $("engagement").textContent = percent(insights.engagement.rate, 2)
  $("per-week").textContent = number(insights.cadence.postsPerWeek)

  renderCharts(insights)

  const topics = insights.topTopics.slice(0, 6)
  $("topics").replaceChildren(
    ...(topics.length === 0
      ? [emptyItem("No topics found")]
      : topics.map((t) => barItem(t.topic, t.share, `${t.posts} · ${percent(t.share)}`)))
  )
  const languages = insights.languages.slice(0, 6)
  $("languages").replaceChildren(
    ...(languages.length === 0
      ? [emptyItem("No languages found")]
      : languages.map((l) =>
        barItem(languageName(l.code), l.share, `${l.posts} · ${percent(l.share)}`)
      ))
  )

  const safety = insights.brandSafety
  const safe = document.createElement("p")
  safe.className = "safe-share"
  safe.dataset.testid = "safe-share"
  const big = document.createElement("strong")
  big.textContent = percent(safety.safeShare)
  safe.append(big, " of posts raise no flag")
  const flagged = document.createElement("p")
  flagged.className = "muted small"
  flagged.textContent = `${safety.flaggedPosts} flagged post${safety.flaggedPosts === 1 ? "" : "s"}`
  const categories = document.createElement("ul")
  categories.className = "chips warn"
  for (const c of safety.byCategory) {
    const chip = document.createElement("li")
    chip.textContent = `${c.category} · ${c.posts}`
    categories.append(chip)
  }
  $("brand-safety").replaceChildren(safe, flagged, categories)

  const hashtags = insights.topHashtags.slice(0, 12)
  $("hashtags").replaceChildren(
    ...(hashtags.length === 0
      ? [emptyItem("No hashtags")]
      : hashtags.map((h) => {
        const chip = document.createElement("li")
        chip.textContent = `#${h.hashtag} · ${h.posts}`
        return chip
      }))
  )

  $("failures").hidden = insights.failures.length === 0
  $("failure-list").replaceChildren(
    ...insights.failures.map((f) => {
      const item = document.createElement("li")
      item.textContent = `${f.platformPostId}: ${f.reason} — ${f.message}`
      return item
    })
  )
}

const hideInsights = () => {
  $("insights").hidden = true
  for (const chart of charts.values()) chart.destroy()
  charts.clear()
}

// ---------------------------------------------------------------------------
// What the page shows for a profile in the URL

const showProfile = async (profileId) => {
  stopFollowing()
  hideInsights()
  linkAboutPage(profileId)
  if (profileId === null) {
    $("job").hidden = true
    return
  }
  try {
    const job = await api(`/api/profiles/${encodeURIComponent(profileId)}/jobs/latest`)
    clearMessage()
    await follow(job)
  } catch (error) {
    $("job").hidden = true
    if (error instanceof ApiError && error.status === 404) {
      showMessage(
        `${describeError(error)}: this user has no analysis of this profile.`,
        "error"
      )
    } else {
      showError(error)
    }
  }
}

const analyse = async (event) => {
  event.preventDefault()
  const name = new FormData($("pick")).get("sample")
  if (name === null) return showMessage("Pick a sample profile first.", "warning")
  const button = $("analyse")
  button.disabled = true
  stopFollowing()
  hideInsights()
  showMessage("Importing the profile…")
  try {
    const content = await api(`/api/samples/${encodeURIComponent(name)}`)
    const imported = await api("/api/profiles", { method: "POST", body: content })
    rememberHandle(imported)
    setProfileInUrl(imported.profileId)
    showMessage("Starting the analysis…")
    const job = await api(`/api/profiles/${encodeURIComponent(imported.profileId)}/jobs`, {
      method: "POST",
      body: {}
    })
    clearMessage()
    follow(job)
  } catch (error) {
    showError(error)
  } finally {
    button.disabled = samples.length === 0
  }
}

const cancel = async () => {
  const jobId = $("cancel").dataset.job
  if (!jobId) return
  try {
    renderJob(await api(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" }))
  } catch (error) {
    showError(error)
  }
}

// ---------------------------------------------------------------------------
// Start

const start = () => {
  const stored = localStorage.getItem(TOKEN_KEY)
  if (stored !== null && [...$("token").options].some((o) => o.value === stored)) {
    $("token").value = stored
  }
  $("token").addEventListener("change", () => {
    localStorage.setItem(TOKEN_KEY, token())
    clearMessage()
    loadSamples()
    showProfile(profileInUrl())
  })
  $("pick").addEventListener("submit", analyse)
  $("cancel").addEventListener("click", cancel)
  window.addEventListener("popstate", () => showProfile(profileInUrl()))
  // Leaving the page ends the stream; coming back from the back-forward
  // cache reads the true state again.
  window.addEventListener("pagehide", stopFollowing)
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) showProfile(profileInUrl())
  })
  loadSamples()
  showProfile(profileInUrl())
}

start()
