/**
 * Starts headless Chromium with a DevTools endpoint, and guarantees it goes
 * away: a small shell watchdog kills the browser and deletes its temporary
 * profile when asked to (SIGTERM) or as soon as the Deno process that started
 * it is gone, even when that process was killed without running any handler.
 *
 * @example
 * ```ts
 * import { launchChromium } from "./chromium.ts";
 * const browser = await launchChromium();
 * console.log(browser.wsUrl); // ws://127.0.0.1:PORT/devtools/browser/ID
 * browser.kill();
 * ```
 *
 * @module
 */

/** Where Debian installs Chromium; `SAE_CHROMIUM` overrides it. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** Flags for a quiet, self-contained headless browser. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-extensions",
  "--disable-dev-shm-usage",
  "--hide-scrollbars",
  "--mute-audio",
  "--remote-debugging-port=0",
  "--remote-allow-origins=*",
];

/** A running browser. */
export interface ChromiumProcess {
  /** Browser-level DevTools WebSocket URL. */
  wsUrl: string;
  /** The temporary profile folder (removed by the watchdog on exit). */
  userDataDir: string;
  /** Process id of the watchdog shell (the browser is its child). */
  pid: number;
  /** Waits until the watchdog (and so the browser) has exited. */
  wait(): Promise<void>;
  /** Stops the browser (synchronous: safe inside an `unload` handler). */
  kill(): void;
}

/** Path of the Chromium executable to use (`SAE_CHROMIUM` or the Debian path). */
export function chromiumPath(): string {
  try {
    return Deno.env.get("SAE_CHROMIUM") || DEFAULT_CHROMIUM;
  } catch {
    return DEFAULT_CHROMIUM;
  }
}

/**
 * True when the Chromium executable exists (tests skip export checks otherwise).
 *
 * @example
 * ```ts
 * import { chromiumAvailable } from "./chromium.ts";
 * if (!chromiumAvailable()) console.log("no static figure export on this machine");
 * ```
 */
export function chromiumAvailable(): boolean {
  try {
    return Deno.statSync(chromiumPath()).isFile;
  } catch {
    return false;
  }
}

// $1 = deno pid, $2 = profile dir, then the chromium command line.
const WATCHDOG = `
parent=$1; dir=$2; shift 2
"$@" >/dev/null 2>&1 &
ch=$!
stop() { kill $ch 2>/dev/null; wait $ch 2>/dev/null; rm -rf "$dir"; exit 0; }
trap stop TERM INT HUP
while kill -0 "$parent" 2>/dev/null && kill -0 $ch 2>/dev/null; do sleep 1 & wait $!; done
stop
`;

/**
 * Launches Chromium and waits (up to `timeoutMs`) for its DevTools endpoint.
 *
 * @throws {Error} naming the missing executable and how to install it
 */
export async function launchChromium(timeoutMs = 30_000): Promise<ChromiumProcess> {
  const exe = chromiumPath();
  if (!chromiumAvailable()) {
    throw new Error(
      `static figure export needs Chromium, but ${exe} does not exist. ` +
        `Install it with: apt-get install chromium (or run \`deno task setup\`), ` +
        `or point SAE_CHROMIUM at a Chromium/Chrome executable.`,
    );
  }
  const userDataDir = await Deno.makeTempDir({ prefix: "sae-chromium-" });
  const args = ["-c", WATCHDOG, "watchdog", String(Deno.pid), userDataDir, exe, ...CHROMIUM_FLAGS];
  args.push(`--user-data-dir=${userDataDir}`, "about:blank");
  const child = new Deno.Command("/bin/sh", { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  child.unref(); // the browser must never keep a finished script alive
  let alive = true;
  const exited = child.status.then(() => {
    alive = false;
  });
  const kill = () => {
    if (!alive) return;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  };
  const portFile = `${userDataDir}/DevToolsActivePort`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive) break;
    try {
      const [port, path] = (await Deno.readTextFile(portFile)).split("\n");
      if (port && path) {
        const wait = () => {
          child.ref();
          return exited;
        };
        return { wsUrl: `ws://127.0.0.1:${port.trim()}${path.trim()}`, userDataDir, pid: child.pid, wait, kill };
      }
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  kill();
  throw new Error(
    alive
      ? `Chromium (${exe}) did not open its DevTools port within ${timeoutMs} ms`
      : `Chromium (${exe}) exited before opening its DevTools port; try running it by hand: ` +
        `${exe} --headless --no-sandbox --disable-gpu --dump-dom about:blank`,
  );
}
