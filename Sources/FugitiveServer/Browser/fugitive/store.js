// The browser peer's store (part of /fugitive.js): a memory LRU in front of IndexedDB.

import { hex, fromHex, sameBytes, sha256 } from "./codec.js";

/** A memory LRU bounded in bytes in front of IndexedDB (when the page has it). */
export class Store {
  constructor(memoryBytes, databaseName) {
    this.memoryBytes = memoryBytes;
    this.used = 0;
    /** @type {Map<string, {bytes: Uint8Array, type: string|null}>} hex digest → entry, oldest first */
    this.memory = new Map();
    /** @type {Map<string, {digest: string, type: string|null}>} url → hex digest */
    this.urls = new Map();
    this.database = databaseName && typeof indexedDB !== "undefined" ? this.open(databaseName) : Promise.resolve(null);
  }

  open(name) {
    return new Promise((resolve) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("blobs");
        request.result.createObjectStore("urls");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    });
  }

  async transaction(stores, mode, work) {
    const db = await this.database;
    if (!db) return undefined;
    return new Promise((resolve) => {
      const tx = db.transaction(stores, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = tx.onabort = () => resolve(undefined);
      work(tx, (value) => { result = value; });
    });
  }

  remember(key, entry) {
    if (this.memory.has(key)) { this.used -= this.memory.get(key).bytes.length; this.memory.delete(key); }
    if (entry.bytes.length > this.memoryBytes) return;
    this.memory.set(key, entry);
    this.used += entry.bytes.length;
    for (const [oldest, value] of this.memory) {
      if (this.used <= this.memoryBytes) break;
      this.memory.delete(oldest);
      this.used -= value.bytes.length;
    }
  }

  /** Bytes for a digest: memory, else IndexedDB (re-hashed: the disk is not trusted either). */
  async get(digest) {
    const key = hex(digest);
    const hit = this.memory.get(key);
    if (hit) {
      this.memory.delete(key);
      this.memory.set(key, hit);
      return { ...hit, tier: "memory" };
    }
    const stored = await this.transaction(["blobs"], "readonly", (tx, done) => {
      const request = tx.objectStore("blobs").get(key);
      request.onsuccess = () => done(request.result);
    });
    if (!stored || !sameBytes(await sha256(stored.bytes), digest)) return null;
    this.remember(key, stored);
    return { ...stored, tier: "disk" };
  }

  async lookup(url) {
    const known = this.urls.get(url);
    if (known) return known;
    return await this.transaction(["urls"], "readonly", (tx, done) => {
      const request = tx.objectStore("urls").get(url);
      request.onsuccess = () => done(request.result);
    }) ?? null;
  }

  async put(digest, bytes, type, url) {
    const key = hex(digest);
    const entry = { bytes, type };
    this.remember(key, entry);
    if (url) this.urls.set(url, { digest: key, type });
    await this.transaction(["blobs", "urls"], "readwrite", (tx) => {
      tx.objectStore("blobs").put(entry, key);
      if (url) tx.objectStore("urls").put({ digest: key, type }, url);
    });
  }

  /** Every URL known, for re-announcement. */
  holdings() {
    return [...this.urls].map(([url, { digest }]) => ({ d: fromHex(digest), u: url, n: this.memory.get(digest)?.bytes.length ?? 0 }));
  }
}
