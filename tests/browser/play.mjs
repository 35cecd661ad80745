// Plays an HLS stream with hls.js in headless Chromium and prints one JSON line with what
// happened: the playhead sampled every second, stalls, hls.js errors, bytes, and the CORS
// headers seen on the stream's responses.
//
//   node tests/browser/play.mjs URL SECONDS
//
// The page is served by a small static server started here on 127.0.0.1:0, so the stream
// (on the edge) is fetched cross-origin, as players on other sites fetch it. Uses the
// system Chromium (/usr/bin/chromium, or $CHROMIUM); installed by ./scripts/test.sh.
// Exit status: 0 when the page ran for SECONDS (whatever the playback did: the caller
// judges), 2 on usage errors, 1 when the browser or the page could not be run.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Playhead still for longer than this (after playback started) counts as a stall. */
const STALL_MS = 3000;

const [url, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
if (!url || !Number.isFinite(seconds) || seconds <= 0) {
  console.error("usage: node play.mjs URL SECONDS");
  process.exit(2);
}

const log = (...args) => console.error("[play.mjs]", ...args);

/** Serves index.html and hls.min.js; anything else is a 404. */
async function startStaticServer() {
  const files = {
    "/": { file: path.join(here, "index.html"), type: "text/html; charset=utf-8" },
    "/index.html": { file: path.join(here, "index.html"), type: "text/html; charset=utf-8" },
    "/hls.min.js": {
      file: path.join(here, "node_modules/hls.js/dist/hls.min.js"),
      type: "text/javascript; charset=utf-8",
    },
  };
  const server = http.createServer(async (req, res) => {
    const entry = files[new URL(req.url, "http://x").pathname];
    if (!entry || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const body = await readFile(entry.file);
      res.writeHead(200, { "content-type": entry.type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${err}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return server;
}

/** Stalls: runs of samples after playback started whose playhead did not move for > STALL_MS. */
function findStalls(samples, startedMs) {
  const stalls = [];
  const after = samples.filter((s) => startedMs !== null && s.t >= startedMs);
  let i = 0;
  while (i < after.length) {
    let j = i;
    while (j + 1 < after.length && after[j + 1].ct === after[i].ct) j += 1;
    const still = after[j].t - after[i].t;
    if (still > STALL_MS) {
      stalls.push({ fromMs: after[i].t, toMs: after[j].t, stillMs: still, at: after[i].ct, ongoing: j === after.length - 1 });
    }
    i = j + 1;
  }
  return stalls;
}

async function main() {
  const streamOrigin = new URL(url).origin;
  const server = await startStaticServer();
  const pageUrl = `http://127.0.0.1:${server.address().port}/`;
  const profile = await mkdtemp(path.join(os.tmpdir(), "rilla-chromium-"));
  const hardStop = setTimeout(() => {
    log(`no result after ${seconds + 60} s; giving up`);
    process.exit(1);
  }, (seconds + 60) * 1000);
  hardStop.unref();

  const network = { responses: 0, byStatus: {}, missingAllowOrigin: [], allowOrigin: null, preflights: 0, failed: [] };
  const consoleErrors = [];
  const pageErrors = [];
  let context;
  try {
    const launchedAt = Date.now();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
    });
    const browserVersion = context.browser()?.version() ?? null;
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text().slice(0, 500));
    });
    page.on("pageerror", (e) => pageErrors.push(String(e).slice(0, 500)));
    page.on("requestfailed", (r) => {
      if (network.failed.length < 20) {
        network.failed.push({ url: r.url().slice(0, 200), method: r.method(), error: r.failure()?.errorText ?? null });
      }
    });
    page.on("response", async (r) => {
      if (!r.url().startsWith(streamOrigin)) return;
      network.responses += 1;
      const status = r.status();
      network.byStatus[status] = (network.byStatus[status] || 0) + 1;
      if (r.request().method() === "OPTIONS") network.preflights += 1;
      const acao = await r.headerValue("access-control-allow-origin").catch(() => null);
      if (acao === null) {
        if (network.missingAllowOrigin.length < 10) network.missingAllowOrigin.push(r.url().split("?")[0]);
      } else {
        network.allowOrigin = acao;
      }
    });

    await page.goto(pageUrl);
    const browserReadyMs = Date.now() - launchedAt;
    await page.evaluate((u) => window.startPlayback(u), url);
    await page.waitForTimeout(seconds * 1000);
    const state = await page.evaluate(() => window.report());

    const startedMs = state.playingMs;
    const stalls = findStalls(state.samples, startedMs);
    const result = {
      url,
      seconds,
      browserVersion,
      hlsVersion: state.hlsVersion,
      hlsSupported: state.hlsSupported,
      pageOrigin: new URL(pageUrl).origin,
      browserReadyMs,
      startupMs: startedMs === null ? null : startedMs - state.loadStartedMs,
      playingAtMs: startedMs,
      manifestParsedMs: state.manifestParsedMs === null ? null : state.manifestParsedMs - state.loadStartedMs,
      firstFragLoadedMs: state.firstFragLoadedMs === null ? null : state.firstFragLoadedMs - state.loadStartedMs,
      samples: state.samples,
      stalls,
      waitingEvents: state.waitingEvents,
      errors: state.errors,
      fatalErrors: state.errors.filter((e) => e.fatal).length,
      videoErrors: state.videoErrors,
      bytes: state.bytes,
      fragments: state.fragments,
      fragmentsByLevel: state.fragmentsByLevel,
      levels: state.levels,
      levelSwitches: state.levelSwitches,
      network,
      consoleErrors: consoleErrors.slice(0, 20),
      pageErrors: pageErrors.slice(0, 20),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (context) await context.close().catch((e) => log("closing the browser:", String(e)));
    server.close();
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log("failed:", err && err.stack ? err.stack : String(err));
    process.stdout.write(`${JSON.stringify({ url, seconds, setupError: String(err && err.message ? err.message : err) })}\n`);
    process.exit(1);
  },
);
