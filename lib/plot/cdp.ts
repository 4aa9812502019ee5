/**
 * A minimal Chrome DevTools Protocol client over a hand-written WebSocket.
 *
 * Deno's built-in `WebSocket` keeps the process alive while it is open, so a
 * notebook or script that exported one figure would never exit. This client
 * speaks the WebSocket protocol (RFC 6455, client side: masked text frames,
 * fragmented and large incoming frames, ping/pong, close) over `Deno.connect`,
 * whose connection can be `unref()`-ed: the socket holds the event loop open
 * only while a command is waiting for its answer.
 *
 * @example
 * ```ts
 * import { CdpConnection } from "./cdp.ts";
 * import { launchChromium } from "./chromium.ts";
 * const browser = await launchChromium(); // browser.wsUrl: ws://127.0.0.1:PORT/devtools/browser/ID
 * const cdp = await CdpConnection.open(browser.wsUrl);
 * const { product } = await cdp.send<{ product: string }>("Browser.getVersion"); // "HeadlessChrome/…"
 * cdp.close();
 * browser.kill();
 * ```
 *
 * @module
 */

/** An error returned by the browser for one CDP command. */
export class CdpError extends Error {
  constructor(method: string, message: string) {
    super(`CDP ${method} failed: ${message}`);
    this.name = "CdpError";
  }
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** One CDP connection (browser endpoint); sessions are addressed by `sessionId`. */
export class CdpConnection {
  readonly #conn: Deno.TcpConn;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #store = new Uint8Array(65536);
  #start = 0;
  #end = 0;
  #fragments: Uint8Array[] = [];
  #closed = false;
  #closeReason = "connection closed";

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /**
   * Connects to a `ws://host:port/path` DevTools endpoint and completes the
   * WebSocket handshake.
   */
  static async open(url: string): Promise<CdpConnection> {
    const u = new URL(url);
    if (u.protocol !== "ws:") throw new Error(`CDP endpoint must be a ws:// URL, got ${url}`);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    await writeAll(conn, new TextEncoder().encode(request));
    const client = new CdpConnection(conn);
    const head = await client.#readHandshake();
    if (!/^HTTP\/1\.1 101/.test(head)) {
      conn.close();
      throw new Error(`CDP WebSocket handshake with ${url} failed: ${head.split("\r\n")[0]}`);
    }
    client.#readLoop();
    return client;
  }

  /** True once the socket is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one command and resolves with its `result`; rejects with
   * {@link CdpError} when the browser answers with an error.
   */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`CDP ${method}: ${this.#closeReason}`));
    const id = this.#nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (sessionId !== undefined) msg.sessionId = sessionId;
    const promise = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
    });
    this.#conn.ref();
    this.#writeFrame(OP_TEXT, new TextEncoder().encode(JSON.stringify(msg))).catch((e) => {
      this.#fail(`write failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    return promise;
  }

  /** Closes the socket; pending commands reject. */
  close(): void {
    if (this.#closed) return;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#fail("connection closed by the client");
  }

  #fail(reason: string): void {
    this.#closed = true;
    this.#closeReason = reason;
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new Error(`CDP ${p.method}: ${reason}`));
    }
  }

  /** Ensures at least `min` unread bytes are buffered; false at end of stream. */
  async #fill(min: number): Promise<boolean> {
    while (this.#end - this.#start < min) {
      if (this.#store.length - this.#start < min || this.#store.length - this.#end < 16384) {
        // compact, and grow geometrically so multi-megabyte messages cost O(n)
        const unread = this.#end - this.#start;
        const cap = Math.max(this.#store.length, 65536, 2 * min, 2 * unread);
        const next = cap === this.#store.length ? this.#store : new Uint8Array(cap);
        next.set(this.#store.subarray(this.#start, this.#end), 0);
        this.#store = next;
        this.#start = 0;
        this.#end = unread;
      }
      const n = await this.#conn.read(this.#store.subarray(this.#end));
      if (n === null) return false;
      this.#end += n;
    }
    return true;
  }

  #byte(i: number): number {
    return this.#store[this.#start + i]!;
  }

  #take(n: number): Uint8Array {
    const out = this.#store.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  async #readHandshake(): Promise<string> {
    const dec = new TextDecoder();
    for (;;) {
      const text = dec.decode(this.#store.subarray(this.#start, this.#end));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#take(new TextEncoder().encode(text.slice(0, end + 4)).length);
        return text.slice(0, end);
      }
      if (!(await this.#fill(this.#end - this.#start + 1))) return "connection closed during handshake";
    }
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.#pending.size === 0) this.#conn.unref();
        if (!(await this.#fill(2))) break;
        const b0 = this.#byte(0);
        const b1 = this.#byte(1);
        const fin = (b0 & 0x80) !== 0;
        const op = b0 & 0x0f;
        const masked = (b1 & 0x80) !== 0;
        let len = b1 & 0x7f;
        let headLen = 2;
        if (len === 126) {
          if (!(await this.#fill(4))) break;
          len = (this.#byte(2) << 8) | this.#byte(3);
          headLen = 4;
        } else if (len === 127) {
          if (!(await this.#fill(10))) break;
          len = Number(new DataView(this.#store.buffer, this.#start + 2, 8).getBigUint64(0));
          headLen = 10;
        }
        const maskLen = masked ? 4 : 0;
        if (!(await this.#fill(headLen + maskLen + len))) break;
        const header = this.#take(headLen + maskLen);
        const payload = this.#take(len);
        if (masked) {
          const mask = header.subarray(headLen);
          for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
        }
        if (op === OP_PING) {
          await this.#writeFrame(OP_PONG, payload);
        } else if (op === OP_CLOSE) {
          break;
        } else if (op === OP_TEXT || op === OP_BINARY || op === OP_CONT) {
          this.#fragments.push(payload);
          if (fin) {
            const whole = concat(this.#fragments);
            this.#fragments = [];
            this.#dispatch(new TextDecoder().decode(whole));
          }
        }
      }
      this.#fail("the browser closed the DevTools connection");
    } catch (e) {
      this.#fail(`read failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  #dispatch(text: string): void {
    let msg: { id?: number; result?: unknown; error?: { message?: string; data?: string } };
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not a CDP message; ignore
    }
    if (typeof msg.id !== "number") return; // an event; this client does not subscribe to any
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.error) {
      p.reject(
        new CdpError(p.method, `${msg.error.message ?? "unknown error"}${msg.error.data ? `: ${msg.error.data}` : ""}`),
      );
    } else {
      p.resolve(msg.result ?? {});
    }
  }

  async #writeFrame(op: number, payload: Uint8Array): Promise<void> {
    const len = payload.length;
    const headLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
    const frame = new Uint8Array(headLen + 4 + len);
    frame[0] = 0x80 | op;
    if (len < 126) {
      frame[1] = 0x80 | len;
    } else if (len < 65536) {
      frame[1] = 0x80 | 126;
      frame[2] = len >> 8;
      frame[3] = len & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(len));
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    frame.set(mask, headLen);
    for (let i = 0; i < len; i++) frame[headLen + 4 + i] = payload[i]! ^ mask[i & 3]!;
    await writeAll(this.#conn, frame);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
