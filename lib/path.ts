/**
 * Minimal POSIX path helpers (the project runs offline, without `@std/path`).
 *
 * @module
 */

/**
 * Joins path segments with `/` and normalises `.` and `..` segments.
 *
 * @example
 * ```ts
 * import { join } from "./path.ts";
 * join("a/b", "../c", "d.txt"); // "a/c/d.txt"
 * ```
 */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return normalize(joined);
}

/** Normalises `.`/`..` segments and repeated slashes. */
export function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const body = out.join("/");
  return absolute ? `/${body}` : body === "" ? "." : body;
}

/** The folder part of a path (`dirname("/a/b/c.ts") === "/a/b"`). */
export function dirname(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return path.slice(0, i);
}

/** The last segment of a path (`basename("/a/b/c.ts") === "c.ts"`). */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** Converts a `file:` URL to a path. */
export function fromFileUrl(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`expected a file: URL, got ${u.href}`);
  return decodeURIComponent(u.pathname);
}
